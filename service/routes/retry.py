"""`POST /api/v1/chat/replies/{id}/retry`: a new reply to the message a failed or cancelled
reply answered (service/reply_start.py). 202 with the new reply, like a new message; 409
while the reply is still being written, once it is done, or once it was retried (the
retry's id is in `retried_by`); 404 for another user's reply or none at all. The limits a
new message meets apply (429 / 503 with Retry-After); nothing is created when they refuse.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.api_docs import IDEMPOTENCY_KEY, documented, error, ok
from service.errors import ApiError
from service.idempotency import idempotent
from service.principal import require_principal
from service.reply_start import Accepted, AlreadyRetried, retry_reply
from service.resources import resources_of
from service.routes.replies import NOT_YOURS, accepted_response, refusal_response
from service.routes.reply_schemas import ReplyAccepted
from shared.store.replies import RETRYABLE, owned_reply


async def _retry(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    state = resources_of(request)
    earlier = await owned_reply(state.db, request.path_params["reply_id"], principal.user_id)
    if earlier is None:
        raise ApiError(404, NOT_YOURS)
    if earlier.status not in RETRYABLE:
        raise ApiError(409, f"only a failed or cancelled reply can be retried; this one is {earlier.status}")
    outcome = await retry_reply(state, principal, earlier)
    if isinstance(outcome, AlreadyRetried):
        body = {"detail": "this reply was retried already", "errors": [], "retried_by": outcome.reply_id}
        return JSONResponse(body, status_code=409)
    if not isinstance(outcome, Accepted):
        return refusal_response(outcome)
    return accepted_response(outcome, earlier.conversation_id)


@documented(
    "POST",
    "a new reply to the message a failed or cancelled reply answered (once per reply)",
    {
        202: ok(ReplyAccepted, "queued; follow it at `stream_url`"),
        404: error("no reply with that id (or another user's)"),
        409: error("the reply is still being written, is done, was retried already, or its key is in use"),
        422: error("the Idempotency-Key is malformed or was used with another request"),
        429: error("over CHAT_MESSAGES_PER_MINUTE or the daily token budget", retry_after=True),
        503: error("the queue or Redis cannot be reached; nothing was created", retry_after=True),
    },
    headers=[IDEMPOTENCY_KEY],
)
async def retry(request: Request) -> Response:
    return await idempotent(request, "chat.retry", _retry)
