"""Reconnect delays: exponential backoff with full jitter, capped, reset after a stable connection."""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    initial: float = 0.25
    maximum: float = 15.0
    factor: float = 2.0
    #: a connection that lasted this long resets the delay to ``initial``
    stable_after: float = 10.0
    attempt: int = 0

    def next_delay(self) -> float:
        """A delay drawn uniformly from 0 to the current ceiling (full jitter)."""
        ceiling = min(self.maximum, self.initial * (self.factor ** self.attempt))
        self.attempt += 1
        return random.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0
