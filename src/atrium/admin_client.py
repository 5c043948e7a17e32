"""A small client of the admin API, used by the ``atrium`` CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from atrium.config import ADMIN_KEY_FILE, default_data_dir

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_S = 30.0


class AdminClientError(Exception):
    """Why a CLI command could not be done; the message is meant for the operator."""


@dataclass(frozen=True, slots=True)
class Connection:
    url: str
    api_key: str | None


def find_api_key(explicit: str | None, data_dir: Path | None) -> str | None:
    """``--api-key``, else ``ATRIUM_API_KEY``, else the admin key file of the data dir."""
    if explicit:
        return explicit
    from_env = os.environ.get("ATRIUM_API_KEY", "").strip()
    if from_env:
        return from_env
    key_file = (data_dir or default_data_dir()) / ADMIN_KEY_FILE
    try:
        return key_file.read_text().strip() or None
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AdminClientError(f"cannot read the admin key file {key_file}: {exc}") from exc


def connection(url: str | None, api_key: str | None, data_dir: Path | None) -> Connection:
    base = (url or os.environ.get("ATRIUM_URL") or DEFAULT_URL).rstrip("/")
    return Connection(base, find_api_key(api_key, data_dir))


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        code = f" {error['code']}" if error.get("code") else ""
        return f"{response.status_code}{code}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code}: {response.text[:200]}"


class AdminClient:
    def __init__(self, conn: Connection, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"authorization": f"Bearer {conn.api_key}"} if conn.api_key else {}
        self._conn = conn
        self._http = httpx.Client(
            base_url=conn.url, headers=headers, timeout=TIMEOUT_S, transport=transport
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise AdminClientError(
                f"cannot reach Atrium at {self._conn.url} ({exc}); is `atrium serve` running? "
                "(set the address with --url or ATRIUM_URL)"
            ) from exc
        except httpx.HTTPError as exc:
            raise AdminClientError(f"request to {self._conn.url} failed: {exc}") from exc
        if response.status_code == 401 and not self._conn.api_key:
            raise AdminClientError(
                "no API key: pass --api-key, set ATRIUM_API_KEY, or run on the server's machine "
                f"where the admin key file ({ADMIN_KEY_FILE} in the data directory) is readable"
            )
        if response.status_code >= 400:
            raise AdminClientError(_error_text(response))
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()
