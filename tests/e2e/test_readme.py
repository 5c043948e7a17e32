"""The README's examples run as written against a real server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_URL = "http://127.0.0.1:8000"


def readme_block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)
    matching = [str(block) for block in blocks if containing in block]
    assert matching, f"README.md has no {language} example with {containing!r}"
    return matching[0]


def readme_env(server: RunningServer) -> dict[str, str]:
    """The shell of a reader who ran the README's ``export ATRIUM_API_KEY=...`` line."""
    return {**os.environ, "ATRIUM_API_KEY": server.api_key}


def test_readme_reads_the_key_from_the_data_dir_file() -> None:
    export = readme_block("sh", "export ATRIUM_API_KEY")
    assert "~/.local/share/atrium/admin-key" in export  # the default data dir's key file


def test_readme_python_example_prints_real_answers(server: RunningServer) -> None:
    code = readme_block("python", "OpenAI(").replace(DEFAULT_URL, server.base_url)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=readme_env(server),
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) >= 2, result.stdout  # the plain answer, then the streamed haiku


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_example(server: RunningServer) -> None:
    curl = readme_block("sh", "curl ").replace(DEFAULT_URL, server.base_url)
    result = subprocess.run(
        ["bash", "-c", curl],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=readme_env(server),
    )
    assert result.returncode == 0, result.stderr
    assert '"object":"chat.completion"' in result.stdout


def test_readme_azure_example_prints_an_answer(server: RunningServer) -> None:
    code = readme_block("python", "AzureOpenAI(").replace(DEFAULT_URL, server.base_url)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=readme_env(server),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
