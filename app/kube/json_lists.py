"""List requests answered as plain JSON, not lightkube models: the drift sweep, its watch index and
the sweep's namespace list read thousands of objects, and decoding models costs more than the
request. lightkube's generic client still builds the URL and carries the authentication."""

from __future__ import annotations

import asyncio
from typing import Any

from lightkube import AsyncClient

# Metadata only (names, labels, resourceVersions, owners): a fraction of each object's bytes.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


async def list_json(
    client: AsyncClient,
    resource: Any,
    *,
    namespace: str | None = None,
    params: dict[str, Any] | None = None,
    accept: str | None = METADATA_ONLY,
) -> dict[str, Any]:
    """One list request's body. Raises lightkube's ApiError (an httpx2.HTTPStatusError) on an HTTP
    error status and httpx2 errors on transport failures; callers map them (client.api_call)."""
    inner = client._client
    headers = {"Accept": accept} if accept else None
    request = inner.prepare_request("list", res=resource, namespace=namespace, params=params, headers=headers)
    response = await inner.send(inner.build_adapter_request(request))
    inner.raise_for_status(response)
    # Parsed off the event loop: a list can be MB with many stores, and the loop serves the API too
    # (`serve` with embedded workers).
    return await asyncio.to_thread(response.json)
