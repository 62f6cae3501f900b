"""Writes waiting to be (re)sent: made while disconnected, or sent but not yet acknowledged.

Each carries an idempotency key chosen when the write was made, so sending it again after a
reconnect can never apply it twice: the server answers a repeat with the first reply.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Iterator

from .errors import ContextError


@dataclass
class PendingWrite:
    message: Dict[str, Any]
    future: asyncio.Future
    sent: bool = False


class Outbox:
    """A bounded, ordered queue of writes keyed by their idempotency key."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._writes: "OrderedDict[str, PendingWrite]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._writes)

    def add(self, idempotency_key: str, message: Dict[str, Any]) -> PendingWrite:
        if len(self._writes) >= self.max_size:
            raise ContextError("queue_full", f"{self.max_size} writes are already waiting to be sent")
        pending = PendingWrite(message, asyncio.get_running_loop().create_future())
        self._writes[idempotency_key] = pending
        return pending

    def settle(self, idempotency_key: str) -> None:
        self._writes.pop(idempotency_key, None)

    def unsent(self) -> Iterator[PendingWrite]:
        """Every waiting write in the order it was made (sent-but-unacknowledged ones included)."""
        return iter(list(self._writes.values()))

    def fail_all(self, error: ContextError) -> None:
        writes, self._writes = self._writes, OrderedDict()
        for pending in writes.values():
            if not pending.future.done():
                pending.future.set_exception(error)
