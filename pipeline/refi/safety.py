"""The capped zip reader and the safe XML parser now live in :mod:`pipeline.safety` (shared by every
reader of a zip container: .docx, .xlsx and .qdpx); re-exported here for the REFI-QDA readers."""

from ..safety import CHUNK, MAX_MEMBERS, MAX_RATIO, MB, RATIO_MIN_BYTES, SafeZip, ZipLimits, parse_xml, read_capped, safe_member_name

__all__ = ["CHUNK", "MAX_MEMBERS", "MAX_RATIO", "MB", "RATIO_MIN_BYTES", "SafeZip", "ZipLimits", "parse_xml", "read_capped",
           "safe_member_name"]
