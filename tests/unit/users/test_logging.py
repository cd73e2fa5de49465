"""JSON log lines carry the request id, from the HTTP request into work it starts."""

import asyncio
import io
import json
import logging

import httpx
import pytest
from fastapi import FastAPI

from app.logging import (
    JsonFormatter,
    RequestIdMiddleware,
    accept_request_id,
    bound_request_id,
    configure_logging,
    current_request_id,
)


@pytest.fixture
def lines():
    stream = io.StringIO()
    handler = configure_logging("INFO", stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


def test_a_line_is_one_json_object_with_the_request_id_and_extra_fields(lines):
    with bound_request_id("abc"):
        logging.getLogger("storeplane.test").warning("store %s failed", "s-1", extra={"store_id": "s-1"})
    [line] = [entry for entry in lines() if entry["logger"] == "storeplane.test"]
    assert line["message"] == "store s-1 failed" and line["level"] == "warning"
    assert line["request_id"] == "abc" and line["store_id"] == "s-1"
    assert line["time"].endswith("+00:00")


def test_exceptions_are_kept_inside_the_json_line():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None)
    try:
        raise RuntimeError("inner")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert "RuntimeError: inner" in line["exception"]


def test_only_plain_short_request_ids_are_accepted():
    assert accept_request_id("req-1.A_b") == "req-1.A_b"
    for bad in (None, "", "x" * 65, "has space", "new\nline", '"quoted"'):
        replaced = accept_request_id(bad)
        assert replaced != bad and len(replaced) == 16


async def test_the_request_id_reaches_tasks_the_request_starts_and_is_echoed(lines):
    seen: dict[str, str | None] = {}
    app = FastAPI()
    app.add_middleware(RequestIdMiddleware)

    async def job() -> None:  # like the embedded worker: a task started while handling the request
        seen["job"] = current_request_id()
        logging.getLogger("storeplane.job").info("job step")

    @app.post("/stores")
    async def create() -> dict:
        seen["handler"] = current_request_id()
        await asyncio.create_task(job())
        return {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        given = await client.post("/stores?secret=shh", headers={"x-request-id": "from-client"})
        assert given.headers["x-request-id"] == "from-client" == seen["handler"] == seen["job"]
        fresh = await client.post("/stores", headers={"x-request-id": "bad id"})
    assert fresh.headers["x-request-id"] != "bad id" and len(fresh.headers["x-request-id"]) == 16
    assert seen["job"] == fresh.headers["x-request-id"]
    job_lines = [line for line in lines() if line["logger"] == "storeplane.job"]
    assert [line["request_id"] for line in job_lines] == ["from-client", fresh.headers["x-request-id"]]
    access = [line for line in lines() if line["logger"] == "storeplane.access"]
    assert access[0]["status"] == 200 and access[0]["path"] == "/stores"
    assert "shh" not in json.dumps(access)  # the query string stays out of the log
    assert current_request_id() is None


def test_a_token_that_reaches_a_log_line_is_redacted_keeping_its_prefix(lines):
    from app.auth.tokens import issue_token

    token = issue_token().plaintext
    logging.getLogger("storeplane.test").warning("GET /x?token=%s", token, extra={"url": f"/y/{token}"})
    [line] = [entry for entry in lines() if entry["logger"] == "storeplane.test"]
    assert token not in json.dumps(line)
    assert line["message"] == f"GET /x?token={token[:7]}…[redacted]"
    assert line["url"] == f"/y/{token[:7]}…[redacted]"
