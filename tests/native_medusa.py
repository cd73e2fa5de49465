"""The Medusa store run natively: Debian's PostgreSQL and the same application as the image
(images/medusa) on the machine's Node.js, with the npm packages from the per-machine cache that
`make medusa-deps` fills (tools/medusa-deps.sh). Used by tests/native, the browser purchase test
and bench/, so one harness starts the store the same way everywhere.

The store runs like its container: NODE_ENV=production, HOME in a scratch directory (Medusa's
telemetry settings and swc's binding cache land there, as they land on /tmp in the pod), telemetry
off, and the admin dashboard served at /app from the admin build `make medusa-deps` caches (the
image's `medusa build --admin-only`, linked in as ./public/admin where `medusa start` looks).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
APP_SOURCE = ROOT / "images" / "medusa"
ORDER_TEST = ROOT / "store-chart" / "files" / "medusa" / "order-test.mjs"
# What the image copies besides node_modules (images/medusa/Dockerfile): the same files run here.
APP_FILES = (
    "package.json",
    "package-lock.json",
    "medusa-config.ts",
    "tsconfig.json",
    "src",
    "scripts",
    "storefront",
)
ADMIN_EMAIL = "admin@shop.localhost"


class NativeStoreError(RuntimeError):
    """The native store could not be prepared or started; the message says what and how to fix it."""


def _cache_path(flag: str) -> Path:
    out = subprocess.run(
        ["bash", str(ROOT / "tools" / "medusa-deps.sh"), flag], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise NativeStoreError(f"tools/medusa-deps.sh {flag} failed: {out.stderr.strip()}")
    return Path(out.stdout.strip())


def deps_dir() -> Path:
    """The cached node_modules for the current lockfile (tools/medusa-deps.sh decides the path)."""
    path = _cache_path("--dir")
    if not (path / ".complete").is_file():
        raise NativeStoreError(f"the Medusa npm packages are not installed at {path}: run `make medusa-deps`")
    return path


def admin_dir() -> Path:
    """The cached admin dashboard build for the current lockfile and medusa-config.ts."""
    path = _cache_path("--admin-dir")
    if not (path / "index.html").is_file():
        raise NativeStoreError(f"the Medusa admin is not built at {path}: run `make medusa-deps`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Run:
    """One finished process: its exit code, combined output and how long it took."""

    returncode: int
    output: str
    seconds: float


@dataclass
class OrderResult:
    id: str
    display_id: int
    status: str
    run: Run


@dataclass
class NativeMedusa:
    url: str
    app_dir: Path
    env: dict[str, str]
    admin_password: str
    process: subprocess.Popen[bytes]
    log: Path
    # The timings the fixture measured on its way up (bench/ prints them).
    timings: dict[str, float] = field(default_factory=dict)
    setup_runs: list[Run] = field(default_factory=list)
    started_marker: float = 0.0

    def setup(self, *args: str, **env: str) -> Run:
        """Runs scripts/setup.sh (the chart's set-up Job command) with the store's environment."""
        return run(["sh", "scripts/setup.sh", *args], cwd=self.app_dir, env=self.env | env, limit=600)

    def order_test(self, **env: str) -> Run:
        """Runs the chart's order-test script (what `helm test` runs) against this store."""
        order_env = {
            "STORE_URL": self.url,
            "ADMIN_EMAIL": ADMIN_EMAIL,
            "ADMIN_PASSWORD": self.admin_password,
            "REQUEST_TIMEOUT": "60",
            "PATH": os.environ["PATH"],
        } | env
        return run(["node", str(ORDER_TEST)], cwd=self.app_dir, env=order_env, limit=300)

    def place_order(self) -> OrderResult:
        done = self.order_test()
        if done.returncode != 0:
            raise AssertionError(f"order test failed:\n{done.output}")
        result = next(line for line in done.output.splitlines() if line.startswith("RESULT "))
        data = json.loads(result.removeprefix("RESULT "))
        return OrderResult(data["id"], data["display_id"], data["status"], done)

    def admin_token(self) -> str:
        r = httpx.post(
            f"{self.url}/auth/user/emailpass",
            json={"email": ADMIN_EMAIL, "password": self.admin_password},
            timeout=60,
        )
        r.raise_for_status()
        return r.json()["token"]

    def admin_order(self, order_id: str) -> dict:
        """The order as the admin API shows it (GET /admin/orders/{id})."""
        r = httpx.get(
            f"{self.url}/admin/orders/{order_id}",
            params={"fields": "id,display_id,email,status,payment_status,total,*items"},
            headers={"Authorization": f"Bearer {self.admin_token()}"},
            timeout=60,
        )
        r.raise_for_status()
        return r.json()["order"]

    def rss_bytes(self) -> int:
        """Resident memory of the Medusa server process (one process: no cluster mode)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise NativeStoreError("VmRSS missing from /proc status")


def run(argv: list[str], *, cwd: Path, env: dict[str, str], limit: float) -> Run:
    start = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=limit, check=False)
    return Run(done.returncode, done.stdout + done.stderr, time.monotonic() - start)


def _database(admin_url: str) -> str:
    """A fresh database on the PostgreSQL server of `admin_url`; returns its URL."""
    name = f"medusa_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # our own hex name
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _prepare_app(root: Path) -> Path:
    app = root / "app"
    app.mkdir()
    for name in APP_FILES:
        source = APP_SOURCE / name
        if source.is_dir():
            shutil.copytree(source, app / name)
        else:
            shutil.copy2(source, app / name)
    (app / "node_modules").symlink_to(deps_dir() / "node_modules")
    (app / "public").mkdir()
    (app / "public" / "admin").symlink_to(admin_dir())
    return app


def store_environment(database_url: str, url: str, home: Path, admin_password: str) -> dict[str, str]:
    """What the chart's Deployment and set-up Job set, with values of our own (never the Secret's)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "NODE_ENV": "production",
        "MEDUSA_DISABLE_TELEMETRY": "true",
        "DATABASE_URL": database_url,
        "JWT_SECRET": secrets.token_urlsafe(32),
        "COOKIE_SECRET": secrets.token_urlsafe(32),
        "STORE_ORIGINS": url,
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": admin_password,
        "STORE_TITLE": "Native Medusa shop",
        "STORE_CURRENCY": "usd",
        "STORE_COUNTRIES": "us,ca",
        "PRODUCT_TITLE": "Storeplane T-shirt",
        "PRODUCT_HANDLE": "storeplane-tshirt",
        "PRODUCT_SKU": "storeplane-tshirt",
        "PRODUCT_PRICE": "19.99",
        "PRODUCT_STOCK": "100",
        "SHIPPING_OPTION_NAME": "Standard shipping",
        "SHIPPING_PRICE": "5",
        "WAIT_SECONDS": "30",
    }


def _wait_healthy(store: NativeMedusa, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if store.process.poll() is not None:
            raise NativeStoreError(f"medusa start exited {store.process.returncode}:\n{_tail(store.log)}")
        with suppress(httpx.HTTPError):
            if httpx.get(f"{store.url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise NativeStoreError(f"medusa start did not answer /health within {limit:.0f} s:\n{_tail(store.log)}")


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # SIGTERM is Medusa's graceful shutdown (commands/start.js), as the kubelet sends it.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def running_native_medusa(postgres_admin_url: str) -> Iterator[NativeMedusa]:
    """Set up the store twice (idempotency), start it and yield it; stopped and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="storeplane-medusa-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        app = _prepare_app(root)
        marker = time.time()  # after the copy: anything newer under app/ or node_modules/ is a write
        # Telemetry off in the CLI's settings as well as by MEDUSA_DISABLE_TELEMETRY: no detached
        # sender process is forked at all (it would send nothing, but outlive the store).
        (root / "home" / ".config" / "medusa").mkdir(parents=True)
        (root / "home" / ".config" / "medusa" / "config.json").write_text('{"telemetry": {"enabled": false}}')
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        password = secrets.token_urlsafe(24)
        env = store_environment(_database(postgres_admin_url), url, root / "home", password)
        log = root / "medusa.log"
        store = NativeMedusa(url, app, env, password, None, log, started_marker=marker)  # type: ignore[arg-type]
        for attempt in ("setup_first", "setup_second"):
            done = store.setup()
            store.setup_runs.append(done)
            store.timings[attempt] = done.seconds
            if done.returncode != 0:
                raise NativeStoreError(f"scripts/setup.sh ({attempt}) failed:\n{done.output[-4000:]}")
        start = time.monotonic()
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["node_modules/.bin/medusa", "start", "-H", "127.0.0.1", "-p", str(port)],
                cwd=app,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stopping it stops anything it forked
            )
        store.process = process
        _wait_healthy(store, limit=180)
        store.timings["start"] = time.monotonic() - start
        yield store
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)
