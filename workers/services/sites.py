"""What the site server may serve of a published site: the publishing rule for hidden entries."""

from __future__ import annotations

from workers.build.site_collector import left_out


def hidden(parts: tuple[str, ...]) -> bool:
    """Whether a request path's components name something publishing leaves out (a dot-entry at any
    depth, `.well-known/` excepted)."""
    return any(left_out(parts[: depth + 1]) == "dotfile" for depth in range(len(parts)))
