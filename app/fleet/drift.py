"""Drift: how a store's live objects differ from its release's manifest, in sentences a person reads.

Pure (mappings in, a report out), so every rule is unit-tested with API-shaped objects. What is
compared, and why only that:
- every object of the manifest must exist (a deleted NetworkPolicy, quota or Deployment);
- workloads (Deployment, StatefulSet, CronJob): replicas, each container's image, resources and
  securityContext, the pod's securityContext, service account and token mount — what decides what
  runs, with how much, and with which rights;
- NetworkPolicies, Services (selector, ports, type), Ingresses: their spec, so a rule added or
  removed by hand is seen;
- ResourceQuota (`spec.hard`, exactly) and LimitRange (`spec.limits`): the guardrails;
- Roles and RoleBindings (rules, subjects, role): RBAC;
- objects of those kinds that are in the namespace but not in the release (a Role, a Deployment, a
  NetworkPolicy someone added) are reported as extras and never deleted: a repair re-applies the
  release, which leaves them alone. Objects created by controllers (they carry ownerReferences),
  the default ServiceAccount and the provisioner's own RoleBinding are not extras.
Fields the API server fills in (defaults such as a port's protocol) are not differences: the live
value must hold what the release says, and may hold more, except where the rule says "exactly"
(quota, resources, selectors) or where a list changes length (a rule added or removed). Quantities
compare by value ("500m" is "0.5", "1Gi" is "1073741824").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

# Kinds read live: True when only their presence is checked (listed as metadata only).
KINDS: dict[str, bool] = {
    "Deployment": False,
    "StatefulSet": False,
    "CronJob": False,
    "Service": False,
    "Ingress": False,
    "NetworkPolicy": False,
    "ResourceQuota": False,
    "LimitRange": False,
    "Role": False,
    "RoleBinding": False,
    "ServiceAccount": False,
    "Job": True,
    "ConfigMap": True,
    "Secret": True,
    "PersistentVolumeClaim": True,
}
# Kinds with rules whose status changes all the time and that have no metadata.generation to tell a
# spec change from it (a quota's usage moves with every pod a cron Job starts): their spec is read,
# and digested, to know whether they changed (drift_check._fingerprint).
SPEC_DIGESTED = frozenset({"ResourceQuota"})
# Kinds whose objects outside the release are reported.
EXTRA_KINDS = frozenset(
    {"Deployment", "StatefulSet", "CronJob", "Service", "Ingress", "NetworkPolicy", "ResourceQuota",
     "LimitRange", "Role", "RoleBinding", "ServiceAccount"}
)  # fmt: skip
# Objects that belong in every store namespace without being part of the release.
NOT_EXTRA = frozenset({("ServiceAccount", "default"), ("RoleBinding", "storeplane-store-manager")})
MAX_PER_OBJECT = 8  # differences listed per object; the rest are counted
EMPTY: tuple[Any, ...] = (None, "", [], {})


@dataclass(frozen=True)
class DriftReport:
    differences: list[str] = field(default_factory=list)  # what a repair restores
    extras: list[str] = field(default_factory=list)  # reported, left in place
    hidden: list[str] = field(default_factory=list)  # kinds these credentials cannot read

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    def as_dict(self, revision: int) -> dict[str, Any]:
        return {"revision": revision, "differences": self.differences, "extras": self.extras}


def compare(
    desired: list[Mapping[str, Any]],
    live: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    hidden: frozenset[str] | set[str] = frozenset(),
) -> DriftReport:
    """`desired`: the manifest's objects; `live`: kind → name → object; `hidden`: kinds not read."""
    differences: list[str] = []
    released: set[tuple[str, str]] = set()
    for doc in desired:
        kind, name = str(doc.get("kind")), str((doc.get("metadata") or {}).get("name"))
        released.add((kind, name))
        if kind not in KINDS or kind in hidden:
            continue
        found = live.get(kind, {}).get(name)
        label = f"{kind.lower()}/{name}"
        if found is None:
            differences.append(f"{label} is missing")
            continue
        rule = RULES.get(kind)
        if rule is not None:
            lines = rule(doc, found)
            differences += [f"{label}: {line}" for line in lines[:MAX_PER_OBJECT]]
            if len(lines) > MAX_PER_OBJECT:
                differences.append(f"{label}: … and {len(lines) - MAX_PER_OBJECT} more differences")
    extras = [
        f"{kind.lower()}/{name} is not part of the release"
        for kind in sorted(EXTRA_KINDS - set(hidden))
        for name, obj in sorted(live.get(kind, {}).items())
        if (kind, name) not in released and (kind, name) not in NOT_EXTRA and not _owned(obj)
    ]
    return DriftReport(differences, extras, sorted(set(hidden) & set(KINDS)))


def _owned(obj: Mapping[str, Any]) -> bool:
    """Made by a controller (a Job's pods, a cert-manager solver…): not something a person added."""
    return bool((obj.get("metadata") or {}).get("ownerReferences"))


# --- rules per kind ------------------------------------------------------------------------------


def _at(obj: Mapping[str, Any], *path: str) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _replicas(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    want, have = _at(desired, "spec", "replicas"), _at(live, "spec", "replicas")
    want = 1 if want is None else want
    have = 1 if have is None else have
    return [] if want == have else [f"spec.replicas is {have}; the release says {want}"]


def _pod(desired: Mapping[str, Any], live: Mapping[str, Any], *path: str) -> list[str]:
    """A pod template: containers (image, resources, securityContext), the pod's own settings."""
    want, have = _at(desired, *path) or {}, _at(live, *path) or {}
    lines = []
    for group in ("initContainers", "containers"):
        wanted = {c.get("name"): c for c in want.get(group) or []}
        present = {c.get("name"): c for c in have.get(group) or []}
        for name, container in wanted.items():
            there = present.get(name)
            if there is None:
                lines.append(f"container {name} is missing")
                continue
            for key in ("image", "resources", "securityContext"):
                found = _exact_diff(container.get(key), there.get(key), key)
                lines += [f"container {name}: {line}" for line in found]
        lines += [f"container {name} is not in the release" for name in present if name not in wanted]
    for key in (
        "securityContext",
        "serviceAccountName",
        "automountServiceAccountToken",
        "hostNetwork",
        "hostPID",
    ):
        judged = key in want or (key in have and have[key] not in EMPTY and have[key] is not False)
        if judged:
            lines += [f"pod {line}" for line in _exact_diff(want.get(key), have.get(key), key)]
    return lines


def _workload(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    return _replicas(desired, live) + _pod(desired, live, "spec", "template", "spec")


def _cronjob(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    lines = _fields(desired, live, ("spec", "schedule"), ("spec", "suspend"))
    return lines + _pod(desired, live, "spec", "jobTemplate", "spec", "template", "spec")


def _fields(desired: Mapping[str, Any], live: Mapping[str, Any], *paths: tuple[str, ...]) -> list[str]:
    """Fields the release sets must hold what it says (the live object may hold more)."""
    lines = []
    for path in paths:
        want = _at(desired, *path)
        if want is None:
            continue
        mismatch = _subset(want, _at(live, *path), ".".join(path))
        if mismatch:
            lines.append(mismatch)
    return lines


def _exact_fields(desired: Mapping[str, Any], live: Mapping[str, Any], *paths: tuple[str, ...]) -> list[str]:
    """These fields must equal the release's exactly (nothing added, nothing taken away)."""
    lines = []
    for path in paths:
        lines += _exact_diff(_at(desired, *path), _at(live, *path), ".".join(path))
    return lines


RULES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]] = {
    "Deployment": _workload,
    "StatefulSet": _workload,
    "CronJob": _cronjob,
    "NetworkPolicy": lambda d, lv: _fields(d, lv, ("spec",)),
    "Service": lambda d, lv: (
        _exact_fields(d, lv, ("spec", "selector")) + _fields(d, lv, ("spec", "ports"), ("spec", "type"))
    ),
    "Ingress": lambda d, lv: _fields(d, lv, ("spec",)),
    "ResourceQuota": lambda d, lv: _exact_fields(d, lv, ("spec", "hard")),
    "LimitRange": lambda d, lv: _fields(d, lv, ("spec", "limits")),
    "Role": lambda d, lv: _fields(d, lv, ("rules",)),
    "RoleBinding": lambda d, lv: _exact_fields(d, lv, ("roleRef",)) + _fields(d, lv, ("subjects",)),
    "ServiceAccount": lambda d, lv: _fields(d, lv, ("automountServiceAccountToken",)),
}


# --- values -----------------------------------------------------------------------------------------


def _subset(want: Any, have: Any, path: str) -> str | None:
    """None when `have` holds everything `want` says; else the first difference, in words."""
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            return (
                None
                if not want and have in EMPTY
                else f"{path} is {_show(have)}; the release says {_show(want)}"
            )
        for key, value in want.items():
            if key not in have:
                if value in EMPTY:
                    continue  # the API server leaves empty values out
                return f"{path}.{key} is not set; the release says {_show(value)}"
            found = _subset(value, have[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(want, list):
        items = have if isinstance(have, list) else []
        if len(items) != len(want):
            return f"{path} has {len(items)} entries; the release has {len(want)}"
        for index, (w, h) in enumerate(zip(want, items, strict=True)):
            found = _subset(w, h, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if _same(want, have) else f"{path} is {_show(have)}; the release says {_show(want)}"


def _exact_diff(want: Any, have: Any, path: str) -> list[str]:
    """Where `have` is not exactly `want`: one line per differing key of a mapping, else one line."""
    if _exactly(want, have):
        return []
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        keys = sorted(
            {str(k) for k, v in want.items() if v not in EMPTY}
            | {str(k) for k, v in have.items() if v not in EMPTY}
        )
        return [line for key in keys for line in _exact_diff(want.get(key), have.get(key), f"{path}.{key}")]
    return [f"{path} is {_show(have)}; the release says {_show(want)}"]


def _exactly(want: Any, have: Any) -> bool:
    """Equal as values: same keys (empty ones ignored), same items, quantities by value."""
    if want in EMPTY and have in EMPTY:
        return True
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        keys = {k for k, v in want.items() if v not in EMPTY} | {k for k, v in have.items() if v not in EMPTY}
        return all(_exactly(want.get(k), have.get(k)) for k in keys)
    if isinstance(want, list) and isinstance(have, list):
        return len(want) == len(have) and all(_exactly(w, h) for w, h in zip(want, have, strict=True))
    return _same(want, have)


def _same(want: Any, have: Any) -> bool:
    if want == have:
        return True
    if isinstance(want, bool) or isinstance(have, bool):
        return False
    a, b = quantity(want), quantity(have)
    return a is not None and a == b


_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}  # fmt: skip


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity ('500m', '1Gi', 2) as a number; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    except InvalidOperation:
        return None


def _show(value: Any) -> str:
    if value in EMPTY:
        return "not set"
    if isinstance(value, str):
        return value
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return shown if len(shown) <= 120 else shown[:117] + "…"
