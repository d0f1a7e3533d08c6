"""Turn tool output into a list of errors a person can act on (file, line, column, code, message)."""

from __future__ import annotations

import re

from workers.text import strip_ansi

# src/App.tsx(4,7): error TS2322: Type 'number' is not assignable to type 'string'.
_TSC_PAREN = re.compile(r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+),(?P<col>\d+)\): error (?P<code>TS\d+): (?P<msg>.*)$")
# src/App.tsx:4:7 - error TS2322: Type ... (tsc --pretty)
_TSC_PRETTY = re.compile(r"^(?P<file>\S+):(?P<line>\d+):(?P<col>\d+) - error (?P<code>TS\d+): (?P<msg>.*)$")
# Vite / rollup: "file: /abs/path/src/main.tsx:3:7" preceded by an error line
_VITE_FILE = re.compile(r"file: (?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")
# Vite 8 (rolldown): "[builtin:vite-transform] Expected `}` but found `EOF`" then "╭─[ legacy.js:2:20 ]"
_ROLLDOWN_FRAME = re.compile(r"╭─\[\s*(?P<file>[^\]]+?):(?P<line>\d+):(?P<col>\d+)\s*\]")
_NPM_ERR = re.compile(r"^npm (?:ERR!|error) (?P<msg>.*)$")


def tsc_errors(lines: list[str]) -> list[dict]:
    found = []
    for raw in lines:
        line = strip_ansi(raw).strip()
        match = _TSC_PAREN.match(line) or _TSC_PRETTY.match(line)
        if match:
            found.append(
                {
                    "file": match["file"].strip(),
                    "line": int(match["line"]),
                    "column": int(match["col"]),
                    "code": match["code"],
                    "message": match["msg"].strip(),
                }
            )
    return found


def vite_errors(lines: list[str], workdir: str) -> list[dict]:
    clean = [strip_ansi(line).rstrip() for line in lines]
    found = []
    for index, line in enumerate(clean):
        match = _VITE_FILE.search(line)
        frame = None if match else _ROLLDOWN_FRAME.search(line)
        if not (match or frame):
            continue
        if frame:  # the message is the line above the frame
            match = frame
            message = next((c.strip() for c in reversed(clean[:index]) if c.strip()), "build error")
        else:
            message = next(
                (c.strip() for c in reversed(clean[max(0, index - 5):index]) if "error" in c.lower()),
                "build error",
            )
        found.append(
            {
                "file": match["file"].replace(workdir.rstrip("/") + "/", ""),
                "line": int(match["line"]),
                "column": int(match["col"]),
                "code": "vite",
                "message": message,
            }
        )
    return found


def npm_error_text(lines: list[str]) -> str:
    """npm's own error lines, verbatim, without the log-file boilerplate."""
    messages = []
    for raw in lines:
        match = _NPM_ERR.match(strip_ansi(raw).strip())
        if match and match["msg"] and "A complete log of this run" not in match["msg"]:
            messages.append(match["msg"])
    return "\n".join(messages[:20])


def tail(lines: list[str], count: int = 20) -> str:
    return "\n".join(strip_ansi(line) for line in lines[-count:] if line.strip())
