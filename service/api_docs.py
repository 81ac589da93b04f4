"""What each route says of itself for the OpenAPI document, declared beside its handler.

A handler is decorated with `@documented("GET", "summary", {200: json(Model, "..."), 404: error("...")},
body=..., query=...)`; the body and query models are the ones the handler validates with
(`parse_body`, `parse_query`), so what the document promises is what the code accepts.
service/openapi.py walks the app's routes and builds the document from these declarations:
nothing else lists the routes a second time. What every operation of a kind answers (a bad
body, a missing token, a caller who is not an admin) is added there, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from service.errors import ErrorBody

Access = Literal["public", "user", "admin"]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
ATTRIBUTE = "__api_operations__"


@dataclass(frozen=True)
class Answer:
    """One documented response: a JSON body of `model`, other content (`media`), or none."""

    description: str
    model: type[BaseModel] | None = None
    media: str | None = None  # "text/html", "text/event-stream", ...: a string body
    retry_after: bool = False  # the response carries Retry-After (seconds)


@dataclass(frozen=True)
class Header:
    name: str
    description: str = ""
    pattern: str | None = None


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, Answer]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    access: Access = "user"
    headers: Sequence[Header] = ()
    form: type[BaseModel] | None = None  # an HTML form (application/x-www-form-urlencoded) of these fields
    path_descriptions: Mapping[str, str] = field(default_factory=dict)


def ok(model: type[BaseModel], description: str) -> Answer:
    return Answer(description, model)


def error(description: str, *, retry_after: bool = False) -> Answer:
    return Answer(description, ErrorBody, retry_after=retry_after)


def html(description: str) -> Answer:
    return Answer(description, media="text/html")


def text(description: str) -> Answer:
    return Answer(description, media="text/plain")


def event_stream(description: str) -> Answer:
    return Answer(description, media="text/event-stream")


def empty(description: str) -> Answer:
    return Answer(description)


LAST_EVENT_ID = Header("Last-Event-ID", "resume after this event id")
IDEMPOTENCY_KEY = Header(
    "Idempotency-Key",
    "sent again with the same key and body within IDEMPOTENCY_TTL_SECONDS (24 h), the request gets the first "
    "2xx answer again (header Idempotent-Replayed: true) and nothing is stored or enqueued twice",
    pattern="^[!-~]{1,255}$",
)
CROSS_SITE = error("signed in by cookie, and the Origin (or Referer) header does not name this site")


def documented(
    method: str,
    summary: str,
    responses: Mapping[int, Answer],
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    access: Access = "user",
    headers: Sequence[Header] = (),
    form: type[BaseModel] | None = None,
    path_descriptions: Mapping[str, str] | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """Declare one method of the decorated handler's route; stack one per method it serves."""
    operation = Operation(summary, responses, body, query, access, headers, form, path_descriptions or {})

    def attach(endpoint: Endpoint) -> Endpoint:
        declared: dict[str, Operation] = dict(getattr(endpoint, ATTRIBUTE, {}))
        if method.lower() in declared:
            raise ValueError(f"{endpoint.__qualname__}: {method} is documented twice")
        declared[method.lower()] = operation
        setattr(endpoint, ATTRIBUTE, declared)
        return endpoint

    return attach


def operations_of(endpoint: Callable[..., Any]) -> dict[str, Operation]:
    return dict(getattr(endpoint, ATTRIBUTE, {}))
