from __future__ import annotations

from pathlib import Path

import pytest

from atrium.config import load_settings
from atrium.errors import ConfigurationError


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.host, settings.port, settings.model) == (
        "127.0.0.1",
        8000,
        "smollm2-135m-instruct",
    )


def test_flags_beat_environment_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "atrium.toml"
    config.write_text('port = 9001\nhost = "0.0.0.0"\ncontext-size = 1024\nthreads = 1\n')
    monkeypatch.setenv("ATRIUM_CONFIG", str(config))
    monkeypatch.setenv("ATRIUM_PORT", "9002")
    monkeypatch.setenv("ATRIUM_CONTEXT_SIZE", "2048")
    settings = load_settings(context_size="4096")
    assert settings.port == 9002  # env beats file
    assert settings.host == "0.0.0.0"  # file beats default
    assert settings.context_size == 4096  # flag beats env
    assert settings.threads == 1


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"port": "70000"}, "'port'"),
        ({"port": "eighty"}, "'port'"),
        ({"engine": "gpu9000"}, "'engine'"),
        ({"context_size": "10"}, "'context_size'"),
        ({"log_level": "loud"}, "'log_level'"),
    ],
)
def test_bad_settings_give_one_line(overrides: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(**overrides)
    assert fragment in caught.value.message
    assert "\n" not in caught.value.message


def test_unknown_key_in_config_file(tmp_path: Path) -> None:
    config = tmp_path / "atrium.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ConfigurationError, match="unknown setting 'prot'"):
        load_settings(config=config)


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_settings(config=tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_settings(config=broken)
