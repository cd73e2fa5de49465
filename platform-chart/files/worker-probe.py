"""Probes of the worker, which has no HTTP port: `ready` and `alive` (exit 0 = pass).

ready: the database answers SELECT 1 and the Kubernetes API answers (what the API's /readyz checks).
alive: PID 1 (the worker) is neither stopped nor a zombie. A hung event loop is NOT detected; a
       health port or heartbeat file in `python -m app worker` would be needed for that.
"""

import asyncio
import sys
from pathlib import Path


def ready() -> int:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from app.db.engine import make_engine
    from app.errors import StoreplaneError
    from app.kube import get_kube
    from app.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The driver's first line says what failed (host, port, refusal); never the URL's password.
        why = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"not ready: database: {type(exc).__name__}: {why}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    try:
        asyncio.run(get_kube(settings).ping())
    except StoreplaneError as exc:
        print(f"not ready: kubernetes: {type(exc).__name__}: {exc.message}", file=sys.stderr)
        return 1
    return 0


def alive() -> int:
    # /proc/1/stat: "pid (comm) state ..."; comm may contain spaces, so split after the last ')'.
    state = Path("/proc/1/stat").read_text().rsplit(")", 1)[1].split()[0]
    if state in {"T", "t", "Z", "X"}:
        print(f"worker process state is {state!r} (stopped, traced, zombie or dead)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    modes = {"ready": ready, "alive": alive}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        print("usage: worker-probe.py ready|alive", file=sys.stderr)
        sys.exit(2)
    sys.exit(modes[sys.argv[1]]())
