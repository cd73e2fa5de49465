"""Small manifests for the behaviour tests, as Python dicts so each test states what it varies."""

import json
from typing import Any

RESOURCES = {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}


def container(name: str = "main", resources: dict | None = None, **extra: Any) -> dict[str, Any]:
    spec = {"name": name, "image": "registry.example/app:1.0", **extra}
    if resources is not False:
        spec["resources"] = resources or RESOURCES
    return spec


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container()]}},
        },
    }


def statefulset(name: str, storage: str = "1Gi") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container(volumeMounts=[{"name": "data", "mountPath": "/data"}])]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": storage}},
                    },
                }
            ],
        },
    }


def job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container()]}},
        },
    }


def pod(name: str, **container_extra: Any) -> dict[str, Any]:
    resources = container_extra.pop("resources", None)
    security = container_extra.pop("pod_security", None)
    spec: dict[str, Any] = {"containers": [container(resources=resources, **container_extra)]}
    if security:
        spec["securityContext"] = security
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def as_input(*objects: dict[str, Any]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
