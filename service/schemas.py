"""HTTP request and response bodies."""

from __future__ import annotations

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from service.credentials import MAX_PASSWORD_CHARS
from shared.models import ChatMessage
from shared.store.communities import CommunityView
from shared.store.context_views import ContextView
from shared.store.dead_letters import DeadLetterView
from shared.store.entities import EntityView
from shared.store.reflections import ReflectionView
from shared.store.relations import RelationView
from shared.store.summaries import SummaryView
from shared.store.users import normalise_email


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


# What EmailStr (email-validator) accepts, as far as JSON Schema can say it, so the OpenAPI
# document promises no more than the code takes: a plain local part, a dotted domain whose
# last label ends in a letter, and no special-use domain (.test, .local, ...) that cannot
# receive mail.
EMAIL_PATTERN = (
    rf"^(?!.*\.(?:{'|'.join(_any_case(d) for d in SPECIAL_USE_DOMAIN_NAMES)})$)"
    r'[^@\s"]+@[^@\s\[\]]+\.[^@\s\[\]]*[A-Za-z]$'
)


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(json_schema_extra={"pattern": EMAIL_PATTERN})
    password: str = Field(min_length=8, max_length=MAX_PASSWORD_CHARS)

    @field_validator("email", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        # Before EmailStr checks it, so `ａdmin@example.com` is checked, stored and compared as
        # `admin@example.com` (shared/store/users.py keeps to the same spelling).
        return normalise_email(value) if isinstance(value, str) else value


class MessagesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt parameter is an error, not ignored

    limit: int = Field(50, ge=1, le=200)
    conversation_id: str | None = Field(None, max_length=64, description="unset: the newest conversation")


class FailedJobsQuery(BaseModel):
    include_resolved: bool = Field(False, description="also the dead letters already requeued or resolved")


# Response bodies: what the OpenAPI document promises, and schemathesis checks.


class Health(BaseModel):
    status: str


class SignedIn(BaseModel):
    user_id: str
    email: str


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[ErrorItem]


class Registered(BaseModel):
    user_id: str


class LoggedIn(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    session_id: str


class LoggedOut(BaseModel):
    status: str
    session_id: str
    job_id: str


class Me(BaseModel):
    user_id: str
    email: str
    session_id: str
    created_at: str


class SessionInfo(BaseModel):
    user_id: str
    session_id: str


class MessageList(BaseModel):
    conversation_id: str | None = Field(description="the conversation shown; null before the first one")
    messages: list[ChatMessage]


class Memory(BaseModel):
    contexts: list[ContextView]
    summaries: list[SummaryView]
    reflections: list[ReflectionView]


class ReflectionQueued(BaseModel):
    job_id: str


class MemoryGraph(BaseModel):
    nodes: list[EntityView]
    edges: list[RelationView]
    communities: list[CommunityView]


class FailedJobs(BaseModel):
    failed_jobs: list[DeadLetterView]


class Requeued(BaseModel):
    job_id: str


class RequeuedAll(BaseModel):
    job_ids: list[str]
