"""Errors of the store actions, and the one place that sorts Helm/Kubernetes failures into
"retry later" (RetryableError) and "retrying will not help" (PermanentError).

Each class's docstring is its default message, so `raise ClusterUnreachable()` already says
something a person understands; pass a message to be concrete.
"""

from __future__ import annotations

import re

import httpx2

# Messages reach the store's activity log and the API; they must never carry credentials.
_BEARER = re.compile(r"(?i)\bbearer\s+\S+")
_SECRET_LIKE = re.compile(r"(?i)\b(password|passwd|token|secret|authorization)\b(\s*[:=]\s*)\S+")
_MAX_MESSAGE = 600


def scrub(text: str) -> str:
    """Remove anything that looks like a credential and cap the length of a message."""
    text = _BEARER.sub("Bearer [redacted]", text.strip())
    text = _SECRET_LIKE.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


class StoreplaneError(Exception):
    """Something went wrong."""

    # A transient failure says nothing about the store (the API server was away, someone else
    # changed an object): the job retries it until its deadline without spending an attempt.
    transient = False

    def __init__(self, message: str | None = None) -> None:
        self.message = scrub(message) if message else (self.__doc__ or "").strip()
        super().__init__(self.message)


class RetryableError(StoreplaneError):
    """A temporary failure; the action can be retried as it is."""


class PermanentError(StoreplaneError):
    """The action cannot succeed as requested; retrying it unchanged will not help."""


class ClusterUnreachable(RetryableError):
    """The Kubernetes API server could not be reached; the action will be retried."""

    transient = True


class Conflict(RetryableError):
    """Another change to the same object happened at the same time; the action will be retried."""

    transient = True


class Throttled(RetryableError):
    """The Kubernetes API server asked us to slow down; the action will be retried."""

    transient = True


class StillProgressing(RetryableError):
    """The store did not become ready in time but nothing says it cannot; the action will be retried."""


class ChartRejected(PermanentError):
    """The store chart rejected the values it was given."""


class StoreNotReady(PermanentError):
    """The store's workloads cannot become ready."""


class NotFound(PermanentError):
    """The requested object does not exist."""


class NotManaged(PermanentError):
    """The namespace is not managed by Storeplane, so Storeplane refuses to change it."""


# Helm prints Go error chains; the first matching rule decides. Order matters: a timeout message
# often also contains a resource name, and "connection refused" can appear inside a longer chain.
_HELM_RULES: list[tuple[re.Pattern[str], type[StoreplaneError]]] = [
    (
        re.compile(
            r"connection refused|no such host|i/o timeout|tls handshake timeout|connection reset"
            r"|kubernetes cluster unreachable|server is currently unable to handle|etcdserver"
            r"|http2: client connection lost|eof$",
            re.I | re.M,
        ),
        ClusterUnreachable,
    ),
    (re.compile(r"another operation \(install/upgrade/rollback\) is in progress", re.I), Conflict),
    (re.compile(r"the object has been modified|operation cannot be fulfilled", re.I), Conflict),
    (re.compile(r"exceeded quota", re.I), StoreNotReady),
    (re.compile(r"violates podsecurity", re.I), StoreNotReady),
    (
        re.compile(r"context deadline exceeded|timed out waiting|not ready|timeout", re.I),
        StillProgressing,
    ),
    (re.compile(r"release: not found|not found", re.I), NotFound),
    (
        re.compile(
            r"execution error|failed to render|parse error|schema|is invalid"
            r"|unable to build kubernetes objects|chart requires kubeversion|error converting yaml",
            re.I,
        ),
        ChartRejected,
    ),
]


def helm_failure(action: str, stderr: str) -> StoreplaneError:
    """Classify a failed helm command by what it printed on stderr."""
    detail = _helm_detail(stderr)
    for pattern, cls in _HELM_RULES:
        if pattern.search(stderr):
            return cls(f"helm {action} failed: {detail}")
    # Unknown failures are permanent: retrying an error we do not understand only hides it.
    return PermanentError(f"helm {action} failed: {detail}")


def _helm_detail(stderr: str) -> str:
    """The meaningful part of helm's stderr: from the last `Error:` line to the end (a schema error
    lists each violation on its own line), without helm's log lines; else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Error:")]
    if not starts:
        return lines[-1] if lines else "no output"
    chosen = [line for line in lines[starts[-1] :] if not line.startswith("level=")]
    return " ".join(chosen).removeprefix("Error:").strip()


# Kubernetes API status codes. 409 on update is an optimistic-concurrency conflict; 429/5xx are the
# server asking us to come back; 403 "exceeded quota" is a quota, any other 403 is RBAC.
_RETRYABLE_STATUS = {409: Conflict, 429: Throttled, 500: RetryableError, 502: ClusterUnreachable,
                     503: ClusterUnreachable, 504: ClusterUnreachable}  # fmt: skip


def kube_failure(action: str, exc: Exception) -> StoreplaneError:
    """Classify an exception raised while talking to the Kubernetes API (lightkube/httpx2)."""
    if isinstance(exc, StoreplaneError):
        return exc
    if isinstance(exc, httpx2.HTTPStatusError):
        code = exc.response.status_code
        message = str(exc) or exc.response.reason_phrase
        if code == 403 and "exceeded quota" in message:
            return StoreNotReady(f"{action}: quota exceeded: {message}")
        if code == 404:
            return NotFound(f"{action}: {message}")
        cls = _RETRYABLE_STATUS.get(code, PermanentError)
        return cls(f"{action}: {message} (HTTP {code})")
    if isinstance(exc, httpx2.TransportError | OSError):
        why = f"{type(exc).__name__}: {exc}"
        return ClusterUnreachable(f"{action}: the Kubernetes API server is unreachable ({why})")
    return PermanentError(f"{action}: {type(exc).__name__}: {exc}")
