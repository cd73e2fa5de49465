"""Objects a fresh simulated cluster needs before it looks like a small real one:
fake nodes for KWOK to manage and a default StorageClass whose claims KWOK binds."""

import json
from typing import Any

NODE_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}
# KWOK's volume stages provision PVs only for this class name (see tools/build.sh).
STORAGE_CLASS = "kwok-volume"


def node(index: int, cpu: str, memory: str, pods: str) -> dict[str, Any]:
    name = f"sim-node-{index}"
    resources = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": dict(NODE_ANNOTATION),
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/worker": "",
                "type": "kwok",
            },
        },
        "status": {"allocatable": resources, "capacity": resources},
    }


def storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "kwok.x-k8s.io/volume",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": True,
    }


def manifest(nodes: int, cpu: str = "16", memory: str = "64Gi", pods: str = "110") -> str:
    items = [node(i, cpu, memory, pods) for i in range(nodes)] + [storage_class()]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
