"""The Helm driver: the store actions as helm v4 commands, with typed results and app.errors.

Flags we always pass, and why:
- `upgrade --install`: one idempotent verb for first install and every retry; values on stdin
  (pyhelm3 does `--values -`) so nothing about a store lands in argv, `ps` or logs.
- no `--wait`: helm renders and applies, then exits (Helm 4's default `hookOnly` still waits for
  hook Jobs, which is why the store chart runs its set-up as a plain Job). Waiting for readiness is
  done by app.reconcile.ready without a helm process and without a worker slot; a failed upgrade is
  rolled back by app.reconcile.upgrade, so no `--rollback-on-failure` (it would force a wait).
- `--timeout`: the job runner's remaining budget, so helm gives up before the job's deadline.
- `--history-max`: STOREPLANE_HELM_HISTORY_MAX revisions kept per store (etcd holds each one).
- never `--create-namespace`: app.kube creates the namespace with its labels first.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from pyhelm3 import errors as helm_errors

from app import errors
from app.helm.command import HelmCommand
from app.helm.revision import Revision, parse_time
from app.settings import Settings


def _seconds(timeout: float) -> str:
    return f"{max(1, int(timeout))}s"


def resolve_kubeconfig(settings: Settings) -> Path | None:
    """settings.kubeconfig, else $KUBECONFIG, else None (in-cluster service account)."""
    chosen = settings.kubeconfig or os.environ.get("KUBECONFIG", "")
    return Path(chosen) if chosen else None


class HelmDriver:
    def __init__(self, settings: Settings) -> None:
        binary = settings.helm_binary or shutil.which("helm") or ""
        if not binary or not os.access(binary, os.X_OK):
            raise errors.PermanentError(
                f"helm binary not found ({settings.helm_binary or 'helm on PATH'});"
                " set STOREPLANE_HELM_BINARY"
            )
        # The unlock of stale releases edits Helm's Secret storage, so pin that driver.
        env = {**os.environ, "HELM_DRIVER": "secret"}
        self.command = HelmCommand(
            executable=binary,
            kubeconfig=resolve_kubeconfig(settings),
            kubecontext=settings.kube_context or None,
            history_max_revisions=settings.helm_history_max,
            env=env,
        )

    @property
    def running(self) -> dict[int, list[str]]:
        """helm processes alive right now: pid → argv."""
        return self.command.running

    async def history(self, release: str, namespace: str) -> list[Revision]:
        """Every stored revision, oldest first; empty when the release does not exist."""
        try:
            rows = await self.command.history(release, namespace=namespace)
        except helm_errors.ReleaseNotFoundError:
            return []
        except helm_errors.Error as exc:
            raise _failure("history", exc) from exc
        return sorted(
            (
                Revision(
                    revision=int(row["revision"]),
                    status=str(row.get("status", "unknown")),
                    updated=parse_time(row.get("updated")),
                    chart=str(row.get("chart", "")),
                    app_version=str(row.get("app_version", "")),
                    description=str(row.get("description", "")),
                )
                for row in rows
            ),
            key=lambda r: r.revision,
        )

    async def install_or_upgrade(
        self,
        release: str,
        namespace: str,
        chart: str,
        values: dict[str, Any],
        *,
        timeout: float,
        action: str,
        chart_version: str = "",
        description: str = "",
    ) -> int:
        """`helm upgrade --install` without waiting for readiness; returns the new revision number.
        `action` ("install", "upgrade") only names the step in error messages."""
        try:
            status = await self.command.install_or_upgrade(
                release,
                chart,
                values,
                create_namespace=False,
                description=description or None,
                namespace=namespace,
                timeout=_seconds(timeout),
                version=chart_version or None,
            )
        except helm_errors.Error as exc:
            raise _failure(action, exc) from exc
        except (ValueError, json.JSONDecodeError) as exc:  # helm printed no JSON although it succeeded
            raise errors.PermanentError(f"helm {action} printed unreadable output: {exc}") from exc
        return int(status["version"])

    async def rollback(self, release: str, namespace: str, revision: int, *, timeout: float) -> None:
        """`helm rollback <revision>` (no readiness wait): a new revision with the old one's manifest."""
        try:
            await self.command.rollback(release, revision, namespace=namespace, timeout=_seconds(timeout))
        except helm_errors.Error as exc:
            raise _failure("rollback", exc) from exc

    async def reapply(
        self, release: str, namespace: str, revision: int, *, timeout: float, description: str
    ) -> None:
        """Apply `revision` again as a new revision, overriding hand-made changes to its fields
        (`helm rollback --force-conflicts`, no readiness wait): the repair of a drifted store."""
        try:
            await self.command.reapply(
                release, revision, namespace=namespace, timeout=_seconds(timeout), description=description
            )
        except helm_errors.Error as exc:
            raise _failure("repair", exc) from exc

    async def uninstall(self, release: str, namespace: str, *, timeout: float) -> bool:
        """`helm uninstall` (no wait: the namespace deletion that follows is waited for);
        False when there was no release to uninstall."""
        try:
            await self.command.uninstall(release, namespace=namespace, timeout=_seconds(timeout))
        except helm_errors.ReleaseNotFoundError:
            return False
        except helm_errors.Error as exc:
            raise _failure("uninstall", exc) from exc
        return True

    async def test(self, release: str, namespace: str, *, timeout: float) -> str:
        """`helm test`; returns helm's report (test suite, phases). Why a test failed is read from the
        test pod by app.kube's diagnosis, which also works where logs cannot be streamed."""
        try:
            return await self.command.test(release, namespace=namespace, timeout=_seconds(timeout))
        except helm_errors.Error as exc:
            raise _failure("test", exc) from exc


def _failure(action: str, exc: helm_errors.Error) -> errors.StoreplaneError:
    if exc.returncode < 0:
        # Killed (our cancellation's SIGKILL, OOM killer, an operator): the release may be left
        # pending-*; the next attempt unlocks it, so this is worth retrying.
        return errors.RetryableError(f"helm {action} was killed by signal {-exc.returncode}")
    stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
    return errors.helm_failure(action, stderr)
