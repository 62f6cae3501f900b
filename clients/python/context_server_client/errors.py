"""The one exception type of the client: every refusal carries the contract's error code."""
from __future__ import annotations

from typing import Any, Optional


class ContextError(Exception):
    """A request the server refused, or one the client could not complete.

    ``code`` is one of the contract's codes (``validation_error``, ``forbidden``, ``not_found``,
    ``entry_too_large``, ``version_conflict``, ``rate_limited``, ``internal``, ...) or one of the
    client's own: ``timeout`` (no reply in time), ``closed`` (the client was closed),
    ``queue_full`` (the offline queue is at its bound), ``unauthorized`` (the server refused the
    token and no provider can give a new one).
    """

    def __init__(self, code: str, message: str, details: Any = None,
                 retry_after_ms: Optional[int] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details
        self.retry_after_ms = retry_after_ms

    @classmethod
    def from_frame(cls, frame: dict) -> "ContextError":
        """Builds the error from a server ``{"type":"error",...}`` frame."""
        return cls(str(frame.get("code", "internal")), str(frame.get("message", "")),
                   frame.get("details"), frame.get("retry_after_ms"))
