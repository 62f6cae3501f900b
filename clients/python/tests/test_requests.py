"""Every request type and its reply, and the errors with their contract codes, against the real server."""
from __future__ import annotations

import pytest

from context_server_client import ContextClient, ContextError
from conftest import eventually, sign


async def test_update_get_query_priority_clear(shared_server, tenant):
    token = sign("alice", tenant=tenant)
    async with ContextClient(shared_server.ws, token=token, mode="delta") as client:
        ack = await client.update({"task": "Generate math lesson", "progress": "content_created"},
                                  source="content_agent_001", priority=5)
        assert ack.version == 1 and ack.tokens > 0 and ack.evicted == [] and ack.stored
        assert ack.key.startswith("content_agent_001_")
        second = await client.update({"note": "quiz"}, key="quiz", source="quiz_agent", priority=3)
        assert (second.key, second.version) == ("quiz", 1)

        store = await client.get()
        assert set(store) == {ack.key, "quiz"}
        assert store["quiz"].owner == "alice" and store["quiz"].priority == 3

        result = await client.query(source="content_agent")
        assert list(result.entries) == [ack.key] and result.matched == 1 and not result.truncated

        changed = await client.set_priority("quiz", 9)
        assert (changed.key, changed.priority, changed.version) == ("quiz", 9, 2)

        cleared = await client.clear(keys=["quiz"])
        assert cleared.removed == ["quiz"] and cleared.count == 1
        await eventually(lambda: set(client.entries) == {ack.key}, message="the mirror drops the cleared key")
        assert client.entries[ack.key].content == {"task": "Generate math lesson", "progress": "content_created"}
        assert (await client.ping()) != ""


async def test_status_is_for_admins(shared_server, tenant):
    async with ContextClient(shared_server.ws, token=sign("root", roles=["admin"], tenant=tenant), mode="none") as admin:
        status = await admin.status()
        assert status["max_tokens"] > 0 and any(c["user_id"] == "root" for c in status["authenticated_clients"])
    async with ContextClient(shared_server.ws, token=sign("bob", tenant=tenant), mode="none") as writer:
        with pytest.raises(ContextError) as refused:
            await writer.status()
        assert refused.value.code == "forbidden"


async def test_errors_carry_the_contract_code_and_change_nothing(shared_server, tenant):
    async with ContextClient(shared_server.ws, token=sign("alice", tenant=tenant), mode="delta") as client:
        await client.update({"v": 1}, key="k")
        cases = [
            (client.update({"v": 2}, key="k", expected_version=7), "version_conflict"),
            (client.update({"v": 2}, key="k", priority=11), "validation_error"),
            (client.set_priority("missing", 3), "not_found"),
            (client.update({"big": "word " * 200_000}, key="huge"), "entry_too_large"),
        ]
        for call, code in cases:
            with pytest.raises(ContextError) as error:
                await call
            assert error.value.code == code, error.value
        store = await client.get()
        assert set(store) == {"k"} and store["k"].version == 1

    async with ContextClient(shared_server.ws, token=sign("reader", roles=["reader"], tenant=tenant), mode="delta") as reader:
        with pytest.raises(ContextError) as refused:
            await reader.update({"v": 3}, key="k")
        assert refused.value.code == "forbidden"
        assert set(reader.entries) == {"k"}


async def test_a_bad_static_token_fails_with_unauthorized(shared_server):
    client = ContextClient(shared_server.ws, token="not-a-jwt", mode="delta")
    with pytest.raises(ContextError) as refused:
        await client.connect()
    assert refused.value.code == "unauthorized"
    await client.close()


async def test_a_request_times_out_when_the_server_does_not_answer(server, tenant):
    import signal
    async with ContextClient(server.ws, token=sign("alice", tenant=tenant), mode="none", request_timeout=0.5) as client:
        server.proc.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(ContextError) as error:
                await client.get()
            assert error.value.code == "timeout"
        finally:
            server.proc.send_signal(signal.SIGCONT)
        assert isinstance(await client.get(), dict)


async def test_a_retried_write_with_the_same_idempotency_key_is_applied_once(shared_server, tenant):
    async with ContextClient(shared_server.ws, token=sign("alice", tenant=tenant), mode="none") as client:
        first = await client.update({"step": 1}, key="once", idempotency_key="retry-me")
        again = await client.update({"step": 1}, key="once", idempotency_key="retry-me")
        assert (again.version, again.seq, again.replayed) == (first.version, first.seq, True)
        assert not first.replayed
        store = await client.get()
        assert store["once"].version == 1
        with pytest.raises(ContextError) as reused:
            await client.update({"step": 2}, key="once", idempotency_key="retry-me")
        assert reused.value.code == "validation_error"
        assert (reused.value.details or {}).get("reason") == "idempotency_key_reused"
