"""The live log tail: ANSI colours as spans, kept scrolled to the end until the user scrolls up."""

import reflex as rx

from webbuilder_app.styles import log_box


def _line(runs: rx.Var) -> rx.Component:
    # Text goes in as React children, which React escapes: log output is never parsed as HTML.
    return rx.el.div(rx.foreach(runs, lambda run: rx.el.span(run["text"], class_name=run["cls"])), class_name="log-line")


def log_view(lines: rx.Var) -> rx.Component:
    """rx.auto_scroll follows new lines only while the reader is at the bottom of the box."""
    return rx.auto_scroll(
        rx.cond(lines.length() > 0, rx.foreach(lines, _line), rx.text("No output yet.", color_scheme="gray", size="1")),
        style=log_box,
        id="log",
        # Focusable, so that a keyboard can scroll it; named for the reader that lands on it.
        tab_index=0,
        role="region",
        aria_label="Build log",
    )
