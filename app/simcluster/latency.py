"""Latency profiles: make the simulated cluster as slow as a real one, where a real one is slow.

KWOK's stock stages move a pod to Running and Ready the moment it is scheduled and finish a Job's
pod at once; a real cluster pulls images, initialises databases, runs set-up scripts and gives
pods a grace period to stop. The `realistic` profile adds those waits to the same stages, as KWOK
stage delays (uniform between a minimum and a maximum, so stores never march in step), chosen by
what a pod runs (its image, and whether it is a Job's pod, a `helm test` pod or a long-running one).
The numbers and their sources are in docs/simulated-cluster.md; `scale` shrinks them all for tests.
The `fast` profile is the stock behaviour (tests use it by default).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROFILES = ("fast", "realistic")


@dataclass(frozen=True)
class Delay:
    low: float  # seconds
    high: float

    def scaled(self, scale: float) -> dict[str, int]:
        low, high = round(self.low * scale * 1000), round(self.high * scale * 1000)
        return {"durationMilliseconds": low, "jitterDurationMilliseconds": max(high, low)}


# What kind of pod: a Job's pod, a bare pod that runs to completion (a `helm test` pod), or a
# long-running pod of a Deployment or StatefulSet.
# (KWOK's CEL cannot iterate ownerReferences; the Job controller labels its pods instead.)
JOB_POD = "has(self.metadata.labels) && 'batch.kubernetes.io/job-name' in self.metadata.labels"
LONG_RUNNING = "self.spec.restartPolicy == 'Always'"
TEST_POD = f"!({LONG_RUNNING}) && !({JOB_POD})"


def image(pattern: str) -> str:
    """Any container's image matches the RE2 `pattern`."""
    return f"self.spec.containers.exists(c, c.image.matches('{pattern}'))"


@dataclass(frozen=True)
class Rule:
    name: str
    when: str  # CEL over the pod; rules are tried in order, the first that matches applies
    start: Delay  # scheduled → Running (and Ready, for long-running pods): image pull + start-up
    run: Delay | None = None  # Running → Succeeded, for pods that run to completion


# Image names: the official images (`mariadb`, `wordpress:*-apache`, `wordpress:cli-*`, `postgres`)
# and our Medusa store image (its repository name contains `medusa`).
WP_CLI = image("(^|/)wordpress:cli")
REALISTIC_RULES = (
    Rule("mariadb", image("(^|/)mariadb[:@]"), start=Delay(15, 45)),
    Rule("wordpress", f"{image('(^|/)wordpress[:@]')} && !({WP_CLI})", start=Delay(12, 40)),
    Rule("woocommerce-setup", f"{WP_CLI} && {JOB_POD}", start=Delay(3, 10), run=Delay(15, 35)),
    Rule("woocommerce-order-test", f"{WP_CLI} && {TEST_POD}", start=Delay(2, 6), run=Delay(1, 3)),
    Rule("postgres", image("(^|/)postgres[:@]"), start=Delay(8, 25)),
    Rule("medusa-setup", f"{image('medusa')} && {JOB_POD}", start=Delay(10, 40), run=Delay(25, 40)),
    Rule("medusa-order-test", f"{image('medusa')} && {TEST_POD}", start=Delay(2, 6), run=Delay(6, 10)),
    Rule("medusa", image("medusa"), start=Delay(15, 50)),
)
DEFAULT_START, DEFAULT_RUN = Delay(5, 15), Delay(2, 6)
POD_STOP = Delay(1, 5)  # a pod's containers stopping within their grace period
VOLUME_RECLAIM = Delay(1, 3)  # the provisioner deleting a released volume


# A test may give a pod its own run time (stages.yaml); such pods keep it in every profile.
TIMED = "has(self.metadata.annotations) && 'sim.storeplane.io/run-duration' in self.metadata.annotations"


def _selecting(stage: dict[str, Any], name: str, condition: str | None) -> dict:
    out = copy.deepcopy(stage)
    out["metadata"]["name"] = name
    if condition is not None:
        out["spec"].setdefault("selector", {}).setdefault("matchExpressions", []).append(
            {"cel": {"expression": condition}}
        )
    return out


def _with_delay(stage: dict[str, Any], name: str, condition: str | None, delay: Delay, scale: float) -> dict:
    out = _selecting(stage, name, condition)
    out["spec"]["delay"] = delay.scaled(scale)
    return out


def _exclusive(rules: tuple[Rule, ...], index: int) -> str:
    earlier = [f"!({r.when})" for r in rules[:index]]
    return " && ".join([f"({rules[index].when})", *earlier])


def _none_of(rules: tuple[Rule, ...]) -> str:
    return " && ".join(f"!({r.when})" for r in rules)


def realistic_stages(stock: list[dict], ours: list[dict], scale: float) -> list[dict]:
    """The stock and Storeplane stages with the realistic delays added (split per rule)."""
    rules = REALISTIC_RULES
    out: list[dict] = []
    for stage in stock:
        name = stage["metadata"]["name"]
        if name == "pod-ready":
            for i, rule in enumerate(rules):
                out.append(
                    _with_delay(stage, f"pod-ready-{rule.name}", _exclusive(rules, i), rule.start, scale)
                )
            out.append(_with_delay(stage, "pod-ready-other", _none_of(rules), DEFAULT_START, scale))
        elif name == "pod-delete":
            out.append(_with_delay(stage, name, None, POD_STOP, scale))
        elif name == "pv-delete":
            out.append(_with_delay(stage, name, None, VOLUME_RECLAIM, scale))
        else:
            out.append(stage)
    for stage in ours:
        if stage["metadata"]["name"] != "storeplane-pod-succeed":
            out.append(stage)
            continue
        out.append(_selecting(stage, "pod-succeed-timed", TIMED))
        untimed = f"!({TIMED})"
        finishing = [(i, r) for i, r in enumerate(rules) if r.run is not None]
        for i, rule in finishing:
            assert rule.run is not None
            when = f"{_exclusive(rules, i)} && {untimed}"
            out.append(_with_delay(stage, f"pod-succeed-{rule.name}", when, rule.run, scale))
        others = " && ".join([*(f"!({r.when})" for _, r in finishing), untimed])
        out.append(_with_delay(stage, "pod-succeed-other", others, DEFAULT_RUN, scale))
    return out


@dataclass(frozen=True)
class Latency:
    """A profile and a factor applied to all of its delays (tests scale `realistic` down)."""

    profile: str = "fast"
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown latency profile {self.profile!r}; choose one of {', '.join(PROFILES)}")
        if not 0 < self.scale <= 10:
            raise ValueError(f"latency scale must be above 0 and at most 10, not {self.scale}")

    def argv(self) -> list[str]:
        return ["--latency", self.profile, "--latency-scale", str(self.scale)]

    def as_state(self) -> dict[str, Any]:
        return {"profile": self.profile, "scale": self.scale}

    def stage_files(self, stock: Path, ours: Path, directory: Path) -> list[Path]:
        """The KWOK stage configuration files (written into `directory` unless stock)."""
        if self.profile == "fast":
            return [stock, ours]
        load = lambda path: [d for d in yaml.safe_load_all(path.read_text()) if d]  # noqa: E731
        stages = realistic_stages(load(stock), load(ours), self.scale)
        target = directory / f"kwok-stages-{self.profile}.yaml"
        target.write_text(yaml.safe_dump_all(stages, sort_keys=False))
        return [target]
