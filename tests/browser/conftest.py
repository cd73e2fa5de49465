"""Browser fixtures: Storeplane served by uvicorn on 127.0.0.1 (workers off, SQLite), and Debian's
chromium driven by Playwright. No browser is ever downloaded: the system chromium is used."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from app.main import create_app
from app.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_PASSWORD = "browser-Rooster-passw0rd"


@dataclass
class Site:
    url: str
    settings: Settings


async def _cluster_is_up() -> None:
    return None


async def _no_simulated_cluster() -> bool:
    return False


@contextmanager
def serve(settings: Settings, *, workers: bool = False) -> Iterator[Site]:
    """Storeplane under uvicorn on a free port of 127.0.0.1, in a thread; stopped on exit."""
    # Without workers there is no cluster behind the site: it is up, and not the simulated one.
    app = create_app(
        settings,
        run_workers=workers,
        cluster_ping=None if workers else _cluster_is_up,
        cluster_simulated=None if workers else _no_simulated_cluster,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, proxy_headers=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 30 s")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Site(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=60)  # embedded workers get their shutdown grace


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'storeplane.db'}",
        admin_password=ADMIN_PASSWORD,
        metrics_port=0,
        embedded_workers=False,
    )
    with serve(settings) as running:
        yield running


# Module scope, not session: Playwright's sync API keeps an event loop running in the main thread
# while it is open, and pytest-asyncio cannot run async tests of later modules under it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
