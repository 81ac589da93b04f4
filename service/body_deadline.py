"""A request's body must arrive within a time limit; past it, 408 and the connection closes.

The headers have their limit in the protocol (service/header_timeout.py); this is the other
half of a slow client: one that sends its headers, then a byte of body now and then. The
deadline runs from the moment the headers are in until the last body chunk; once the body
is complete, `receive` is passed through untouched (it then only waits for a disconnect).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError


class BodyDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        body_complete = False
        too_slow = False

        async def timed_receive() -> Message:
            nonlocal body_complete, too_slow
            if body_complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                too_slow = True
                raise ApiError(408, f"request body did not arrive within {self.seconds:g} s") from None
            body_complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def closing_send(message: Message) -> None:
            # The rest of a late body may still be on its way: do not keep the connection.
            if too_slow and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, timed_receive, closing_send)
