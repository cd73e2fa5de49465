"""Helm v4 against the simulated cluster: install with --wait, helm test, uninstall."""

import re
from pathlib import Path

CHART = Path(__file__).resolve().parents[2] / "fixtures" / "charts" / "hello"


def test_helm_install_wait_test_and_uninstall_a_small_chart(cluster, namespace):
    cluster.helm("install", "hello", str(CHART), "-n", namespace, "--wait", "--timeout", "120s")
    status = cluster.kubectl_json("get", "deployment", "hello-web", "-n", namespace)["status"]
    assert status["readyReplicas"] == 2

    out = cluster.helm("test", "hello", "-n", namespace, "--timeout", "120s")
    assert re.search(r"^TEST SUITE:\s+hello-test$", out, re.M), out
    assert re.search(r"^Phase:\s+Succeeded$", out, re.M), out

    cluster.helm("uninstall", "hello", "-n", namespace, "--wait", "--timeout", "120s")
    assert cluster.kubectl("get", "deployment,service", "-n", namespace, "-o", "name") == ""
    assert "hello" not in cluster.helm("list", "-n", namespace, "-q")
