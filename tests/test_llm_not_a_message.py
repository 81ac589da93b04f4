"""An LLM that answers 200 with a body that is not a message is failing, not answering.

The stub sends, on request, a 200 whose body is not the Messages API's: JSON of another
shape, an empty body, an event stream that never starts a message or stops before its end.
The reply must be a provider error: retried like a 529, and if every try gets the same, the
stream ends with `error` `llm_unavailable`. Never `done` with an empty reply stored.
"""

from __future__ import annotations

import pytest

from shared.store.mongo import CHAT_MESSAGES
from tests.support.sse import read_events
from tests.support.stub_llm import Failure
from tests.test_reply_streams import REPLY, post, stored_reply

NOT_A_MESSAGE = [
    pytest.param('{"status": "ok"}', "application/json", id="json-of-another-shape"),
    pytest.param("", "application/json", id="empty-body"),
    pytest.param("<html>gateway says hi</html>", "text/html", id="html"),
    pytest.param("event: ping\ndata: {}\n\n", "text/event-stream", id="stream-without-a-message"),
    pytest.param(
        'event: message_start\ndata: {"type": "message_start", "message": {"id": "m", "type": "message", "role": '
        '"assistant", "model": "stub", "content": [], "stop_reason": null, "stop_sequence": null, "usage": '
        '{"input_tokens": 1, "output_tokens": 1}}}\n\n',
        "text/event-stream",
        id="stream-cut-before-message-stop",
    ),
]


@pytest.mark.parametrize(("body", "media_type"), NOT_A_MESSAGE)
async def test_a_200_that_is_not_a_message_is_retried_then_the_reply_is_written(api, db, stub_llm, body, media_type):
    stub_llm.reply_text = REPLY
    stub_llm.failures = [Failure(200, body=body, media_type=media_type)]
    login = await api.new_user()
    accepted = await post(api, login)
    received = await read_events(api.http, accepted["stream_url"], login.headers)
    assert received.events[-1].event == "done" and received.text == REPLY + " "
    assert len(stub_llm.chat_requests) == 2
    stored = await stored_reply(db, accepted["reply_id"])
    assert stored["attempts"] == 2 and stored["text"] == REPLY + " "


async def test_when_every_try_gets_a_200_that_is_not_a_message_the_reply_ends_llm_unavailable(api, db, stub_llm, settings):
    stub_llm.failures = [Failure(200, body='{"status": "ok"}') for _ in range(settings.job_max_tries)]
    login = await api.new_user()
    accepted = await post(api, login)
    received = await read_events(api.http, accepted["stream_url"], login.headers)
    assert [e.event for e in received.events] == ["error"]
    assert received.events[-1].data["code"] == "llm_unavailable"
    stored = await stored_reply(db, accepted["reply_id"])
    assert stored["status"] == "failed" and stored["text"] == ""
    assert len(stub_llm.chat_requests) == settings.job_max_tries
    assert await db[CHAT_MESSAGES].count_documents({"role": "assistant"}) == 0
