"""Colours, icons and spacing in one place. Radix colour variables keep both themes readable."""

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

# A build step's state → (lucide icon, Radix colour).
STEP_LOOK = {
    "waiting": ("circle-dashed", "gray"),
    "running": ("loader-circle", "amber"),
    "done": ("circle-check", "green"),
    "skipped": ("circle-minus", "gray"),
    "failed": ("circle-x", "red"),
    "cancelled": ("ban", "gray"),
}

# A webhook or email delivery's state → (lucide icon, Radix colour).
DELIVERY_LOOK = {
    "pending": ("clock", "amber"),
    "delivered": ("circle-check", "green"),
    "failed": ("circle-x", "red"),
}

MONO_FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"

# ANSI colour classes from state/ansi.py, drawn with Radix scales (step 11 reads on both themes).
_ANSI_SCALES = {
    "black": "gray", "red": "red", "green": "green", "yellow": "amber",
    "blue": "blue", "magenta": "plum", "cyan": "cyan", "white": "gray",
}
ANSI_CSS = {
    # Radix's steps 11 and 12 are its text colours: readable (4.5:1 or more) on the log's plain background.
    **{f"& .ansi-{name}": {"color": f"var(--{scale}-12)"} for name, scale in _ANSI_SCALES.items()},
    **{f"& .ansi-bright-{name}": {"color": f"var(--{scale}-11)"} for name, scale in _ANSI_SCALES.items()},
    **{f"& .ansi-bg-{name}": {"background": f"var(--{scale}-a4)"} for name, scale in _ANSI_SCALES.items()},
    "& .ansi-bold": {"font_weight": "700"},
    "& .ansi-dim": {"color": "var(--gray-11)"},
    "& .ansi-italic": {"font_style": "italic"},
    "& .ansi-underline": {"text_decoration": "underline"},
}

log_box = {
    "font_family": MONO_FONT,
    "font_size": "12px",
    "line_height": "1.55",
    "white_space": "pre-wrap",
    "word_break": "break-all",
    "background": "var(--gray-1)",
    "border": "1px solid var(--gray-a5)",
    "border_radius": "8px",
    "padding": "0.75rem",
    "min_height": "8rem",
    "max_height": "32rem",
    "overflow_y": "auto",
    "width": "100%",
    **ANSI_CSS,
}
