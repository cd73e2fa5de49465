"""Helm and Kubernetes failures are sorted into retryable and permanent in one place."""

from __future__ import annotations

import httpx2
import pytest

from app import errors


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:6443/version": dial tcp '
            "127.0.0.1:6443: connect: connection refused",
            errors.ClusterUnreachable,
        ),
        (
            "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
            errors.Conflict,
        ),
        (
            'Error: INSTALLATION FAILED: 1 error occurred:\n\t* pods "web" is forbidden: exceeded quota: '
            "compute, requested: requests.cpu=2, used: requests.cpu=0, limited: requests.cpu=1",
            errors.StoreNotReady,
        ),
        ("Error: INSTALLATION FAILED: context deadline exceeded", errors.StillProgressing),
        (
            "Error: UPGRADE FAILED: resource Deployment/store-s-1/web not ready. status: InProgress",
            errors.StillProgressing,
        ),
        (
            "Error: INSTALLATION FAILED: execution error at (store/templates/engine-check.yaml:3:4): "
            "engine medusa is not built yet",
            errors.ChartRejected,
        ),
        (
            "Error: INSTALLATION FAILED: values don't meet the specifications of the schema(s) in the "
            "following chart(s):\nstore:\n- at '/engine': value must be one of 'woocommerce', 'medusa'",
            errors.ChartRejected,
        ),
        ("Error: release: not found", errors.NotFound),
        ("Error: something nobody has seen before", errors.PermanentError),
    ],
)
def test_helm_stderr_is_classified_by_what_it_says(
    stderr: str, expected: type[errors.StoreplaneError]
) -> None:
    failure = errors.helm_failure("install", stderr)
    assert type(failure) is expected
    assert failure.message.startswith("helm install failed: ")


def test_the_last_error_line_of_helm_is_the_message() -> None:
    stderr = "level=WARN msg=whatever\nError: INSTALLATION FAILED: context deadline exceeded\n"
    assert errors.helm_failure("install", stderr).message == (
        "helm install failed: INSTALLATION FAILED: context deadline exceeded"
    )


def _status_error(code: int, message: str) -> httpx2.HTTPStatusError:
    request = httpx2.Request("GET", "https://127.0.0.1:6443/api/v1/namespaces/x")
    response = httpx2.Response(code, request=request, json={"message": message})
    return httpx2.HTTPStatusError(message, request=request, response=response)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            409,
            "the object has been modified; please apply your changes to the latest version",
            errors.Conflict,
        ),
        (429, "too many requests", errors.Throttled),
        (503, "service unavailable", errors.ClusterUnreachable),
        (403, 'pods "web" is forbidden: exceeded quota: compute', errors.StoreNotReady),
        (403, 'namespaces is forbidden: User "provisioner" cannot create resource', errors.PermanentError),
        (404, 'namespaces "store-s-1" not found', errors.NotFound),
        (422, "Namespace is invalid", errors.PermanentError),
    ],
)
def test_kubernetes_status_codes_are_classified(code: int, message: str, expected: type) -> None:
    failure = errors.kube_failure("create namespace", _status_error(code, message))
    assert type(failure) is expected
    assert message in failure.message


def test_a_refused_connection_to_the_api_server_is_retryable() -> None:
    refused = httpx2.ConnectError("[Errno 111] Connection refused")
    failure = errors.kube_failure("list namespaces", refused)
    assert isinstance(failure, errors.RetryableError)
    assert failure.message == (
        "list namespaces: the Kubernetes API server is unreachable"
        " (ConnectError: [Errno 111] Connection refused)"
    )


def test_every_error_has_a_default_sentence_from_its_docstring() -> None:
    assert errors.ClusterUnreachable().message == (
        "The Kubernetes API server could not be reached; the action will be retried."
    )
    assert str(errors.NotManaged()).startswith("The namespace is not managed by Storeplane")


def test_credentials_never_survive_into_a_message() -> None:
    failure = errors.helm_failure(
        "install", "Error: bad header Authorization: Bearer abc.def.ghi password=hunter2"
    )
    assert "abc.def" not in failure.message and "hunter2" not in failure.message
    assert "[redacted]" in failure.message


def test_long_messages_are_capped() -> None:
    assert len(errors.PermanentError("x" * 5000).message) == 600


def test_a_schema_error_keeps_every_violation_it_lists() -> None:
    stderr = (
        "Error: values don't meet the specifications of the schema(s) in the following chart(s):\n"
        "store:\n- at '/quota/pods': got string, want integer\n\n"
    )
    failure = errors.helm_failure("install", stderr)
    assert isinstance(failure, errors.ChartRejected)
    assert failure.message == (
        "helm install failed: values don't meet the specifications of the schema(s)"
        " in the following chart(s): store: - at '/quota/pods': got string, want integer"
    )
