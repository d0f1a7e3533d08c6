"""Text the engine shows or checks: terminal colours stripped, control characters found, names made slugs."""

from __future__ import annotations

import re
import unicodedata

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


def has_control_characters(text: str, *, space_too: bool = False) -> bool:
    """C0 controls and DEL (and the space itself with `space_too`, for URLs)."""
    highest = 32 if space_too else 31
    return any(ord(char) <= highest or ord(char) == 127 for char in text)


def slug_base(name: str, longest: int = 40) -> str:
    """A website name as the start of a DNS label: ASCII letters folded to lower case, digits, and
    single hyphens between them ("Café Menu!" → "cafe-menu"); empty when nothing of it is usable."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:longest].strip("-")
