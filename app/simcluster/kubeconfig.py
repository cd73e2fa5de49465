"""The admin kubeconfig, with certificates inlined so the file stands alone."""

import base64
from pathlib import Path

import yaml

from app.simcluster.pki import Pki

CONTEXT = "storeplane-sim"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, pki: Pki, apiserver_port: int) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {
                    "server": f"https://127.0.0.1:{apiserver_port}",
                    "certificate-authority-data": _b64(pki.ca_cert),
                },
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": _b64(pki.admin_cert),
                    "client-key-data": _b64(pki.admin_key),
                },
            }
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": "admin"}}],
        "current-context": CONTEXT,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
