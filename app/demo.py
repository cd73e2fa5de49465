"""`make demo`: the platform on the embedded default — SQLite and the simulated cluster — or on the
cluster of your $KUBECONFIG when you set one. Runs the API, dashboard and workers in the foreground."""

import errno
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from app.settings import REPO_ROOT, get_settings
from app.simcluster import control
from app.simcluster.layout import DEFAULT_ROOT, Layout
from app.simcluster.pins import BinariesMissing, locate_toolset
from app.simcluster.processes import StartFailed


def _cluster_env() -> dict[str, str]:
    """STOREPLANE_* variables pointing at the cluster and helm to use."""
    kubeconfig = os.environ.get("KUBECONFIG", "")
    if kubeconfig:
        print(f"demo: using your cluster from KUBECONFIG={kubeconfig}")
        # Our pinned helm v4 (make demo builds it), whatever helm the PATH holds.
        return {
            "STOREPLANE_KUBECONFIG": kubeconfig,
            "STOREPLANE_HELM_BINARY": str(locate_toolset().path("helm")),
        }
    layout = Layout(DEFAULT_ROOT)
    state = control.healthy_state(layout)  # restarts a component that died, e.g. the apiserver
    if state:
        print(f"demo: reusing the simulated cluster at {state['apiserver']}")
    else:
        print("demo: starting the simulated cluster (make cluster-down stops it)")
        state = control.start_background(layout, nodes=3, apiserver_port=None)
        print(f"demo: simulated cluster ready in {state['startup_seconds']['total']} s")
    return {
        "STOREPLANE_KUBECONFIG": state["kubeconfig"],
        "STOREPLANE_HELM_BINARY": str(Path(state["bin_dir"]) / "helm"),
    }


# How many ports after the default `make demo` tries when the default is taken.
PORTS_TO_TRY = 20


class PortBusy(Exception):
    """The dashboard's port is taken; the message says what to do."""


def port_is_free(host: str, port: int) -> bool:
    """Whether uvicorn could listen on host:port now (it sets SO_REUSEADDR too, so an old
    connection in TIME_WAIT does not count as taken; a listener does)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def choose_port(host: str, port: int, *, fixed: bool) -> int:
    """`port` if free; else, unless the user chose it (STOREPLANE_PORT), the next free one."""
    if port_is_free(host, port):
        return port
    if fixed:
        raise PortBusy(
            f"port {port} on {host} is already in use (another program, or a demo still running); "
            "stop it or set STOREPLANE_PORT to a free port"
        )
    for candidate in range(port + 1, min(port + 1 + PORTS_TO_TRY, 65536)):
        if port_is_free(host, candidate):
            return candidate
    raise PortBusy(
        f"ports {port} to {port + PORTS_TO_TRY} on {host} are all in use; set STOREPLANE_PORT to a free port"
    )


def _admin_password_file(data_dir: Path) -> Path:
    """A random first-admin password kept in a 0600 file: never a default, never printed."""
    path = data_dir / "admin-password"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(18) + "\n")
    return path


def main() -> int:
    settings = get_settings()
    # Before the cluster starts and before any URL is printed: a taken port is said plainly.
    try:
        port = choose_port(settings.host, settings.port, fixed="STOREPLANE_PORT" in os.environ)
    except PortBusy as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    if port != settings.port:
        print(f"demo: port {settings.port} is in use; using {port} instead")
    try:
        env = {**os.environ, **_cluster_env()}
    except (StartFailed, BinariesMissing) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    env["STOREPLANE_PORT"] = str(port)
    env.setdefault("STOREPLANE_STORE_VALUES_FILE", str(REPO_ROOT / "values" / "stores-local.yaml"))
    if not env.get("STOREPLANE_ADMIN_PASSWORD"):
        env.setdefault("STOREPLANE_ADMIN_PASSWORD_FILE", str(_admin_password_file(settings.data_dir)))
    python = sys.executable
    subprocess.run([python, "-m", "app", "migrate"], env=env, check=True)
    password_from = env.get("STOREPLANE_ADMIN_PASSWORD_FILE", "STOREPLANE_ADMIN_PASSWORD")
    print(f"demo: dashboard at http://{settings.host}:{port}/  ")
    print(f"demo: log in as {settings.admin_username}; the password is in {password_from}")
    print(f"demo: API docs at http://{settings.host}:{port}/docs   Ctrl-C stops the platform")
    try:
        return subprocess.run([python, "-m", "app", "serve"], env=env, check=False).returncode
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
