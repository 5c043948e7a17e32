"""Starting, probing and stopping the servers under comparison, one at a time."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class LaunchSpec:
    """How to start one server (argv gets the port substituted for ``{port}``)."""

    name: str
    argv: list[str]
    # Prepended to LD_LIBRARY_PATH (a shared-library build of llama-server next to its .so).
    library_dir: str | None = None
    # A file the server writes its admin API key to (Atrium), read once it is there.
    api_key_file: Path | None = None


@dataclass(frozen=True)
class Target:
    """A server to benchmark: a name and its OpenAI base URL (ending in /v1)."""

    name: str
    base_url: str
    api_key: str | None = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    base_url: str,
    timeout_s: float,
    process: subprocess.Popen[bytes] | None,
    api_key_file: Path | None = None,
) -> str | None:
    """Poll ``GET {base_url}/models`` until it answers 200 (or fail); returns the API key
    read from ``api_key_file`` when there is one."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode} before ready")
        api_key = None
        if api_key_file is not None:
            if not api_key_file.exists():
                time.sleep(0.5)
                continue
            api_key = api_key_file.read_text().strip()
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            response = httpx.get(f"{base_url}/models", timeout=5.0, headers=headers)
            if response.status_code == 200:
                return api_key
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    raise RuntimeError(f"server at {base_url} not ready after {timeout_s:.0f}s ({last})")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def launched(spec: LaunchSpec, log_dir: Path) -> Iterator[Target]:
    """Start a server, wait for readiness, yield its target, stop it on exit."""
    port = free_port()
    argv = [arg.replace("{port}", str(port)) for arg in spec.argv]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{spec.name}.log"
    print(f"# starting {spec.name}: {' '.join(argv)}  (log: {log_path})", flush=True)
    with log_path.open("wb") as log:
        env = dict(os.environ)
        if spec.library_dir:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                part for part in (spec.library_dir, env.get("LD_LIBRARY_PATH")) if part
            )
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            api_key = wait_ready(base_url, READY_TIMEOUT_S, process, spec.api_key_file)
            yield Target(spec.name, base_url, api_key)
        finally:
            stop(process)
            print(f"# stopped {spec.name} (exit status {process.returncode})", flush=True)


def atrium_spec(
    python: str,
    model: str,
    threads: int,
    ctx: int,
    *,
    slots: int,
    data_dir: Path,
    extra: Sequence[str] = (),
) -> LaunchSpec:
    """Atrium with the same KV budget as llama-server: ``slots`` sequences of ``ctx`` tokens
    (``--context-size`` is Atrium's total); ``extra`` flags go to ``atrium serve``."""
    argv = [python, "-m", "atrium", "serve", "--port", "{port}", "--model", model]
    argv += ["--threads", str(threads), "--context-size", str(ctx * slots)]
    argv += ["--max-sequences", str(slots), "--max-sequence-tokens", str(ctx), *extra]
    argv += ["--data-dir", str(data_dir), "--log-level", "warning"]
    return LaunchSpec("atrium", argv, api_key_file=data_dir / "admin-key")


def llama_cpp_python_spec(python: str, gguf: str, threads: int, ctx: int) -> LaunchSpec:
    argv = [python, "-m", "llama_cpp.server", "--model", gguf, "--port", "{port}"]
    argv += ["--host", "127.0.0.1", "--n_threads", str(threads)]
    argv += ["--n_threads_batch", str(threads), "--n_ctx", str(ctx)]
    argv += ["--interrupt_requests", "False", "--verbose", "False"]
    return LaunchSpec("llama-cpp-python", argv)


def llama_server_spec(binary: str, gguf: str, threads: int, ctx: int, slots: int) -> LaunchSpec:
    argv = [binary, "-m", gguf, "--host", "127.0.0.1", "--port", "{port}"]
    argv += ["-t", str(threads), "-tb", str(threads), "-np", str(slots)]
    argv += ["-c", str(ctx * slots), "--cont-batching", "--no-webui"]
    return LaunchSpec("llama-server", argv, library_dir=str(Path(binary).parent))


def resolve_gguf(python: str, model: str) -> str:
    """The GGUF path Atrium would load for ``model`` (a catalog id or a path)."""
    if model.endswith(".gguf"):
        return model
    code = "import sys; from atrium.models.registry import resolve_model as r; "
    code += "print(r(sys.argv[1]).path)"
    out = subprocess.run([python, "-c", code, model], check=True, capture_output=True, text=True)
    return out.stdout.strip()
