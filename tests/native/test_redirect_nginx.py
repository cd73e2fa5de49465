"""The store chart's redirect server, run for real: the nginx.conf the chart renders, served by
Debian's nginx on a free loopback port, answers every host and path with 301 to the same path and
query on the primary host. The chart runs the same file in nginxinc/nginx-unprivileged; only its
/tmp paths are moved to a private directory here (several runs may share this machine's /tmp)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.native_medusa import free_port
from tests.unit.chart.render import CHART, one, render

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def redirect_server(tmp_path: Path) -> Iterator[str]:
    if not Path(NGINX).exists():
        pytest.fail("nginx is missing: `make system-deps` installs Debian's nginx-light")
    port = free_port()
    values = yaml.safe_load((CHART / "ci" / "custom-domains-values.yaml").read_text())
    objects = render(values | {"redirect": {"port": port}}, release="alpha")
    conf = one(objects, "ConfigMap", "alpha-redirect")["data"]["nginx.conf"]
    assert f"listen {port} default_server;" in conf
    private = tmp_path / "run"
    private.mkdir()
    (tmp_path / "nginx.conf").write_text(conf.replace(" /tmp/", f" {private}/"))
    # The same command line as the chart's container (daemon off in -g), bound to 127.0.0.1 only.
    conf_path = tmp_path / "nginx.conf"
    conf_path.write_text(conf_path.read_text().replace(f"listen {port} ", f"listen 127.0.0.1:{port} "))
    check = subprocess.run(
        [NGINX, "-t", "-c", str(conf_path), "-e", "stderr"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    server = subprocess.Popen(
        [NGINX, "-c", str(conf_path), "-e", "stderr", "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"nginx did not start: {server.communicate()[1]}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("shop.example.org", "/"),
        ("alpha.stores.example.net", "/product/storeplane-t-shirt/"),
        ("SHOP.example.org", "/wp-json/wc/store/v1/cart?x=1&y=%C3%A9"),
        ("shop.example.org", "/app/orders"),
    ],
)
def test_every_other_host_gets_a_permanent_redirect_to_the_same_path_on_the_primary(
    redirect_server: str, host: str, path: str
) -> None:
    for method in ("GET", "HEAD", "POST"):
        answer = httpx.request(method, redirect_server + path, headers={"Host": host}, follow_redirects=False)
        assert answer.status_code == 301, (method, answer.text)
        assert answer.headers["location"] == f"https://www.example.org{path}"
    assert "nginx/" not in httpx.get(redirect_server + "/", headers={"Host": host}).headers.get("server", "")
