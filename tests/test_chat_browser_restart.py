"""The coaching app in a real browser keeps a reply whole across a Redis restart.

The all-in-one as `scripts/run` starts it, its reply streams on their own real redis-server,
which is killed and started again, empty, while a reply streams in. The worker starts the
stream again with a `reset` event carrying the text so far (worker/reply.py); the page
(service/static/chat/chat.js) shows that text instead of what it had, then the rest. Before,
the page ended with the chunks written during the outage missing.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from allinone.redis_process import RedisProcess
from tests.support.processes import start_allinone, stop_now
from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium executable: `apt-get install chromium` (scripts/bootstrap.sh test does)"
    ),
]

REPLY = " ".join(f"step{i}" for i in range(24))


async def test_a_reply_streamed_across_a_redis_restart_shows_whole_in_the_page(tmp_path, redis_url, stub_llm):
    from playwright.async_api import async_playwright, expect

    stub_llm.reply_text, stub_llm.chunk_delay = REPLY, 0.15
    streams_redis = RedisProcess().start()
    allinone = await start_allinone(
        tmp_path,
        REDIS_URL=redis_url,
        STREAMS_REDIS_URL=streams_redis.url,
        LLM_PROVIDER="anthropic",
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=stub_llm.url,  # type: ignore[attr-defined]
    )
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await (await chromium.new_context()).new_page()
                await page.goto(allinone.url)
                await page.get_by_test_id("email").fill(f"person-{uuid.uuid4().hex[:8]}@example.com")
                await page.get_by_test_id("password").fill("a long coach password")
                await page.get_by_test_id("register").click()
                await page.get_by_test_id("message").fill("Help me plan my week")
                await page.get_by_test_id("send").click()
                writing = page.locator('[data-testid="reply"].writing .text')
                await expect(writing).to_contain_text("step3", timeout=10_000)
                streams_redis.stop()  # killed mid-reply: the stream is gone with it
                await asyncio.sleep(0.6)  # chunks are written meanwhile, into nothing
                streams_redis.start()
                await expect(page.locator(".writing")).to_have_count(0, timeout=30_000)
                shown = (await page.get_by_test_id("reply").last.locator(".text").text_content() or "").strip()
                assert shown == REPLY
            finally:
                await chromium.close()
    finally:
        stop_now(allinone.proc)
        streams_redis.stop()
