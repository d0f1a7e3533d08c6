"""Errors the engine raises for the user to read, each with the HTTP status to answer with."""


class JobError(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
