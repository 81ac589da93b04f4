"""The /admin dashboard in a real browser: Playwright for Python driving Debian's chromium
against the all-in-one started as a real process.

Playwright's own browser download cannot work on these machines, so the test passes the
system chromium's executable (scripts/bootstrap.sh installs it for the test extras). Set
ADMIN_SCREENSHOTS_DIR=docs/screens to refresh the README's screenshots:

    ADMIN_SCREENSHOTS_DIR=docs/screens .venv/bin/python -m pytest tests/test_dashboard_browser.py
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest
from arq import create_pool
from arq.connections import RedisSettings

from tests.support.client import Api
from tests.support.processes import start_allinone, stop_now

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN = "ops@example.com"

if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("chromium is missing on CI: scripts/bootstrap.sh test installs it (apt-get install chromium)")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium executable: `apt-get install chromium` (scripts/bootstrap.sh test does)"
    ),
]


async def admin_password(allinone) -> str:
    for _ in range(200):
        found = re.search(rf"admin: {re.escape(ADMIN)} \(created; password: ([^;\s)]+)", allinone.output()[0])
        if found:
            return found.group(1)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no admin password printed: {allinone.output()}")


async def user_job(url: str) -> tuple[str, str, str]:
    """A user who chatted and logged out: (email, password, the extraction's job id)."""
    async with Api(url) as api:
        login = await api.new_user(password="coachee-password")
        await api.chat(login, "I want to run a half marathon in spring", "I will run three times a week")
        job_id = (await api.logout(login))["job_id"]
    return login.email, login.password, job_id


async def test_admin_watches_a_job_complete_requeues_a_dead_letter_and_a_user_is_refused(tmp_path, redis_url):
    from playwright.async_api import async_playwright, expect

    shots = Path(os.environ.get("ADMIN_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    allinone = await start_allinone(tmp_path, "--admin", ADMIN, REDIS_URL=redis_url)
    arq = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        password = await admin_password(allinone)
        # A dead letter: a job enqueued with arguments the function does not take (as an
        # older deploy might) fails at once, for good.
        await arq.enqueue_job("extract_session_context", "u-old", "s-old", "an extra argument")
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await chromium.new_page(viewport={"width": 1280, "height": 900})
                await page.goto(f"{allinone.url}/admin")
                await page.fill("input[name=email]", ADMIN)
                await page.screenshot(path=shots / "admin-login.png")
                await page.fill("input[name=password]", password)
                await page.click("button[type=submit]")
                await expect(page.locator("h2", has_text="Recent jobs")).to_be_visible()

                # A job enqueued now shows up and completes without reloading the page.
                email, user_password, job_id = await user_job(allinone.url)
                row = page.locator(f'#jobs tr[data-job-id="{job_id}"]')
                await expect(row).to_be_visible(timeout=15_000)
                await expect(row.locator(".badge")).to_have_text("complete", timeout=15_000)
                # The all-in-one runs one worker per queue: background and chat.
                await expect(page.locator("#workers .badge.complete")).to_have_count(2)

                dead = page.locator("#dead-letters tr[data-dead-letter-id]").first
                await expect(dead).to_contain_text("does not take these arguments", timeout=15_000)
                await page.screenshot(path=shots / "admin-dashboard.png", full_page=True)
                await dead.locator("button", has_text="Requeue").click()
                # The notice shows beside the action that caused it, and outlives the refreshes.
                notice = page.locator("#dead-letters-section [data-notice=dead-letters]")
                await expect(notice).to_contain_text("Requeued as requeue:")
                requeued = page.locator("#jobs tr[data-job-id^='requeue:']")
                await expect(requeued.first).to_be_visible(timeout=15_000)
                await expect(notice).to_contain_text("Requeued as requeue:")

                # A user who is not an admin signs in and is refused.
                other = await chromium.new_context()
                user_page = await other.new_page()
                await user_page.goto(f"{allinone.url}/admin")
                await user_page.fill("input[name=email]", email)
                await user_page.fill("input[name=password]", user_password)
                async with user_page.expect_navigation() as navigation:
                    await user_page.click("button[type=submit]")
                assert (await navigation.value).status == 403
                await expect(user_page.locator("h2")).to_have_text("Admins only")
                await user_page.screenshot(path=shots / "admin-forbidden.png")
                await other.close()
            finally:
                await chromium.close()
    finally:
        await arq.aclose()
        stop_now(allinone.proc)


async def signed_in_page(chromium, allinone, viewport):
    page = await chromium.new_page(viewport=viewport)
    await page.goto(f"{allinone.url}/admin")
    await page.fill("input[name=email]", ADMIN)
    await page.fill("input[name=password]", await admin_password(allinone))
    await page.click("button[type=submit]")
    return page


async def test_queues_by_section_cancel_and_requeue_a_job_and_change_a_limit_on_a_phone(tmp_path, redis_url):
    """Issue 24 items 7-9 as an operator sees them: the chat and background queues apart,
    each worker's queue, ping counted; a job cancelled and requeued from its row, the notice
    beside the button; a limit changed, recorded, and in force; all at 390 px without
    sideways scrolling, job ids readable."""
    from playwright.async_api import async_playwright, expect

    shots = Path(os.environ.get("ADMIN_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    allinone = await start_allinone(tmp_path, "--admin", ADMIN, REDIS_URL=redis_url)
    arq = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await signed_in_page(chromium, allinone, {"width": 390, "height": 844})
                await expect(page.locator("h2", has_text="Chat queue")).to_be_visible()

                # Item 7: a chat reply under the chat queue, an extraction and a ping under the
                # background queue, each worker with its queue.
                email, user_password, extraction = await user_job(allinone.url)
                await arq.enqueue_job("ping")
                chat_rows, background_rows = page.locator("#queue-chat tr"), page.locator("#queue-background tr")
                await expect(chat_rows.filter(has_text="generate_reply")).to_have_count(1, timeout=15_000)
                await expect(background_rows.filter(has_text="generate_reply")).to_have_count(0)
                await expect(background_rows.filter(has_text="extract_session_context")).to_have_count(1)
                await expect(page.locator("#queue-background tr[data-function=ping] td.completed")).to_have_text(
                    "1", timeout=15_000
                )
                await expect(page.locator("#workers tr", has_text="chat")).not_to_have_count(0)
                await expect(page.locator("#workers tr", has_text="background")).not_to_have_count(0)

                # Item 8: a job waiting its turn (deferred an hour) is cancelled from its
                # row (arq moves an aborted job to the front, so it ends at once); once cancelled, the
                # same row requeues it, and the new run completes.
                waiting = await arq.enqueue_job("ping", _job_id="ping:to-cancel", _defer_by=3600)
                assert waiting is not None
                row = page.locator('#jobs tr[data-job-id="ping:to-cancel"]')
                await row.locator("button", has_text="Cancel").click(timeout=15_000)
                jobs_notice = page.locator("#jobs-section [data-notice=jobs]")
                await expect(jobs_notice).to_contain_text("ping:to-cancel")
                await expect(row.locator(".badge")).to_have_text("cancelled", timeout=20_000)
                await row.locator("button", has_text="Requeue").click()
                await expect(jobs_notice).to_contain_text("Requeued ping:to-cancel as rerun:ping:to-cancel:")
                rerun = page.locator("#jobs tr[data-job-id^='rerun:ping:to-cancel:']")
                await expect(rerun.locator(".badge")).to_have_text("complete", timeout=15_000)

                # At 390 px: nothing scrolls sideways, and a job id breaks only at its colons.
                assert await page.evaluate("document.documentElement.scrollWidth") <= 390
                lines = await page.locator(f'#jobs tr[data-job-id="{extraction}"] .job-id').evaluate(
                    "el => Array.from(el.getClientRects()).filter(r => r.width > 0).map(r => [Math.round(r.left), Math.round(r.right)])"
                )
                assert 1 <= len(lines) <= len(extraction.split(":")) and all(0 <= left and right <= 390 for left, right in lines)
                assert await page.locator(f'#jobs tr[data-job-id="{extraction}"] .job-id').inner_text() == extraction
                await page.locator("#jobs-section h2").scroll_into_view_if_needed()
                await page.screenshot(path=shots / "admin-390.png")

                # Item 9: a bad value is refused naming its limit; a good one is recorded,
                # shown, and refuses the user's third message within the minute.
                field = page.locator("#limits-form input[name=chat_messages_per_minute]")
                limits_notice = page.locator("#limits [data-notice=limits]")
                await field.fill("0")
                await page.locator("#limits-form button", has_text="Save limits").click()
                await expect(limits_notice).to_contain_text("Not saved: chat_messages_per_minute")
                await expect(field).to_have_attribute("aria-invalid", "true")
                await field.fill("2")
                await page.locator("#limits-form button", has_text="Save limits").click()
                await expect(limits_notice).to_contain_text("Saved: CHAT_MESSAGES_PER_MINUTE 2")
                change = page.locator("#limit-changes tr", has_text="Chat messages per user per minute")
                await expect(change).to_contain_text(ADMIN)
                await expect(change.locator("td[data-label=old]")).to_have_text("20")
                await expect(change.locator("td[data-label=new]")).to_have_text("2")
                assert await page.evaluate("document.documentElement.scrollWidth") <= 390
                await page.locator("#limits").screenshot(path=shots / "admin-limits-390.png")
                async with Api(allinone.url) as api:
                    user = await api.new_user()
                    statuses = []
                    for n in range(3):
                        sent = await api.http.post("/api/v1/chat/messages", headers=user.headers, json={"content": f"hi {n}"})
                        statuses.append(sent.status_code)
                    assert statuses[-1] == 429 and "more than 2 messages a minute" in sent.json()["detail"], statuses

                wide = await signed_in_page(chromium, allinone, {"width": 1280, "height": 900})
                await expect(wide.locator("#limit-changes tr", has_text=ADMIN)).to_have_count(1)
            finally:
                await chromium.close()
    finally:
        await arq.aclose()
        stop_now(allinone.proc)
