"""Colours, icons and spacing in one place."""

STATUS_COLOR = {
    "pending": "gray",
    "queued": "blue",
    "building": "amber",
    "running": "purple",
    "completed": "green",
    "failed": "red",
    "cancelled": "gray",
}

STATUS_ICON = {
    "pending": "clock",
    "queued": "list",
    "building": "hammer",
    "running": "play",
    "completed": "circle-check",
    "failed": "circle-x",
    "cancelled": "ban",
}

PAGE_MAX_WIDTH = "72rem"
CARD_PADDING = "1.25rem"
MONO_FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"

log_box = {
    "font_family": MONO_FONT,
    "font_size": "12px",
    "white_space": "pre-wrap",
    "word_break": "break-all",
    "background": "var(--gray-a2)",
    "border": "1px solid var(--gray-a5)",
    "border_radius": "8px",
    "padding": "0.75rem",
    "max_height": "28rem",
    "overflow_y": "auto",
    "width": "100%",
}
