"""Store limits: per user (default 3, overridable per user by an admin), global, and concurrent
provisioning per user. Deciding is pure; counting is the caller's job, in the same transaction as
the insert, so two concurrent creates cannot both squeeze under the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import metrics

# The limit names used in errors, metrics and the API; stable, clients may match on them.
STORES_PER_USER = "stores_per_user"
STORES_GLOBAL = "stores_global"
PROVISIONING_PER_USER = "provisioning_per_user"


class LimitExceeded(Exception):
    """A store limit is reached."""

    def __init__(self, limit: str, value: int, usage: int, status_code: int, hint: str) -> None:
        self.limit = limit
        self.value = value
        self.usage = usage
        self.status_code = status_code
        super().__init__(f"limit {limit} reached: {usage} of {value} in use; {hint}")

    def problem(self) -> dict[str, object]:
        """The problem+json body: which limit, its value, the current usage."""
        return {
            "type": "about:blank",
            "title": "Limit reached",
            "status": self.status_code,
            "detail": str(self),
            "limit": self.limit,
            "value": self.value,
            "usage": self.usage,
        }


@dataclass(frozen=True)
class StoreLimits:
    per_user: int
    global_max: int
    provisioning_per_user: int

    @classmethod
    def for_user(
        cls, *, default_per_user: int, user_override: int | None, global_max: int, provisioning_per_user: int
    ) -> StoreLimits:
        per_user = default_per_user if user_override is None else user_override
        return cls(per_user=per_user, global_max=global_max, provisioning_per_user=provisioning_per_user)


@dataclass(frozen=True)
class StoreUsage:
    """Live (not deleted) stores of the user, of everyone, and the user's stores provisioning now."""

    user_stores: int
    all_stores: int
    user_provisioning: int


def check_can_create(limits: StoreLimits, usage: StoreUsage) -> None:
    """Raise LimitExceeded naming the first limit a new store would break.

    Store counts are 409 (the state must change: delete a store or get the limit raised); the
    provisioning limit is 429 (it clears by itself when a provisioning run ends).
    """
    if usage.user_stores >= limits.per_user:
        _refuse(
            STORES_PER_USER,
            limits.per_user,
            usage.user_stores,
            409,
            "delete one of your stores or ask an admin to raise your limit",
        )
    if usage.all_stores >= limits.global_max:
        _refuse(
            STORES_GLOBAL,
            limits.global_max,
            usage.all_stores,
            409,
            "the platform is full; ask an operator to raise the global limit",
        )
    if usage.user_provisioning >= limits.provisioning_per_user:
        _refuse(
            PROVISIONING_PER_USER,
            limits.provisioning_per_user,
            usage.user_provisioning,
            429,
            "wait until one of your stores finishes provisioning",
        )


def _refuse(limit: str, value: int, usage: int, status: int, hint: str) -> None:
    metrics.LIMIT_REJECTIONS.labels(limit=limit).inc()
    raise LimitExceeded(limit, value, usage, status, hint)
