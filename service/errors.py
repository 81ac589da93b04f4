"""One JSON error shape for every failure, and body/query parsing that names the problem.

`{"detail": "...", "errors": [{"field": ..., "message": ...}]}`: `detail` is for people,
`errors` for programs. Nothing a client sends can turn into a 500.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from service.untrusted_json import NotJSON, RefusedJSON, load_untrusted_json

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[ErrorItem]


class ApiError(Exception):
    def __init__(self, status_code: int, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.errors = errors or []


class RateLimited(ApiError):
    """429 with `Retry-After` in whole seconds, rounded up."""

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(429, detail)
        self.retry_after = max(1, math.ceil(retry_after))


def field_errors(exc: ValidationError, root: str) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(part) for part in err["loc"]) or root
        errors.append({"field": field, "message": err["msg"]})
    return errors


def invalid(exc: ValidationError, root: str) -> ApiError:
    errors = field_errors(exc, root)
    return ApiError(422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)


async def parse_body(request: Request, model: type[Model]) -> Model:
    body = await request.body()
    try:
        data = load_untrusted_json(body)
    except NotJSON as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    except RefusedJSON as exc:
        raise ApiError(400, f"request body is not acceptable JSON: {exc}", [{"field": "body", "message": str(exc)}]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, "body") from None


def parse_query(params: Mapping[str, str], model: type[Model]) -> Model:
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise invalid(exc, "query") from None


def error_response(
    status_code: int, detail: str, errors: list[dict[str, str]] | None = None, headers: Any = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors or []}, status_code=status_code, headers=headers)


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(exc.status_code, exc.detail, exc.errors, headers)


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error")


async def handle_client_gone(request: Request, exc: Exception) -> JSONResponse:
    """The client closed the connection before its body was read: nobody is left to answer,
    and it is not the service's error (logged as one, any client could fill the log)."""
    log.info("client closed the connection before its request body arrived: %s %s", request.method, request.url.path)
    return error_response(400, "the connection closed before the request body arrived")


EXCEPTION_HANDLERS = {
    ClientDisconnect: handle_client_gone,
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
