"""The page a confirmation email links to. Opening it (a GET, which mail scanners do too) changes
nothing: it shows the address and a Confirm button, whose event confirms. Both handlers read the code
from this tab's own address, never from an event's arguments, and need no sign-in: the code is the
proof, and it confirms only the address it was mailed to."""

import reflex as rx

from workers.errors import UserError
from workers.services import settings as email_settings


class VerifyEmailState(rx.State):
    address: str = ""
    confirmed: bool = False
    problem: str = ""

    def _code(self) -> str:
        return self.router.url.query_parameters.get("code", "")

    @rx.event
    def load(self):
        self.address, self.confirmed, self.problem = "", False, ""
        try:
            self.address = email_settings.address_to_confirm(self._code())
        except UserError as exc:
            self.problem = str(exc)

    @rx.event
    def confirm(self):
        try:
            self.address = email_settings.confirm_email(self._code())
        except UserError as exc:
            self.problem = str(exc)
            return
        self.confirmed = True
