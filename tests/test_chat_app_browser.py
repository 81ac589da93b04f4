"""The chat app in a real browser, as the README's two commands run it: no API key, so the
offline coach answers (issue 24). Playwright for Python driving Debian's chromium against
the all-in-one, like tests/test_chat_browser.py.

- A coach you can watch type: the offline reply grows word by word at OFFLINE_STREAM_DELAY_MS,
  labelled once, its sentences ended; Stop halts it, Retry writes it again in its place.
- Safe resends: a POST whose answer the network lost is sent again with the same
  Idempotency-Key, and the message is stored once.
- On a phone (390 x 844): the message box stays in view after many messages; the favicon is there.

Set CHAT_SCREENSHOTS_DIR=docs/screens to refresh the screenshots.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.processes import start_allinone, stop_now
from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium executable: `apt-get install chromium` (scripts/bootstrap.sh test does)"
    ),
]

PASSWORD = "a long coach password"

# Every text the newest reply showed, to prove it grew word by word.
WATCH_NEWEST_REPLY = """() => {
  window.__seen = [];
  new MutationObserver(() => {
    const replies = document.querySelectorAll('[data-testid="reply"] .text');
    if (replies.length) window.__seen.push(replies[replies.length - 1].textContent);
  }).observe(document.getElementById('log'), { childList: true, subtree: true, characterData: true });
}"""


async def register(page, url: str) -> str:
    from playwright.async_api import expect

    email = f"person-{uuid.uuid4().hex[:8]}@example.com"
    await page.goto(url)
    await page.get_by_test_id("email").fill(email)
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("register").click()
    await expect(page.get_by_test_id("message")).to_be_focused()
    return email


async def send(page, text: str) -> None:
    await page.get_by_test_id("message").fill(text)
    await page.get_by_test_id("send").click()


async def test_the_offline_coach_types_can_be_stopped_and_retried(tmp_path, redis_url):
    from playwright.async_api import async_playwright, expect

    shots = Path(os.environ.get("CHAT_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    # Slower than the default 40 ms, so a loaded machine still sees Stop before the end.
    allinone = await start_allinone(tmp_path, REDIS_URL=redis_url, OFFLINE_STREAM_DELAY_MS="120")
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await chromium.new_page(viewport={"width": 1280, "height": 800})
                await register(page, allinone.url)
                await expect(page.get_by_test_id("empty-hint")).to_be_visible()

                # Watched typing: the reply grows word by word, then ends with its sentences ended.
                await page.evaluate(WATCH_NEWEST_REPLY)
                await send(page, "I want to run a marathon in Berlin")
                await expect(page.get_by_test_id("empty-hint")).to_be_hidden()
                await expect(page.get_by_test_id("stop")).to_be_visible()
                await expect(page.locator(".writing")).to_have_count(0, timeout=20_000)
                await expect(page.get_by_test_id("stop")).to_have_count(0)
                final = (await page.get_by_test_id("reply").locator(".text").text_content()).strip()
                seen = {s.strip() for s in await page.evaluate("window.__seen") if s.strip()}
                assert len(seen - {final}) >= 5, f"the offline reply did not stream word by word: {seen}"
                assert final == (
                    '[offline coach] I noted that as a goal: "I want to run a marathon in Berlin". '
                    "What is one small step you could take next?"
                )
                # One label: the text's own; the bubble says only who speaks.
                assert await page.get_by_test_id("reply").locator(".who").text_content() == "Coach"
                await page.screenshot(path=shots / "chat-offline.png")

                # Stop while it types: it stops where it was and offers Retry.
                await send(page, "I will train with Anna three times a week")
                writing = page.locator('[data-testid="reply"].writing')
                await expect(writing.locator(".text")).to_contain_text("noted", timeout=10_000)
                await page.get_by_test_id("stop").click()
                stopped = page.locator('[data-testid="reply"].stopped')
                await expect(stopped).to_have_count(1)
                await expect(page.get_by_test_id("retry")).to_be_visible()
                partial = (await stopped.locator(".text").text_content()).strip()
                assert partial.startswith("[offline coach]") and not partial.endswith("next?"), partial
                await expect(page.locator("#chat-error")).to_be_hidden()  # a stop is not an error
                await page.screenshot(path=shots / "chat-stopped.png")

                # Retry: a new reply to the same message, written in the same place.
                await page.get_by_test_id("retry").click()
                await expect(stopped).to_have_count(0)
                second = page.get_by_test_id("reply").nth(1).locator(".text")
                await expect(second).to_have_text(re.compile(r"What is one small step you could take next\? $"), timeout=20_000)
                await expect(page.locator(".writing")).to_have_count(0)
                await expect(page.get_by_test_id("reply")).to_have_count(2)
                await page.reload()  # the history agrees: two messages, two replies, nothing twice
                await expect(page.get_by_test_id("reply")).to_have_count(2)
                await expect(page.locator("#log li.user")).to_have_count(2)
            finally:
                await chromium.close()
    finally:
        stop_now(allinone.proc)


async def test_a_message_whose_answer_was_lost_is_sent_again_and_stored_once(tmp_path, redis_url):
    """The first POST reaches the server and stores the message, but its answer never reaches
    the page (a dropped connection); the page sends it again with the same Idempotency-Key."""
    from playwright.async_api import async_playwright, expect

    allinone = await start_allinone(tmp_path, REDIS_URL=redis_url)
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await chromium.new_page()
                await register(page, allinone.url)
                keys: list[str] = []

                async def lose_the_first_answer(route):
                    keys.append(route.request.headers.get("idempotency-key", ""))
                    if len(keys) == 1:
                        await route.fetch()  # the server handles it...
                        await route.abort("connectionreset")  # ...and the page never hears back
                    else:
                        await route.continue_()

                await page.route("**/api/v1/chat/messages", lose_the_first_answer)
                await send(page, "I prefer running early in the morning")
                await expect(page.get_by_test_id("reply").locator(".text")).to_contain_text("preference", timeout=20_000)
                assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
                await page.unroute("**/api/v1/chat/messages")
                await page.reload()
                await expect(page.get_by_test_id("reply")).to_have_count(1)
                await expect(page.locator("#log li.user")).to_have_count(1)
            finally:
                await chromium.close()
    finally:
        stop_now(allinone.proc)


async def test_on_a_phone_the_message_box_stays_in_view(tmp_path, redis_url):
    from playwright.async_api import async_playwright, expect

    shots = Path(os.environ.get("CHAT_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    allinone = await start_allinone(tmp_path, REDIS_URL=redis_url)
    try:
        async with httpx.AsyncClient() as http:
            icon = await http.get(f"{allinone.url}/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/")
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                phone = await chromium.new_page(viewport={"width": 390, "height": 844})
                await register(phone, allinone.url)
                for number in range(1, 6):
                    await send(phone, f"I will stretch for {number * 5} minutes after each run")
                    await expect(phone.get_by_test_id("reply")).to_have_count(number, timeout=20_000)
                    await expect(phone.locator(".writing")).to_have_count(0, timeout=20_000)
                box = await phone.get_by_test_id("message").bounding_box()
                assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 844, box
                await expect(phone.get_by_test_id("send")).to_be_in_viewport()
                assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
                await phone.screenshot(path=shots / "chat-390.png")
            finally:
                await chromium.close()
    finally:
        stop_now(allinone.proc)


async def test_a_second_tab_and_a_second_device_see_what_the_first_did(tmp_path, redis_url):
    """Live across tabs: a message sent in one tab and its reply appear in the other without a
    reload, once each; a sign-out on another device ends that session, whose extraction the
    open page announces ("the coach noted N things")."""
    from playwright.async_api import async_playwright, expect

    shots = Path(os.environ.get("CHAT_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    allinone = await start_allinone(tmp_path, REDIS_URL=redis_url, OFFLINE_STREAM_DELAY_MS="20")
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                laptop = await chromium.new_context(viewport={"width": 1280, "height": 800})
                first = await laptop.new_page()
                email = await register(first, allinone.url)
                second = await laptop.new_page()
                await second.goto(allinone.url)
                await expect(second.get_by_test_id("empty-hint")).to_be_visible()

                await send(first, "I want to swim across the lake")
                for tab in (first, second):
                    await expect(tab.get_by_test_id("reply").locator(".text")).to_contain_text("next?", timeout=20_000)
                    await expect(tab.locator("#log li.user .text")).to_have_text(["I want to swim across the lake"])
                    await expect(tab.get_by_test_id("reply")).to_have_count(1)
                await expect(second.get_by_test_id("empty-hint")).to_be_hidden()

                # Another device: its own session, the same person; it chats, then signs out.
                phone_context = await chromium.new_context(viewport={"width": 390, "height": 844})
                phone = await phone_context.new_page()
                await phone.goto(allinone.url)
                await phone.get_by_test_id("email").fill(email)
                await phone.get_by_test_id("password").fill(PASSWORD)
                await phone.get_by_test_id("login").click()
                await send(phone, "I want to learn piano. I prefer short lessons.")
                await expect(phone.get_by_test_id("reply").last.locator(".text")).to_contain_text("next?", timeout=20_000)
                await expect(first.get_by_test_id("reply")).to_have_count(2, timeout=20_000)  # shown on the laptop too
                await phone.get_by_test_id("logout").click()
                await expect(first.locator("#status")).to_contain_text("The coach noted 2 things", timeout=30_000)
                await first.screenshot(path=shots / "chat-two-tabs.png")
                await phone_context.close()
            finally:
                await chromium.close()
    finally:
        stop_now(allinone.proc)


async def test_a_person_keeps_two_conversations_and_switches_between_them(tmp_path, redis_url):
    from playwright.async_api import async_playwright, expect

    shots = Path(os.environ.get("CHAT_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    allinone = await start_allinone(tmp_path, REDIS_URL=redis_url)
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await chromium.new_page(viewport={"width": 1280, "height": 800})
                await register(page, allinone.url)
                items = page.get_by_test_id("conversation-item")
                await send(page, "I want to run a marathon")
                await expect(page.get_by_test_id("reply")).to_have_count(1, timeout=20_000)
                # Written to the end first: one reply at a time per session, whichever conversation.
                await expect(page.locator(".writing")).to_have_count(0, timeout=20_000)
                await expect(items).to_have_count(1)  # the first message made one

                await page.get_by_test_id("new-conversation").click()
                await expect(items).to_have_count(2)
                await expect(page.get_by_test_id("reply")).to_have_count(0)  # a fresh page to talk on
                await expect(page.get_by_test_id("empty-hint")).to_be_visible()
                await expect(page.get_by_test_id("message")).to_be_focused()
                await send(page, "I prefer tea to coffee")
                await expect(page.get_by_test_id("reply").locator(".text")).to_contain_text("preference", timeout=20_000)
                # Named after their first messages, the latest activity first.
                await expect(items).to_have_text(["I prefer tea to coffee", "I want to run a marathon"])

                # Switch back: the first conversation, and only it, is shown; then forward again.
                await items.nth(1).click()
                await expect(page.locator("#log li.user .text")).to_have_text(["I want to run a marathon"])
                await expect(items.nth(1)).to_have_attribute("aria-current", "true")
                await page.screenshot(path=shots / "chat-conversations.png")
                await items.nth(0).click()
                await expect(page.locator("#log li.user .text")).to_have_text(["I prefer tea to coffee"])

                # A reload shows the newest conversation (the tea one: latest activity).
                await page.reload()
                await expect(page.locator("#log li.user .text")).to_have_text(["I prefer tea to coffee"])
                await expect(items).to_have_count(2)

                # Rename it (Escape first leaves it as it was), then archive it: the other one shows.
                await page.get_by_test_id("rename-conversation").click()
                await expect(page.get_by_test_id("conversation-title")).to_have_value("I prefer tea to coffee")
                await page.keyboard.press("Escape")
                await expect(page.get_by_test_id("conversation-title")).to_be_hidden()
                await page.get_by_test_id("rename-conversation").click()
                await page.get_by_test_id("conversation-title").fill("Tea")
                await page.keyboard.press("Enter")
                await expect(items).to_have_text(["Tea", "I want to run a marathon"])
                await page.get_by_test_id("archive-conversation").click()
                await expect(items).to_have_text(["I want to run a marathon"])
                await expect(page.locator("#log li.user .text")).to_have_text(["I want to run a marathon"])
                await expect(page.locator("#status")).to_have_text("Archived: Tea.")
            finally:
                await chromium.close()
    finally:
        stop_now(allinone.proc)
