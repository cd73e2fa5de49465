"""Opaque page cursors for keyset pagination: a position in a list's order and a direction, nothing else.

A cursor never carries who may see what: every page request re-applies the caller's visibility and
filters, so a hand-made cursor can only move the caller within what they may list anyway. It is
opaque (clients must not build one) so that the order's keys can change without breaking clients
that only follow `next_cursor` / `prev_cursor`; it is not signed because there is nothing to protect.

Shape, before base64url: JSON `[version, list, direction, keys]`, e.g. `[1, "stores", "after",
[1733700000123456, "s-1a2b3c4d5e6f"]]`, timestamps as integer microseconds since the epoch (UTC).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

VERSION = 1
# A cursor this API made is well under this; anything longer is refused before decoding.
MAX_LENGTH = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MICROS = round((datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) / timedelta(microseconds=1))
_MAX_MICROS = round((datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH) / timedelta(microseconds=1))
# Keys a position may hold: a row's timestamp, a string id (at most a store id's 16 characters, or
# an audit target's 200), an integer row id.
Key = datetime | str | int


class Direction(StrEnum):
    AFTER = "after"  # the page that follows the position in the list's order (older)
    BEFORE = "before"  # the page that precedes it (newer)


class BadCursor(ValueError):
    """The cursor is not one this API gave out for this list; start again from the first page."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"The cursor is not valid ({why}); use a next_cursor or prev_cursor from a response "
            "of this list, or leave cursor out to start from the first page."
        )


@dataclass(frozen=True)
class Cursor:
    direction: Direction
    keys: tuple[Key, ...]


def _micros(moment: datetime) -> int:
    return round((moment.astimezone(UTC) - _EPOCH) / timedelta(microseconds=1))


def encode(listing: str, direction: Direction, keys: tuple[Key, ...]) -> str:
    packed = [_micros(k) if isinstance(k, datetime) else k for k in keys]
    raw = json.dumps([VERSION, listing, direction.value, packed], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _key(value: Any, kind: type, index: int) -> Key:
    # bool is an int in Python; a JSON true/false is never a key.
    if kind is datetime:
        if isinstance(value, bool) or not isinstance(value, int) or not _MIN_MICROS <= value <= _MAX_MICROS:
            raise BadCursor(f"key {index + 1} is not a time")
        return _EPOCH + timedelta(microseconds=value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
            raise BadCursor(f"key {index + 1} is not a row id")
        return value
    if not isinstance(value, str) or not 1 <= len(value) <= 200 or not value.isprintable():
        raise BadCursor(f"key {index + 1} is not an id")
    return value


def decode(text: str, listing: str, shape: tuple[type, ...]) -> Cursor:
    """The cursor's direction and keys, typed as `shape` says; BadCursor with the reason otherwise."""
    if len(text) > MAX_LENGTH:
        raise BadCursor(f"longer than {MAX_LENGTH} characters")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadCursor("not a cursor this API writes") from None
    if not isinstance(body, list) or len(body) != 4:
        raise BadCursor("not a cursor this API writes")
    version, made_for, direction, keys = body
    if version != VERSION:
        raise BadCursor("written by another version of the API")
    if made_for != listing:
        raise BadCursor(f"it belongs to another list, not {listing}")
    if direction not in (Direction.AFTER.value, Direction.BEFORE.value):
        raise BadCursor("unknown direction")
    if not isinstance(keys, list) or len(keys) != len(shape):
        raise BadCursor("wrong number of keys")
    typed = tuple(_key(value, kind, i) for i, (value, kind) in enumerate(zip(keys, shape, strict=True)))
    return Cursor(Direction(direction), typed)
