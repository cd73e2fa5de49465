"""The release workflow (.github/workflows/release.yml), checked by actionlint (syntax, expressions,
action inputs, and shellcheck on every `run:` script) and read for what it must publish. It cannot
run here (no GitHub, no Docker engine): docs/operations.md §7 says how its first run is checked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.unit.platform.platform_render import ROOT
from tests.unit.platform.tools import tool

WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE = yaml.safe_load((WORKFLOWS / "release.yml").read_text())


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    done = subprocess.run(
        [str(tool("actionlint")), "-shellcheck", "shellcheck", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_it_runs_on_version_tags_only_with_the_least_permissions() -> None:
    triggers = RELEASE[True]  # YAML 1.1 reads the key `on` as true
    assert triggers == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
    assert RELEASE["permissions"] == {"contents": "read"}
    for name, job in RELEASE["jobs"].items():
        if name in ("images", "charts"):
            assert job["permissions"] == {"contents": "read", "packages": "write"}, name


def test_every_action_is_pinned_by_commit() -> None:
    for job in RELEASE["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_it_builds_the_platform_and_store_images_for_two_architectures() -> None:
    images = RELEASE["jobs"]["images"]
    builds = {entry["name"]: entry for entry in images["strategy"]["matrix"]["include"]}
    assert builds["storeplane"]["file"] == "Dockerfile"
    assert builds["storeplane-medusa"]["file"] == "images/medusa/Dockerfile"
    (build,) = [s for s in images["steps"] if s.get("id") == "build"]
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["push"] is True
    (meta,) = [s for s in images["steps"] if s.get("id") == "meta"]
    assert "ghcr.io/${{ needs.versions.outputs.owner }}/" in meta["with"]["images"]
    assert meta["with"]["flavor"] == "latest=false", "the charts refuse a 'latest' tag"


def test_it_pushes_both_charts_as_oci_artifacts_after_the_images() -> None:
    charts = RELEASE["jobs"]["charts"]
    assert set(charts["needs"]) == {"versions", "images"}
    script = "\n".join(step.get("run", "") for step in charts["steps"])
    assert "helm package platform-chart store-chart" in script
    assert 'helm push "$chart" "oci://ghcr.io/$OWNER/charts"' in script
    assert "helm lint --strict platform-chart" in script


def test_the_tag_check_matches_the_chart_it_reads(tmp_path: Path) -> None:
    """The shell in the first job, run here against the real Chart.yaml with a matching and a wrong tag."""
    (check,) = [s for s in RELEASE["jobs"]["versions"]["steps"] if s.get("id") == "check"]
    chart = yaml.safe_load((ROOT / "platform-chart" / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"], "release tags name one version for chart and image"

    def run(tag: str, output: Path) -> subprocess.CompletedProcess[str]:
        env = {"GITHUB_REF_NAME": tag, "GITHUB_OUTPUT": str(output), "GITHUB_REPOSITORY_OWNER": "StorePlane"}
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", check["run"]],
            cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, check=False,
        )  # fmt: skip

    output = tmp_path / "github-output"
    output.write_text("")
    assert run(f"v{chart['version']}", output).returncode == 0
    assert output.read_text().splitlines() == [f"version={chart['version']}", "owner=storeplane"]
    wrong = run("v9.9.9", output)
    assert wrong.returncode == 1
    expected = f"has version {chart['version']} and appVersion {chart['appVersion']}; set both to 9.9.9"
    assert expected in wrong.stdout
