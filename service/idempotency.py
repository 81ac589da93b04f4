"""`Idempotency-Key` on the chat's POST routes (shared/redis_structures/idempotency.py).

A client that lost the answer to a POST (a dropped connection, a timeout) sends it again
with the same key and the same body: within IDEMPOTENCY_TTL_SECONDS it gets the first 2xx
answer again, with `Idempotent-Replayed: true`, and nothing is stored or enqueued twice.
Without the header a POST is handled as always. Refusals:
- 422: a key that is empty, longer than 255 characters or not visible ASCII; or a key
  used before with a different body;
- 409: the first request with this key is still being handled;
- 503 (Retry-After): Redis, which keeps the keys, cannot be reached.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.errors import ApiError, error_response
from service.principal import require_principal
from service.resources import resources_of
from shared.redis_structures.idempotency import Claimed, IdempotencyKeys, OtherBody, Replay, StillRunning, fingerprint
from shared.redis_structures.unavailable import REDIS_DOWN

HEADER = "Idempotency-Key"
VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
UNREACHABLE_RETRY_AFTER_SECONDS = 5


def _field_error(message: str) -> ApiError:
    return ApiError(422, f"{HEADER}: {message}", [{"field": HEADER, "message": message}])


async def idempotent(request: Request, route: str, handler: Callable[[Request], Awaitable[Response]]) -> Response:
    client_key = request.headers.get(HEADER)
    if client_key is None:
        return await handler(request)
    if not VALID_KEY.fullmatch(client_key):
        raise _field_error("must be 1 to 255 visible ASCII characters (a UUID, say)")
    principal = await require_principal(request)
    keys: IdempotencyKeys = resources_of(request).idempotency_keys
    print_ = fingerprint(request.method, request.url.path, await request.body())  # the body is cached for the handler
    user_id = principal.user_id
    try:
        async with asyncio.timeout(resources_of(request).settings.redis_timeout_seconds):
            outcome = await keys.claim(user_id, route, client_key, print_)
    except REDIS_DOWN:
        return error_response(
            503,
            "the chat cannot reach its store of request keys right now; nothing was stored, send it again shortly",
            headers={"Retry-After": str(UNREACHABLE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(outcome, OtherBody):
        raise _field_error("was used before with a different request; use a new key for a new request")
    if isinstance(outcome, StillRunning):
        raise ApiError(409, "the first request with this Idempotency-Key is still being handled; send it again shortly")
    if isinstance(outcome, Replay):
        return Response(outcome.body, outcome.status, media_type="application/json", headers={"Idempotent-Replayed": "true"})
    assert isinstance(outcome, Claimed)
    try:
        response = await handler(request)
    except BaseException:
        await asyncio.shield(_drop_quietly(keys, user_id, route, client_key))
        raise
    if 200 <= response.status_code < 300 and isinstance(response, JSONResponse):
        await asyncio.shield(keys.keep(user_id, route, client_key, print_, response.status_code, bytes(response.body).decode()))
    else:
        await _drop_quietly(keys, user_id, route, client_key)
    return response


async def _drop_quietly(keys: IdempotencyKeys, user_id: str, route: str, client_key: str) -> None:
    # With Redis away the pending marker lapses by itself after PENDING_SECONDS.
    try:
        await keys.drop(user_id, route, client_key)
    except REDIS_DOWN:
        pass
