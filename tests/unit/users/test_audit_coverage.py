"""No mutating route can escape the audit log: each one is in AUDITED_ROUTES (a new route that is
not fails here, naming it), and each audited route exists (no stale entries)."""

from __future__ import annotations

from fastapi.routing import iter_route_contexts

from app.audit import AUDITED_ROUTES
from app.main import create_app
from app.settings import Settings

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _routes(tmp_path) -> set[tuple[str, str]]:
    app = create_app(Settings(data_dir=tmp_path, metrics_port=0), run_workers=False)
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if context.path is not None
        for method in context.methods or ()
    }


def test_every_mutating_route_is_audited(tmp_path):
    unaudited = sorted(r for r in _routes(tmp_path) if r[0] in MUTATING and r not in AUDITED_ROUTES)
    assert unaudited == [], f"add these to app.audit.AUDITED_ROUTES: {unaudited}"


def test_every_audited_route_exists(tmp_path):
    missing = sorted(set(AUDITED_ROUTES) - _routes(tmp_path))
    assert missing == []
