"""A TLS-terminating reverse proxy in front of a plain-HTTP site, as an ingress controller is: it
keeps the browser's Host header, adds X-Forwarded-Proto: https and X-Forwarded-For, and forwards
over HTTP. A self-signed certificate for 127.0.0.1 (the browser is told to accept it)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.types import Receive, Scope, Send

# Hop-by-hop headers (RFC 9110 §7.6.1) and the length, which the proxy recomputes.
_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade", b"content-length"}


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "proxy.crt", directory / "proxy.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _forwarder(upstream: str):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP]
        client = scope["client"][0] if scope.get("client") else "unknown"
        headers += [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", client.encode())]
        path = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        async with httpx.AsyncClient(base_url=upstream, follow_redirects=False) as http:
            answer = await http.request(
                scope["method"], path.decode("latin-1"), headers=headers, content=body
            )
        out = [(k, v) for k, v in answer.headers.raw if k.lower() not in _HOP]
        out.append((b"content-length", str(len(answer.content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
        await send({"type": "http.response.body", "body": answer.content})

    return app


@contextmanager
def tls_proxy(upstream: str, directory: Path) -> Iterator[str]:
    """Yields the proxy's https:// base URL; stopped on exit."""
    cert, key = _self_signed(directory)
    server = uvicorn.Server(
        uvicorn.Config(
            _forwarder(upstream),
            host="127.0.0.1",
            port=0,
            log_config=None,
            lifespan="off",
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
        )
    )
    thread = threading.Thread(target=server.run, name="tls-proxy", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the TLS proxy did not start within 30 s")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
