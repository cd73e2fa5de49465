"""Request and response bodies for users, API tokens and the audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import JsonInt
from app.db.models import ApiToken, AuditEntry, User


class _Strict(BaseModel):
    # strict: a JSON value of the wrong type is refused, never coerced ({"disabled": "yes"} is 422).
    model_config = ConfigDict(extra="forbid", strict=True)


class TokenCreate(_Strict):
    name: str = Field(min_length=1, max_length=64, description="What the token is for, e.g. 'CI'.")


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to tell tokens apart.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenPublic:
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class TokenCreated(TokenPublic):
    token: str = Field(description="The token itself. Shown this once; only its hash is kept.")


class UserPublic(BaseModel):
    id: int
    name: str
    role: Literal["admin", "user"]
    disabled: bool
    max_stores: int | None = Field(description="Per-user store limit; null means the platform default.")
    has_password: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        assert user.id is not None
        return cls(
            id=user.id,
            name=user.name,
            role="admin" if user.is_admin else "user",
            disabled=user.disabled,
            max_stores=user.max_stores,
            has_password=user.password_hash is not None,
            created_at=user.created_at,
        )


class UserCreate(_Strict):
    name: str = Field(min_length=2, max_length=63, description="Lower-case letters, digits, '_', '.', '-'.")
    role: Literal["admin", "user"] = "user"
    max_stores: JsonInt | None = Field(default=None, ge=0, le=10_000)


class UserCreated(UserPublic):
    password: str = Field(description="A generated password, shown this once; the user should change it.")


class UserUpdate(_Strict):
    disabled: bool | None = None
    role: Literal["admin", "user"] | None = None
    max_stores: JsonInt | None = Field(default=None, ge=0, le=10_000)
    reset_max_stores: bool = Field(default=False, description="Go back to the platform default limit.")


class PasswordChange(_Strict):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor: str | None
    actor_id: int | None
    client_ip: str
    action: str
    target: str
    outcome: str
    request_id: str | None
    detail: dict[str, object]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditPublic:
        assert entry.id is not None
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            actor_id=entry.actor_id,
            client_ip=entry.client_ip,
            action=entry.action,
            target=entry.target,
            outcome=entry.outcome,
            request_id=entry.request_id,
            detail=json.loads(entry.detail),
        )
