"""A Server-Sent Events parser (the subset the API sends: event, id, data, comments, retry)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass
class SseEvent:
    event: str
    id: str | None
    data: dict = field(default_factory=dict)


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent | None]:
    """Yield each event when its blank line arrives; yield None for a comment (a heartbeat), so a
    reader can tell the connection is alive."""
    event, event_id, data = "message", None, []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent(event, event_id, json.loads("\n".join(data)))
            event, event_id, data = "message", None, []
            continue
        if line.startswith(":"):
            yield None
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "id":
            event_id = value
        elif name == "data":
            data.append(value)
