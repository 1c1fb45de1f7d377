"""The raw terminal under the review screen: escape-sequence parsing into named keys and bracketed
pastes (:class:`KeyReader`), and a :class:`Terminal` that owns the tty while the review runs (alternate
screen, no echo, hidden cursor) and gives it back on every exit."""

from __future__ import annotations

import codecs
import io
import os
import select
import signal
import sys
from typing import Any, Literal

from rich.console import Console
from rich.text import Text

from ..errors import PrecodeError


class TerminalError(PrecodeError):
    """The review needs an interactive terminal."""


class Paste(str):
    """Text pasted in one go (bracketed paste): typed into a field, never read as commands."""



ESCAPES = {"[A": "up", "[B": "down", "[C": "right", "[D": "left", "OA": "up", "OB": "down", "OC": "right",
           "OD": "left", "[H": "home", "[F": "end", "OH": "home", "OF": "end", "[1~": "home", "[4~": "end",
           "[7~": "home", "[8~": "end", "[5~": "pgup", "[6~": "pgdn", "[3~": "delete", "[Z": "backtab"}
CONTROLS = {"\r": "enter", "\n": "enter", "\x7f": "backspace", "\x08": "backspace", "\t": "tab", "\x03": "ctrl-c",
            "\x15": "ctrl-u", "\x17": "ctrl-w", "\x04": "ctrl-d", "\x1b": "esc"}
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


class KeyReader:
    """Keys from a terminal file descriptor: characters, named keys, and bracketed pastes."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def _fill(self, timeout: float | None) -> bool:
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        data = os.read(self.fd, 4096)
        if not data:
            raise EOFError("terminal closed")
        self.buf += self.decoder.decode(data)
        return True

    def read(self, timeout: float | None = None) -> str | None:
        if not self.buf and not self._fill(timeout):
            return None
        while True:
            b = self.buf
            if not b:
                return None
            if b[0] != "\x1b":
                self.buf = b[1:]
                return CONTROLS.get(b[0], b[0] if b[0].isprintable() else f"ctrl-{ord(b[0]):02x}")
            if len(b) == 1:
                if not self._fill(0.05):
                    self.buf = ""
                    return "esc"
                continue
            if b.startswith(PASTE_START[: len(b)]) and len(b) < len(PASTE_START):
                if not self._fill(0.05):
                    self.buf = b[1:]
                    return "esc"
                continue
            if b.startswith(PASTE_START):
                end = b.find(PASTE_END)
                if end < 0:
                    if not self._fill(1.0):
                        self.buf = ""
                        return Paste(b[len(PASTE_START):])
                    continue
                self.buf = b[end + len(PASTE_END):]
                return Paste(b[len(PASTE_START):end])
            if b[1] in "[O":
                j = 2
                while j < len(b) and not (0x40 <= ord(b[j]) <= 0x7E and not (b[1] == "[" and b[j] == "[" and j == 2)):
                    j += 1
                if j >= len(b):
                    if not self._fill(0.05):
                        self.buf = ""
                        return "esc"
                    continue
                seq, self.buf = b[1:j + 1], b[j + 1:]
                return ESCAPES.get(seq, f"unknown-{seq}")
            self.buf = b[2:]  # Alt+key: ignored
            return f"alt-{b[1]}"


def _fileno(stream) -> int:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # replaced or captured streams (pytest, pipes in IDEs)
        return -1


class Terminal:
    """Raw-ish terminal for the session; everything is restored on exit, whatever the reason."""

    ENTER = "\x1b[?1049h\x1b[?25l\x1b[?2004h\x1b[H\x1b[2J"
    LEAVE = "\x1b[?2004l\x1b[0m\x1b[?25h\x1b[?1049l"

    def __init__(self, infd: int | None = None, outfd: int | None = None):
        self.infd = _fileno(sys.stdin) if infd is None else infd
        self.outfd = _fileno(sys.stdout) if outfd is None else outfd
        self.saved: list[Any] | None = None  # the terminal's attributes before __enter__
        self.old_handlers: dict = {}
        self.color_system: Literal["auto", "standard", "256", "truecolor", "windows"] | None = "auto"

    def __enter__(self) -> "Terminal":
        try:
            import termios
        except ImportError:  # Windows
            raise TerminalError("the terminal review needs a Unix-like terminal (Linux, macOS, WSL)") from None

        if self.infd < 0 or self.outfd < 0 or not (os.isatty(self.infd) and os.isatty(self.outfd)):
            raise TerminalError("precode review needs an interactive terminal (stdin and stdout)")
        self.saved = termios.tcgetattr(self.infd)
        mode = termios.tcgetattr(self.infd)
        mode[0] &= ~(termios.IXON | termios.ICRNL | termios.INLCR | termios.IGNCR)
        mode[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN)  # keep ISIG: Ctrl-C still interrupts
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self.old_handlers[sig] = signal.signal(sig, self._exit_on_signal)
            except ValueError:  # not the main thread: the default handlers stay
                pass
        termios.tcsetattr(self.infd, termios.TCSANOW, mode)
        self.write(self.ENTER)
        return self

    @staticmethod
    def _exit_on_signal(signum, frame):
        raise SystemExit(128 + signum)

    def __exit__(self, *exc) -> None:
        import termios

        try:
            self.write(self.LEAVE)
        except OSError:
            pass
        if self.saved is not None:
            try:
                termios.tcsetattr(self.infd, termios.TCSADRAIN, self.saved)
            except (OSError, termios.error):
                pass
        for sig, handler in self.old_handlers.items():
            signal.signal(sig, handler)

    def write(self, s: str) -> None:
        data = s.encode("utf-8", "replace")
        while data:
            n = os.write(self.outfd, data)
            data = data[n:]

    def size(self) -> tuple[int, int]:
        try:
            sz = os.get_terminal_size(self.outfd)
            if sz.columns > 0 and sz.lines > 0:
                return sz.columns, sz.lines
        except OSError:
            pass
        return 80, 24

    def draw(self, lines: list[Text], width: int) -> None:
        buf = io.StringIO()
        console = Console(file=buf, width=width, force_terminal=True, color_system=self.color_system,
                          highlight=False, markup=False, emoji=False, legacy_windows=False)
        out = ["\x1b[?2026h"]  # synchronised update where supported (ignored elsewhere)
        for k, line in enumerate(lines):
            buf.seek(0)
            buf.truncate()
            console.print(line, end="", no_wrap=True, overflow="crop", crop=True, soft_wrap=True)
            out.append(f"\x1b[{k + 1};1H\x1b[0m" + buf.getvalue() + "\x1b[0m")
            if line.cell_len < width:
                out.append("\x1b[K")
        out.append("\x1b[?2026l")
        self.write("".join(out))
