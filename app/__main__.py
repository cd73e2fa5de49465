"""`python -m app serve | worker | migrate | tokens create --user NAME [--admin]`."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys

from app.settings import get_settings

# Used with fullmatch: "$" alone would accept a trailing newline.
_USER_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Storeplane")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="the API, with embedded workers unless --no-workers")
    serve.add_argument("--no-workers", action="store_true", help="API only (workers run elsewhere)")
    commands.add_parser("worker", help="a worker: claims jobs and runs store actions, plus the reconciler")
    commands.add_parser("migrate", help="apply database migrations")
    tokens = commands.add_parser("tokens", help="API tokens").add_subparsers(dest="tokens", required=True)
    create = tokens.add_parser("create", help="create a user if needed and print a new API token once")
    create.add_argument("--user", required=True, help="user name (letters, digits, '.', '_', '-')")
    create.add_argument("--admin", action="store_true", help="the user sees every store")
    args = parser.parse_args(argv)

    if args.command == "serve":
        return _serve(workers=not args.no_workers)
    if args.command == "worker":
        return asyncio.run(_worker())
    if args.command == "migrate":
        from app.db.migrate import upgrade_to_head

        upgrade_to_head(get_settings().effective_database_url)
        print("database is at the latest schema")
        return 0
    return _create_token(args.user, admin=args.admin)


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
    from app.db.engine import make_engine, make_sessionmaker
    from app.jobs.worker import Worker
    from app.logging import configure_logging
    from app.reconciler import Reconciler

    settings = get_settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings.effective_database_url, settings)
    factory = make_sessionmaker(engine)
    from app.auth.wiring import start_metrics_listener, state_counts

    metrics.set_state_source(lambda: state_counts(factory))
    start_metrics_listener(settings)  # this process's job and helm metrics, on its own port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.gather(Worker(factory, settings).run(stop), Reconciler(factory, settings).run(stop))
    finally:
        engine.dispose()
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
