"""A watch-fed index of the store namespaces' objects (metadata, mostly), for the drift sweep.

Why: at 1,000 stores, listing every object of 15 kinds every 30 s is many MB of JSON parsed per
sweep (65 s and 800 MB of RSS in bench thousand). A watch sends only what changed, so a sweep over a
quiet fleet reads nothing from the API server. Per kind: one paged, cluster-wide list of metadata
(PartialObjectMetadataList), then a metadata-only watch from its resourceVersion with bookmarks,
restarted where it ended when the server closes it (every WATCH_SECONDS). Only namespaces of stores
are kept, and of each object only what the sweep reads: its resourceVersion and generation (has it
changed?) and its ownerReferences (made by a controller?). A kind asked for in full (small objects
whose status churns without a generation: quotas) is listed and watched in full, and its spec kept.

- 410 Gone (the version is older than the server keeps): list again.
- 403 (the credentials may not list the kind cluster-wide, as under the platform chart's least
  privilege): the kind is never indexed in this process; the caller lists it per namespace.
- Anything else (the API server restarting, a dropped connection, an unexpected error): logged, and
  the kind is not served until a new list has succeeded, retried with a back-off of 1 to 30 s.
A kind not synced yet is not served either: the caller lists it, so a read is never older than the
watch's own latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import httpx2
from lightkube import ALL_NS, AsyncClient

from app.kube.client import status_code
from app.kube.inventory import RESOURCES, Inventory
from app.kube.json_lists import METADATA_ONLY, list_json

log = logging.getLogger("storeplane.kube.index")

STORE_NAMESPACE_PREFIX = "store-"  # app.db.stores.namespace_for
PAGE = 500  # objects per list page: a few hundred KB of metadata, never the whole cluster at once
WATCH_SECONDS = 240  # the server ends each watch after this long; it is resumed where it ended
_WATCH_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
_BACKOFF = (1.0, 30.0)


class _Expired(Exception):
    """410: the watch's resourceVersion is older than the server keeps; list again."""


class _Forbidden(Exception):
    """403: these credentials may not list or watch the kind cluster-wide."""


class _KindIndex:
    def __init__(self, metadata_only: bool) -> None:
        self.metadata_only = metadata_only  # else full objects are read, and their spec kept
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}  # namespace → name → kept metadata
        self.synced = asyncio.Event()
        self.forbidden = False
        self.task: asyncio.Task[None] | None = None


class ObjectIndex:
    """One per event loop (httpx connections belong to the loop that opened them)."""

    def __init__(self, client: Callable[[], AsyncClient]) -> None:
        self._client = client
        self._kinds: dict[tuple[str, bool], _KindIndex] = {}

    async def read(self, namespaces: Iterable[str], kinds: dict[str, bool], *, wait: float) -> Inventory:
        """These namespaces' objects of the kinds (kind → metadata only?) that are synced within
        `wait` seconds (first use starts the kind's list and watch). `served` names those kinds;
        the caller lists the rest. Of a kind read in full, only its spec is kept (not its status)."""
        indexes = {kind: self._start(kind, metadata_only) for kind, metadata_only in kinds.items()}
        pending = [i.synced.wait() for i in indexes.values() if not i.forbidden and not i.synced.is_set()]
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending), timeout=wait)
        wanted = set(namespaces)
        found = Inventory(objects={ns: {} for ns in wanted})
        for kind, index in indexes.items():
            if index.forbidden or not index.synced.is_set():
                continue
            found.served.add(kind)
            for ns in wanted:
                named = index.objects.get(ns)
                if named:
                    found.objects[ns][kind] = dict(named)
        return found

    async def close(self) -> None:
        tasks = [i.task for i in self._kinds.values() if i.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._kinds.clear()

    def _start(self, kind: str, metadata_only: bool) -> _KindIndex:
        index = self._kinds.get((kind, metadata_only))
        if index is None:
            index = self._kinds[(kind, metadata_only)] = _KindIndex(metadata_only)
            index.task = asyncio.create_task(self._follow(kind, index), name=f"index {kind}")
        return index

    async def _follow(self, kind: str, index: _KindIndex) -> None:
        failures = 0
        while True:
            index.synced.clear()
            try:
                version = await self._list(kind, index)
                index.synced.set()
                failures = 0
                while True:
                    version = await self._watch(kind, index, version)
            except _Expired:
                continue
            except _Forbidden:
                index.forbidden = True
                index.objects.clear()
                log.info("%s objects are not indexed: these credentials may not list them cluster-wide", kind)
                return
            except Exception as exc:
                # Broad on purpose: a follower that died of an unexpected error with `synced` set
                # would serve a frozen index forever; this one stops serving and lists again.
                failures += 1
                pause = min(_BACKOFF[0] * 2 ** (failures - 1), _BACKOFF[1])
                why = f"{type(exc).__name__}: {exc}"
                log.warning("the %s index stopped (%s); listing again in %.0f s", kind, why, pause)
                index.synced.clear()
                await asyncio.sleep(pause)

    async def _list(self, kind: str, index: _KindIndex) -> str:
        """Replace the kind's objects with a fresh paged list; the list's resourceVersion."""
        objects: dict[str, dict[str, dict[str, Any]]] = {}
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            try:
                accept = METADATA_ONLY if index.metadata_only else None
                body = await list_json(
                    self._client(), RESOURCES[kind], namespace=ALL_NS, params=params, accept=accept
                )
            except httpx2.HTTPStatusError as exc:
                _raise_for(status_code(exc))
                raise
            for item in body.get("items") or []:
                _keep(objects, item)
            metadata = body.get("metadata") or {}
            if not metadata.get("continue"):
                index.objects = objects
                return str(metadata.get("resourceVersion", ""))
            params = {"limit": PAGE, "continue": metadata["continue"]}

    async def _watch(self, kind: str, index: _KindIndex, version: str) -> str:
        """Apply the events of one watch; the version to resume from when the server ends it."""
        inner = self._client()._client
        params = {"resourceVersion": version, "allowWatchBookmarks": "true", "timeoutSeconds": WATCH_SECONDS}
        request = inner.prepare_request(
            "list",
            res=RESOURCES[kind],
            namespace=ALL_NS,
            watch=True,
            params=params,
            headers={"Accept": _WATCH_ACCEPT} if index.metadata_only else None,
        )
        request.timeout = httpx2.Timeout(15.0, read=WATCH_SECONDS + 30.0)
        response = await inner.send(inner.build_adapter_request(request), stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                _raise_for(response.status_code)
                inner.raise_for_status(response)
            async for line in response.aiter_lines():
                if line:
                    version = _apply(index.objects, json.loads(line)) or version
        finally:
            await response.aclose()
        return version


def _apply(objects: dict[str, dict[str, dict[str, Any]]], event: dict[str, Any]) -> str | None:
    """One watch event into the index; the resourceVersion it brings (None if it brings none)."""
    kind, obj = event.get("type"), event.get("object") or {}
    if kind == "ERROR":
        code = obj.get("code")
        if code == 410:
            raise _Expired
        raise ValueError(f"watch error {code}: {obj.get('message', '')}")
    metadata = obj.get("metadata") or {}
    if kind in ("ADDED", "MODIFIED"):
        _keep(objects, obj)
    elif kind == "DELETED":
        named = objects.get(metadata.get("namespace", ""))
        if named is not None:
            named.pop(metadata.get("name", ""), None)
            if not named:
                del objects[metadata["namespace"]]
    return metadata.get("resourceVersion")  # BOOKMARK: only this


def _keep(objects: dict[str, dict[str, dict[str, Any]]], item: dict[str, Any]) -> None:
    metadata = item.get("metadata") or {}
    namespace, name = metadata.get("namespace", ""), metadata.get("name")
    if not name or not namespace.startswith(STORE_NAMESPACE_PREFIX):
        return
    kept: dict[str, Any] = {"resourceVersion": metadata.get("resourceVersion", "")}
    for key in ("generation", "ownerReferences"):
        if metadata.get(key):
            kept[key] = metadata[key]
    objects.setdefault(namespace, {})[name] = {"metadata": kept}
    if "spec" in item:  # a kind indexed in full (see ObjectIndex.read): its spec, not its status
        objects[namespace][name]["spec"] = item["spec"]


def _raise_for(code: int | None) -> None:
    if code == 403:
        raise _Forbidden
    if code == 410:
        raise _Expired
