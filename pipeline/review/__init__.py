"""Human review: the shared session logic (core), the terminal screen (tui) and the local web page (web)."""
