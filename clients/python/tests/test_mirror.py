"""The mirror, reconnects, resume, exactly-once writes and token refresh, against the real server."""
from __future__ import annotations

import asyncio

from context_server_client import Backoff, ContextClient
from conftest import Server, eventually, sign


def rest_view(server: Server, token: str) -> dict:
    body = server.context(token)
    return {key: (e["version"], e["priority"], e["tokens"], e["content"]) for key, e in body["data"].items()}


def mirror_view(client: ContextClient) -> dict:
    return {key: (e.version, e.priority, e.tokens, e.content) for key, e in client.entries.items()}


async def test_the_mirror_follows_another_clients_writes_and_a_restart(server, tenant):
    reader_token = sign("watcher", roles=["reader"], tenant=tenant)
    writer_token = sign("agent", tenant=tenant)
    changes = []
    async with ContextClient(server.ws, token=reader_token, mode="delta",
                             backoff=Backoff(initial=0.05, maximum=0.5)) as mirror:
        mirror.on_change(changes.append)
        async with ContextClient(server.ws, token=writer_token, mode="none") as writer:
            for i in range(30):
                await writer.update({"step": i}, key=f"k{i % 7}", priority=1 + i % 10)
        await eventually(lambda: mirror_view(mirror) == rest_view(server, writer_token), message="mirror == GET /context")

        await asyncio.to_thread(server.restart)
        async with ContextClient(server.ws, token=writer_token, mode="none") as writer:
            for i in range(30, 60):
                await writer.update({"step": i}, key=f"k{i % 9}", priority=1 + i % 10)
        await eventually(lambda: mirror.state == "connected" and mirror_view(mirror) == rest_view(server, writer_token),
                         timeout=20, message="mirror == GET /context after the restart")
        seqs = [c.seq for c in changes if not c.resync]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), "no change applied twice or out of order"


class SteadyBackoff(Backoff):
    """A fixed reconnect delay, so a test can act while the client is away."""

    def next_delay(self) -> float:
        self.attempt += 1
        return self.initial


async def test_a_memory_only_restart_is_a_new_history_and_the_mirror_resyncs(tenant):
    server = Server(env={"MCP_DATA_DIR": ""}).start()
    try:
        token = sign("agent", tenant=tenant)
        resyncs = []
        # The client stays away for 6 s after the restart (the server takes a few to start): long enough for the new history to
        # grow past the seq it resumes from, which is when crossing histories would go unseen.
        async with ContextClient(server.ws, token=token, mode="delta", backoff=SteadyBackoff(initial=6)) as client:
            client.on("resync", resyncs.append)
            for i in range(10):
                await client.update({"old": i}, key=f"old{i}")
            await asyncio.to_thread(server.restart)
            for i in range(20):
                status, _ = await asyncio.to_thread(server.rest, "PUT", f"/context/new{i}", token, {"context": {"new": i}})
                assert status in (200, 201)
            assert client.state != "connected", "the writes happened while the client was away"
            await eventually(lambda: client.state == "connected" and mirror_view(client) == rest_view(server, token),
                             timeout=20, message="the mirror holds only the new history")
            assert not any(key.startswith("old") for key in client.entries)
            assert resyncs, "the new history arrived as a resync"
    finally:
        server.cleanup()


async def test_a_write_made_while_the_server_is_down_is_stored_once(server, tenant):
    token = sign("agent", tenant=tenant)
    async with ContextClient(server.ws, token=token, mode="delta", backoff=Backoff(initial=0.05, maximum=0.3)) as client:
        await asyncio.to_thread(server.stop)
        await eventually(lambda: client.state != "connected", message="the client notices the server is gone")
        pending = asyncio.ensure_future(client.update({"made": "offline"}, key="offline"))
        await asyncio.sleep(0.3)
        assert not pending.done()
        await asyncio.to_thread(server.start)
        ack = await asyncio.wait_for(pending, 20)
        assert (ack.key, ack.version) == ("offline", 1)
    assert server.context(token)["data"]["offline"]["version"] == 1


async def test_the_token_provider_is_asked_again_on_reconnect_and_before_expiry(server, tenant):
    calls = []

    async def provider() -> str:
        calls.append(1)
        return sign("agent", tenant=tenant, ttl=6)

    async with ContextClient(server.ws, token=provider, mode="delta", refresh_margin=4,
                             backoff=Backoff(initial=0.05, maximum=0.3)) as client:
        assert len(calls) == 1
        await eventually(lambda: len(calls) >= 2, timeout=8, message="a refresh before expiry")
        assert client.state == "connected"
        await asyncio.to_thread(server.restart)
        before = len(calls)
        await eventually(lambda: client.state == "connected" and len(calls) > before, timeout=20,
                         message="a fresh token on reconnect")
        ack = await client.update({"after": "reconnect"}, key="r")
        assert ack.version == 1
