"""Entries and replies as typed values (the wire names are kept, so they read like the docs)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional


@dataclass(frozen=True)
class Entry:
    """One context entry as the server shows it (contract §1)."""
    timestamp: str
    content: Any
    tokens: int
    source: str
    priority: int
    owner: str
    version: int
    expires_at: Optional[str] = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> "Entry":
        return cls(timestamp=data["timestamp"], content=data["content"], tokens=data["tokens"],
                   source=data["source"], priority=data["priority"], owner=data["owner"],
                   version=data["version"], expires_at=data.get("expires_at"))


@dataclass(frozen=True)
class Metadata:
    total_tokens: int
    max_tokens: int
    entry_count: int

    @classmethod
    def from_wire(cls, data: Optional[Mapping[str, Any]]) -> "Metadata":
        data = data or {}
        return cls(int(data.get("total_tokens", 0)), int(data.get("max_tokens", 0)),
                   int(data.get("entry_count", 0)))


@dataclass(frozen=True)
class WriteAck:
    """The reply to a write: where it went and what it evicted."""
    key: str
    tokens: int
    version: int
    seq: int
    evicted: List[str]
    stored: bool = True
    replayed: bool = False
    epoch: Optional[str] = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> "WriteAck":
        return cls(key=data["key"], tokens=data["tokens"], version=data["version"],
                   seq=data["seq"], evicted=list(data.get("evicted", [])),
                   stored=bool(data.get("stored", True)), replayed=bool(data.get("replayed", False)),
                   epoch=data.get("epoch"))


@dataclass(frozen=True)
class QueryResult:
    """A ``query_response``: matches in the server's order, with their scores when ranked."""
    entries: Dict[str, Entry]
    matched: int
    returned: int
    returned_tokens: int
    truncated: bool
    omitted: List[str] = field(default_factory=list)
    scores: Dict[str, float] = field(default_factory=dict)
    next_cursor: Optional[str] = None
    raw_metadata: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, frame: Mapping[str, Any]) -> "QueryResult":
        meta = dict(frame.get("metadata") or {})
        return cls(entries={k: Entry.from_wire(v) for k, v in (frame.get("data") or {}).items()},
                   matched=int(meta.get("matched", 0)), returned=int(meta.get("returned", 0)),
                   returned_tokens=int(meta.get("returned_tokens", 0)),
                   truncated=bool(meta.get("truncated", False)),
                   omitted=list(meta.get("omitted", [])), scores=dict(meta.get("scores") or {}),
                   next_cursor=meta.get("next_cursor"), raw_metadata=meta)


@dataclass(frozen=True)
class Change:
    """One change applied to the mirror: what was written and removed, at which seq.

    ``resync`` is true when the server sent a fresh snapshot instead of deltas (a history that no
    longer reached back, or another epoch); ``upserted`` then holds the whole new state and
    ``removed`` every key that is gone.
    """
    seq: int
    epoch: Optional[str]
    upserted: Dict[str, Entry]
    removed: List[str]
    reason: Optional[str] = None
    resync: bool = False
    actor: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class ClearResult:
    removed: List[str]
    count: int
    seq: Optional[int] = None
    replayed: bool = False


@dataclass(frozen=True)
class PriorityResult:
    key: str
    priority: int
    version: int
    seq: Optional[int] = None
    replayed: bool = False
