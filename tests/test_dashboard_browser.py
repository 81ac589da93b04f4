"""The /admin dashboard in a real browser: Playwright for Python driving Debian's chromium
against the all-in-one started as a real process.

Playwright's own browser download cannot work on these machines, so the test passes the
system chromium's executable (scripts/bootstrap.sh installs it for the test extras). Set
ADMIN_SCREENSHOTS_DIR=docs/screens to refresh the README's screenshots.
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
        found = re.search(rf"admin: {re.escape(ADMIN)} \(created; password: (\S+)\)", allinone.output()[0])
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
                await expect(page.locator("#notice")).to_contain_text("Requeued as requeue:")
                requeued = page.locator("#jobs tr[data-job-id^='requeue:']")
                await expect(requeued.first).to_be_visible(timeout=15_000)

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
