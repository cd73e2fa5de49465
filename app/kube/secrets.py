"""Read and replace one Secret with optimistic concurrency (used to unlock Helm's release record)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret

from app.kube.client import api_call


@dataclass(frozen=True)
class SecretRecord:
    name: str
    namespace: str
    type: str
    labels: dict[str, str]
    data: dict[str, bytes]  # decoded once (the API's base64 removed)
    resource_version: str


async def read_secret(client: AsyncClient, namespace: str, name: str) -> SecretRecord | None:
    with api_call(f"read secret {namespace}/{name}"):
        try:
            secret = await client.get(Secret, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise
    return _record(namespace, secret)


def _record(namespace: str, secret: Secret) -> SecretRecord:
    return SecretRecord(
        name=secret.metadata.name,
        namespace=namespace,
        type=secret.type or "Opaque",
        labels=dict(secret.metadata.labels or {}),
        data={key: base64.b64decode(value) for key, value in (secret.data or {}).items()},
        resource_version=secret.metadata.resourceVersion or "",
    )


async def list_secrets(client: AsyncClient, namespace: str, labels: dict[str, str]) -> list[SecretRecord]:
    """Secrets of `namespace` with all of `labels` (none when the namespace does not exist)."""
    with api_call(f"list secrets in {namespace}"):
        found = [s async for s in client.list(Secret, namespace=namespace, labels=labels)]
    return [_record(namespace, secret) for secret in found]


async def replace_secret(client: AsyncClient, record: SecretRecord) -> None:
    """Replace the Secret; a concurrent change since `record` was read fails with app.errors.Conflict."""
    secret = Secret(
        metadata=ObjectMeta(
            name=record.name,
            namespace=record.namespace,
            labels=record.labels,
            resourceVersion=record.resource_version,
        ),
        type=record.type,
        data={key: base64.b64encode(value).decode() for key, value in record.data.items()},
    )
    with api_call(f"replace secret {record.namespace}/{record.name}"):
        await client.replace(secret)
