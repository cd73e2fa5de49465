"""What a deployed revision runs (chart version, engine version, digest of the values applied),
read from Helm's own record of it: one API request, recorded by the job runner when an action
that deploys a revision succeeds (app/fleet/versions.py)."""

from __future__ import annotations

from app.fleet.versions import RunningVersion, running_from_record
from app.reconcile.state import revision_record
from app.reconcile.target import StoreTarget
from app.reconcile.toolkit import Toolkit


async def running_version(t: StoreTarget, kit: Toolkit, revision: int) -> RunningVersion:
    return running_from_record(await revision_record(t, kit, revision), t.engine)
