"""The chat page at `/`: its files, and its cookie session (sign-in, the API by cookie, sign-out)."""

from __future__ import annotations

import httpx
from arq.jobs import Job, JobStatus

from tests.support.running_worker import running_worker, wait_for

PAGE_FILES = ("index.html", "app.css", "main.js", "api.js", "chat.js", "memory.js", "account.js")


def origin(api) -> dict[str, str]:
    return {"origin": api.base_url}


async def test_the_page_and_its_modules_are_served_from_here(api):
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        page = await client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for name in PAGE_FILES[1:]:
            asset = await client.get(f"/app/static/{name}")
            assert asset.status_code == 200, name
            assert "http://" not in asset.text and "https://" not in asset.text, f"{name} loads something from elsewhere"
            assert "localStorage" not in asset.text and "sessionStorage" not in asset.text, name
        for hook in ("email", "password", "register", "login", "message", "send", "logout", "memory-link"):
            assert f'data-testid="{hook}"' in page.text, hook
        # Every field has a label.
        for field in ("email", "password", "message"):
            assert f'<label for="{field}"' in page.text, field


async def test_cookie_sign_in_reaches_the_api_and_sign_out_ends_it(api, settings, mongo_client, db, arq_pool):
    user = await api.new_user()
    await api.chat(user, "I want to swim a mile by June")
    async with httpx.AsyncClient(base_url=api.base_url) as browser:
        wrong = await browser.post("/app/login", json={"email": user.email, "password": "not it at all"}, headers=origin(api))
        assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid email or password"
        signed = await browser.post("/app/login", json={"email": user.email, "password": user.password}, headers=origin(api))
        assert signed.status_code == 200, signed.text
        assert "access_token" not in signed.text  # the token is in the cookie only
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        # Reads by cookie; writes by cookie only with this site's Origin.
        assert (await browser.get("/api/v1/auth/me")).json()["email"] == user.email
        assert (await browser.get("/api/v1/memory")).status_code == 200
        assert (await browser.get("/api/v1/usage?days=3")).status_code == 200
        forged = await browser.delete("/api/v1/account", headers={"origin": "https://evil.example"})
        assert forged.status_code == 403 and "cross-site" in forged.json()["detail"]
        assert (await browser.delete("/api/v1/account")).status_code == 403
        assert (await browser.post("/app/logout", headers={"origin": "https://evil.example"})).status_code == 403
        stolen = browser.cookies.get("coach_session")

        out = await browser.post("/app/logout", headers=origin(api))
        assert out.status_code == 200, out.text
        assert 'coach_session=""' in out.headers["set-cookie"] or "max-age=0" in out.headers["set-cookie"].lower()
        job_id = out.json()["job_id"]
    # The session is revoked (a replayed cookie is worthless) and its extraction queued.
    async with httpx.AsyncClient(base_url=api.base_url, cookies={"coach_session": stolen}) as replay:
        assert (await replay.get("/api/v1/auth/me")).status_code == 401
    assert await db["job_owners"].find_one({"_id": job_id, "user_id": user.user_id})
    job = Job(job_id, arq_pool, _queue_name=settings.queue_name)
    assert (await job.info()).function == "extract_session_context"
    async with running_worker(settings, mongo_client):
        await wait_for(lambda: _is(job, JobStatus.complete))


async def _is(job, status):
    return await job.status() == status


async def test_sign_in_from_another_site_or_without_origin_is_refused(api):
    user = await api.new_user()
    async with httpx.AsyncClient(base_url=api.base_url) as browser:
        body = {"email": user.email, "password": user.password}
        assert (await browser.post("/app/login", json=body, headers={"origin": "https://evil.example"})).status_code == 403
        assert (await browser.post("/app/login", json=body)).status_code == 403
        assert "coach_session" not in browser.cookies


async def test_sign_out_without_a_session_says_so(api):
    async with httpx.AsyncClient(base_url=api.base_url) as browser:
        refused = await browser.post("/app/logout", headers=origin(api))
        assert refused.status_code == 401 and refused.json()["detail"] == "missing access token"
