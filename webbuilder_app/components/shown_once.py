"""A secret the user must copy now (an API token, a webhook's signing secret): shown once, right after
it is made, with a copy button and what to do with it.

The secret never enters Reflex state (which is pickled to disk or Redis and resent on reloads): the
handler that made it returns `reveal(element_id, secret)`, a script that writes it into this callout's
elements once they are on the page. Closing or leaving the page drops it for good.
"""

import json

import reflex as rx


def reveal(element_id: str, secret: str) -> rx.event.EventSpec:
    """Write `secret` into the element `element_id` and every `.{element_id}-copy`, waiting for them to
    render (the callout appears with the same update)."""
    return rx.call_script(
        f"(function fill(tries) {{ const shown = document.getElementById({json.dumps(element_id)});"
        f" if (!shown) {{ if (tries > 0) requestAnimationFrame(() => fill(tries - 1)); return; }}"
        f" for (const el of [shown, ...document.querySelectorAll({json.dumps('.' + element_id + '-copy')})])"
        f" el.textContent = {json.dumps(secret)}; }})(240)"
    )


def copy_of(element_id: str) -> rx.Component:
    """A place in the usage text where the secret appears again."""
    return rx.el.span(class_name=f"{element_id}-copy")


def shown_once(visible: rx.Var, element_id: str, what: str, *usage: rx.Component) -> rx.Component:
    copy = rx.call_script(f"navigator.clipboard.writeText(document.getElementById({json.dumps(element_id)}).textContent)")
    return rx.cond(
        visible,
        rx.callout(
            rx.vstack(
                rx.text(f"Copy this {what} now; it is not shown again.", weight="medium"),
                rx.hstack(
                    rx.code(id=element_id, size="3", high_contrast=True),
                    rx.icon_button(rx.icon("copy", size=14), on_click=copy, size="1", variant="soft", aria_label=f"Copy the {what}"),
                    align="center",
                ),
                *usage,
                width="100%",
            ),
            icon="key-round",
            color_scheme="green",
            high_contrast=True,  # Radix's green-on-green callout text is under 4.5:1
            width="100%",
        ),
    )
