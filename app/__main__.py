"""`python -m app serve | worker | migrate | probe | tokens create --user NAME [--admin]
| images build [--only platform|medusa] [--load k3d|kind [--cluster NAME]] [--push]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys

from pydantic import ValidationError

from app.settings import get_settings

# Used with fullmatch: "$" alone would accept a trailing newline.
_USER_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Storeplane")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="the API, with embedded workers unless --no-workers")
    serve.add_argument("--no-workers", action="store_true", help="API only (workers run elsewhere)")
    commands.add_parser(
        "worker", help="a worker: claims jobs and runs store actions, plus the sweep and rollouts"
    )
    migrate = commands.add_parser(
        "migrate", help="apply database migrations (or check that a newer schema is compatible)"
    )
    migrate.add_argument(
        "--wait-seconds",
        type=float,
        default=0,
        metavar="N",
        help="wait up to N seconds for the database to accept connections first (default: do not wait)",
    )
    probe = commands.add_parser("probe", help="worker probes: exit 0 when every check named passes")
    probe.add_argument(
        "checks", nargs="+", choices=["ready", "alive"], help="ready: the database; alive: the heartbeat"
    )
    tokens = commands.add_parser("tokens", help="API tokens").add_subparsers(dest="tokens", required=True)
    create = tokens.add_parser("create", help="create a user if needed and print a new API token once")
    create.add_argument("--user", required=True, help="user name (letters, digits, '.', '_', '-')")
    create.add_argument("--admin", action="store_true", help="the user sees every store")
    images = commands.add_parser("images", help="container images").add_subparsers(
        dest="images", required=True
    )
    build = images.add_parser(
        "build",
        help="build the platform and Medusa images, tagged as the charts reference them (needs Docker)",
    )
    build.add_argument(
        "--only", action="append", choices=("platform", "medusa"), help="build only this image"
    )
    build.add_argument(
        "--load", choices=("k3d", "kind"), help="then load the images into this laptop cluster"
    )
    build.add_argument("--cluster", help="the k3d/kind cluster name (default: the tool's own default)")
    build.add_argument("--push", action="store_true", help="push to the images' registry instead of loading")
    args = parser.parse_args(argv)
    try:
        get_settings()
    except ValidationError as exc:
        # One line per bad setting, not a traceback: this is what an operator reads in `kubectl logs`.
        problems = "\n".join(f"  {_setting_name(e['loc'])}{e['msg']}" for e in exc.errors())
        print(f"error: invalid settings:\n{problems}", file=sys.stderr)
        return 2

    if args.command in ("serve", "worker"):  # long-running: before any thread allocates
        from app.memory import limit_arenas

        limit_arenas()
    if args.command == "serve":
        return _serve(workers=not args.no_workers)
    if args.command == "worker":
        return asyncio.run(_worker())
    if args.command == "images":
        return _build_images(args)
    if args.command == "migrate":
        return _migrate(wait_seconds=args.wait_seconds)
    if args.command == "probe":
        from app.probe import run_probes

        return run_probes(get_settings(), args.checks)
    return _create_token(args.user, admin=args.admin)


def _setting_name(location: tuple[object, ...]) -> str:
    return f"STOREPLANE_{'_'.join(str(part) for part in location).upper()}: " if location else ""


def _migrate(*, wait_seconds: float) -> int:
    from app.db.migrate import DatabaseUnavailable, SchemaTooNew, upgrade_to_head, wait_for_database
    from app.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    url = settings.effective_database_url
    try:
        if wait_seconds > 0:
            wait_for_database(url, timeout=wait_seconds)
        outcome = upgrade_to_head(url)
    except (SchemaTooNew, DatabaseUnavailable) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 3
    done = outcome.usable_as_is  # else it migrated, and is now at this image's head
    print(outcome.describe() if done else f"database is at the latest schema ({outcome.head})")
    return 0


def _serve(*, workers: bool) -> int:
    import uvicorn

    from app.logging import configure_logging
    from app.main import create_app

    settings = get_settings()
    configure_logging(settings.log_level)
    # uvicorn turns SIGTERM into a graceful shutdown, which runs the app's lifespan exit: the
    # embedded worker stops claiming and lets running jobs finish (or hands them back).
    uvicorn.run(
        create_app(settings, run_workers=workers),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 10,
        # uvicorn would otherwise rewrite the client address from X-Forwarded-For for 127.0.0.1 peers;
        # app.ratelimit decides which proxies to believe (STOREPLANE_TRUSTED_PROXIES).
        proxy_headers=False,
        server_header=False,
    )
    return 0


async def _worker() -> int:
    from app import metrics
    from app.cluster_status import ClusterStatus, container_loopback_hint, kube_ping
    from app.db.engine import make_engine, make_sessionmaker
    from app.fleet.controller import RolloutController
    from app.jobs.worker import Worker
    from app.logging import configure_logging
    from app.probe import Heartbeat, heartbeat_path
    from app.sweep import Sweeper

    settings = get_settings()
    configure_logging(settings.log_level)
    log = logging.getLogger("storeplane.worker")
    from app.db.migrate import SchemaBehind, SchemaTooNew, verify_schema
    from app.errors import PermanentError

    try:
        await asyncio.to_thread(verify_schema, settings.effective_database_url)
    except (SchemaTooNew, SchemaBehind) as exc:
        log.critical("cannot start: %s", exc.message)
        return 3
    engine = make_engine(settings.effective_database_url, settings)
    factory = make_sessionmaker(engine)
    try:
        # Both load the kubeconfig now: a missing or unreadable one stops the start with its reason.
        worker, sweeper = Worker(factory, settings), Sweeper(factory, settings)
    except PermanentError as exc:
        log.critical("cannot start: %s", exc.message)
        engine.dispose()
        return 2
    from app.auth.wiring import start_metrics_listener, state_counts

    metrics.set_state_source(lambda: state_counts(factory))
    start_metrics_listener(settings)  # this process's job and helm metrics, on its own port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    cluster = ClusterStatus(kube_ping(settings), hint=container_loopback_hint(settings))
    try:
        await asyncio.gather(
            worker.run(stop),
            sweeper.run(stop),
            RolloutController(factory, settings).run(stop),
            cluster.run(stop, interval=30),  # storeplane_kubernetes_api_up of this worker
            Heartbeat(heartbeat_path(settings)).run(stop),  # what `probe alive` reads
        )
    finally:
        engine.dispose()
    return 0


def _build_images(args: argparse.Namespace) -> int:
    from app.images import ImageBuildError, build

    if args.cluster and not args.load:
        print("error: --cluster needs --load k3d|kind", file=sys.stderr)
        return 2
    try:
        built = build(only=args.only or (), load=args.load, cluster_name=args.cluster, push=args.push)
    except ImageBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("built: " + ", ".join(built))
    return 0


def _create_token(name: str, *, admin: bool) -> int:
    from app.db.engine import make_engine, make_sessionmaker, transaction
    from app.db.migrate import upgrade_to_head
    from app.db.users import get_or_create_user, issue_token

    if not _USER_NAME.fullmatch(name):
        print(
            f"error: {name!r} is not a valid user name: 1-63 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit",
            file=sys.stderr,
        )
        return 2
    url = get_settings().effective_database_url
    engine = make_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            upgrade_to_head(url)
        with transaction(make_sessionmaker(engine)) as session:
            user = get_or_create_user(session, name, is_admin=admin)
            token = issue_token(session, user)
            _audit_cli_token(session, user, token, admin=admin)
    finally:
        engine.dispose()
    print(token)  # the only time it is shown: only its hash is stored
    return 0


def _audit_cli_token(session, user, token: str, *, admin: bool) -> None:  # type: ignore[no-untyped-def]
    """A token made at the console is audited like one made over HTTP (actor: the operator, no user)."""
    from sqlalchemy import select

    from app import audit
    from app.auth.tokens import hash_token
    from app.db.models import ApiToken

    token_id = session.execute(
        select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one()
    audit.record(
        session,
        action=audit.Action.TOKEN_CREATE,
        outcome=audit.Outcome.SUCCESS,
        actor=audit.ANONYMOUS,
        client_ip="cli",
        target=f"token:{token_id}",
        detail={"via": "cli", "user_id": user.id, "admin": admin},
        commit=False,  # in the same transaction as the token
    )


if __name__ == "__main__":
    sys.exit(main())
