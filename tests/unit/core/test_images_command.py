"""`python -m app images build`: the command lines it runs through python-on-whales (docker buildx)
and for k3d/kind. There is no Docker engine, k3d or kind here, so stand-in executables on PATH
record each command line and refuse any form the real tools would not accept (unknown flags,
missing Dockerfile or context, an image name that is not repository:tag)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.images import ImageBuildError, build, image_specs, load_command
from app.settings import REPO_ROOT

FAKE_DOCKER = r"""#!/usr/bin/env python3
# Stand-in for `docker buildx build`: accepts only the flags app/images.py may use, checks that the
# context and Dockerfile exist, prints build output like buildx (to stderr), logs its argv.
import json, os, re, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["docker", *args]) + "\n")
if args[:2] != ["buildx", "build"]:
    sys.exit(f"fake docker: unsupported command {args[:2]}")
rest, flags, context = args[2:], {}, None
while rest:
    a = rest.pop(0)
    if a in ("--load", "--push"):
        flags[a] = True
    elif a in ("--file", "--tag"):
        flags[a] = rest.pop(0)
    elif a.startswith("-"):
        sys.exit(f"fake docker: unknown flag {a}")
    elif context is None:
        context = a
    else:
        sys.exit(f"fake docker: two contexts {context} and {a}")
if not context or not os.path.isdir(context):
    sys.exit(f"fake docker: context {context} is not a directory")
if not os.path.isfile(flags.get("--file", os.path.join(context, "Dockerfile"))):
    sys.exit("fake docker: no Dockerfile")
if not re.fullmatch(r"[a-z0-9./_-]+:[A-Za-z0-9_.-]+", flags.get("--tag", "")):
    sys.exit(f"fake docker: bad tag {flags.get('--tag')}")
if os.environ.get("FAKE_DOCKER_FAIL"):
    print("#5 ERROR: failed to solve", file=sys.stderr)
    sys.exit(1)
print(f"#1 [internal] load build definition from {os.path.basename(flags['--file'])}", file=sys.stderr)
# Like docker: a name without a registry host is Docker Hub's, one with a host stays as it is.
tag = flags["--tag"]
first = tag.split("/", 1)[0]
named = tag if "/" in tag and ("." in first or ":" in first) else f"docker.io/{tag}"
print(f"#9 naming to {named} done", file=sys.stderr)
"""

FAKE_CLUSTER_TOOL = r"""#!/usr/bin/env python3
# Stand-in for k3d (`image import IMAGE --cluster NAME`) and kind (`load docker-image IMAGE --name NAME`).
import json, os, sys
tool, args = os.path.basename(sys.argv[0]), sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps([tool, *args]) + "\n")
expected = {"k3d": (["image", "import"], "--cluster"), "kind": (["load", "docker-image"], "--name")}[tool]
if args[:2] != expected[0] or len(args) != 5 or args[3] != expected[1]:
    sys.exit(f"fake {tool}: unsupported command line {args}")
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "docker", FAKE_DOCKER)
    for tool in ("k3d", "kind"):
        _executable(bin_dir / tool, FAKE_CLUSTER_TOOL)
    log = tmp_path / "calls.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    return log


def calls(log: Path) -> list[list[str]]:
    return [yaml.safe_load(line) for line in log.read_text().splitlines()]


def test_images_are_tagged_as_the_charts_reference_them():
    specs = {s.name: s for s in image_specs()}
    store = yaml.safe_load((REPO_ROOT / "store-chart" / "values.yaml").read_text())["images"]["medusa"]
    assert (
        specs["medusa"].reference
        == f"{store['repository']}:{store['tag']}"
        == "ghcr.io/storeplane/storeplane-medusa:2.21.2-1"
    )
    assert specs["medusa"].dockerfile == REPO_ROOT / "images" / "medusa" / "Dockerfile"
    assert specs["platform"].reference == "ghcr.io/storeplane/storeplane:0.1.0"  # tag "" -> appVersion
    assert specs["platform"].context == REPO_ROOT


def test_build_and_load_into_k3d_runs_buildx_with_load_then_k3d_image_import(tools: Path):
    lines: list[str] = []
    built = build(load="k3d", say=lines.append)
    assert built == ["ghcr.io/storeplane/storeplane:0.1.0", "ghcr.io/storeplane/storeplane-medusa:2.21.2-1"]
    docker = [c for c in calls(tools) if c[0] == "docker"]
    assert docker == [
        ["docker", "buildx", "build", "--load", "--file", str(REPO_ROOT / "Dockerfile"),
         "--tag", "ghcr.io/storeplane/storeplane:0.1.0", str(REPO_ROOT)],
        ["docker", "buildx", "build", "--load", "--file", str(REPO_ROOT / "images/medusa/Dockerfile"),
         "--tag", "ghcr.io/storeplane/storeplane-medusa:2.21.2-1", str(REPO_ROOT / "images/medusa")],
    ]  # fmt: skip
    assert [c for c in calls(tools) if c[0] == "k3d"] == [
        ["k3d", "image", "import", "ghcr.io/storeplane/storeplane:0.1.0", "--cluster", "k3s-default"],
        [
            "k3d",
            "image",
            "import",
            "ghcr.io/storeplane/storeplane-medusa:2.21.2-1",
            "--cluster",
            "k3s-default",
        ],
    ]
    assert any("naming to ghcr.io/storeplane/storeplane-medusa:2.21.2-1 done" in line for line in lines)


def test_only_medusa_into_a_named_kind_cluster(tools: Path):
    build(only=["medusa"], load="kind", cluster_name="stores", say=lambda _: None)
    assert [c[:3] for c in calls(tools)] == [["docker", "buildx", "build"], ["kind", "load", "docker-image"]]
    assert calls(tools)[1] == [
        "kind",
        "load",
        "docker-image",
        "ghcr.io/storeplane/storeplane-medusa:2.21.2-1",
        "--name",
        "stores",
    ]


def test_push_pushes_instead_of_loading(tools: Path):
    build(only=["platform"], push=True, say=lambda _: None)
    (call,) = calls(tools)
    assert "--push" in call and "--load" not in call


def test_a_failed_build_stops_before_loading_and_says_which_image(
    tools: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_DOCKER_FAIL", "1")
    with pytest.raises(
        ImageBuildError, match=r"building ghcr.io/storeplane/storeplane:0.1.0 failed \(exit 1\)"
    ):
        build(load="kind", say=lambda _: None)
    assert [c[0] for c in calls(tools)] == ["docker"]


def test_refusals_name_the_problem(tools: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ImageBuildError, match="not both"):
        build(load="k3d", push=True, say=lambda _: None)
    with pytest.raises(ImageBuildError, match="unknown image"):
        build(only=["wordpress"], say=lambda _: None)
    monkeypatch.setenv("PATH", str(tools.parent / "empty"))
    with pytest.raises(ImageBuildError, match="docker is not on PATH"):
        build(only=["medusa"], say=lambda _: None)
    with pytest.raises(ImageBuildError, match="k3d is not on PATH"):
        build(load="k3d", say=lambda _: None)
    assert calls(tools) == []


def test_load_commands_of_each_tool():
    assert load_command("kind", "kind", "a/b:1") == [
        "kind",
        "load",
        "docker-image",
        "a/b:1",
        "--name",
        "kind",
    ]
    with pytest.raises(ValueError, match="unknown cluster tool"):
        load_command("minikube", "x", "a/b:1")


def test_the_cli_prints_what_it_built_and_fails_cleanly(tools: Path):
    env = dict(os.environ)
    argv = ["images", "build", "--only", "medusa", "--load", "k3d", "--cluster", "dev"]
    ok = subprocess.run(
        [sys.executable, "-m", "app", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("built: ghcr.io/storeplane/storeplane-medusa:2.21.2-1")
    assert calls(tools)[-1] == [
        "k3d",
        "image",
        "import",
        "ghcr.io/storeplane/storeplane-medusa:2.21.2-1",
        "--cluster",
        "dev",
    ]
    refused = subprocess.run(
        [sys.executable, "-m", "app", "images", "build", "--cluster", "dev"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "--cluster needs --load" in refused.stderr
