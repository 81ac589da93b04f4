"""The bodies of signing up, in and out (service/routes/auth.py, and the chat page's and the
dashboard's cookie sign-in, which take the same credentials)."""

from __future__ import annotations

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from service.credentials import MAX_PASSWORD_CHARS
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


class SignedIn(BaseModel):
    user_id: str
    email: str
