"""The coaching app at `/` in a real browser: Playwright for Python driving Debian's chromium
against the all-in-one started as `scripts/run` starts it, its LLM the stub server (real
Anthropic SDK, replies streamed word by word).

One journey, as a person would take it: register, chat three messages (each reply streams
in chunks), refresh during a reply, and open a second tab (it completes in both with no
text twice), sign out (the form is
back at once; the logout and the extraction run in the background), sign in by keyboard
alone, see what the coach remembers from that chat, forget one point, download the data,
delete the account (signing in again fails). Set CHAT_SCREENSHOTS_DIR=docs/screens to
refresh the README's screenshots.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from pathlib import Path

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
MESSAGES = [
    "I want to run a marathon in Berlin",
    "I will train with Anna three times a week",
    "I prefer running early in the morning",
]
REPLIES = [
    "Berlin is a great first marathon: flat and fast, so build your base slowly.",
    "Training with Anna will keep you honest; pick fixed days and protect them.",
    "Mornings work well: lay out your kit the night before and keep the first kilometres easy and relaxed today.",
]

# Records every text the newest reply showed, to prove it grew chunk by chunk and never repeated.
WATCH_REPLIES = """(number) => {
  window.__seen = [];
  if (window.__watcher) window.__watcher.disconnect();
  window.__watcher = new MutationObserver(() => {
    const replies = document.querySelectorAll('[data-testid="reply"] .text');
    if (replies.length === number) window.__seen.push(replies[number - 1].textContent);
  });
  window.__watcher.observe(document.getElementById('log'), { childList: true, subtree: true, characterData: true });
}"""


# Click "Sign out" and time, inside the page, until the sign-in form shows (no network wait).
async def send_and_watch(page, stub, text: str, reply: str, number: int) -> list[str]:
    stub.reply_text = reply
    await page.evaluate(WATCH_REPLIES, number)
    await page.get_by_test_id("message").fill(text)
    await page.get_by_test_id("send").click()
    await page.get_by_test_id("reply").nth(number - 1).wait_for()
    await page.wait_for_function("() => !document.querySelector('.writing')", timeout=15_000)
    return await page.evaluate("window.__seen")


async def test_a_person_chats_signs_out_sees_their_memory_and_deletes_their_account(tmp_path, redis_url, stub_llm):
    from playwright.async_api import async_playwright, expect

    shots = Path(os.environ.get("CHAT_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    stub_llm.chunk_delay = 0.04
    allinone = await start_allinone(
        tmp_path,
        REDIS_URL=redis_url,
        LLM_PROVIDER="anthropic",
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=stub_llm.url,
    )
    email = f"person-{uuid.uuid4().hex[:8]}@example.com"
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = await chromium.new_context(viewport={"width": 1100, "height": 820}, accept_downloads=True)
                page = await context.new_page()
                await page.goto(allinone.url)
                await expect(page.get_by_test_id("email")).to_be_focused()
                await page.get_by_test_id("email").fill(email)
                await page.get_by_test_id("password").fill("short")
                await page.get_by_test_id("register").click()
                # Refused in words, not a validator's wording.
                await expect(page.locator("#signin-error")).to_have_text("Password must be at least 8 characters long.")
                await page.get_by_test_id("password").fill(PASSWORD)
                await page.screenshot(path=shots / "chat-signin.png")
                await page.get_by_test_id("register").click()
                await expect(page.get_by_test_id("message")).to_be_focused()
                await expect(page.locator("#status")).to_have_text("Account created. You are signed in.")
                await expect(page.get_by_test_id("empty-hint")).to_be_visible()  # what to say, in an empty chat

                # Three messages; each reply is seen growing, every snapshot a prefix of the whole.
                for number, (text, reply) in enumerate(zip(MESSAGES[:2], REPLIES[:2], strict=True), start=1):
                    seen = await send_and_watch(page, stub_llm, text, reply, number)
                    await expect(page.get_by_test_id("reply")).to_have_count(number)
                    final = (await page.get_by_test_id("reply").last.locator(".text").text_content()).strip()
                    assert final == reply
                    partial = {s for s in seen if s.strip() and s.strip() != final}
                    assert len(partial) >= 2, f"reply {number} did not stream in chunks: {seen}"
                    assert all(final.startswith(s.strip()) for s in seen), f"text repeated or out of order: {seen}"

                # The third reply is slow; the page is refreshed while it is being written.
                stub_llm.chunk_delay, stub_llm.reply_text = 0.25, REPLIES[2]
                await page.get_by_test_id("message").fill(MESSAGES[2])
                await page.get_by_test_id("send").click()
                writing = page.locator('[data-testid="reply"].writing')
                await expect(writing.locator(".text")).not_to_have_text("", timeout=10_000)
                second_tab = await context.new_page()  # the same person, the page open twice
                await second_tab.goto(allinone.url)
                await page.reload()
                await expect(page.get_by_test_id("reply")).to_have_count(3)
                await expect(page.locator('[data-testid="reply"].writing')).to_have_count(1)  # still being written
                await expect(page.locator(".writing")).to_have_count(0, timeout=20_000)
                texts = [t.strip() for t in await page.get_by_test_id("reply").locator(".text").all_text_contents()]
                assert texts == REPLIES  # completed after the refresh, no text twice, no reply twice
                await expect(second_tab.locator(".writing")).to_have_count(0, timeout=20_000)
                assert [
                    t.strip() for t in await second_tab.get_by_test_id("reply").locator(".text").all_text_contents()
                ] == REPLIES
                await second_tab.close()
                await page.screenshot(path=shots / "chat.png")
                stub_llm.chunk_delay = 0.0

                # Sign out: the form is back at once; the logout request finishes in the background.
                # Proved by order, not by a clock: the logout response is held back until the
                # sign-in form is already showing.
                released = asyncio.Event()

                async def hold_logout(route):
                    await released.wait()
                    await route.continue_()

                await page.route("**/app/logout", hold_logout)
                async with page.expect_response(lambda r: r.url.endswith("/app/logout")) as logout:
                    await page.get_by_test_id("logout").click()
                    await expect(page.locator("#signin")).to_be_visible()  # while logout is still held
                    released.set()
                assert (await logout.value).status == 200
                await page.unroute("**/app/logout")
                await expect(page.get_by_test_id("email")).to_be_focused()

                # Sign in again with the keyboard alone; focus is visible on every stop.
                await page.keyboard.type(email)
                await page.keyboard.press("Tab")
                await expect(page.get_by_test_id("password")).to_be_focused()
                outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                assert outline not in ("none", ""), "no visible focus ring"
                await page.keyboard.type(PASSWORD)
                await page.keyboard.press("Enter")
                await expect(page.get_by_test_id("message")).to_be_focused()
                await expect(page.get_by_test_id("reply")).to_have_count(3)  # the history is back

                # What the coach remembers: the points the extraction stored from that chat.
                items = page.get_by_test_id("memory-item")
                for _ in range(100):  # the extraction runs in the background: look again until it is stored
                    await page.get_by_test_id("memory-link").click()
                    await page.wait_for_load_state("networkidle")
                    if await items.count():
                        break
                    await page.get_by_role("link", name="Chat").click()
                count = await items.count()
                assert count >= 2, "no points from the chat"
                remembered = " ".join(await items.all_text_contents())
                assert "Berlin" in remembered and "Anna" in remembered
                await expect(page.locator("#memory-list meter").first).to_be_visible()  # strength bars
                await page.screenshot(path=shots / "chat-memory.png", full_page=True)
                forgotten = (await items.first.locator(".content").text_content()).strip()
                await items.first.get_by_test_id("forget-point").click()
                await expect(items).to_have_count(count - 1)
                assert forgotten not in " ".join(await items.locator(".content").all_text_contents())

                # Correct a fact in the user's own words, and read how it came to be.
                facts = page.get_by_test_id("fact-item")
                await expect(facts.first).to_be_visible()
                fact = facts.filter(has_text="Anna")
                await fact.get_by_test_id("memory-edit").click()
                await fact.get_by_test_id("memory-edit-text").fill("I train with Anna twice a week")
                await fact.get_by_test_id("memory-edit-save").click()
                corrected = facts.filter(has_text="I train with Anna twice a week")
                await expect(corrected).to_have_count(1)
                await corrected.get_by_test_id("memory-history").click()
                await expect(corrected.locator("ol.history li")).to_have_count(2)
                await expect(corrected.locator("ol.history")).to_contain_text("you")
                await expect(page.get_by_test_id("entity-item").filter(has_text="Anna")).to_have_count(1)  # who the coach tracks
                await page.screenshot(path=shots / "chat-memory-facts.png", full_page=True)

                # Search what the coach remembers: ranked as recall ranks, with the reasons.
                await page.get_by_test_id("memory-search").fill("who do I train with?")
                await page.get_by_test_id("memory-search").press("Enter")
                found = page.locator("#memory-search-results").get_by_test_id("memory-item")
                await expect(found.first).to_contain_text("Anna")
                await expect(found.first).to_contain_text("words")
                await page.get_by_test_id("memory-search").fill(forgotten)  # what was forgotten is not found
                await page.get_by_test_id("memory-search").press("Enter")
                await expect(page.locator("#memory-search-results h3")).to_contain_text(f"“{forgotten}”")  # answered
                assert forgotten not in " ".join(await found.locator(".content").all_text_contents())
                await page.screenshot(path=shots / "chat-memory-search.png", full_page=True)

                await page.get_by_role("link", name="Usage").click()
                await expect(page.locator("#usage-table tbody tr").first).to_contain_text("chat")
                await page.screenshot(path=shots / "chat-usage.png")

                # Download everything, then delete the account.
                await page.get_by_role("link", name="Account").click()
                await expect(page.locator("#account-email")).to_have_text(email)
                await page.screenshot(path=shots / "chat-account.png")
                async with page.expect_download() as download:
                    await page.get_by_test_id("export").click()
                exported = json.loads(Path(await (await download.value).path()).read_text())
                assert exported["user"]["email"] == email
                assert [m["content"] for m in exported["collections"]["chat_messages"] if m["role"] == "user"] == MESSAGES
                # The confirmation opens on Cancel: Enter, Enter keeps the account; so does Escape.
                await page.get_by_test_id("delete-account").focus()
                await page.keyboard.press("Enter")
                await expect(page.get_by_test_id("cancel-delete")).to_be_focused()
                await page.screenshot(path=shots / "chat-account-confirm.png")
                await page.keyboard.press("Enter")
                await expect(page.get_by_test_id("confirm-delete")).to_be_hidden()
                await expect(page.get_by_test_id("delete-account")).to_be_focused()
                await page.keyboard.press("Enter")
                await page.keyboard.press("Escape")
                await expect(page.get_by_test_id("confirm-delete")).to_be_hidden()
                await expect(page.locator("#account-email")).to_have_text(email)  # still signed in
                await page.get_by_test_id("delete-account").click()
                await page.get_by_test_id("confirm-delete").click()
                await expect(page.get_by_test_id("email")).to_be_focused()
                # Good news, not an error.
                await expect(page.locator("#signin-notice")).to_have_text("Your account and all its data were deleted.")
                await expect(page.locator("#signin-error")).to_be_hidden()
                await page.get_by_test_id("email").fill(email)
                await page.get_by_test_id("password").fill(PASSWORD)
                await page.get_by_test_id("login").click()
                await expect(page.locator("#signin-error")).to_have_text("Wrong email or password.")

                # Readable on a phone: nothing wider than 375 px.
                phone = await chromium.new_page(viewport={"width": 375, "height": 740})
                await phone.goto(allinone.url)
                await phone.get_by_test_id("email").fill(f"phone-{email}")
                await phone.get_by_test_id("password").fill(PASSWORD)
                await phone.get_by_test_id("register").click()
                stub_llm.reply_text = REPLIES[0]
                await phone.get_by_test_id("message").fill(MESSAGES[0])
                await phone.get_by_test_id("send").click()
                await expect(phone.get_by_test_id("reply").locator(".text")).to_have_text(REPLIES[0], timeout=15_000)
                assert await phone.evaluate("document.documentElement.scrollWidth") <= 375
                await phone.screenshot(path=shots / "chat-375.png", full_page=True)
            finally:
                await chromium.close()
    finally:
        stop_now(allinone.proc)


async def test_errors_are_shown_in_words(tmp_path, redis_url, stub_llm):
    """A wrong password, too many of them (429 with Retry-After), a reply the LLM could not write,
    a message over the per-minute limit."""
    from playwright.async_api import async_playwright, expect

    from tests.support.stub_llm import Failure

    allinone = await start_allinone(
        tmp_path,
        REDIS_URL=redis_url,
        LLM_PROVIDER="anthropic",
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=stub_llm.url,
        LOGIN_ACCOUNT_FREE_FAILURES="1",
        CHAT_MESSAGES_PER_MINUTE="2",
    )
    email = f"person-{uuid.uuid4().hex[:8]}@example.com"
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await chromium.new_page()
                await page.goto(allinone.url)
                await page.get_by_test_id("email").fill(email)
                await page.get_by_test_id("password").fill(PASSWORD)
                await page.get_by_test_id("register").click()
                await expect(page.get_by_test_id("message")).to_be_focused()

                # The LLM is down: the reply's stream ends with `error`, and the page says so.
                stub_llm.failures = [Failure(status=500) for _ in range(20)]
                await page.get_by_test_id("message").fill("Are you there?")
                await page.get_by_test_id("send").click()
                await expect(page.locator("#chat-error")).to_contain_text("could not finish this reply", timeout=20_000)
                await expect(page.locator('[data-testid="reply"].failed')).to_have_count(1)
                stub_llm.failures = []

                # The failed reply offers Retry: a new reply to the same message, in its place.
                stub_llm.reply_text = "Yes, I am here now."
                await page.get_by_test_id("retry").click()
                await expect(page.get_by_test_id("reply").locator(".text")).to_have_text("Yes, I am here now.", timeout=20_000)
                await expect(page.get_by_test_id("reply")).to_have_count(1)
                await expect(page.get_by_test_id("retry")).to_have_count(0)

                # Over CHAT_MESSAGES_PER_MINUTE (2, the retry counted): the next message is refused
                # (429), said in words with the wait, and what was typed stays in the box, not lost.
                await page.get_by_test_id("message").fill("A third, too soon")
                await page.get_by_test_id("send").click()
                await expect(page.locator("#chat-error")).to_contain_text("more than 2 messages a minute")
                await expect(page.locator("#chat-error")).to_contain_text(re.compile(r"Try again in \d+ seconds?\."))
                await expect(page.get_by_test_id("message")).to_have_value("A third, too soon")

                await page.get_by_test_id("logout").click()
                await page.get_by_test_id("email").fill(email)
                await page.get_by_test_id("password").fill("not the password")
                await page.get_by_test_id("login").click()
                await expect(page.locator("#signin-error")).to_have_text("Wrong email or password.")
                await page.get_by_test_id("login").click()
                await page.get_by_test_id("login").click()
                await expect(page.locator("#signin-error")).to_contain_text("Too many attempts")
                await expect(page.locator("#signin-error")).to_contain_text(re.compile(r"Try again in \d+ seconds?\."))
                throttled = await page.locator("#signin-error").text_content()
                assert throttled.lower().count("try again") == 1, throttled  # said once, with the wait
            finally:
                await chromium.close()
    finally:
        stop_now(allinone.proc)
