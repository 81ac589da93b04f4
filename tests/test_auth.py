"""Register, login, logout and token checks over real HTTP and WebSockets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import websockets

from service.credentials import issue_token
from tests.support.settings import JWT_SECRET


async def test_register_login_me(api):
    registered = await api.http.post("/api/v1/auth/register", json={"email": "Ada@Example.com", "password": "lovelace1"})
    assert registered.status_code == 201
    user_id = registered.json()["user_id"]
    login = await api.http.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": "lovelace1"})
    assert login.status_code == 200
    body = login.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 86_400 and body["session_id"]
    me = await api.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com" and me.json()["user_id"] == user_id
    session = await api.http.get("/api/v1/auth/session", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert session.json() == {"user_id": user_id, "session_id": body["session_id"]}


async def test_taken_email_is_409_whatever_its_case(api):
    first = await api.http.post("/api/v1/auth/register", json={"email": "bob@example.com", "password": "password1"})
    assert first.status_code == 201
    second = await api.http.post("/api/v1/auth/register", json={"email": "BOB@example.com", "password": "password2"})
    assert second.status_code == 409
    assert "already registered" in second.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": "password1"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"password": "password1"}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": 42, "password": "password1"}, "email"),
        ({"email": "a@example.com", "password": "password1", "admin": True}, "admin"),
        (["a@example.com", "password1"], "body"),
    ],
)
async def test_malformed_register_body_is_422_naming_the_field(api, body, field):
    response = await api.http.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"]
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("path", ["/api/v1/auth/register", "/api/v1/auth/login"])
async def test_body_that_is_not_json_is_400(api, path):
    response = await api.http.post(path, content=b"{email: nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


async def test_wrong_password_and_unknown_email_get_the_same_401(api):
    login = await api.new_user()
    wrong = await api.http.post("/api/v1/auth/login", json={"email": login.email, "password": "wrong password"})
    unknown = await api.http.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "invalid email or password", "errors": []}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/auth/session"),
        ("GET", "/api/v1/chat/messages"),
        ("GET", "/api/v1/memory"),
        ("POST", "/api/v1/auth/logout"),
    ],
)
async def test_revoked_token_is_refused_over_http(api, method, path):
    login = await api.new_user()
    await api.logout(login)
    response = await api.http.request(method, path, headers=login.headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "session has been logged out"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_garbage_and_expired_tokens_are_401(api):
    login = await api.new_user()
    expired = issue_token(JWT_SECRET, login.user_id, login.session_id, datetime.now(UTC) - timedelta(hours=2), timedelta(hours=1))
    forged = issue_token(
        "another-secret-that-is-long-enough-000", login.user_id, login.session_id, datetime.now(UTC), timedelta(hours=1)
    )
    cases = {
        None: "missing access token",
        "garbage": "token is invalid",
        expired: "token has expired",
        forged: "token is invalid",
    }
    for token, detail in cases.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await api.http.get("/api/v1/auth/me", headers=headers)
        assert (response.status_code, response.json()["detail"]) == (401, detail)


@pytest.mark.parametrize("kind", ["missing", "garbage", "revoked"])
async def test_websocket_refuses_bad_tokens_with_4401(api, kind):
    login = await api.new_user()
    if kind == "revoked":
        await api.logout(login)
    token = {"missing": None, "garbage": "garbage", "revoked": login.token}[kind]
    async with websockets.connect(api.ws_url(token)) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 4401
    assert closed.value.rcvd.reason in {"missing access token", "token is invalid", "session has been logged out"}


async def test_logout_over_http_closes_an_open_socket_without_waiting_for_its_next_message(api):
    login = await api.new_user()
    async with api.connect(login) as ws:
        await api.logout(login)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)  # generous bound; it closes within milliseconds
    assert closed.value.rcvd.code == 4401
