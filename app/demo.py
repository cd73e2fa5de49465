"""`make demo`: the platform on the embedded default — SQLite and the simulated cluster — or on the
cluster of your $KUBECONFIG when you set one. Runs the API, dashboard and workers in the foreground."""

import os
import secrets
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
    state = control.live_state(layout)
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
    try:
        env = {**os.environ, **_cluster_env()}
    except (StartFailed, BinariesMissing) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    env.setdefault("STOREPLANE_STORE_VALUES_FILE", str(REPO_ROOT / "values" / "stores-local.yaml"))
    if not env.get("STOREPLANE_ADMIN_PASSWORD"):
        env.setdefault("STOREPLANE_ADMIN_PASSWORD_FILE", str(_admin_password_file(settings.data_dir)))
    python = sys.executable
    subprocess.run([python, "-m", "app", "migrate"], env=env, check=True)
    password_from = env.get("STOREPLANE_ADMIN_PASSWORD_FILE", "STOREPLANE_ADMIN_PASSWORD")
    print(f"demo: dashboard at http://{settings.host}:{settings.port}/  ")
    print(f"demo: log in as {settings.admin_username}; the password is in {password_from}")
    print(f"demo: API docs at http://{settings.host}:{settings.port}/docs   Ctrl-C stops the platform")
    try:
        return subprocess.run([python, "-m", "app", "serve"], env=env, check=False).returncode
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
