"""The dashboard's browser sign-in: a cookie session that other sites cannot use."""

from __future__ import annotations

import httpx

from shared.store.users import ADMIN, grant_role


async def browser(api) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.base_url, follow_redirects=False)


def origin(api) -> dict[str, str]:
    return {"origin": api.base_url}


async def sign_in(client, api, email, password, headers=None):
    return await client.post(
        "/admin/login",
        content=f"email={email}&password={password}",
        headers={"content-type": "application/x-www-form-urlencoded", **(origin(api) if headers is None else headers)},
    )


async def test_form_sign_in_sets_a_strict_httponly_cookie_and_shows_the_dashboard(api, db):
    admin = await api.new_user()
    await grant_role(db, admin.email, ADMIN)
    async with await browser(api) as client:
        assert "Sign in" in (await client.get("/admin")).text  # signed out: the form
        wrong = await sign_in(client, api, admin.email, "not the password")
        assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
        signed = await sign_in(client, api, admin.email, admin.password)
        assert signed.status_code == 303 and signed.headers["location"] == "/admin"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        page = await client.get("/admin")
        assert page.status_code == 200 and "Dead letters" in page.text and admin.email in page.text
        assert (await client.get("/admin/panels")).status_code == 200
        assert (await client.get("/admin/static/admin.js")).status_code == 200
        # The cookie works for the admin API too (what the page's buttons call)...
        assert (await client.post("/api/v1/admin/crons/decay_memories/run", headers=origin(api))).status_code == 202
        # ...but not from another site, nor with no Origin or Referer at all.
        forged = await client.post("/api/v1/admin/crons/decay_memories/run", headers={"origin": "https://evil.example"})
        assert forged.status_code == 403 and "cross-site" in forged.json()["detail"]
        assert (await client.post("/api/v1/admin/crons/decay_memories/run")).status_code == 403
        by_referer = await client.post("/api/v1/admin/crons/decay_memories/run", headers={"referer": f"{api.base_url}/admin"})
        assert by_referer.status_code == 202
        # Signing out revokes the session: the cookie is worthless even if replayed.
        stolen = client.cookies.get("coach_session")
        assert (await client.post("/admin/logout", headers=origin(api))).status_code == 303
    async with await browser(api) as replay:
        replay.cookies.set("coach_session", stolen)
        assert "Sign in" in (await replay.get("/admin")).text
        assert (await replay.get("/api/v1/admin/queue")).status_code == 401


async def test_sign_in_from_another_site_is_refused(api):
    user = await api.new_user()
    async with await browser(api) as client:
        refused = await sign_in(client, api, user.email, user.password, headers={"origin": "https://evil.example"})
        assert refused.status_code == 403 and "set-cookie" not in refused.headers


async def test_a_non_admin_gets_403(api):
    user = await api.new_user()
    async with await browser(api) as client:
        assert (await sign_in(client, api, user.email, user.password)).status_code == 303
        page = await client.get("/admin")
        assert page.status_code == 403 and "Admins only" in page.text
        assert (await client.get("/admin/panels")).status_code == 403
        assert (await client.get("/api/v1/admin/queue")).status_code == 403


async def test_repeated_wrong_passwords_on_the_form_are_throttled_like_the_api(api):
    user = await api.new_user()
    async with await browser(api) as client:
        statuses = [(await sign_in(client, api, user.email, "wrong password!")).status_code for _ in range(8)]
    assert statuses[0] == 401 and statuses[-1] == 429, statuses
