"""Exports of coded segments."""
