"""The error every refused request becomes: an HTTP status and a message for the client."""

from __future__ import annotations


class ServeError(Exception):
    """A request the server refuses: `status` is the HTTP code, the message goes to the client,
    `headers` (lower-case name, value) go with it (e.g. `allow` on a 405)."""

    def __init__(
        self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def bad(message: str) -> ServeError:
    return ServeError(400, message)
