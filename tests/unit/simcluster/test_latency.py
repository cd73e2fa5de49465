"""The realistic latency profile: which KWOK stages it writes and with what delays."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.simcluster.cluster import STAGES
from app.simcluster.latency import REALISTIC_RULES, Latency

STOCK = [
    {"kind": "Stage", "metadata": {"name": n}, "spec": {"resourceRef": {"kind": "Pod"}, "selector": {}}}
    for n in ("node-initialize", "pod-ready", "pod-delete", "pv-delete")
]


def stages(tmp_path: Path, scale: float = 1.0) -> dict[str, dict]:
    stock = tmp_path / "stock.yaml"
    stock.write_text(yaml.safe_dump_all(STOCK))
    (written,) = Latency("realistic", scale).stage_files(stock, STAGES, tmp_path)
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(written.read_text())}


def test_the_fast_profile_is_the_stock_and_storeplane_stages_unchanged(tmp_path: Path) -> None:
    stock = tmp_path / "stock.yaml"
    assert Latency().stage_files(stock, STAGES, tmp_path) == [stock, STAGES]


def test_each_kind_of_pod_gets_its_own_start_delay_and_the_rest_a_default(tmp_path: Path) -> None:
    out = stages(tmp_path)
    assert "pod-ready" not in out  # replaced, so no undelayed stage can win
    mariadb = out["pod-ready-mariadb"]["spec"]
    assert mariadb["delay"] == {"durationMilliseconds": 15000, "jitterDurationMilliseconds": 45000}
    assert "mariadb" in mariadb["selector"]["matchExpressions"][-1]["cel"]["expression"]
    assert out["pod-ready-other"]["spec"]["delay"]["durationMilliseconds"] == 5000
    assert {f"pod-ready-{r.name}" for r in REALISTIC_RULES} <= set(out)


def test_later_rules_exclude_earlier_ones_so_exactly_one_stage_matches_a_pod(tmp_path: Path) -> None:
    out = stages(tmp_path)
    wordpress = out["pod-ready-wordpress"]["spec"]["selector"]["matchExpressions"][-1]["cel"]["expression"]
    assert "!(self.spec.containers.exists(c, c.image.matches('(^|/)mariadb[:@]')))" in wordpress
    other = out["pod-ready-other"]["spec"]["selector"]["matchExpressions"][-1]["cel"]["expression"]
    assert all(f"!({rule.when})" in other for rule in REALISTIC_RULES)


def test_pods_that_run_to_completion_take_their_run_time_and_failures_stay_immediate(tmp_path: Path) -> None:
    out = stages(tmp_path, scale=0.1)
    setup = out["pod-succeed-woocommerce-setup"]["spec"]
    assert setup["delay"] == {"durationMilliseconds": 1500, "jitterDurationMilliseconds": 3500}
    assert "storeplane-pod-succeed" not in out and "storeplane-pod-fail" in out


def test_a_pod_given_its_own_run_time_by_a_test_keeps_it(tmp_path: Path) -> None:
    out = stages(tmp_path)
    timed = out["pod-succeed-timed"]["spec"]
    assert timed["delay"]["durationFrom"]["jq"]["expression"].endswith('["sim.storeplane.io/run-duration"]')
    untimed = out["pod-succeed-woocommerce-setup"]["spec"]["selector"]["matchExpressions"][-1]["cel"]
    assert "!(has(self.metadata.annotations)" in untimed["expression"]


def test_deletion_and_volume_reclaim_take_time_too(tmp_path: Path) -> None:
    out = stages(tmp_path)
    assert out["pod-delete"]["spec"]["delay"]["jitterDurationMilliseconds"] == 5000
    assert out["pv-delete"]["spec"]["delay"]["durationMilliseconds"] == 1000
    assert "delay" not in out["node-initialize"]["spec"]


@pytest.mark.parametrize(("profile", "scale"), [("slow", 1.0), ("realistic", 0.0), ("realistic", 11.0)])
def test_an_unknown_profile_or_a_scale_out_of_range_is_refused(profile: str, scale: float) -> None:
    with pytest.raises(ValueError, match="latency"):
        Latency(profile, scale)
