"""The one error the engine raises for the user to read.

`str(error)` is a message written for the person who asked; `status` is the HTTP status to answer with
(400 unless said: 401 wrong credentials, 404 not theirs or gone, 409 conflict, 413 too big, 415 wrong
format, 422 invalid, 429 too many, 503 busy); `retry_after`, when set, the seconds for a Retry-After
header. The API, the Reflex state and the CLI show it as it is.
"""


class UserError(ValueError):
    def __init__(self, message: str, status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class UploadTooLarge(UserError):
    def __init__(self, limit_mb: int):
        super().__init__(f"the upload is larger than the {limit_mb} MB limit", 413)
