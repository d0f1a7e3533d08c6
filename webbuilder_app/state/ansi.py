"""Build logs with ANSI colour codes → coloured text segments for the page.

Tools colour their output with SGR escape sequences. The page renders each segment as a span whose
text React escapes, so a log can never inject markup: only a class name chosen from a fixed set
here comes from the escape codes. Every other escape sequence (cursor moves, titles) is dropped.
"""

from __future__ import annotations

import re

SGR_OR_OTHER = re.compile(r"\x1b\[([0-9;]*)m|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b.?")
COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


class _Style:
    """The SGR attributes in force at a point of the line."""

    def __init__(self) -> None:
        self.bold = self.dim = self.italic = self.underline = False
        self.fg: str | None = None
        self.bg: str | None = None

    def apply(self, params: str) -> None:
        codes = [int(p) for p in params.split(";") if p.isdigit()] or [0]
        index = 0
        while index < len(codes):
            code = codes[index]
            if code == 0:
                self.__init__()
            elif code == 1:
                self.bold = True
            elif code == 2:
                self.dim = True
            elif code == 3:
                self.italic = True
            elif code == 4:
                self.underline = True
            elif code == 22:
                self.bold = self.dim = False
            elif code == 23:
                self.italic = False
            elif code == 24:
                self.underline = False
            elif 30 <= code <= 37:
                self.fg = COLOURS[code - 30]
            elif 90 <= code <= 97:
                self.fg = "bright-" + COLOURS[code - 90]
            elif code == 39:
                self.fg = None
            elif 40 <= code <= 47:
                self.bg = COLOURS[code - 40]
            elif code == 49:
                self.bg = None
            elif code in (38, 48):  # 256-colour and true-colour forms: skip their arguments
                index += 2 if index + 1 < len(codes) and codes[index + 1] == 5 else 4
            index += 1

    def css_class(self) -> str:
        names = [f"ansi-{self.fg}"] if self.fg else []
        if self.bg:
            names.append(f"ansi-bg-{self.bg}")
        names += [name for name, on in (("ansi-bold", self.bold), ("ansi-dim", self.dim),
                                        ("ansi-italic", self.italic), ("ansi-underline", self.underline)) if on]
        return " ".join(names)


def segments(line: str) -> list[dict[str, str]]:
    """Split one log line into [{"text", "cls"}] runs of equal style; escapes are removed."""
    style = _Style()
    runs: list[dict[str, str]] = []
    position = 0

    def emit(text: str) -> None:
        if not text:
            return
        cls = style.css_class()
        if runs and runs[-1]["cls"] == cls:
            runs[-1]["text"] += text
        else:
            runs.append({"text": text, "cls": cls})

    for match in SGR_OR_OTHER.finditer(line):
        emit(line[position:match.start()])
        if match.group(1) is not None:
            style.apply(match.group(1))
        position = match.end()
    emit(line[position:])
    return runs or [{"text": "", "cls": ""}]
