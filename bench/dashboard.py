"""The store list and the dashboard at scale (issue 15). Prints, asserts nothing.

`list`: 1,000 stores written straight into a SQLite table (plus a few created through the API) and a
real `python -m app serve --no-workers`: p50/p95 of a page of GET /api/v1/stores (first page, every
page by cursor, filtered, the largest page), of the dashboard page (an administrator's and a user's)
and of one poll of its unsettled rows, with the size of each answer. Targets: list p95 < 50 ms per
page, dashboard page < 150 ms.

`polling`: a burst of stores created through the API with one open dashboard (Debian's chromium),
against `serve` with its embedded worker in this process. The store actions are a stand-in that only
waits (1 to 3 s, the same for each store name in every run), put in at the job runner's boundary: the
numbers are the platform's own (claims, outcome writes, the dashboard's requests), not a cluster's.
Prints the requests per second the dashboard asked and got while rows were unsettled, how long after a
store became Ready its row showed it, and what the open dashboard cost the burst: its duration, the
delay between an action's end and its outcome write, and between a slot freeing and the next claim,
each with and without the dashboard. Run it on an older checkout (it only needs `create_app`, the
worker's `reconcile_actions` and the HTMX dashboard) for the numbers before a change.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

from app.auth import accounts
from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.migrate import upgrade_to_head
from app.db.models import Store
from app.settings import Settings
from app.simcluster.processes import free_port, tail
from bench.harness import percentile, summary
from tests.lifted_limits import LIMITS_LIFTED, as_environment

PASSWORD = "Orchard-Lantern-7-passw0rd"  # noqa: S105 - a throwaway database's bench user
CHROMIUM = "/usr/bin/chromium"


# --- shared -------------------------------------------------------------------------------------


def dead_kubeconfig(path: Path) -> str:
    """A kubeconfig whose API server is a closed port: `serve` starts its sweeper, which then
    finds no cluster (nothing here needs one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return str(path)


def login(http: httpx.Client, name: str) -> None:
    form = http.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None, "no login form"
    r = http.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": csrf.group(1)})
    assert r.status_code == 303, r.text


def timed(http: httpx.Client, path: str, rounds: int) -> tuple[list[float], int]:
    """Milliseconds per request after two warm-up requests, and the size of the last answer."""
    for _ in range(2):
        http.get(path).raise_for_status()
    samples, size = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        r = http.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
        size = len(r.content)
    return samples, size


# --- list: 1,000 stores, a real serve process -----------------------------------------------------


def seed(url: str, count: int) -> str:
    """Users (10 owners and an administrator, who gets an API token) and `count` stores of theirs,
    newest first a second apart, mostly Ready, some Failed, a few still moving. Returns the token."""
    engine = make_engine(url)
    rng = random.Random(15)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            owners = [accounts.create_user(session, name=f"owner{i}", password=PASSWORD) for i in range(10)]
            boss = accounts.create_user(session, name="boss", password=PASSWORD, is_admin=True)
            _, token = accounts.create_token(session, boss, "bench")
            session.flush()
            now = datetime.now(UTC) - timedelta(seconds=5)
            rows = []
            for i in range(count):
                at = now - timedelta(seconds=i)
                status = rng.choices(["ready", "failed", "provisioning", "pending"], [85, 8, 4, 3])[0]
                name = f"{rng.choice(['shop', 'cafe', 'store', 'boutique'])}-{i}"
                rows.append(
                    {
                        "id": f"s-{i:012x}",
                        "owner_id": owners[i % len(owners)].id,
                        "name": name,
                        "engine": rng.choices(["woocommerce", "medusa"], [7, 3])[0],
                        "status": status,
                        "status_reason": "image cannot be pulled: wordpress:nope"
                        if status == "failed"
                        else None,
                        "namespace": f"store-s-{i:012x}",
                        "host": f"{name}.localhost",
                        "helm_revision": 1 if status in ("ready", "failed") else None,
                        "chart_values": {},
                        "created_at": at,
                        "updated_at": at,
                        "ready_at": at + timedelta(seconds=40) if status == "ready" else None,
                    }
                )
            session.execute(insert(Store), rows)
    finally:
        engine.dispose()
    return token


@contextmanager
def serving(url: str, data_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "STOREPLANE_DATABASE_URL": url,
        "STOREPLANE_DATA_DIR": str(data_dir),
        "STOREPLANE_PORT": str(port),
        "STOREPLANE_LOG_LEVEL": "WARNING",
        **as_environment(LIMITS_LIFTED),
    }
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--no-workers"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited {process.returncode}:\n{tail(log)}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve not healthy:\n{tail(log)}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=60)


def list_timings(stores: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="storeplane-bench-list-") as tmp:
        url = f"sqlite:///{tmp}/storeplane.db"
        upgrade_to_head(url)
        token = seed(url, stores)
        with serving(url, Path(tmp)) as base, httpx.Client(base_url=base, timeout=60) as api:
            api.headers["Authorization"] = f"Bearer {token}"
            for i in range(3):  # a few real ones, through the API (Pending: no workers run here)
                api.post(
                    "/api/v1/stores", json={"name": f"real-{i}", "engine": "woocommerce"}
                ).raise_for_status()
            listed = api.get("/api/v1/stores").json()
            paged = isinstance(listed, dict)  # an older checkout answers with every store at once
            total = listed["total"] if paged else len(listed)
            print(f"{total} stores in the table (SQLite), serve --no-workers, {rounds} requests per line")
            rows: list[tuple[str, list[float], int]] = []
            for label, path in (
                ("API first page (50)", "/api/v1/stores"),
                ("API page of 200", "/api/v1/stores?limit=200"),
                ("API status=failed", "/api/v1/stores?status=failed"),
                ("API engine=medusa", "/api/v1/stores?engine=medusa"),
                ("API name_prefix=shop-1", "/api/v1/stores?name_prefix=shop-1"),
                ("API owner=owner3", "/api/v1/stores?owner=owner3"),
            ):
                rows.append((label, *timed(api, path, rounds)))
            walk: list[float] = []
            pages = 0
            for _ in range(max(1, rounds // 10) if paged else 0):
                cursor = ""
                while True:
                    started = time.perf_counter()
                    page = api.get(f"/api/v1/stores{cursor}").raise_for_status().json()
                    walk.append((time.perf_counter() - started) * 1000)
                    pages += 1
                    if page["next_cursor"] is None:
                        break
                    cursor = f"?cursor={page['next_cursor']}"
            if walk:
                rows.append((f"API every page by cursor ({pages} pages)", walk, 0))
            with (
                httpx.Client(base_url=base, timeout=60) as boss,
                httpx.Client(base_url=base, timeout=60) as owner,
            ):
                login(boss, "boss")
                login(owner, "owner3")
                first = boss.get("/").text
                older = re.search(r'<a href="([^"]+)" rel="next"', first)
                rows.append(("dashboard / (administrator)", *timed(boss, "/", rounds)))
                if older is not None:
                    rows.append(
                        ("dashboard second page", *timed(boss, older.group(1).replace("&amp;", "&"), rounds))
                    )
                rows.append(("dashboard / (owner of ~100)", *timed(owner, "/", rounds)))
                watches = re.findall(r'name="watch" value="([^"]+)"', first)
                if watches:
                    query = "&".join(f"watch={w}" for w in watches)
                    rows.append(
                        (
                            f"dashboard poll ({len(watches)} rows)",
                            *timed(boss, f"/stores/changes?wait=2&{query}", rounds),
                        )
                    )
            for label, samples, size in rows:
                kb = f"{size / 1024:6.1f} KB" if size else "        "
                print(f"  {label:42} {kb}  {summary(samples)}")


# --- polling: a burst with one open dashboard ------------------------------------------------------


class WaitingActions:
    """Store actions that only take time: where app.reconcile would drive Helm and wait for the cluster.
    Records when each provision started and ended (wall clock, seconds since the epoch)."""

    def __init__(self, durations: dict[str, float]) -> None:
        self.durations = durations
        self.spans: dict[str, tuple[float, float]] = {}

    async def provision(self, t: Any, *, emit: Any, timeout: float) -> int:  # noqa: ASYNC109
        started = time.time()
        await emit("provision", "bench: waiting as a cluster would")
        await asyncio.sleep(self.durations.get(t.name, 1.0))
        self.spans[t.name] = (started, time.time())
        return 1

    async def upgrade(self, t: Any, *, emit: Any, timeout: float) -> int:  # noqa: ASYNC109
        return await self.provision(t, emit=emit, timeout=timeout)

    async def rollback(self, t: Any, revision: int, *, emit: Any, timeout: float) -> int:  # noqa: ASYNC109
        return await self.provision(t, emit=emit, timeout=timeout)

    async def verify(self, t: Any, *, emit: Any, timeout: float) -> None:  # noqa: ASYNC109
        await self.provision(t, emit=emit, timeout=timeout)

    async def delete(self, t: Any, *, emit: Any, timeout: float) -> None:  # noqa: ASYNC109
        await self.provision(t, emit=emit, timeout=timeout)


# Injected into the page before its own scripts: when HTMX sends and finishes each request, and when
# each row first shows Ready (a MutationObserver on the whole page: rows are swapped, not edited).
PAGE_PROBE = """
window.__probe = {sent: [], done: [], ready: {}, unsettledAtLoad: []};
document.addEventListener('htmx:beforeRequest', () => window.__probe.sent.push(Date.now()));
document.addEventListener('htmx:afterRequest', () => window.__probe.done.push(Date.now()));
const seeReady = () => {
  for (const row of document.querySelectorAll('tr.store-row[data-status=ready]')) {
    if (!(row.id in window.__probe.ready)) window.__probe.ready[row.id] = Date.now();
  }
};
document.addEventListener('DOMContentLoaded', () => {
  for (const row of document.querySelectorAll('tr.store-row')) {
    const settled = row.dataset.status === 'ready' || row.dataset.status === 'failed';
    if (!settled) window.__probe.unsettledAtLoad.push(row.id);
  }
  seeReady();
  new MutationObserver(seeReady).observe(document.body, {subtree: true, childList: true, attributes: true});
});
"""


@dataclass
class BurstResult:
    seconds: float  # first create to the last store Ready
    outcome_ms: list[float]  # an action's end to its store's ready_at (the outcome write)
    handoff_ms: list[float]  # a slot freeing to the next action's start
    asked: int = 0  # HTMX requests the dashboard sent while it watched
    answered: int = 0
    watched_s: float = 0.0
    row_lag_s: list[float] = field(default_factory=list)  # a row showing Ready after its store was
    visible_unsettled: int = 0
    page_codes: dict[int | str, int] = field(default_factory=dict)  # answers to the page traffic, by status


async def _cluster_is_up() -> None:
    return None


class PageTraffic:
    """`clients` logged-in clients without a browser's manners: each asks for the dashboard (a page of
    50 rows, a filtered page, one poll) as soon as its last answer came, until stopped. In a thread."""

    def __init__(self, base: str, cookies: httpx.Cookies, clients: int) -> None:
        self.base, self.cookies, self.clients = base, cookies, clients
        self.codes: dict[int | str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), daemon=True)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.clients)
        async with httpx.AsyncClient(
            base_url=self.base, cookies=self.cookies, timeout=60, limits=limits
        ) as http:

            async def client() -> None:
                paths = ["/", "/?status=pending", "/stores/changes?wait=2"]
                i = 0
                while not self._stop.is_set():
                    try:
                        code: int | str = (await http.get(paths[i % len(paths)])).status_code
                    except httpx.HTTPError as exc:  # counted, not fatal: the server may be stopping
                        code = type(exc).__name__
                    self.codes[code] = self.codes.get(code, 0) + 1
                    i += 1

            await asyncio.gather(*(client() for _ in range(self.clients)))

    def __enter__(self) -> PageTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


def run_burst(
    stores: int, concurrency: int, *, dashboard: bool, browser: Any | None, page_clients: int = 0
) -> BurstResult:
    from app.jobs import worker as worker_module
    from app.main import create_app
    from tests.served import served

    rng = random.Random(200)
    names = [f"burst-{i}" for i in range(stores)]
    actions = WaitingActions({n: rng.uniform(1.0, 3.0) for n in names})
    with tempfile.TemporaryDirectory(prefix="storeplane-bench-burst-") as tmp:
        url = f"sqlite:///{tmp}/storeplane.db"
        upgrade_to_head(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            owner = accounts.create_user(session, name="owner", password=PASSWORD)
            _, token = accounts.create_token(session, owner, "bench")
        settings = Settings(
            data_dir=Path(tmp),
            database_url=url,
            kubeconfig=dead_kubeconfig(Path(tmp) / "kubeconfig"),
            worker_concurrency=concurrency,
            global_concurrency=concurrency,
            poll_seconds=0.2,
            reconcile_interval_seconds=3600,
            **LIMITS_LIFTED,  # type: ignore[arg-type]
        )
        original = worker_module.reconcile_actions
        worker_module.reconcile_actions = lambda _settings: (actions, lambda snapshot: snapshot)  # type: ignore[assignment]
        page = None
        try:
            with served(create_app(settings, run_workers=True, cluster_ping=_cluster_is_up)) as base:
                if dashboard:
                    assert browser is not None
                    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
                    context.add_init_script(PAGE_PROBE)
                    page = context.new_page()
                    page.goto(f"{base}/login")
                    page.fill("input[name=username]", "owner")
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_url(f"{base}/")
                traffic: PageTraffic | None = None
                if page_clients:
                    with httpx.Client(base_url=base, timeout=60) as http:
                        login(http, "owner")
                        traffic = PageTraffic(base, http.cookies, page_clients).__enter__()
                started = time.time()
                try:
                    with httpx.Client(
                        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
                    ) as api:
                        for name in names:
                            api.post(
                                "/api/v1/stores", json={"name": name, "engine": "woocommerce"}
                            ).raise_for_status()
                    opened = time.time()
                    if page is not None:
                        page.goto(f"{base}/")  # the owner opens the dashboard once the burst is under way
                    while True:
                        with transaction(factory) as session:
                            left = session.execute(select(Store.id).where(Store.status != "ready")).first()
                        if left is None:
                            break
                        if page is not None:
                            page.wait_for_timeout(
                                500
                            )  # Playwright's sync API delivers events only in its calls
                        else:
                            time.sleep(0.5)
                finally:
                    if traffic is not None:
                        traffic.__exit__()
                result = _burst_result(factory, actions, concurrency, started)
                if traffic is not None:
                    result.page_codes = dict(sorted(traffic.codes.items(), key=str))
                if page is not None:
                    page.wait_for_timeout(12_000)  # the longest wait, so every visible row can show Ready
                    _dashboard_result(result, page.evaluate("window.__probe"), factory, opened)
                    page.context.close()
        finally:
            worker_module.reconcile_actions = original  # type: ignore[assignment]
            engine.dispose()
    return result


def _burst_result(factory: Any, actions: WaitingActions, slots: int, started: float) -> BurstResult:
    with transaction(factory) as session:
        ready = dict(session.execute(select(Store.name, Store.ready_at)).all())
    outcome = [(ready[n].timestamp() - end) * 1000 for n, (_, end) in actions.spans.items() if ready.get(n)]
    starts = sorted(s for s, _ in actions.spans.values())
    ends = sorted(e for _, e in actions.spans.values())
    # The (slots + i)-th start took the slot the i-th end gave back.
    handoff = [(s - e) * 1000 for s, e in zip(starts[slots:], ends, strict=False)]
    last = max(r.timestamp() for r in ready.values() if r is not None)
    return BurstResult(seconds=last - started, outcome_ms=outcome, handoff_ms=handoff)


def _dashboard_result(result: BurstResult, probe: dict[str, Any], factory: Any, opened: float) -> None:
    with transaction(factory) as session:
        ready = {f"store-{sid}": at for sid, at in session.execute(select(Store.id, Store.ready_at)).all()}
    watched = probe["unsettledAtLoad"]
    result.visible_unsettled = len(watched)
    lags = [probe["ready"][row] / 1000 - ready[row].timestamp() for row in watched if row in probe["ready"]]
    result.row_lag_s = lags
    # The dashboard watched from its load until its last watched row showed Ready.
    end = max((probe["ready"][row] for row in watched if row in probe["ready"]), default=opened * 1000)
    result.asked = sum(1 for t in probe["sent"] if t <= end)
    result.answered = sum(1 for t in probe["done"] if t <= end)
    result.watched_s = max(0.001, end / 1000 - opened)


def _ms(samples: list[float]) -> str:
    if not samples:
        return "n=0"
    p50, p95 = statistics.median(samples), percentile(samples, 95)
    return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(samples):.0f} ms"


def polling(stores: int, concurrency: int, page_clients: int) -> None:
    from playwright.sync_api import sync_playwright

    logging.disable(logging.WARNING)  # the in-process server's INFO lines would drown the numbers
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        try:
            alone = run_burst(stores, concurrency, dashboard=False, browser=None)
            watched = run_burst(stores, concurrency, dashboard=True, browser=browser)
        finally:
            browser.close()
    flooded = run_burst(stores, concurrency, dashboard=False, browser=None, page_clients=page_clients)
    print(f"{stores} stores created through the API at once, worker concurrency {concurrency}, actions 1-3 s")
    runs = (("no dashboard", alone), ("one dashboard", watched), (f"{page_clients} page clients", flooded))
    for label, r in runs:
        print(f"  {label:16} burst {r.seconds:6.1f} s ({(r.seconds / alone.seconds - 1) * 100:+.1f} %)")
        print(f"  {'':16} an action's end to its outcome written: {_ms(r.outcome_ms)}")
        print(f"  {'':16} a slot freeing to the next claim's action: {_ms(r.handoff_ms)}")
    print(f"  page clients were answered: {flooded.page_codes} (status: count)")
    seconds = watched.watched_s
    print(
        f"  dashboard: {watched.visible_unsettled} unsettled rows on its page at load; over {seconds:.1f} s "
        f"it asked {watched.asked / seconds:.1f} req/s and got {watched.answered / seconds:.1f}/s"
    )
    lags = watched.row_lag_s
    if lags:
        print(
            f"  a row showed Ready after its store: p50 {statistics.median(lags):.2f} s, "
            f"p95 {percentile(lags, 95):.2f} s, max {max(lags):.2f} s (n={len(lags)}; target < 5 s)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("part", nargs="*", help="list, polling, or both when none is named")
    parser.add_argument("--stores", type=int, default=1000, help="stores in the table for `list`")
    parser.add_argument("--rounds", type=int, default=100, help="requests per measured path")
    parser.add_argument("--burst", type=int, default=200, help="stores created at once for `polling`")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--page-clients", type=int, default=20, help="clients asking for pages at once")
    args = parser.parse_args(argv)
    args.part = args.part or ["list", "polling"]
    if unknown := set(args.part) - {"list", "polling"}:
        parser.error(f"unknown part {', '.join(sorted(unknown))}: choose list or polling")
    if "list" in args.part:
        list_timings(args.stores, args.rounds)
    if "polling" in args.part:
        polling(args.burst, args.concurrency, args.page_clients)


if __name__ == "__main__":
    main()
