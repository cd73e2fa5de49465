"""Command lines of the control-plane components, all bound to 127.0.0.1."""

from dataclasses import dataclass
from pathlib import Path

from app.simcluster.pins import Toolset
from app.simcluster.pki import Pki

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok_server: int
    kwok_node: int


def etcd(tools: Toolset, data_dir: Path, ports: Ports) -> list[str]:
    client = f"http://127.0.0.1:{ports.etcd_client}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(tools.path("etcd")),
        "--name=sim",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=sim={peer}",
        "--listen-metrics-urls=",
        # A test cluster trades durability for speed: a crash loses the cluster anyway.
        "--unsafe-no-fsync=true",
        # Keep a few minutes of history, not every revision ever written: long benchmarks (1,000
        # stores, Helm's release Secrets rewritten on every action) should measure the platform,
        # not an etcd that grows without bound.
        "--auto-compaction-mode=periodic",
        "--auto-compaction-retention=5m",
        "--log-level=warn",
    ]


def apiserver(tools: Toolset, pki: Pki, ports: Ports) -> list[str]:
    return [
        str(tools.path("kube-apiserver")),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        # The `kubernetes` Service endpoint may not be a loopback address; nothing in-cluster dials it.
        "--endpoint-reconciler-type=none",
        f"--secure-port={ports.apiserver}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.sa_public}",
        f"--service-account-signing-key-file={pki.sa_private}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--profiling=false",
        f"--cert-dir={pki.directory}",
        # Default admission plugins stay on: ResourceQuota, LimitRanger, ServiceAccount,
        # DefaultStorageClass, PodSecurity and ValidatingAdmissionPolicy are what we test against.
    ]


def controller_manager(tools: Toolset, pki: Pki, kubeconfig: Path, ports: Ports) -> list[str]:
    return [
        str(tools.path("kube-controller-manager")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.controller_manager}",
        f"--cert-dir={pki.directory / 'controller-manager'}",
        f"--service-account-private-key-file={pki.sa_private}",
        f"--root-ca-file={pki.ca_cert}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--use-service-account-credentials=false",
        "--controllers=*",
        # KWOK acknowledges deletions instantly; no reason to wait the default 5 s between syncs.
        "--concurrent-namespace-syncs=10",
    ]


def scheduler(tools: Toolset, pki: Pki, kubeconfig: Path, ports: Ports) -> list[str]:
    return [
        str(tools.path("kube-scheduler")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.scheduler}",
        f"--cert-dir={pki.directory / 'scheduler'}",
    ]


def kwok(tools: Toolset, kubeconfig: Path, stage_files: list[Path], ports: Ports) -> list[str]:
    return [
        str(tools.path("kwok")),
        f"--kubeconfig={kubeconfig}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--server-address=127.0.0.1:{ports.kwok_server}",
        f"--node-port={ports.kwok_node}",
        "--node-ip=127.0.0.1",
        f"--cidr={POD_CIDR}",
        "--node-lease-duration-seconds=40",
        *[f"--config={path}" for path in stage_files],
    ]
