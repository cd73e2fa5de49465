"""Memory (DESIGN.md §9): RSS of the API process (`serve --no-workers`) and of a worker process
(`worker`) with 200 stores in the table. Targets: API < 150 MB, worker < 200 MB."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.models import Store
from app.db.users import get_or_create_user
from app.simcluster.processes import free_port
from app.simcluster.session import ensure_cluster
from bench.harness import BENCH_NODES, all_stores, platform_env, rss_mb, running_platform


def fill(database_url: str, count: int) -> None:
    """Ready stores straight into the table: the point is the rows, not provisioning them."""
    engine = make_engine(database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            owner = get_or_create_user(session, "bench", is_admin=True)
            for i in range(count):
                store_id = f"s-mem{i:05d}"
                session.add(
                    Store(
                        id=store_id, name=f"mem-{i}", engine="woocommerce", owner_id=owner.id,
                        status="ready", namespace=f"store-{store_id}", host=f"mem-{i}.localhost",
                    )
                )  # fmt: skip
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=200)
    args = parser.parse_args(argv)
    with (
        ensure_cluster(nodes=BENCH_NODES, reuse=False) as cluster,
        tempfile.TemporaryDirectory(prefix="storeplane-bench-") as tmp,
    ):
        data = Path(tmp)
        url = f"sqlite:///{data / 'storeplane.db'}"
        with running_platform(cluster, data, args=("--no-workers",)) as platform, platform.client() as http:
            fill(url, args.stores)
            for _ in range(50):
                assert len(all_stores(http)) >= args.stores
            print(f"API process (serve --no-workers), {args.stores} stores listed 50 times: "
                  f"{rss_mb(platform.process.pid):.0f} MB RSS (target < 150 MB)")  # fmt: skip
        env = platform_env(cluster, data, free_port())
        worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], env=env)
        try:
            time.sleep(10)  # a few claim polls and one sweep over every store
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with code {worker.returncode}")
            rss = rss_mb(worker.pid)
            print(f"worker process, {args.stores} stores in the table: {rss:.0f} MB RSS (target < 200 MB)")
        finally:
            worker.terminate()
            worker.wait(timeout=60)


if __name__ == "__main__":
    main()
