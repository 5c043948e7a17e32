"""The operator's flow from an empty data directory, on SQLite and on PostgreSQL.

A real ``atrium serve`` with the real model; the operator uses the ``atrium`` CLI (as a
separate process, finding the admin key in the data directory), the developer the
``openai`` SDK with the ``user`` key the operator created.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from tests.e2e.conftest import (
    DEFAULT_MODEL,
    RunningServer,
    clean_env,
    free_port,
    running_server,
    stop_server,
)

pytestmark = pytest.mark.e2e


def atrium(server: RunningServer | None, *args: str, url: str | None = None) -> Any:
    """Run the CLI like an operator on the server's machine; returns its parsed JSON."""
    result = atrium_raw(server, *args, "--json", url=url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def atrium_raw(
    server: RunningServer | None, *args: str, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "atrium", *args]
    if server is not None:
        command += ["--url", server.base_url, "--data-dir", str(server.data_dir)]
    if url is not None:
        command += ["--url", url]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, env=clean_env()
    )


def wait_for_usage(server: RunningServer, key_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rows = atrium(
            server, "usage", "--key-id", key_id, "--granularity", "total",
            "--group-by", "key,deployment,status",
        )["data"]  # fmt: skip
        if any(row["status"] == 200 for row in rows):
            return list(rows)
        time.sleep(0.5)
    pytest.fail("the usage record never showed up")


def operator_flow(server: RunningServer) -> None:
    deployment = atrium(
        server, "deployments", "create", "team-chat", "--model", DEFAULT_MODEL,
        "--capacity-tpm", "10000", "--description", "the team's assistant",
    )  # fmt: skip
    assert deployment["name"] == "team-chat"
    issued = atrium(
        server, "keys", "create", "--name", "dev", "--role", "user", "--deployments", "team-chat"
    )
    secret = issued["key"]
    assert secret.startswith("atr-")
    listed = atrium(server, "keys", "list")["data"]
    assert secret not in json.dumps(listed)

    developer = OpenAI(base_url=f"{server.base_url}/v1", api_key=secret, max_retries=0)
    answer = developer.chat.completions.create(
        model="team-chat",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=16,
    )
    assert answer.choices[0].message.content
    assert answer.usage is not None
    with pytest.raises(openai.PermissionDeniedError):
        developer.chat.completions.create(
            model=DEFAULT_MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    with pytest.raises(openai.PermissionDeniedError):
        developer.get("/../admin/keys", cast_to=object)

    [usage] = [row for row in wait_for_usage(server, issued["id"]) if row["status"] == 200]
    assert usage["deployment"] == "team-chat"
    assert usage["prompt_tokens"] == answer.usage.prompt_tokens
    assert usage["completion_tokens"] == answer.usage.completion_tokens

    actions = [event["action"] for event in atrium(server, "audit")["data"]]
    assert "deployment.create" in actions
    assert "key.create" in actions
    for secret_seen in (server.log(), json.dumps(atrium(server, "audit"))):
        assert secret not in secret_seen


def test_operator_flow_on_sqlite(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        operator_flow(server)
        assert (server.data_dir / "atrium.db").exists()


def test_operator_flow_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    with running_server(tmp_path, ["--database-url", postgres_url]) as server:
        operator_flow(server)
        assert not (server.data_dir / "atrium.db").exists()


def test_a_clean_stop_writes_queued_usage(tmp_path: Path) -> None:
    # With a one-hour flush interval, only the shutdown flush can write the record.
    slow_flush = {"ATRIUM_USAGE_FLUSH_INTERVAL_S": "3600"}
    with running_server(tmp_path, env=slow_flush) as server:
        developer = OpenAI(base_url=f"{server.base_url}/v1", api_key=server.api_key)
        answer = developer.completions.create(model=DEFAULT_MODEL, prompt="Hello", max_tokens=5)
        stop_server(server)
        assert "could not be written" not in server.log()
    with running_server(tmp_path) as restarted:
        rows = atrium(restarted, "usage", "--granularity", "total", "--group-by", "route,status")[
            "data"
        ]
    assert answer.usage is not None
    assert rows == [
        {
            "route": "/v1/completions",
            "status": 200,
            "requests": 1,
            "errors": 0,
            "filtered": 0,
            "prompt_tokens": answer.usage.prompt_tokens,
            "completion_tokens": answer.usage.completion_tokens,
            "cached_tokens": 0,
            "total_tokens": answer.usage.total_tokens,
        }
    ]


def test_cli_says_clearly_when_the_server_is_unreachable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = atrium_raw(None, "keys", "list", "--api-key", "atr-x", url=url)
    assert result.returncode == 1
    assert f"cannot reach Atrium at {url}" in result.stderr
    assert "Traceback" not in result.stderr
