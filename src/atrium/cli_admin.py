"""``atrium keys|deployments|policies|usage|audit``: the admin API from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from atrium.admin_client import AdminClient, AdminClientError, connection

KEY_COLUMNS = (
    "id",
    "name",
    "role",
    "prefix",
    "status",
    "deployments",
    "expires_at",
    "last_used_at",
)
DEPLOYMENT_COLUMNS = ("name", "model", "engine", "capacity_tpm", "content_policy", "description")
POLICY_COLUMNS = ("name", "builtin", "description", "updated_at")
USAGE_COLUMNS = (
    "period", "key_id", "key_name", "deployment", "model", "route", "status", "content_filter",
    "requests", "errors", "filtered", "prompt_tokens", "completion_tokens", "cached_tokens",
    "total_tokens",
)  # fmt: skip
AUDIT_COLUMNS = ("id", "at", "actor", "action", "target_type", "target_id", "client_ip")

Command = Callable[[AdminClient, argparse.Namespace], None]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    shown = [name for name in columns if any(name in row for row in rows)] or list(columns)
    cells = [[_cell(row.get(name)) for name in shown] for row in rows]
    widths = [max([len(name), *(len(line[i]) for line in cells)]) for i, name in enumerate(shown)]
    print("  ".join(name.upper().ljust(width) for name, width in zip(shown, widths, strict=True)))
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def _show(args: argparse.Namespace, payload: Any, columns: Sequence[str]) -> None:
    if args.json:
        print(json.dumps(payload, indent=2))
    elif isinstance(payload, dict) and payload.get("object") == "list":
        print_table(payload["data"], columns)
    else:
        print_table([payload], columns)


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def keys_create(client: AdminClient, args: argparse.Namespace) -> None:
    body: dict[str, Any] = {"name": args.name, "role": args.role}
    if args.deployments is not None:
        body["deployments"] = _split(args.deployments)
    if args.expires_in_days is not None:
        body["expires_in_days"] = args.expires_in_days
    if args.expires_at is not None:
        body["expires_at"] = args.expires_at
    _print_issued(args, client.json("POST", "/admin/keys", json=body))


def _print_issued(args: argparse.Namespace, issued: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(issued, indent=2))
        return
    print(f"key id: {issued['id']}  role: {issued['role']}  name: {issued['name']}")
    print(f"secret (shown only now, store it safely):\n{issued['key']}")


def keys_list(client: AdminClient, args: argparse.Namespace) -> None:
    _show(args, client.json("GET", "/admin/keys"), KEY_COLUMNS)


def keys_revoke(client: AdminClient, args: argparse.Namespace) -> None:
    _show(args, client.json("DELETE", f"/admin/keys/{args.key_id}"), KEY_COLUMNS)


def keys_regenerate(client: AdminClient, args: argparse.Namespace) -> None:
    _print_issued(args, client.json("POST", f"/admin/keys/{args.key_id}/regenerate"))


def _deployment_fields(args: argparse.Namespace) -> dict[str, Any]:
    names = ("model", "engine", "capacity_tpm", "content_policy", "description")
    fields = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if fields.get("content_policy") == "none":  # no content filtering
        fields["content_policy"] = None
    return fields


def deployments_create(client: AdminClient, args: argparse.Namespace) -> None:
    body = {"name": args.name, **_deployment_fields(args)}
    _show(args, client.json("POST", "/admin/deployments", json=body), DEPLOYMENT_COLUMNS)


def deployments_list(client: AdminClient, args: argparse.Namespace) -> None:
    _show(args, client.json("GET", "/admin/deployments"), DEPLOYMENT_COLUMNS)


def deployments_update(client: AdminClient, args: argparse.Namespace) -> None:
    body = _deployment_fields(args)
    payload = client.json("PATCH", f"/admin/deployments/{args.name}", json=body)
    _show(args, payload, DEPLOYMENT_COLUMNS)


def deployments_delete(client: AdminClient, args: argparse.Namespace) -> None:
    client.json("DELETE", f"/admin/deployments/{args.name}")
    print(f"deleted deployment {args.name}")


def read_settings_file(path: Path) -> dict[str, Any]:
    """The JSON object of a ``--settings`` file (a policy's settings, or the fields to change)."""
    try:
        settings = json.loads(path.read_text())
    except OSError as exc:
        raise AdminClientError(f"cannot read the settings file {path}: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AdminClientError(f"the settings file {path} is not valid JSON: {exc}") from exc
    if not isinstance(settings, dict):
        raise AdminClientError(f"the settings file {path} must hold a JSON object")
    return settings


def _policy_fields(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.description is not None:
        body["description"] = args.description
    if args.settings is not None:
        body["settings"] = read_settings_file(args.settings)
    return body


def policies_create(client: AdminClient, args: argparse.Namespace) -> None:
    body = {"name": args.name, **_policy_fields(args)}
    _show(args, client.json("POST", "/admin/policies", json=body), POLICY_COLUMNS)


def policies_list(client: AdminClient, args: argparse.Namespace) -> None:
    _show(args, client.json("GET", "/admin/policies"), POLICY_COLUMNS)


def policies_show(client: AdminClient, args: argparse.Namespace) -> None:
    # A policy is a nested document: always shown as JSON.
    print(json.dumps(client.json("GET", f"/admin/policies/{args.name}"), indent=2))


def policies_update(client: AdminClient, args: argparse.Namespace) -> None:
    payload = client.json("PATCH", f"/admin/policies/{args.name}", json=_policy_fields(args))
    _show(args, payload, POLICY_COLUMNS)


def policies_delete(client: AdminClient, args: argparse.Namespace) -> None:
    client.json("DELETE", f"/admin/policies/{args.name}")
    print(f"deleted policy {args.name}")


def usage(client: AdminClient, args: argparse.Namespace) -> None:
    params = {"group_by": args.group_by, "granularity": args.granularity}
    for name in ("since", "until", "deployment", "key_id"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    if args.format == "csv":
        params["format"] = "csv"
        sys.stdout.write(client.request("GET", "/admin/usage", params=params).text)
        return
    payload = client.json("GET", "/admin/usage", params=params)
    args.json = args.json or args.format == "json"
    _show(args, payload, USAGE_COLUMNS)


def audit(client: AdminClient, args: argparse.Namespace) -> None:
    params: dict[str, Any] = {"limit": args.limit}
    if args.action:
        params["action"] = args.action
    _show(args, client.json("GET", "/admin/audit", params=params), AUDIT_COLUMNS)


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="Atrium's address (default $ATRIUM_URL or :8000)")
    parser.add_argument("--api-key", help="admin API key (default $ATRIUM_API_KEY or key file)")
    parser.add_argument("--data-dir", type=Path, help="where to find the admin key file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _deployment_flags(parser: argparse.ArgumentParser, *, create: bool) -> None:
    parser.add_argument("--model", required=create, help="model id served by the engine")
    parser.add_argument("--engine", help="engine backend (default: default)")
    parser.add_argument("--capacity-tpm", type=int, help="tokens per minute")
    parser.add_argument(
        "--content-policy",
        help="content policy name (default for new deployments: default; none: no filtering)",
    )
    parser.add_argument("--description", help="free text")


def _add_policy_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> list[argparse.ArgumentParser]:
    policies = commands.add_parser(
        "policies", help="manage content policies (stored; not enforced yet)"
    ).add_subparsers(dest="action", required=True)
    settings_help = {
        "create": "JSON file with the policy's settings (omitted fields take their defaults)",
        "update": "JSON file with the top-level settings fields to replace",
    }
    for name, handler in (("create", policies_create), ("update", policies_update)):
        sub = policies.add_parser(name, help=f"{name} a content policy")
        sub.add_argument("name")
        sub.add_argument("--description", help="free text")
        sub.add_argument("--settings", type=Path, help=settings_help[name])
        sub.set_defaults(handler=handler)
    policies.add_parser("list", help="list content policies").set_defaults(handler=policies_list)
    for name, handler in (("show", policies_show), ("delete", policies_delete)):
        sub = policies.add_parser(name, help=f"{name} a content policy")
        sub.add_argument("name")
        sub.set_defaults(handler=handler)
    return list(policies.choices.values())


def add_admin_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="create a key (its secret is shown once)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=["admin", "contributor", "user", "reader"])
    create.add_argument("--deployments", help="comma-separated deployments the key may use")
    create.add_argument("--expires-in-days", type=float)
    create.add_argument("--expires-at", help="ISO 8601 time with zone, e.g. 2027-01-01T00:00Z")
    create.set_defaults(handler=keys_create)
    keys.add_parser("list", help="list keys").set_defaults(handler=keys_list)
    for name, handler in (("revoke", keys_revoke), ("regenerate", keys_regenerate)):
        sub = keys.add_parser(name, help=f"{name} a key")
        sub.add_argument("key_id")
        sub.set_defaults(handler=handler)

    deployments = commands.add_parser("deployments", help="manage deployments").add_subparsers(
        dest="action", required=True
    )
    for name, handler, create_flag in (
        ("create", deployments_create, True), ("update", deployments_update, False),
    ):  # fmt: skip
        sub = deployments.add_parser(name, help=f"{name} a deployment")
        sub.add_argument("name")
        _deployment_flags(sub, create=create_flag)
        sub.set_defaults(handler=handler)
    deployments.add_parser("list", help="list deployments").set_defaults(handler=deployments_list)
    delete = deployments.add_parser("delete", help="delete a deployment")
    delete.add_argument("name")
    delete.set_defaults(handler=deployments_delete)
    policy_parsers = _add_policy_commands(commands)

    report = commands.add_parser("usage", help="aggregated usage")
    report.add_argument("--group-by", default="key,deployment,model")
    report.add_argument("--granularity", default="day", choices=["hour", "day", "total"])
    report.add_argument("--since", help="ISO 8601 date or time (UTC if no zone)")
    report.add_argument("--until")
    report.add_argument("--deployment")
    report.add_argument("--key-id")
    report.add_argument("--format", default="table", choices=["table", "json", "csv"])
    report.set_defaults(handler=usage)

    log = commands.add_parser("audit", help="the audit log, newest first")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--action", help="only this action, e.g. key.create")
    log.set_defaults(handler=audit)

    for parser in (
        *keys.choices.values(), *deployments.choices.values(), *policy_parsers, report, log,
    ):  # fmt: skip
        _connection_flags(parser)


def run_admin_command(args: argparse.Namespace) -> int:
    conn = connection(args.url, args.api_key, args.data_dir)
    with AdminClient(conn) as client:
        args.handler(client, args)
    return 0
