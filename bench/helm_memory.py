"""Memory of one helm process as a worker runs it (the per-helm part of the chart's memory rule,
platform-chart README "Memory"): peak RSS (VmHWM) of `helm upgrade --install --wait` of the store
chart on a fresh namespace, then of an upgrade of the same release (history to read and diff), and
of `helm history`/`helm test`, each read from /proc while the process runs. Linux only."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import time
from pathlib import Path

from app.simcluster.client import ClusterClient
from app.simcluster.session import ensure_cluster
from bench.harness import BENCH_NODES, LOCAL_STORE_VALUES, STORE_CHART

PSA = ["pod-security.kubernetes.io/enforce=restricted"]


def peak_rss_mb(argv: list[str], env: dict[str, str]) -> float:
    """Run argv to completion; its peak resident set (VmHWM) in MB, sampled every 20 ms."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    status = Path(f"/proc/{process.pid}/status")
    peak_kb = 0
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.02)
    _, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {err.decode()[-400:]}")
    return peak_kb / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upgrades", type=int, default=3, help="upgrades after the install (history grows)")
    args = parser.parse_args(argv)
    with ensure_cluster(nodes=BENCH_NODES, reuse=False) as cluster:
        measure(cluster, args.upgrades)


def measure(cluster: ClusterClient, upgrades: int) -> None:
    name = f"mem{secrets.token_hex(3)}"
    namespace = f"bench-{name}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("label", "namespace", namespace, *PSA)
    env = {**os.environ, **cluster.env}
    helm = str(cluster.bin_dir / "helm")
    install = [
        helm, "upgrade", "--install", name, str(STORE_CHART), "-n", namespace,
        "-f", str(LOCAL_STORE_VALUES),
        "--set", f"engine=woocommerce,host={name}.localhost,ingress.className=nginx",
        "--wait=watcher", "--wait-for-jobs", "--timeout", "600s",
    ]  # fmt: skip
    try:
        first = peak_rss_mb(install, env)
        print(f"helm upgrade --install --wait (new release): {first:.0f} MB peak RSS")
        peaks = [peak_rss_mb([*install, "--set", f"storeName=Bench store {i}"], env) for i in range(upgrades)]
        print(f"helm upgrade --wait (revisions 2-{upgrades + 1}): max {max(peaks):.0f} MB peak RSS")
        history = peak_rss_mb([helm, "history", name, "-n", namespace], env)
        print(f"helm history: {history:.0f} MB peak RSS")
        verify = peak_rss_mb([helm, "test", name, "-n", namespace, "--timeout", "300s"], env)
        print(f"helm test: {verify:.0f} MB peak RSS (rule: 100 MB per helm process)")
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")


if __name__ == "__main__":
    main()
