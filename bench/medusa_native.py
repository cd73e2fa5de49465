"""The Medusa store natively (the `native` test tier's harness, tests/native_medusa.py): how long
the set-up takes (migrations + seed; first run on an empty database, then the idempotent re-run),
`medusa start` until `/health` answers, the first order after start and warm ones (the chart's
order-test script: Store API purchase + admin API check), and the server's memory at rest.
Printed, never asserted. Needs `make medusa-deps`."""

from __future__ import annotations

import argparse
import statistics
import time

from tests.fixtures_db import throwaway_postgres
from tests.native_medusa import running_native_medusa


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench medusa")
    parser.add_argument("--orders", type=int, default=5, help="warm orders after the first")
    args = parser.parse_args(argv)
    wall = time.monotonic()
    with throwaway_postgres() as admin_url, running_native_medusa(admin_url) as store:
        up = time.monotonic() - wall
        time.sleep(5)  # let start-up work settle before reading memory "at rest"
        rest_mb = store.rss_bytes() / 2**20
        first = store.place_order().run.seconds
        warm = [store.place_order().run.seconds for _ in range(args.orders)]
        after_mb = store.rss_bytes() / 2**20
    t = store.timings
    print(f"set-up, first run (migrate + seed, empty database): {t['setup_first']:.1f} s")
    print(f"set-up, second run (idempotent, nothing to do):      {t['setup_second']:.1f} s")
    print(f"medusa start until /health:                          {t['start']:.1f} s")
    print(f"store ready from nothing (database, 2 set-ups, start): {up:.1f} s")
    print(f"first order after start (order-test script):         {first:.1f} s")
    print(f"warm order, median of {len(warm)}:                          {statistics.median(warm):.2f} s")
    print(f"RSS at rest: {rest_mb:.0f} MB; after {1 + len(warm)} orders: {after_mb:.0f} MB")
