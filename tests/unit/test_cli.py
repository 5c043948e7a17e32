from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from atrium.admin_client import AdminClient, AdminClientError, Connection, find_api_key
from atrium.cli import build_parser, main


def test_bad_setting_stops_the_start_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("atrium: invalid setting 'port'")
    assert "\n" not in err


def test_no_auth_refuses_to_listen_beyond_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--no-auth", "--host", "0.0.0.0", "--engine", "fake"]) == 2
    assert "--no-auth is for local development" in capsys.readouterr().err


def test_unreachable_database_stops_the_start_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql+psycopg://atrium@127.0.0.1:1/none?connect_timeout=2"
    assert main(["serve", "--engine", "fake", "--database-url", url]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("atrium: cannot reach the database postgresql+psycopg://atrium@")
    assert "Traceback" not in err


def test_unknown_model_stops_the_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--model", "gpt-17"]) == 2
    assert "unknown model 'gpt-17'" in capsys.readouterr().err


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "atrium", "models"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("smollm2-135m-instruct\t")
    assert result.stdout.strip().endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


def test_db_upgrade_migrates_and_is_idempotent(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "--database-url", database_url]) == 0
    first = capsys.readouterr().out
    assert "is at revision 0003" in first
    assert main(["db", "upgrade", "--database-url", database_url]) == 0
    assert "is at revision 0003" in capsys.readouterr().out


def test_db_upgrade_names_an_unreachable_database_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql+psycopg://admin:s3cret@127.0.0.1:1/x?connect_timeout=2"
    assert main(["db", "upgrade", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("atrium: cannot reach the database postgresql+psycopg://admin:***@")
    assert "s3cret" not in err


def test_admin_command_against_no_server_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ATRIUM_API_KEY", raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["keys", "list", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(tmp_path)])
    assert code == 1
    assert "cannot reach Atrium" in capsys.readouterr().err


def test_admin_client_without_a_key_says_how_to_give_one() -> None:
    def unauthorized(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        body = {"error": {"message": "no key", "type": "invalid_request_error", "code": None}}
        return httpx.Response(401, json=body)

    conn = Connection("http://atrium", api_key=None)
    client = AdminClient(conn, transport=httpx.MockTransport(unauthorized))
    with client, pytest.raises(AdminClientError, match="no API key: pass --api-key"):
        client.json("GET", "/admin/keys")


def test_admin_client_reports_the_servers_error() -> None:
    def forbidden(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer atr-k"
        body = {"error": {"message": "role 'user'", "type": "x", "code": "permission_denied"}}
        return httpx.Response(403, json=body)

    conn = Connection("http://atrium", api_key="atr-k")
    client = AdminClient(conn, transport=httpx.MockTransport(forbidden))
    with client, pytest.raises(AdminClientError, match="403 permission_denied: role 'user'"):
        client.json("GET", "/admin/keys")


def test_key_file_is_found_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATRIUM_API_KEY", raising=False)
    (tmp_path / "admin-key").write_text("atr-from-file\n")
    assert find_api_key(None, tmp_path) == "atr-from-file"
    monkeypatch.setenv("ATRIUM_API_KEY", "atr-from-env")
    assert find_api_key(None, tmp_path) == "atr-from-env"
    assert find_api_key("atr-flag", tmp_path) == "atr-flag"


def test_policies_commands_call_the_admin_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "strict.json"
    settings.write_text(json.dumps({"hate": {"prompt": "low"}}))
    policy = {"name": "strict", "builtin": False, "description": "d", "settings": {}}
    sent: list[tuple[str, str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        sent.append((request.method, request.url.path, body))
        listing = request.method == "GET" and request.url.path == "/admin/policies"
        return httpx.Response(200, json={"object": "list", "data": [policy]} if listing else policy)

    parser = build_parser()
    client = AdminClient(Connection("http://atrium", "atr-k"), httpx.MockTransport(answer))
    with client:
        for argv in (
            ["create", "strict", "--description", "d", "--settings", str(settings)],
            ["update", "strict", "--settings", str(settings)],
            ["list"],
            ["show", "strict"],
            ["delete", "strict"],
        ):
            args = parser.parse_args(["policies", *argv])
            args.handler(client, args)
    assert sent == [
        (
            "POST",
            "/admin/policies",
            {"name": "strict", "description": "d", "settings": {"hate": {"prompt": "low"}}},
        ),
        ("PATCH", "/admin/policies/strict", {"settings": {"hate": {"prompt": "low"}}}),
        ("GET", "/admin/policies", None),
        ("GET", "/admin/policies/strict", None),
        ("DELETE", "/admin/policies/strict", None),
    ]
    out = capsys.readouterr().out
    assert out.startswith("NAME ") and '"settings": {}' in out
    assert out.rstrip().endswith("deleted policy strict")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read the settings file"),
        ("{not json", "is not valid JSON"),
        ("[1]", "must hold a JSON object"),
    ],
)
def test_policies_settings_file_problems_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, problem: str
) -> None:
    path = tmp_path / "settings.json"
    if content is not None:
        path.write_text(content)
    # The file is read before any request: no server is needed.
    argv = [
        "policies",
        "create",
        "p",
        "--settings",
        str(path),
        "--url",
        "http://127.0.0.1:1",
        "--api-key",
        "atr-k",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("atrium: ") and problem in err and "Traceback" not in err
