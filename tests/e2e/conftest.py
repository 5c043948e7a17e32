"""Start ``atrium serve`` as a real process with the real default model.

The servers of these tests serve their deployments unfiltered unless a test asks for the
default content policy (``filtered=True``): the default classifier is statistical, and a
sampled answer of the small model that it flags now and then would make tests about other
features fail by chance. ``test_content_filter_e2e.py`` runs the out-of-the-box filtered
server with inputs whose outcome is not left to chance; the classifier's false-positive rate
on real answers of the default model is measured by ``benchmarks/safety_eval.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

DEFAULT_MODEL = "smollm2-135m-instruct"
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ATRIUM_")}


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def api_key(self) -> str:
        """The admin key the server created at its first start."""
        return (self.data_dir / "admin-key").read_text().strip()


def wait_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"atrium serve exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"atrium serve was not ready after {START_TIMEOUT_S}s:\n{server.log()}")


@contextmanager
def running_server(
    workdir: Path,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    filtered: bool = False,
) -> Iterator[RunningServer]:
    """``atrium serve`` on a free port with its own data directory, stopped afterwards;
    new deployments get the default content policy only when ``filtered``."""
    port = free_port()
    log_path = workdir / "server.log"
    policy_env = {} if filtered else {"ATRIUM_DEFAULT_CONTENT_POLICY": "none"}
    data_dir = workdir / "data"
    command = [
        sys.executable, "-m", "atrium", "serve",
        "--port", str(port), "--data-dir", str(data_dir), *extra_args,
    ]  # fmt: skip
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**clean_env(), **policy_env, **(env or {})},
        )
    running = RunningServer(f"http://127.0.0.1:{port}", process, log_path, data_dir)
    try:
        wait_ready(running)
        yield running
    finally:
        stop_server(running)


def stop_server(server: RunningServer) -> None:
    """SIGTERM (a graceful stop), SIGKILL after 20 s."""
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("atrium-e2e")) as running:
        yield running
