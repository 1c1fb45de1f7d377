"""Files precode creates hold transcripts and decisions: they are created readable by their owner only
(0600; folders 0700), whatever the umask. The CLI also sets a umask of 077 for everything else it writes."""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; an existing folder is left as it is."""
    path = Path(path)
    if not path.exists():
        if not path.parent.exists():
            private_dir(path.parent)
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 if it does not exist (an empty file is a new SQLite database)."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    except FileExistsError:
        pass
    return path


def fresh_private_file(path: Path) -> Path:
    """``path`` created anew (emptied if it was there) as 0600: a temporary file about to be written."""
    Path(path).unlink(missing_ok=True)
    return private_file(path)


def write_private(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``path`` atomically (a temporary file, then a rename), created 0600 with any missing folders
    (0700). Every file precode writes whole goes through here; a failed write leaves no temporary file."""
    path = Path(path)
    tmp = fresh_private_file(path.with_name(path.name + ".tmp"))
    try:
        with open(tmp, "wb") as fh:
            fh.write(data.encode(encoding) if isinstance(data, str) else data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
