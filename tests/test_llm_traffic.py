"""LLM traffic control: the shared rate window, chat's reserve, the provider's headers, and
jobs that wait for budget without using up their tries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from arq.jobs import Job
from redis.asyncio import Redis

from shared.llm import LLMRateLimited
from shared.llm.limiter import LLMLimiter
from shared.queue.jobs import CHAT_JOBS, GENERATE_REPLY, queue_for
from shared.store.messages import store_message
from shared.store.mongo import FAILED_JOBS, SESSION_CONTEXTS
from tests.conftest import make_settings
from tests.support.metrics import rate_waited
from tests.support.running_worker import running_worker
from tests.support.waiting import wait_for
from worker.arq_options import chat_worker_options


@pytest.fixture
async def redis(redis_url):
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def limiter_settings(redis_url, **overrides):
    values = {"llm_rate_window_seconds": 60, "llm_max_wait_seconds": 0, "llm_chat_reserved_share": 0.2}
    return make_settings(redis_url, **{**values, **overrides})


async def admitted(limiter: LLMLimiter, purpose: str, estimate: int = 1, actual: int | None = None) -> bool:
    try:
        async with limiter.admit(purpose, estimate) as admission:
            if actual is not None:
                admission.settle(actual)
    except LLMRateLimited:
        return False
    return True


async def test_requests_window_is_shared_by_processes_and_keeps_a_share_for_chat(redis, redis_url):
    settings = limiter_settings(redis_url, llm_requests_per_minute=10)
    # Two limiters on two clients: two processes sharing one Redis.
    other_client = Redis.from_url(redis_url)
    first, second = LLMLimiter(redis, settings), LLMLimiter(other_client, settings)
    try:
        background = [await admitted(limiter, "extraction") for limiter in (first, second) * 5]
        assert background.count(True) == 8  # 10 per window, less chat's 20 %
        assert [await admitted(second, "chat"), await admitted(first, "chat")] == [True, True]
        assert not await admitted(first, "chat")  # the window is full for everyone now
    finally:
        await other_client.aclose()


async def test_a_refused_call_says_how_long_until_the_window_has_room(redis, redis_url):
    limiter = LLMLimiter(redis, limiter_settings(redis_url, llm_requests_per_minute=1, llm_chat_reserved_share=0))
    before = await redis_seconds(redis)
    assert await admitted(limiter, "summary")
    with pytest.raises(LLMRateLimited) as refused:
        async with limiter.admit("summary", 1):
            pass
    after = await redis_seconds(redis)
    # The window (60 s) counts from the admitted call, which Redis's clock places between
    # the two readings: the wait is the window less what has passed since, to the ms.
    assert 60 - (after - before) - 0.001 <= refused.value.retry_after <= 60 + 0.001


async def redis_seconds(redis) -> float:
    seconds, micros = await redis.time()
    return seconds + micros / 1e6


async def test_a_call_waits_in_place_when_the_window_opens_soon(redis, redis_url):
    settings = limiter_settings(
        redis_url, llm_requests_per_minute=1, llm_rate_window_seconds=0.3, llm_max_wait_seconds=5, llm_chat_reserved_share=0
    )
    limiter = LLMLimiter(redis, settings)
    before = rate_waited("extraction")
    assert await admitted(limiter, "extraction") and await admitted(limiter, "extraction")
    assert rate_waited("extraction") > before  # the second one waited, it was not refused


async def test_a_call_counts_until_a_window_after_it_ended(redis, redis_url):
    settings = limiter_settings(redis_url, llm_requests_per_minute=1, llm_rate_window_seconds=0.3, llm_chat_reserved_share=0)
    limiter = LLMLimiter(redis, settings)
    async with limiter.admit("extraction", 1):
        await asyncio.sleep(0.4)  # longer than the window: counted from admission, it would have lapsed
    assert not await admitted(limiter, "extraction")


async def test_tokens_window_counts_the_real_usage_once_known(redis, redis_url):
    limiter = LLMLimiter(redis, limiter_settings(redis_url, llm_tokens_per_minute=100, llm_chat_reserved_share=0))
    assert await admitted(limiter, "extraction", estimate=60, actual=10)  # estimated 60, used 10
    assert await admitted(limiter, "extraction", estimate=80)  # 10 + 80 fits in 100
    assert not await admitted(limiter, "extraction", estimate=20)  # 90 + 20 does not


async def test_a_call_bigger_than_the_whole_budget_still_runs_alone(redis, redis_url):
    limiter = LLMLimiter(redis, limiter_settings(redis_url, llm_tokens_per_minute=100, llm_chat_reserved_share=0))
    assert await admitted(limiter, "extraction", estimate=5_000)
    assert not await admitted(limiter, "extraction", estimate=1)


async def test_provider_retry_after_pauses_every_call(redis, redis_url):
    limiter = LLMLimiter(redis, limiter_settings(redis_url))
    await limiter.observe_headers({"retry-after": "30"})
    assert not await admitted(limiter, "chat")
    assert not await admitted(limiter, "extraction")


async def test_provider_budget_nearly_spent_pauses_background_until_its_reset(redis, redis_url):
    limiter = LLMLimiter(redis, limiter_settings(redis_url))
    reset = (datetime.now(UTC) + timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    await limiter.observe_headers(
        {
            "anthropic-ratelimit-requests-limit": "1000",
            "anthropic-ratelimit-requests-remaining": "10",
            "anthropic-ratelimit-requests-reset": reset,
        }
    )
    assert not await admitted(limiter, "extraction")
    assert await admitted(limiter, "chat")


async def test_headers_with_room_left_change_nothing(redis, redis_url):
    limiter = LLMLimiter(redis, limiter_settings(redis_url))
    reset = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
    await limiter.observe_headers(
        {
            "anthropic-ratelimit-tokens-limit": "1000",
            "anthropic-ratelimit-tokens-remaining": "900",
            "anthropic-ratelimit-tokens-reset": reset,
        }
    )
    assert await admitted(limiter, "extraction")


async def test_redis_unreachable_lets_calls_through(redis_url):
    from allinone.redis_process import free_port

    dead = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    limiter = LLMLimiter(dead, limiter_settings(redis_url, llm_requests_per_minute=1))
    try:
        assert await admitted(limiter, "extraction") and await admitted(limiter, "extraction")
    finally:
        await dead.aclose()


async def test_a_pause_that_cannot_be_shared_is_said_once(redis_url, caplog):
    from allinone.redis_process import free_port

    dead = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    limiter = LLMLimiter(dead, limiter_settings(redis_url, llm_requests_per_minute=1))
    try:
        await limiter.pause(30, background_only=False)
        await limiter.pause(30, background_only=False)
    finally:
        await dead.aclose()
    said = [r for r in caplog.records if r.name == "shared.llm.limiter" and r.levelname == "WARNING"]
    assert len(said) == 1 and "pause was not shared" in said[0].getMessage()


async def test_background_calls_leave_concurrency_slots_for_chat(redis, redis_url):
    limiter = LLMLimiter(redis, limiter_settings(redis_url, llm_max_concurrency=5, llm_chat_reserved_share=0.2))
    held, release = [], asyncio.Event()

    async def hold(purpose):
        async with limiter.admit(purpose, 1):
            held.append(purpose)
            await release.wait()

    tasks = [asyncio.create_task(hold("extraction")) for _ in range(6)]
    await wait_for(lambda: held.count("extraction") == 4, what="four extractions holding slots")  # 5 slots, one kept for chat
    chat = asyncio.create_task(hold("chat"))
    await wait_for(lambda: "chat" in held, what="chat taking the slot kept for it")
    # The chat got in after them, and the other two extractions still wait.
    assert held.count("extraction") == 4 and sum(not t.done() for t in tasks) == 6
    release.set()
    await asyncio.gather(*tasks, chat)


async def test_jobs_waiting_for_rate_budget_do_not_use_up_their_tries(settings, mongo_client, db, stub_llm, arq_pool):
    # One try each: a wait that counted as a try would dead-letter the job.
    limited = settings.model_copy(
        update={
            "llm_requests_per_minute": 1,
            "llm_rate_window_seconds": 0.3,
            "llm_max_wait_seconds": 0,
            "job_max_tries": 1,
            "llm_chat_reserved_share": 0,
        }
    )
    for i in range(3):
        await store_message(db, f"u{i}", f"s{i}", "user", "I want to run a marathon")
        await store_message(db, f"u{i}", f"s{i}", "assistant", "Good.")
        await arq_pool.enqueue_job("extract_session_context", f"u{i}", f"s{i}", _job_id=f"job-{i}")
    async with running_worker(limited, mongo_client) as worker:
        await wait_for(lambda: _count(db[SESSION_CONTEXTS]), seconds=20)
        await wait_for(lambda: _all_done(db, 3), seconds=20)
        # arq writes each result after the job returns, a moment after its context is stored.
        await wait_for(lambda: _results_written(arq_pool, 3), seconds=20)
        assert worker.jobs_retried >= 1  # some were deferred
    assert await db[FAILED_JOBS].count_documents({}) == 0
    assert len(stub_llm.extraction_requests) == 3
    # Deferred, yet each finished on its first counted try.
    infos = [await Job(f"job-{i}", arq_pool).result_info() for i in range(3)]
    assert [info.job_try for info in infos] == [1, 1, 1]


async def _count(collection):
    return await collection.count_documents({})


async def _results_written(arq_pool, n):
    return all([await Job(f"job-{i}", arq_pool).result_info() is not None for i in range(n)])


async def _all_done(db, n):
    return await db[SESSION_CONTEXTS].count_documents({}) == n


async def test_models_per_purpose(settings, mongo_client, db, stub_llm, arq_pool, api):
    cheap = settings.model_copy(update={"extraction_model": "cheap-model"})
    await store_message(db, "u1", "s1", "user", "I want to run a marathon")
    await store_message(db, "u1", "s1", "assistant", "Good.")
    await arq_pool.enqueue_job("extract_session_context", "u1", "s1", _job_id="job-0")
    async with running_worker(cheap, mongo_client):
        await wait_for(lambda: _results_written(arq_pool, 1))  # finished, not cut off by the worker's stop
    assert stub_llm.extraction_requests[-1]["model"] == "cheap-model"
    assert settings.model_for("chat") == settings.llm_model == settings.model_for("summary")


def test_chat_jobs_have_their_own_queue_and_workers(redis_url):
    settings = make_settings(redis_url, worker_chat_max_jobs=7)
    assert queue_for(GENERATE_REPLY, settings) == settings.chat_queue_name == "arq:queue:chat"
    assert queue_for("extract_session_context", settings) == settings.queue_name
    options = chat_worker_options(settings)
    assert options["queue_name"] == "arq:queue:chat" and options["max_jobs"] == 7 and options["cron_jobs"] == []
    assert GENERATE_REPLY in CHAT_JOBS


async def test_the_providers_headers_reach_the_limiter_through_the_real_sdk(settings, redis, stub_llm):
    from shared.llm import LLMTransientError, create_llm
    from shared.models import ChatMessage
    from tests.support.stub_llm import Failure

    llm = create_llm(settings, redis=redis)
    transcript = [ChatMessage(id="m1", role="user", content="I want to run", timestamp=datetime.now(UTC))]
    reset = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
    stub_llm.rate_limit_headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "1",
        "anthropic-ratelimit-requests-reset": reset,
    }
    try:
        await llm.extract_context(transcript)
        assert 0 < await redis.pttl("llm:limit:pause:background") <= 20_000
        assert await redis.pttl("llm:limit:pause") < 0
        stub_llm.failures = [Failure(status=429, headers={"retry-after": "7"})]
        with pytest.raises(LLMTransientError):
            async for _ in llm.stream_reply(transcript, _memory()):
                pass
        assert 6_000 < await redis.pttl("llm:limit:pause") <= 7_000
    finally:
        await llm.aclose()


async def test_chat_streams_report_their_model_and_usage(settings, stub_llm):
    from shared.llm.anthropic_provider import AnthropicProvider
    from shared.models import ChatMessage, TokenUsage

    provider = AnthropicProvider(settings.model_copy(update={"chat_model": "chat-model"}))
    reported = []
    history = [ChatMessage(id="m1", role="user", content="hello", timestamp=datetime.now(UTC))]
    try:
        text = "".join([d async for d in provider.stream_reply(history, _memory(), lambda m, u: reported.append((m, u)))])
    finally:
        await provider.aclose()
    assert text.startswith("Stub coach reply")
    assert stub_llm.chat_requests[-1]["model"] == "chat-model"
    assert reported == [("chat-model", TokenUsage(input_tokens=10, output_tokens=12))]


def _memory():
    from shared.models import MemoryDigest

    return MemoryDigest()
