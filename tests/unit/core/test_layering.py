"""The layering the brief keeps: web code (API routes, dashboard pages) reaches stores only through
the service functions and jobs — never Helm, the cluster, or the store tables directly."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[3] / "app"
WEB = sorted([*APP.glob("pages/*.py"), *APP.glob("api/routes/*.py")])
# Modules that act on the cluster or Helm; web code asks for a job instead.
FORBIDDEN_MODULES = ("app.helm", "app.kube", "app.reconcile", "lightkube", "pyhelm3")
STORE_TABLES = {"Store", "StoreDomain", "StoreEvent", "Job"}


def _imported_modules(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
    return found


@pytest.mark.parametrize("path", WEB, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_web_code_reaches_stores_only_through_the_services(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for module in _imported_modules(tree):
        assert not module.startswith(FORBIDDEN_MODULES), f"{path.name} imports {module}"
    # Selecting from a store table is the services' job: a page that does it would skip their rules.
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "select":
            used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & STORE_TABLES
            assert not used, f"{path.name} selects from {sorted(used)} itself (line {node.lineno})"


def test_the_layering_check_sees_the_web_modules():
    names = {p.name for p in WEB}
    assert {"stores.py", "fleet.py", "domains.py"} <= names and len(WEB) >= 10
