from __future__ import annotations

import subprocess
import sys

import pytest

from atrium.cli import main


def test_bad_setting_stops_the_start_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("atrium: invalid setting 'port'")
    assert "\n" not in err


def test_unknown_model_stops_the_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--model", "gpt-17"]) == 2
    assert "unknown model 'gpt-17'" in capsys.readouterr().err


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "atrium", "models"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("smollm2-135m-instruct\t")
    assert result.stdout.strip().endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
