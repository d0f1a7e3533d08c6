"""Assign only what changed.

Assigning a state var marks it dirty even when the value is equal, and a dirty var is sent whole to
every linked tab; with 50 tabs open a needless resend of the notification list costs each of them a
re-render. Re-reads from the database go through here."""

from typing import Any

import reflex as rx


def assign_changed(state: rx.State, **values: Any) -> None:
    for name, value in values.items():
        if getattr(state, name) != value:
            setattr(state, name, value)
