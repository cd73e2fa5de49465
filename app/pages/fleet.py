"""The Fleet page (admins): what every store runs, who is behind the current store chart, drifted and
pinned stores, and rollouts — start one, watch its waves and stores live, pause, resume, abort.

Thin routes over `app.api.fleet_service` (the API's own functions). The rollout block polls itself
every 2 s while something can change by itself (the job-widget pattern of the stores page), and
stops once the rollout is finished, or paused or halted with nothing in flight.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.api import fleet_service
from app.api.deps import RowId
from app.api.fleet_schemas import FleetPublic, RolloutCreate, RolloutPublic
from app.api.problems import Problem, validation_detail
from app.audit import Outcome
from app.engines import ENGINES
from app.fleet.rollouts import RolloutRefused
from app.pages.render import is_htmx, render
from app.pages.session import PageSession, actor, viewer

router = APIRouter(prefix="/admin/fleet", include_in_schema=False)
ROLLOUT_TARGET = "rollout"  # the id of the rollout block; HTMX sends it as HX-Target


def _admin_only(page: PageSession) -> None:
    if not page.user.is_admin:
        raise Problem(403, "admin-only", "Only an admin may see and change the fleet.")


def _base(page: PageSession, **extra: Any) -> dict[str, Any]:
    return {"user": page.user, "csrf_token": page.csrf, "engines": ENGINES, "form": {}, **extra}


def _current(rollouts: list[RolloutPublic]) -> RolloutPublic | None:
    """The open rollout, else the latest one that is not finished long since (the newest)."""
    return rollouts[0] if rollouts else None


async def _page(request: Request, page: PageSession, *, status_code: int = 200, **extra: Any) -> HTMLResponse:
    state = request.app.state
    found = await run_in_threadpool(fleet_service.overview, state.session_factory, state.settings)
    recent = await run_in_threadpool(lambda: fleet_service.recent(state.session_factory, limit=10))
    latest = _current(recent)
    rollout = None
    if latest is not None:
        rollout = await run_in_threadpool(fleet_service.read, state.session_factory, latest.id)
    context = _base(page, fleet=FleetPublic.of(found), rollout=rollout, recent=recent, **extra)
    return render(request, "pages/fleet.html", context, status_code=status_code)


async def _rollout_block(
    request: Request,
    page: PageSession,
    rollout_id: int | None,
    *,
    error: str = "",
    form: dict[str, Any] | None = None,
    refresh_when_settled: bool = False,
) -> HTMLResponse:
    """The rollout block alone (an HTMX swap): the rollout, or the start form with the error."""
    state = request.app.state
    rollout = None
    if rollout_id is not None:
        rollout = await run_in_threadpool(fleet_service.read, state.session_factory, rollout_id)
    context = _base(page, rollout=rollout, rollout_error=error, form=form or {})
    settled = refresh_when_settled and rollout is not None and rollout.settled
    return render(
        request, "partials/fleet_rollout.html", context, headers={"HX-Refresh": "true"} if settled else None
    )


@router.get("", response_class=HTMLResponse)
async def fleet_page(request: Request) -> HTMLResponse:
    page = await viewer(request)
    _admin_only(page)
    return await _page(request, page)


@router.get("/rollouts/{rollout_id}", response_class=HTMLResponse)
async def rollout(request: Request, rollout_id: RowId) -> HTMLResponse:
    """The block's own poll. Once the rollout settles, the whole page is reloaded (HX-Refresh), so
    the counts and the stores behind, drawn when the page loaded, show where the rollout left them."""
    page = await viewer(request)
    _admin_only(page)
    return await _rollout_block(request, page, rollout_id, refresh_when_settled=is_htmx(request))


@router.get("/new-rollout", response_class=HTMLResponse)
async def new_rollout(request: Request) -> HTMLResponse:
    """The start form in place of a finished rollout."""
    page = await viewer(request)
    _admin_only(page)
    return await _rollout_block(request, page, None)


@router.post("/rollouts", response_class=HTMLResponse)
async def start(
    request: Request,
    scope: Annotated[str, Form()] = "all",
    engine: Annotated[str, Form()] = "",
    stores: Annotated[str, Form()] = "",
    canary: Annotated[str, Form()] = "1",
    wave_size: Annotated[str, Form()] = "5",
    parallelism: Annotated[str, Form()] = "2",
    max_failures: Annotated[str, Form()] = "0",
    helm_test: Annotated[str, Form()] = "",
) -> HTMLResponse:
    page = await actor(request, "/admin/fleet")
    _admin_only(page)
    state = request.app.state
    form = {
        "scope": scope, "engine": engine, "stores": stores, "canary": canary, "wave_size": wave_size,
        "parallelism": parallelism, "max_failures": max_failures, "helm_test": bool(helm_test),
    }  # fmt: skip
    selection: dict[str, Any] = {"all": True}
    if scope == "engine":
        selection = {"engine": engine}
    elif scope == "stores":
        selection = {"stores": stores.replace(",", " ").split()}
    try:
        body = RolloutCreate.model_validate(
            {
                "selection": selection,
                "canary": _number(canary, "canary"),
                "wave_size": _number(wave_size, "wave_size"),
                "parallelism": _number(parallelism, "parallelism"),
                "max_failures": _number(max_failures, "max_failures"),
                "helm_test": bool(helm_test),
            }
        )
        started = await run_in_threadpool(
            fleet_service.start, state.session_factory, page.user, body.plan(), state.settings
        )
    except ValidationError as exc:
        request.state.audit_outcome = Outcome.FAILURE
        return await _rollout_block(request, page, None, error=validation_detail(exc.errors()), form=form)
    except ValueError as exc:
        request.state.audit_outcome = Outcome.FAILURE
        return await _rollout_block(request, page, None, error=str(exc), form=form)
    except RolloutRefused as exc:
        request.state.audit_outcome = Outcome.FAILURE
        return await _rollout_block(request, page, None, error=exc.message, form=form)
    except Problem as exc:  # the chart cannot be read
        request.state.audit_outcome = Outcome.FAILURE
        return await _rollout_block(request, page, None, error=exc.detail, form=form)
    request.state.audit_target = f"rollout:{started.id}"
    return await _rollout_block(request, page, started.id)


def _number(value: str, field: str) -> int:
    typed = value.strip()
    if not typed.isascii() or not typed.isdigit() or len(typed) > 6:
        raise ValueError(f"'{field}' must be a whole number.")
    return int(typed)


async def _change(request: Request, rollout_id: int, verb: str) -> HTMLResponse:
    page = await actor(request, "/admin/fleet")
    _admin_only(page)
    error = ""
    try:
        await run_in_threadpool(fleet_service.change, request.app.state.session_factory, rollout_id, verb)
    except RolloutRefused as exc:
        if exc.status == 404:
            raise Problem(404, exc.slug, exc.message) from exc
        request.state.audit_outcome = Outcome.FAILURE
        error = exc.message
    return await _rollout_block(request, page, rollout_id, error=error)


@router.post("/rollouts/{rollout_id}/pause", response_class=HTMLResponse)
async def pause(request: Request, rollout_id: RowId) -> HTMLResponse:
    return await _change(request, rollout_id, "pause")


@router.post("/rollouts/{rollout_id}/resume", response_class=HTMLResponse)
async def resume(request: Request, rollout_id: RowId) -> HTMLResponse:
    return await _change(request, rollout_id, "resume")


@router.post("/rollouts/{rollout_id}/abort", response_class=HTMLResponse)
async def abort(request: Request, rollout_id: RowId) -> HTMLResponse:
    return await _change(request, rollout_id, "abort")


async def _pin(request: Request, store_id: str, *, pinned: bool, reason: str = "") -> Response:
    page = await actor(request, "/admin/fleet")
    _admin_only(page)
    await run_in_threadpool(
        lambda: fleet_service.set_pin(
            request.app.state.session_factory, store_id, pinned=pinned, reason=reason
        )
    )
    return RedirectResponse("/admin/fleet", status_code=303)  # post/redirect/get


@router.post("/pins/{store_id}", response_class=HTMLResponse)
async def pin(request: Request, store_id: str, reason: Annotated[str, Form()] = "") -> Response:
    return await _pin(request, store_id, pinned=True, reason=reason[:200])


@router.post("/pins/{store_id}/remove", response_class=HTMLResponse)
async def unpin(request: Request, store_id: str) -> Response:
    return await _pin(request, store_id, pinned=False)
