"""Starts and stops one simulated cluster: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and KWOK as local processes on free 127.0.0.1 ports."""

import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path

from app.simcluster import bootstrap, components
from app.simcluster.kubeconfig import write_kubeconfig
from app.simcluster.latency import Latency
from app.simcluster.layout import Layout
from app.simcluster.pins import Toolset
from app.simcluster.pki import create_pki
from app.simcluster.processes import ManagedProcess, StartFailed, free_port, http_ok, port_is_free

STAGES = Path(__file__).with_name("stages.yaml")
STARTUP_TIMEOUT = 90.0


class SimCluster:
    def __init__(
        self,
        layout: Layout,
        tools: Toolset,
        nodes: int = 3,
        apiserver_port: int | None = None,
        latency: Latency | None = None,
    ):
        self.layout = layout
        self.latency = latency or Latency()
        self.tools = tools
        self.nodes = nodes
        self.apiserver_port = apiserver_port
        self.processes: list[ManagedProcess] = []
        self.timings: dict[str, float] = {}
        # How to tell each component is serving again after a restart (set as they start).
        self._health: dict[str, tuple[str, object]] = {}

    # -- start -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Brings every component up and waits until the cluster can run workloads.
        On any failure everything started so far is stopped before the error propagates."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _ports(self) -> components.Ports:
        if self.apiserver_port is not None and not port_is_free(self.apiserver_port):
            raise StartFailed(f"port {self.apiserver_port} on 127.0.0.1 is already in use (apiserver)")
        return components.Ports(
            etcd_client=free_port(),
            etcd_peer=free_port(),
            apiserver=self.apiserver_port or free_port(),
            controller_manager=free_port(),
            scheduler=free_port(),
            kwok_server=free_port(),
            kwok_node=free_port(),
        )

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.layout.logs)
        process.start()
        self.processes.append(process)
        return process

    def _lap(self, label: str, since: float) -> float:
        now = time.monotonic()
        self.timings[label] = round(now - since, 2)
        return now

    def _start(self) -> None:
        began = t = time.monotonic()
        layout = self.layout
        for stale in (layout.etcd_data, layout.pki_dir, layout.logs):
            shutil.rmtree(stale, ignore_errors=True)
        layout.logs.mkdir(parents=True)
        ports = self._ports()
        self.ports = ports
        pki = create_pki(layout.pki_dir)
        write_kubeconfig(layout.kubeconfig, pki, ports.apiserver)
        t = self._lap("certificates", t)

        etcd = self._spawn("etcd", components.etcd(self.tools, layout.etcd_data, ports))
        self._health["etcd"] = (f"http://127.0.0.1:{ports.etcd_client}/health", None)
        etcd.wait_until(lambda: http_ok(f"http://127.0.0.1:{ports.etcd_client}/health"), "healthy", 30)
        t = self._lap("etcd", t)

        apiserver = self._spawn("kube-apiserver", components.apiserver(self.tools, pki, ports))
        tls = ssl.create_default_context(cafile=str(pki.ca_cert))
        tls.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        self._health["kube-apiserver"] = (f"https://127.0.0.1:{ports.apiserver}/readyz", tls)
        apiserver.wait_until(
            lambda: http_ok(f"https://127.0.0.1:{ports.apiserver}/readyz", tls), "ready", STARTUP_TIMEOUT
        )
        t = self._lap("kube-apiserver", t)

        kubeconfig = layout.kubeconfig
        cm = self._spawn(
            "kube-controller-manager", components.controller_manager(self.tools, pki, kubeconfig, ports)
        )
        scheduler = self._spawn("kube-scheduler", components.scheduler(self.tools, pki, kubeconfig, ports))
        stage_files = self.latency.stage_files(self.tools.path("kwok-stages.yaml"), STAGES, layout.root)
        kwok = self._spawn("kwok", components.kwok(self.tools, kubeconfig, stage_files, ports))
        insecure = ssl._create_unverified_context()  # noqa: S323 - loopback health probe of a self-signed port
        self._health["kube-scheduler"] = (f"https://127.0.0.1:{ports.scheduler}/healthz", insecure)
        self._health["kwok"] = (f"http://127.0.0.1:{ports.kwok_server}/healthz", None)
        scheduler.wait_until(
            lambda: http_ok(f"https://127.0.0.1:{ports.scheduler}/healthz", insecure), "healthy", 60
        )
        kwok.wait_until(lambda: http_ok(f"http://127.0.0.1:{ports.kwok_server}/healthz"), "healthy", 60)

        self.kubectl("apply", "-f", "-", input=bootstrap.manifest(self.nodes))
        # The controller manager is alive once it has made the default ServiceAccount.
        cm.wait_until(lambda: self._exists("serviceaccount", "default", "default"), "serving", 60)
        kwok.wait_until(self._nodes_ready, f"marking {self.nodes} nodes Ready", 60)
        self._lap("controllers+nodes", t)
        self.timings["total"] = round(time.monotonic() - began, 2)

    # -- helpers -----------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.tools.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["KUBECONFIG"] = str(self.layout.kubeconfig)
        return env

    def kubectl(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [str(self.tools.path("kubectl")), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=60,
        )
        if result.returncode != 0:
            raise StartFailed(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def _exists(self, kind: str, name: str, namespace: str) -> bool:
        try:
            self.kubectl("get", kind, name, "-n", namespace, "-o", "name")
        except StartFailed:
            return False
        return True

    def _nodes_ready(self) -> bool:
        out = self.kubectl(
            "get",
            "nodes",
            "-o",
            'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
        )
        return out.split().count("True") >= self.nodes

    def pids(self) -> dict[str, int]:
        return {p.name: p.pid for p in self.processes if p.alive()}

    def dead(self) -> list[ManagedProcess]:
        return [p for p in self.processes if not p.alive()]

    def restart_dead(self) -> list[str]:
        """Start again, in start order, every component that exited, and wait until each serves.

        Same ports, certificates and etcd data as before, so the cluster keeps its objects: this
        is a repair (e.g. the apiserver was killed), not a new cluster. Returns the names restarted.
        """
        restarted = []
        for process in self.processes:
            if process.alive():
                continue
            process.start()
            url, tls = self._health.get(process.name, (None, None))
            if url is not None:
                process.wait_until(lambda u=url, t=tls: http_ok(u, t), "serving again", STARTUP_TIMEOUT)  # type: ignore[misc]
            restarted.append(process.name)
        return restarted

    # -- stop --------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stops components in reverse start order: KWOK and controllers first, etcd last."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
