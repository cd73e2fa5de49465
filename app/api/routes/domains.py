"""/api/v1/stores/{id}/domains: link a domain, check its DNS now, make it primary, remove it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api import domain_service, store_service
from app.api.deps import CurrentUser, FactoryDep, SessionDep, SettingsDep
from app.api.problems import problem_responses
from app.api.schemas import DomainCreate, DomainPublic

router = APIRouter(
    prefix="/stores/{store_id}/domains",
    tags=["domains"],
    responses=problem_responses(400, 401, 404, 409, 422, 429),
)


def _audit(request: Request, domain: str) -> None:
    request.state.audit_detail = {"domain": domain[:253]}


@router.get("", response_model=list[DomainPublic])
def list_(store_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> list[DomainPublic]:
    """The store's addresses: its own host, then the linked domains with their state and DNS records."""
    return domain_service.listing(session, store_service.found(session, user, store_id), settings)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DomainPublic)
def add(
    store_id: str,
    body: DomainCreate,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> DomainPublic:
    """Link a domain: it is pending until its DNS records prove it (see `records`)."""
    _audit(request, body.domain)
    domain = domain_service.add(session, user, settings, store_id, body.domain)
    _audit(request, domain.domain)
    response.headers["Location"] = f"/api/v1/stores/{store_id}/domains/{domain.domain}"
    return domain


@router.get("/{domain}", response_model=DomainPublic)
def read(
    store_id: str, domain: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> DomainPublic:
    return domain_service.read(session, user, settings, store_id, domain)


@router.post("/{domain}/check", response_model=DomainPublic)
async def check(
    store_id: str,
    domain: str,
    request: Request,
    user: CurrentUser,
    factory: FactoryDep,
    settings: SettingsDep,
) -> DomainPublic:
    """Look the DNS records up now; a pending domain is also re-checked on a schedule with back-off."""
    _audit(request, domain)
    return await domain_service.check_now(factory, user, settings, store_id, domain)


@router.post("/{domain}/primary", status_code=status.HTTP_202_ACCEPTED, response_model=DomainPublic)
def make_primary(
    store_id: str,
    domain: str,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> DomainPublic:
    """Serve this address (a verified domain or the store's own host) as primary: a store action;
    `primary` turns true once it has been applied."""
    _audit(request, domain)
    host = domain_service.make_primary(session, user, settings, store_id, domain)
    return domain_service.read(session, user, settings, store_id, host)


@router.delete(
    "/{domain}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DomainPublic,
    responses={204: {"description": "Removed: the domain is free at once"}},
)
def remove(
    store_id: str,
    domain: str,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> DomainPublic | Response:
    """Unlink a domain. Not served yet: 204, free at once. Served: 202, `removing` until the store
    action that stops serving it has run; then it is free."""
    _audit(request, domain)
    removed = domain_service.remove(session, user, settings, store_id, domain)
    if removed is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return removed
