"""Requests as futures matched by ``id``, each with its own timeout."""
from __future__ import annotations

import asyncio
import itertools
from typing import Any, Dict, Optional

from .errors import ContextError


class RequestTracker:
    """Hands out ids and resolves the future of each request when its reply arrives."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._pending: Dict[str, asyncio.Future] = {}

    def next_id(self) -> str:
        return f"py-{next(self._ids)}"

    def expect(self, request_id: str) -> asyncio.Future:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        return future

    def resolve(self, frame: Dict[str, Any]) -> bool:
        """Settles the request this reply answers; False when no request has this id."""
        request_id = frame.get("id")
        if not isinstance(request_id, str):
            return False
        future = self._pending.pop(request_id, None)
        if future is None or future.done():
            return False
        if frame.get("type") == "error":
            future.set_exception(ContextError.from_frame(frame))
        else:
            future.set_result(frame)
        return True

    def forget(self, request_id: str) -> None:
        self._pending.pop(request_id, None)

    def fail_all(self, error: ContextError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def wait(self, request_id: str, future: asyncio.Future, timeout: Optional[float]) -> Dict[str, Any]:
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            self.forget(request_id)
            raise ContextError("timeout", f"no reply to {request_id} within {timeout} s") from None
