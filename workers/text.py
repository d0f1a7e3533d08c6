"""Text the engine shows or checks: terminal colours stripped, control characters found."""

from __future__ import annotations

import re

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


def has_control_characters(text: str, *, space_too: bool = False) -> bool:
    """C0 controls and DEL (and the space itself with `space_too`, for URLs)."""
    highest = 32 if space_too else 31
    return any(ord(char) <= highest or ord(char) == 127 for char in text)
