"""`make demo` with its port taken: the next free port is used and said, or, when the user chose the
port (STOREPLANE_PORT), a plain sentence instead of a server dying with a log line."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from app.demo import PortBusy, choose_port, port_is_free
from app.settings import REPO_ROOT


@pytest.fixture
def taken_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_taken_default_port_gives_way_to_the_next_free_one(taken_port: int) -> None:
    assert not port_is_free("127.0.0.1", taken_port)
    chosen = choose_port("127.0.0.1", taken_port, fixed=False)
    assert chosen > taken_port and port_is_free("127.0.0.1", chosen)


def test_a_free_port_is_kept(taken_port: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert choose_port("127.0.0.1", free, fixed=True) == free


def test_a_port_the_user_chose_is_not_replaced_and_the_refusal_is_a_sentence(taken_port: int) -> None:
    with pytest.raises(
        PortBusy, match=rf"port {taken_port} on 127.0.0.1 is already in use .*STOREPLANE_PORT"
    ):
        choose_port("127.0.0.1", taken_port, fixed=True)


def test_make_demo_says_so_and_exits_before_starting_anything(taken_port: int, tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.demo"],
        cwd=REPO_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "STOREPLANE_PORT": str(taken_port),
            "STOREPLANE_DATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"demo: port {taken_port} on 127.0.0.1 is already in use (another program, or a demo still "
        "running); stop it or set STOREPLANE_PORT to a free port"
    )
    assert "dashboard at" not in done.stdout
