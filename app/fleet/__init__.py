"""Fleet operations (issue 13): what every store runs, rollouts of the current store chart in a
canary and waves, and drift between a store's live objects and its release.

- `versions.py`: what a store runs (chart version, engine version, digest of its values).
- `target.py`: what the platform would deploy now (the current chart and defaults).
- `overview.py`: the fleet in numbers (GET /api/v1/fleet, the Fleet page).
- `rollouts.py`: starting, pausing, resuming and aborting rollouts; `controller.py` moves them on,
  one ordinary upgrade job per store.
- `drift.py`: the comparison of a release's manifest with the live objects (pure);
  `drift_check.py`: the sweep's drift step (reads the cluster through app.kube, records, repairs).
"""
