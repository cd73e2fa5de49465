"""The launcher refuses missing binaries and binaries built for other pins, naming the fix."""

import pytest

from app.simcluster import pins
from app.simcluster.pins import BinariesMissing, locate_toolset


def test_pins_are_read_from_an_env_file_ignoring_comments(tmp_path):
    env = tmp_path / "versions.env"
    env.write_text("# comment\nK8S_VERSION=v1.37.2\n\nHELM_VERSION = v4.3.1\n")
    assert pins.read_pins(env) == {"K8S_VERSION": "v1.37.2", "HELM_VERSION": "v4.3.1"}


def test_an_empty_cache_says_to_run_make_tools(tmp_path, monkeypatch):
    monkeypatch.setenv("STOREPLANE_CACHE", str(tmp_path))
    with pytest.raises(BinariesMissing, match="run `make tools`"):
        locate_toolset()


def _fake_bin_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STOREPLANE_CACHE", str(tmp_path))
    import subprocess

    bin_dir = (
        tmp_path
        / subprocess.run(
            ["bash", str(pins.TOOLS_DIR / "build.sh"), "--bin-dir"],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .rsplit("/", 1)[1]
    )
    bin_dir.mkdir()
    return bin_dir


def test_binaries_built_for_other_pins_are_refused_with_the_pins_that_moved(tmp_path, monkeypatch):
    bin_dir = _fake_bin_dir(tmp_path, monkeypatch)
    current = (pins.TOOLS_DIR / "versions.env").read_text()
    (bin_dir / "versions.env").write_text(current.replace("HELM_VERSION=", "HELM_VERSION=v0.0.0-old"))
    with pytest.raises(BinariesMissing, match=r"built for other pins \(HELM_VERSION\)"):
        locate_toolset()


def test_a_missing_binary_is_named(tmp_path, monkeypatch):
    bin_dir = _fake_bin_dir(tmp_path, monkeypatch)
    (bin_dir / "versions.env").write_text((pins.TOOLS_DIR / "versions.env").read_text())
    for name in pins.BINARIES:
        if name != "kwok":
            (bin_dir / name).touch()
    with pytest.raises(BinariesMissing, match=r"missing from .*: kwok"):
        locate_toolset()
