"""`python -m app images build [--load k3d|kind]`: build the images the charts reference and, for a
laptop cluster, load them into it.

Two images are ours: the platform (`Dockerfile` at the repository root; platform-chart `image`) and
the Medusa store (`images/medusa/Dockerfile`; store-chart `images.medusa`). Each is tagged exactly as
its chart's default values name it, so a chart installed with its defaults runs what was built.
WooCommerce runs upstream images only. Docker is driven through python-on-whales (`docker buildx
build --load`); k3d and kind have no python-on-whales wrapper, so `k3d image import` and `kind load
docker-image` are run as processes. This is the only module that imports python_on_whales.

Not runnable on the machines this repository is developed and tested on (no Docker engine): the
unit tests run this code against stand-in `docker`, `k3d` and `kind` executables and check the
command lines it produces.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from python_on_whales import DockerClient
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException

from app.settings import REPO_ROOT

CLUSTERS = ("k3d", "kind")
DEFAULT_CLUSTER_NAME = {"k3d": "k3s-default", "kind": "kind"}  # each tool's own default


class ImageBuildError(Exception):
    """A build or load step failed; the message says which and why."""


@dataclass(frozen=True)
class ImageSpec:
    name: str  # "platform" | "medusa"
    context: Path
    dockerfile: Path
    reference: str  # repository:tag, as the chart's defaults name it


def _chart_values(chart: str) -> dict:
    return yaml.safe_load((REPO_ROOT / chart / "values.yaml").read_text())


def _chart_app_version(chart: str) -> str:
    return str(yaml.safe_load((REPO_ROOT / chart / "Chart.yaml").read_text())["appVersion"])


def image_specs(root: Path = REPO_ROOT) -> list[ImageSpec]:
    """The images to build, tagged as the charts' default values reference them."""
    platform = _chart_values("platform-chart")["image"]
    platform_tag = platform.get("tag") or _chart_app_version("platform-chart")
    medusa = _chart_values("store-chart")["images"]["medusa"]
    return [
        ImageSpec("platform", root, root / "Dockerfile", f"{platform['repository']}:{platform_tag}"),
        ImageSpec(
            "medusa",
            root / "images" / "medusa",
            root / "images" / "medusa" / "Dockerfile",
            f"{medusa['repository']}:{medusa['tag']}",
        ),
    ]


def load_command(cluster: str, cluster_name: str, reference: str) -> list[str]:
    """The command that copies a local image into the nodes of a k3d or kind cluster."""
    if cluster == "k3d":
        return ["k3d", "image", "import", reference, "--cluster", cluster_name]
    if cluster == "kind":
        return ["kind", "load", "docker-image", reference, "--name", cluster_name]
    raise ValueError(f"unknown cluster tool {cluster!r}; choose one of: {', '.join(CLUSTERS)}")


def build(
    *,
    only: Sequence[str] = (),
    load: str | None = None,
    cluster_name: str | None = None,
    push: bool = False,
    docker: DockerClient | None = None,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Build the images (all, or those named in `only`), then load them into a k3d/kind cluster or
    push them to their registry. Returns the image references built."""
    specs = [s for s in image_specs() if not only or s.name in only]
    unknown = set(only) - {s.name for s in image_specs()}
    if unknown:
        raise ImageBuildError(f"unknown image {sorted(unknown)}; choose from platform, medusa")
    if load and push:
        raise ImageBuildError("choose --load (a laptop cluster) or --push (a registry), not both")
    if load and shutil.which(load) is None:
        raise ImageBuildError(f"{load} is not on PATH: install it, or build without --load")
    docker = docker or DockerClient()
    built = []
    for spec in specs:
        say(f"building {spec.name}: {spec.reference} from {spec.dockerfile.relative_to(spec.context.parent)}")
        try:
            for line in docker.buildx.build(
                spec.context,
                file=spec.dockerfile,
                tags=[spec.reference],
                load=not push,
                push=push,
                stream_logs=True,
            ):
                say(line.rstrip("\n"))
        except ClientNotFoundError as exc:
            raise ImageBuildError("docker is not on PATH: images are built with Docker (buildx)") from exc
        except DockerException as exc:
            raise ImageBuildError(f"building {spec.reference} failed (exit {exc.return_code})") from exc
        built.append(spec.reference)
    if load:
        name = cluster_name or DEFAULT_CLUSTER_NAME[load]
        for reference in built:
            argv = load_command(load, name, reference)
            say("loading: " + " ".join(argv))
            done = subprocess.run(argv, check=False)
            if done.returncode != 0:
                raise ImageBuildError(f"`{' '.join(argv)}` failed (exit {done.returncode})")
    return built
