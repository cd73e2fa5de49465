"""A thin handle on a running simulated cluster for tests and the demo: kubectl and helm with the
cluster's kubeconfig, and fault injection on the apiserver."""

import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CommandFailed(RuntimeError):
    """A kubectl or helm command exited non-zero."""

    def __init__(self, argv: list[str], returncode: int, stdout: str, stderr: str):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr
        super().__init__(f"{' '.join(argv)} exited {returncode}: {stderr.strip() or stdout.strip()}")


@dataclass
class ClusterClient:
    kubeconfig: Path
    bin_dir: Path
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["KUBECONFIG"] = str(self.kubeconfig)
        return env

    def run(self, argv: list[str], input: str | None = None, check: bool = True, timeout: float = 600) -> str:
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, env=self.env, timeout=timeout
        )
        if check and result.returncode != 0:
            raise CommandFailed(argv, result.returncode, result.stdout, result.stderr)
        return result.stdout

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        return self.run([str(self.bin_dir / "kubectl"), *args], input=input, check=check)

    def kubectl_json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def helm(self, *args: str, input: str | None = None, check: bool = True) -> str:
        return self.run([str(self.bin_dir / "helm"), *args], input=input, check=check)

    # Fault injection: a stopped apiserver accepts TCP connections but never answers, like a
    # partitioned or overloaded control plane; clients see timeouts, not refusals.
    def pause_apiserver(self) -> None:
        os.kill(self.pids["kube-apiserver"], signal.SIGSTOP)

    def resume_apiserver(self) -> None:
        os.kill(self.pids["kube-apiserver"], signal.SIGCONT)
