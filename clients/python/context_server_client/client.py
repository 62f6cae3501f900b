"""ContextClient: the one object agents use. It owns a connection loop (connect, authenticate,
subscribe, read), and puts together the request tracker, the mirror and the outbox.

Guarantees (the same as the TypeScript client's):
- ``entries`` is always a state the server had, at ``seq`` (and ``epoch``): deltas are applied in
  order, a resync snapshot replaces everything, and resuming never crosses epochs.
- Every write carries an idempotency key; a write made while disconnected, or whose ack was lost
  to a dropped connection, is sent again on reconnect with the same key, so it is applied once.
- Reconnects use exponential backoff with full jitter; the token provider is asked again on
  every (re)connect, after a 4001 and before the token expires (refreshed in-band).
"""
from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Union
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

import websockets

from .backoff import Backoff
from .errors import ContextError
from .mirror import Filter, Mirror
from .outbox import Outbox, PendingWrite
from .requests import RequestTracker
from .types import Change, ClearResult, Entry, Metadata, PriorityResult, QueryResult, WriteAck

log = logging.getLogger("context_server_client")

TokenProvider = Union[str, Callable[[], Union[str, Awaitable[str]]]]
Listener = Callable[[Any], Any]

#: close codes after which reconnecting cannot help
_FINAL_CLOSES = {1008: "invalid connection parameters", 1003: "binary frame refused"}
_UNAUTHORIZED = 4001
_EVENTS = ("change", "resync", "connected", "disconnected", "reconnecting", "error")


def _token_expiry(token: str) -> Optional[float]:
    """The ``exp`` claim of a JWT in seconds since the epoch (read, not verified), if any."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
        return float(exp) if isinstance(exp, (int, float)) else None
    except (IndexError, ValueError, AttributeError):
        return None


class ContextClient:
    """An asyncio client for the context server's WebSocket protocol.

    Use it as an async context manager (``async with ContextClient(url, token=...) as client``):
    entering waits until the first snapshot is applied (or, with ``mode="none"``, until the
    connection is authenticated); leaving closes it and cancels every timer.
    """

    def __init__(self, url: str, token: TokenProvider, *, mode: str = "delta",
                 filter: Optional[Mapping[str, Any]] = None, request_timeout: float = 10.0,
                 connect_timeout: float = 10.0, max_queued_writes: int = 1000,
                 max_frame_bytes: int = 64 * 1024 * 1024, backoff: Optional[Backoff] = None,
                 refresh_margin: float = 30.0, rate_limit_retries: int = 5) -> None:
        if mode not in ("delta", "snapshot", "none"):
            raise ValueError("mode must be 'delta', 'snapshot' or 'none'")
        self.url = url
        self.mode = mode
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.max_frame_bytes = max_frame_bytes
        self.refresh_margin = refresh_margin
        self.rate_limit_retries = rate_limit_retries
        self._token = token
        self._filter = Filter(**dict(filter or {}))
        self._mirror = Mirror(self._filter)
        self._requests = RequestTracker()
        self._outbox = Outbox(max_queued_writes)
        self._backoff = backoff or Backoff()
        self._listeners: Dict[str, List[Listener]] = {name: [] for name in _EVENTS}
        self._ws: Any = None
        self._connected = asyncio.Event()
        self._ready: Optional[asyncio.Future] = None
        self._runner: Optional[asyncio.Task] = None
        self._refresher: Optional[asyncio.Task] = None
        self._closed = False
        self._failure: Optional[ContextError] = None
        self.state = "disconnected"
        self.client_id: Optional[str] = None
        self.user_id: Optional[str] = None
        self.tenant: Optional[str] = None
        self.roles: List[str] = []
        self.server_info: Dict[str, Any] = {}

    # ---- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> "ContextClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        """Starts the connection loop and waits until the client is ready (see the class doc)."""
        if self._runner is None:
            self._ready = asyncio.get_running_loop().create_future()
            self._runner = asyncio.create_task(self._run())
        assert self._ready is not None
        await asyncio.shield(self._ready)

    async def close(self) -> None:
        """Closes the connection; pending requests and queued writes fail with code ``closed``."""
        if self._closed:
            return
        self._closed = True
        self._set_state("closed")
        error = ContextError("closed", "the client was closed")
        if self._refresher is not None:
            self._refresher.cancel()
        if self._ws is not None:
            await self._ws.close(1000, "client closed")
        if self._runner is not None:
            self._runner.cancel()
            try:
                await self._runner
            except (asyncio.CancelledError, Exception):
                pass
        self._requests.fail_all(error)
        self._outbox.fail_all(error)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)

    # ---- the mirror --------------------------------------------------------------------------

    @property
    def entries(self) -> Mapping[str, Entry]:
        """The tenant's entries (matching the filter) as the server had them at ``seq``."""
        return self._mirror.entries

    @property
    def seq(self) -> Optional[int]:
        return self._mirror.seq

    @property
    def epoch(self) -> Optional[str]:
        return self._mirror.epoch

    @property
    def metadata(self) -> Metadata:
        return self._mirror.metadata

    # ---- events ------------------------------------------------------------------------------

    def on(self, event: str, listener: Listener) -> Callable[[], None]:
        """Adds a listener for ``change``, ``resync``, ``connected``, ``disconnected``,
        ``reconnecting`` or ``error``; returns a function that removes it."""
        if event not in self._listeners:
            raise ValueError(f"unknown event {event!r}; one of {', '.join(_EVENTS)}")
        self._listeners[event].append(listener)
        return lambda: self._listeners[event].remove(listener)

    def on_change(self, listener: Callable[[Change], Any]) -> Callable[[], None]:
        """Calls ``listener(change)`` for every change applied to ``entries`` (resyncs included)."""
        return self.on("change", listener)

    def _emit(self, event: str, value: Any = None) -> None:
        for listener in list(self._listeners[event]):
            try:
                result = listener(value)
                if inspect.isawaitable(result):
                    asyncio.ensure_future(result)
            except Exception:  # a listener's bug must not break the connection
                log.exception("%s listener failed", event)

    # ---- requests ----------------------------------------------------------------------------

    async def update(self, context: Mapping[str, Any], *, source: Optional[str] = None,
                     priority: Optional[int] = None, key: Optional[str] = None,
                     expected_version: Optional[int] = None, ttl_seconds: Optional[int] = None,
                     idempotency_key: Optional[str] = None) -> WriteAck:
        """Creates or replaces an entry; applied exactly once, even across reconnects."""
        message = _without_none({"type": "update_context", "context": dict(context), "source": source,
                                 "priority": priority, "key": key, "expected_version": expected_version,
                                 "ttl_seconds": ttl_seconds})
        return WriteAck.from_wire(await self._write(message, idempotency_key))

    async def set_priority(self, key: str, priority: int, *, idempotency_key: Optional[str] = None) -> PriorityResult:
        frame = await self._write({"type": "set_priority", "key": key, "priority": priority}, idempotency_key)
        return PriorityResult(frame["key"], frame["priority"], frame["version"], frame.get("seq"),
                              bool(frame.get("replayed", False)))

    async def clear(self, *, source: Optional[str] = None, keys: Optional[List[str]] = None,
                    all: bool = False, idempotency_key: Optional[str] = None) -> ClearResult:
        message = _without_none({"type": "clear_context", "source": source, "keys": keys,
                                 "all": True if all else None})
        frame = await self._write(message, idempotency_key)
        return ClearResult(list(frame.get("removed", [])), int(frame.get("count", 0)), frame.get("seq"),
                           bool(frame.get("replayed", False)))

    async def get(self) -> Dict[str, Entry]:
        """The whole store, read from the server (not the mirror)."""
        frame = await self._request({"type": "get_context"})
        return {k: Entry.from_wire(v) for k, v in (frame.get("data") or {}).items()}

    async def query(self, **query: Any) -> QueryResult:
        """``query_context`` with the contract's filters (``source``, ``sources``, ``keys``,
        ``min_priority``, ``max_priority``, ``since``, ``text``, ``max_tokens``, ``limit``,
        ``relevant_to``, ``cursor``); entries come back in the server's rank order."""
        return QueryResult.from_wire(await self._request({"type": "query_context", "query": _without_none(query)}))

    async def status(self) -> Dict[str, Any]:
        """The tenant's status (admin only)."""
        frame = await self._request({"type": "get_status"})
        return {k: v for k, v in frame.items() if k not in ("type", "id")}

    async def ping(self) -> str:
        return str((await self._request({"type": "ping"})).get("timestamp"))

    async def _request(self, message: Dict[str, Any]) -> Dict[str, Any]:
        """Sends a read once connected; retried after ``retry_after_ms`` when rate limited."""
        deadline = time.monotonic() + self.request_timeout
        for attempt in range(self.rate_limit_retries + 1):
            await self._wait_connected(deadline)
            request_id = self._requests.next_id()
            future = self._requests.expect(request_id)
            await self._send({**message, "id": request_id})
            try:
                return await self._requests.wait(request_id, future, max(0.0, deadline - time.monotonic()))
            except ContextError as error:
                if error.code != "rate_limited" or attempt == self.rate_limit_retries:
                    raise
                await asyncio.sleep((error.retry_after_ms or 100) / 1000)
        raise AssertionError("unreachable")

    async def _write(self, message: Dict[str, Any], idempotency_key: Optional[str]) -> Dict[str, Any]:
        """Queues a write with its idempotency key; it is (re)sent whenever the client connects."""
        self._raise_if_unusable()
        key = idempotency_key or uuid.uuid4().hex
        pending = self._outbox.add(key, {**message, "idempotency_key": key})
        try:
            if self._connected.is_set():
                await self._send_write(pending)
            return await pending.future
        finally:
            self._outbox.settle(key)

    async def _send_write(self, pending: PendingWrite) -> None:
        """Sends one queued write and settles it from its reply (retrying rate limits)."""
        for attempt in range(self.rate_limit_retries + 1):
            request_id = self._requests.next_id()
            future = self._requests.expect(request_id)
            pending.sent = True
            ws = self._ws
            await self._send({**pending.message, "id": request_id})
            try:
                frame = await self._requests.wait(request_id, future, self.request_timeout)
            except ContextError as error:
                if error.code == "disconnected" and not self._closed:
                    return  # resent with the same key once the client reconnects
                if error.code == "timeout" and ws is not None and ws is not self._ws:
                    return  # the connection changed under it: the reconnect resends it
                if error.code == "rate_limited" and attempt < self.rate_limit_retries:
                    await asyncio.sleep((error.retry_after_ms or 100) / 1000)
                    continue
                if not pending.future.done():
                    pending.future.set_exception(error)
                return
            if not pending.future.done():
                pending.future.set_result(frame)
            return

    async def _send(self, message: Dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            raise ContextError("disconnected", "not connected")
        try:
            await ws.send(json.dumps(message))
        except websockets.ConnectionClosed:
            raise ContextError("disconnected", "the connection closed") from None

    async def _wait_connected(self, deadline: float) -> None:
        self._raise_if_unusable()
        if self._connected.is_set():
            return
        try:
            await asyncio.wait_for(self._connected.wait(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise ContextError("timeout", "not connected within the request timeout") from None
        self._raise_if_unusable()

    def _raise_if_unusable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise ContextError("closed", "the client was closed")

    # ---- the connection loop -----------------------------------------------------------------

    async def _token_now(self) -> str:
        if isinstance(self._token, str):
            return self._token
        value = self._token()
        if inspect.isawaitable(value):
            value = await value
        return str(value)

    def _connect_url(self) -> str:
        # The subscription is made by a `subscribe` message after authentication (it carries the
        # filter and the resume point), so the connection itself starts with no broadcasts.
        parts = urlsplit(self.url)
        query = dict(parse_qsl(parts.query))
        query["mode"] = "none"
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/ws", urlencode(query), parts.fragment))

    async def _run(self) -> None:
        first = True
        while not self._closed:
            if not first:
                delay = self._backoff.next_delay()
                self._set_state("reconnecting")
                self._emit("reconnecting", {"delay": delay, "attempt": self._backoff.attempt})
                await asyncio.sleep(delay)
            first = False
            started = time.monotonic()
            code, reason = await self._session()
            if self._closed:
                return
            if time.monotonic() - started >= self._backoff.stable_after:
                self._backoff.reset()
            self._emit("disconnected", {"code": code, "reason": reason})
            final = self._final_error(code, reason)
            if final is not None:
                self._fail(final)
                return

    def _final_error(self, code: Optional[int], reason: str) -> Optional[ContextError]:
        if code in _FINAL_CLOSES:
            return ContextError("validation_error", f"closed {code}: {reason or _FINAL_CLOSES[code]}")
        if code == _UNAUTHORIZED and isinstance(self._token, str):
            return ContextError("unauthorized", f"closed 4001: {reason}; give a token provider to recover")
        return None

    def _fail(self, error: ContextError) -> None:
        self._failure = error
        self._set_state("failed")
        self._emit("error", error)
        self._requests.fail_all(error)
        self._outbox.fail_all(error)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)

    async def _session(self) -> "tuple[Optional[int], str]":
        """One connection from open to close; returns its close code and reason."""
        self._set_state("connecting")
        try:
            token = await self._token_now()
            ws = await websockets.connect(self._connect_url(), max_size=self.max_frame_bytes,
                                          open_timeout=self.connect_timeout, close_timeout=2)
        except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as error:
            self._emit("error", ContextError("disconnected", f"connect failed: {error}"))
            return None, str(error)
        except Exception as error:  # the token provider failed: try again later
            self._emit("error", ContextError("unauthorized", f"token provider failed: {error}"))
            return None, str(error)
        self._ws = ws
        try:
            await ws.send(json.dumps({"type": "authenticate", "token": token}))
            await self._authenticate(ws, token)
            async for text in ws:
                self._dispatch(json.loads(text))
        except websockets.ConnectionClosed:
            pass
        except ContextError as error:
            self._emit("error", error)
            await ws.close(1000)
        finally:
            self._connected.clear()
            if self._refresher is not None:
                self._refresher.cancel()
                self._refresher = None
            self._ws = None
            self._requests.fail_all(ContextError("disconnected", "the connection closed"))
        if not self._closed:
            self._set_state("disconnected")
        return ws.close_code, ws.close_reason or ""

    async def _authenticate(self, ws: Any, token: str) -> None:
        """Reads the pre-auth snapshot and ``auth_success``, subscribes, then sends queued writes."""
        snapshot: Optional[Dict[str, Any]] = None
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), self.connect_timeout))
            if frame.get("type") == "context":
                snapshot = frame
            elif frame.get("type") == "auth_success":
                break
            elif frame.get("type") == "error":
                raise ContextError.from_frame(frame)
        self.client_id, self.user_id = frame.get("client_id"), frame.get("user_id")
        self.tenant, self.roles = frame.get("tenant"), list(frame.get("roles") or [])
        self.server_info = dict(frame.get("server_info") or {})
        self._schedule_refresh(token)
        if self.mode != "none":
            await self._subscribe(ws, snapshot)
        self._set_state("connected")
        self._connected.set()
        self._emit("connected", {"client_id": self.client_id, "seq": self.seq, "epoch": self.epoch})
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        for pending in self._outbox.unsent():
            asyncio.ensure_future(self._send_write(pending))

    async def _subscribe(self, ws: Any, snapshot: Optional[Dict[str, Any]]) -> None:
        """Resumes from the mirror's seq and epoch, or starts from the pre-auth snapshot."""
        resume = self.mode == "delta" and self._mirror.has_state
        if not resume and snapshot is not None:
            self._apply_snapshot(snapshot, resync=self._mirror.has_state)
        since_seq, epoch = self._mirror.resume_point()
        message = _without_none({"type": "subscribe", "id": "subscribe", "mode": self.mode,
                                 "filter": self._filter.to_wire(),
                                 "since_seq": since_seq if self.mode == "delta" else None,
                                 "epoch": epoch if self.mode == "delta" else None})
        await ws.send(json.dumps(message))
        # Frames before `subscribed` can only be replies to nothing yet sent: wait for it.
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), self.connect_timeout))
            if frame.get("type") == "subscribed":
                return
            if frame.get("type") == "error" and frame.get("id") == "subscribe":
                raise ContextError.from_frame(frame)
            self._dispatch(frame)

    def _dispatch(self, frame: Dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "context_delta":
            change = self._mirror.apply_delta(frame)
            if change is not None:
                self._emit("change", change)
        elif kind == "context" and frame.get("resync"):
            self._apply_snapshot(frame, resync=True)
        elif kind == "context_update":
            self._apply_snapshot(frame, resync=False)
        elif "id" in frame:
            self._requests.resolve(frame)

    def _apply_snapshot(self, frame: Dict[str, Any], resync: bool) -> None:
        change = self._mirror.apply_snapshot(frame, resync)
        if resync:
            self._emit("resync", change)
        self._emit("change", change)

    def _schedule_refresh(self, token: str) -> None:
        """Refreshes the token in-band ``refresh_margin`` seconds before it expires."""
        expiry = _token_expiry(token)
        if expiry is None or isinstance(self._token, str):
            return
        delay = max(0.0, expiry - time.time() - min(self.refresh_margin, (expiry - time.time()) / 2))
        self._refresher = asyncio.ensure_future(self._refresh_after(delay))

    async def _refresh_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            token = await self._token_now()
            await self._request({"type": "refresh_token", "token": token})
            self._schedule_refresh(token)
        except ContextError as error:
            self._emit("error", error)
        except Exception as error:
            self._emit("error", ContextError("unauthorized", f"token refresh failed: {error}"))

    def _set_state(self, state: str) -> None:
        self.state = state


def _without_none(values: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
