"""The provisioner's rights inside one store namespace: a RoleBinding of the store-manager ClusterRole.

RBAC cannot grant "everything a store needs, but only in Storeplane's namespaces", so the platform
chart gives the provisioner no store rights cluster-wide. Right after creating a store namespace it
binds the store-manager ClusterRole (STOREPLANE_STORE_ROLE) to itself there; the chart's
ValidatingAdmissionPolicy refuses that binding anywhere else, for any other role or any other subject.
With STOREPLANE_STORE_ROLE empty (admin credentials: the demo, the simulated-cluster tests) nothing
is bound.

Who "itself" is comes from the API server (SelfSubjectReview), so no setting can name someone else.
"""

from __future__ import annotations

import asyncio
import time

from lightkube import ApiError, AsyncClient
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import RoleRef, Subject
from lightkube.resources.authentication_v1 import SelfSubjectReview
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.rbac_authorization_v1 import RoleBinding

from app import errors
from app.kube.client import api_call
from app.kube.namespaces import MANAGED_BY, MANAGER

BINDING_NAME = "storeplane-store-manager"
RBAC_GROUP = "rbac.authorization.k8s.io"
_SA_PREFIX = "system:serviceaccount:"
POLL_SECONDS = 0.2
# The RBAC authorizer reads bindings from an informer: a new one takes effect within moments.
EFFECTIVE_TIMEOUT = 15.0


async def whoami(client: AsyncClient) -> str:
    """The username the API server authenticates this client as."""
    with api_call("ask the Kubernetes API who we are"):
        review = await client.create(SelfSubjectReview())
    user = review.status.userInfo if review.status else None
    if user is None or not user.username:
        raise errors.PermanentError("the Kubernetes API did not say which user the platform runs as")
    return user.username


def service_account_of(username: str) -> Subject:
    """The RBAC subject of a ServiceAccount username (system:serviceaccount:<namespace>:<name>)."""
    parts = username.removeprefix(_SA_PREFIX).split(":")
    if not username.startswith(_SA_PREFIX) or len(parts) != 2 or not all(parts):
        raise errors.PermanentError(
            f"STOREPLANE_STORE_ROLE is set, so the platform must run as a ServiceAccount, but the "
            f"Kubernetes API knows it as {username!r}; unset STOREPLANE_STORE_ROLE with other credentials"
        )
    return Subject(kind="ServiceAccount", name=parts[1], namespace=parts[0])


def store_role_binding(namespace: str, role: str, subject: Subject) -> RoleBinding:
    return RoleBinding(
        metadata=ObjectMeta(name=BINDING_NAME, namespace=namespace, labels={MANAGED_BY: MANAGER}),
        roleRef=RoleRef(apiGroup=RBAC_GROUP, kind="ClusterRole", name=role),
        subjects=[subject],
    )


async def ensure_store_role_binding(
    client: AsyncClient, namespace: str, role: str, *, timeout: float = EFFECTIVE_TIMEOUT
) -> bool:
    """Bind `role` to the provisioner in `namespace` and wait until it is in force; True if created.

    Idempotent: a retried job finds its binding. A binding of that name with another role or subject
    is refused, never changed (roleRef cannot change, and the admission policy forbids other ones).
    """
    subject = service_account_of(await whoami(client))
    wanted = store_role_binding(namespace, role, subject)
    created = True
    with api_call(f"bind {role} in namespace {namespace}"):
        try:
            await client.create(wanted)
        except ApiError as exc:
            if exc.status.code != 409:
                raise
            created = False
            existing = await client.get(RoleBinding, BINDING_NAME, namespace=namespace)
            if existing.roleRef != wanted.roleRef or existing.subjects != wanted.subjects:
                raise errors.NotManaged(
                    f"RoleBinding {namespace}/{BINDING_NAME} exists but does not bind {role} to "
                    f"{subject.namespace}/{subject.name}; remove it or check who created it"
                ) from exc
    await _wait_until_effective(client, namespace, timeout)
    return created


async def _wait_until_effective(client: AsyncClient, namespace: str, timeout: float) -> None:
    """Helm runs next and would fail with 403 until the authorizer has seen the new binding."""
    review = SelfSubjectAccessReview(
        spec=SelfSubjectAccessReviewSpec(
            resourceAttributes=ResourceAttributes(namespace=namespace, verb="create", resource="secrets")
        )
    )
    deadline = time.monotonic() + timeout
    while True:
        with api_call(f"check our rights in namespace {namespace}"):
            answer = await client.create(review)
        if answer.status and answer.status.allowed:
            return
        if time.monotonic() >= deadline:
            raise errors.StillProgressing(
                f"the store-manager binding in {namespace} is not in force after {timeout:.0f}s "
                f"(creating Secrets there is still denied); the action will be retried"
            )
        await asyncio.sleep(POLL_SECONDS)
