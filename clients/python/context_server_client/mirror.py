"""The local copy of the tenant's store: applies snapshots and deltas by seq and epoch, nothing else.

It never shows a state the server did not have: a delta is applied only when it is newer than
what the mirror holds, a snapshot replaces everything, and a change of epoch (the server's history
started again) is only ever crossed by a snapshot.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from .types import Change, Entry, Metadata


class Filter:
    """The subscription filter, applied to snapshots the way the server applies it to deltas."""

    def __init__(self, source: Optional[str] = None, min_priority: Optional[int] = None) -> None:
        self.source = source
        self.min_priority = min_priority

    def matches(self, entry: Entry) -> bool:
        if self.source is not None and not entry.source.startswith(self.source):
            return False
        if self.min_priority is not None and entry.priority < self.min_priority:
            return False
        return True

    def to_wire(self) -> Optional[Dict[str, Any]]:
        out: Dict[str, Any] = {}
        if self.source is not None:
            out["source"] = self.source
        if self.min_priority is not None:
            out["min_priority"] = self.min_priority
        return out or None


class Mirror:
    """Entries keyed by key, with the seq and epoch they are the state at."""

    def __init__(self, flt: Optional[Filter] = None) -> None:
        self.entries: Dict[str, Entry] = {}
        self.seq: Optional[int] = None
        self.epoch: Optional[str] = None
        self.metadata = Metadata(0, 0, 0)
        self._filter = flt or Filter()

    @property
    def has_state(self) -> bool:
        return self.seq is not None

    def apply_snapshot(self, frame: Mapping[str, Any], resync: bool) -> Change:
        """Replaces the state with a ``context`` frame's data (the initial one or a resync)."""
        data = {k: Entry.from_wire(v) for k, v in (frame.get("data") or {}).items()}
        kept = {k: e for k, e in data.items() if self._filter.matches(e)}
        removed = [k for k in self.entries if k not in kept]
        self.entries = kept
        self.seq = int(frame.get("seq", 0))
        self.epoch = frame.get("epoch", self.epoch)
        self.metadata = Metadata.from_wire(frame.get("metadata"))
        return Change(seq=self.seq, epoch=self.epoch, upserted=dict(kept), removed=removed,
                      reason="resync" if resync else "snapshot", resync=resync)

    def apply_delta(self, frame: Mapping[str, Any]) -> Optional[Change]:
        """Applies a ``context_delta`` newer than the mirror; returns None for one already held."""
        seq = int(frame["seq"])
        epoch = frame.get("epoch")
        if self.seq is not None and seq <= self.seq and (epoch is None or epoch == self.epoch):
            return None  # a replayed or duplicate delta: already part of this state
        removed = [k for k in frame.get("removed") or [] if k in self.entries]
        for key in removed:
            del self.entries[key]
        upserted: Dict[str, Entry] = {}
        for key, wire in (frame.get("upserted") or {}).items():
            entry = Entry.from_wire(wire)
            if self._filter.matches(entry):
                self.entries[key] = entry
                upserted[key] = entry
            elif key in self.entries:
                del self.entries[key]
                removed.append(key)
        self.seq = seq
        if epoch is not None:
            self.epoch = epoch
        self.metadata = Metadata.from_wire(frame.get("metadata"))
        return Change(seq=seq, epoch=self.epoch, upserted=upserted, removed=removed,
                      reason=frame.get("reason"), actor=frame.get("actor"))

    def resume_point(self) -> Tuple[Optional[int], Optional[str]]:
        """Where a reconnect should resume from: the last applied seq and its epoch."""
        return self.seq, self.epoch
