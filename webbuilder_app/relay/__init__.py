"""The live relay: the backend's lifespan tasks that turn the engine's change notices into Reflex
state (notices.py, `relay_changes`) and cut off the tabs of sign-in sessions that ended
(signed_out.py, `end_signed_out_tabs`). The states they fill are in webbuilder_app/state (feed.py,
job.py, websites.py); nothing there imports the relay.

This package is the one exception to the import contract that keeps the web app on the engine's
services (pyproject.toml, `[tool.importlinter]`): it reads the notice channel (workers.store.events)
and holds the relay lease (workers.store.leadership).
"""

from .notices import relay_changes
from .signed_out import end_signed_out_tabs

__all__ = ["end_signed_out_tabs", "relay_changes"]
