"""What can go wrong with a domain request, each with the HTTP status and problem slug it answers with.

The API maps every DomainError to problem+json (app/api/problems.py); the dashboard shows the same
sentence inline.
"""

from __future__ import annotations


class DomainError(Exception):
    """The domain request cannot be done now."""

    status = 409
    slug = "domain-conflict"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DomainRefused(DomainError):
    """Not a name a store may link: invalid, an address, a wildcard, local, or the platform's own."""

    status = 422
    slug = "domain-refused"


class DomainExists(DomainError):
    slug = "domain-exists"


class DomainTaken(DomainError):
    """Another store has proven this domain; whose is never said."""

    slug = "domain-taken"


class DomainLimit(DomainError):
    slug = "domain-limit"


class DomainsNotEnabled(DomainError):
    slug = "domains-not-enabled"


class DomainNotFound(DomainError):
    status = 404
    slug = "domain-not-found"


class DomainNotVerified(DomainError):
    slug = "domain-not-verified"
