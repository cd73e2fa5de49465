"""The signed session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) and CSRF checks."""

import stat
import time

import httpx
import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse

from app.auth.csrf import CsrfError, verify_csrf
from app.auth.sessions import (
    SESSION_COOKIE,
    SessionCodec,
    SessionData,
    cookie_secure,
    load_session_secret,
    set_session_cookie,
)
from app.auth.settings import UsersSettings
from app.ratelimit import parse_networks

SECRET = "s" * 40


def test_a_session_round_trips_and_login_rotates_the_csrf_token():
    codec = SessionCodec(SECRET, max_age_seconds=60)
    anonymous = SessionData()
    logged_in = anonymous.logged_in_as(7, 0)
    assert logged_in.user_id == 7 and logged_in.csrf != anonymous.csrf
    assert codec.decode(codec.encode(logged_in)) == logged_in


def test_a_tampered_foreign_or_expired_cookie_is_no_session(monkeypatch):
    codec = SessionCodec(SECRET, max_age_seconds=60)
    cookie = codec.encode(SessionData(user_id=7))
    assert codec.decode(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]) is None
    assert SessionCodec("t" * 40, 60).decode(cookie) is None
    assert codec.decode("garbage") is None and codec.decode(None) is None
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    assert codec.decode(cookie) is None


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="at least 32 characters"):
        SessionCodec("short", 60)


def _cookie_app(settings: UsersSettings) -> FastAPI:
    app = FastAPI()
    trusted = parse_networks(settings.trusted_proxies)

    @app.get("/set")
    async def set_cookie(request: Request) -> JSONResponse:
        response = JSONResponse({})
        secure = cookie_secure(request, settings, trusted)
        set_session_cookie(response, "value", max_age=60, secure=secure)
        return response

    return app


async def _set_cookie_header(app: FastAPI, url: str, peer: str = "203.0.113.1", **headers: str) -> str:
    transport = httpx.ASGITransport(app=app, client=(peer, 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return (await client.get(url, headers=headers)).headers["set-cookie"]


async def test_the_cookie_is_httponly_lax_and_secure_only_over_https():
    app = _cookie_app(UsersSettings(trusted_proxies=["10.0.0.0/8"]))
    plain = await _set_cookie_header(app, "http://t/set")
    assert f"{SESSION_COOKIE}=value" in plain
    assert "HttpOnly" in plain and "SameSite=lax" in plain and "Secure" not in plain
    assert "Secure" in await _set_cookie_header(app, "https://t/set")
    # X-Forwarded-Proto counts from a trusted proxy only.
    assert "Secure" in await _set_cookie_header(
        app, "http://t/set", "10.0.0.3", **{"x-forwarded-proto": "https"}
    )
    assert "Secure" not in await _set_cookie_header(app, "http://t/set", **{"x-forwarded-proto": "https"})


async def test_cookie_secure_always_overrides_the_scheme():
    assert "Secure" in await _set_cookie_header(
        _cookie_app(UsersSettings(cookie_secure="always")), "http://t/set"
    )


def test_the_generated_session_key_is_private_and_stable(tmp_path):
    settings = UsersSettings()
    first = load_session_secret(settings, tmp_path)
    assert len(first) >= 32
    assert load_session_secret(settings, tmp_path) == first
    assert stat.S_IMODE((tmp_path / "session.key").stat().st_mode) == 0o600


def test_a_configured_session_secret_wins_and_a_missing_file_is_named(tmp_path):
    assert load_session_secret(UsersSettings(session_secret="k" * 40), tmp_path) == "k" * 40
    with pytest.raises(ValueError, match=r"SESSION_SECRET_FILE .*nope cannot be read"):
        load_session_secret(UsersSettings(session_secret_file=str(tmp_path / "nope")), tmp_path)


def _csrf_app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(CsrfError)
    async def refused(_request: Request, exc: CsrfError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.post("/form")
    async def form(request: Request, name: str = Form()) -> dict:
        await verify_csrf(request, "expected-token")
        return {"name": name}

    @app.post("/htmx")
    async def htmx(request: Request) -> dict:
        await verify_csrf(request, "expected-token")
        return {"ok": True}

    return app


@pytest.mark.parametrize(
    ("path", "kwargs", "status"),
    [
        ("/form", {"data": {"name": "a", "csrf_token": "expected-token"}}, 200),
        ("/form", {"data": {"name": "a", "csrf_token": "wrong"}}, 403),
        ("/form", {"data": {"name": "a"}}, 403),
        ("/htmx", {"headers": {"x-csrf-token": "expected-token"}}, 200),
        ("/htmx", {"headers": {"x-csrf-token": "expected-tokeN"}}, 403),
        ("/htmx", {"json": {"csrf_token": "expected-token"}}, 403),
    ],
)
async def test_unsafe_requests_need_the_session_csrf_token_in_the_form_or_header(path, kwargs, status):
    transport = httpx.ASGITransport(app=_csrf_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(path, **kwargs)
    assert response.status_code == status
    if status == 403:
        assert response.json()["detail"] == "Missing or wrong CSRF token: reload the page and try again."
    elif path == "/form":
        assert response.json() == {"name": "a"}  # the endpoint still reads the form after the check
