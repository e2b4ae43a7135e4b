"""``scalepilot token create / list / revoke``: the API tokens.

With scalepilot stopped, the commands open the data directory themselves (that is how
the first admin token is made). While it runs it owns the data directory, so ``create``
and ``revoke`` ask its admin-only ``/api/v1/tokens`` instead, with an admin token from
``$SCALEPILOT_TOKEN``; ``list`` reads the data directory read-only and needs no token.
"""

from __future__ import annotations

import getpass
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from scalepilot.adapters.store import SQLiteStore, StoreLocked
from scalepilot.config.durations import parse_duration
from scalepilot.config.models import StorageSettings
from scalepilot.domain.auth import Role, TokenRecord
from scalepilot.domain.errors import ScalepilotError
from scalepilot.faces.cli.common import (
    DEFAULT_CONFIG,
    TOKEN_ENV,
    Output,
    api_headers,
    console,
    err_console,
    load_or_exit,
)
from scalepilot.faces.cli.inspect_cmds import server_url
from scalepilot.service.tokens import TokenStore

token_app = typer.Typer(
    help="API tokens with roles (viewer, operator, admin): create, list, revoke. See docs/security.md.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

CONFIG_OPT = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config naming the data directory and address.")
DATA_DIR_OPT = typer.Option(None, "--data-dir", help="Data directory (overrides -c).")
URL_OPT = typer.Option(None, help="Base URL of a running scalepilot (overrides -c when it runs).")


def _fail(message: str) -> typer.Exit:
    err_console.print(f"error: {message}", highlight=False, markup=False)
    return typer.Exit(1)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _where(config: Path, data_dir: Path | None) -> tuple[Path, StorageSettings]:
    if data_dir is not None:
        return data_dir, StorageSettings()
    if config.exists():
        loaded = load_or_exit(config)
        return loaded.data_dir(), loaded.config.storage
    return Path(".scalepilot"), StorageSettings()


@contextmanager
def _offline(config: Path, data_dir: Path | None) -> Iterator[TokenStore | None]:
    """The token store of a stopped scalepilot, or ``None`` if one runs (it owns the lock)."""
    path, settings = _where(config, data_dir)
    try:
        store = SQLiteStore.open(path, settings)
    except StoreLocked:
        yield None
        return
    except ScalepilotError as exc:
        raise _fail(str(exc)) from None
    try:
        yield TokenStore(store)
    finally:
        store.close()


def _api(method: str, base: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = api_headers()
    if not headers:
        raise _fail(
            f"scalepilot is running and owns the data directory: set {TOKEN_ENV} to an admin token "
            "to change tokens through its API (or stop it to change them offline)"
        )
    try:
        resp = httpx.request(method, f"{base}/api/v1/tokens{path}", json=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise _fail(f"the data directory is locked but scalepilot does not answer at {base}: {exc}") from None
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise _fail(f"{resp.status_code}: {detail}")
    result: dict[str, Any] = resp.json()
    return result


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


@token_app.command("create")
def create(
    role: str = typer.Option(..., "--role", "-r", help="viewer (read), operator (scale, pause, silence), admin."),
    name: str | None = typer.Option(None, "--name", "-n", help="Who or what uses it; default <role>-<random>."),
    expires: str | None = typer.Option(None, "--expires", help="Lifetime (90d, 12h); default never."),
    config: Path = CONFIG_OPT,
    data_dir: Path | None = DATA_DIR_OPT,
    url: str | None = URL_OPT,
) -> None:
    """Create a token and print it once: only its hash is kept.

    Send it as [b]Authorization: Bearer <token>[/b]; the CLI sends $SCALEPILOT_TOKEN.

    [b]Examples[/b]

      scalepilot token create --role admin --name alice      (first one: with scalepilot stopped)

      scalepilot token create --role viewer --name grafana --expires 90d

      SCALEPILOT_TOKEN=sp_... scalepilot token create --role operator --name ci
    """
    try:
        parsed = Role.parse(role)
        expires_in = None if expires is None else parse_duration(expires)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    name = name or f"{parsed.label}-{secrets.token_hex(3)}"
    with _offline(config, data_dir) as tokens:
        if tokens is not None:
            try:
                secret, record = tokens.create(name, parsed, expires_in=expires_in, actor=_actor())
            except (ScalepilotError, ValueError) as exc:
                raise _fail(str(exc)) from None
            expiry = record.expires
        else:
            body = _api("POST", server_url(config, url), "", {"name": name, "role": parsed.label, "expires": expires})
            secret, expiry = body["token"], body["expires"]
    err_console.print(
        f"created token {name!r} ({parsed.label}, expires {_when(expiry) if expiry else 'never'}); "
        "it is shown only now:",
        highlight=False,
        markup=False,
    )
    typer.echo(secret)


@token_app.command("list")
def list_tokens(
    config: Path = CONFIG_OPT,
    data_dir: Path | None = DATA_DIR_OPT,
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json."),
) -> None:
    """List the tokens: name, role, created, expiry, last use. Never the secrets.

    Reads the data directory (read-only, so also while scalepilot runs; last use is
    saved at most once a minute).

    [b]Examples[/b]

      scalepilot token list

      scalepilot token list -o json
    """
    path, settings = _where(config, data_dir)
    records: list[TokenRecord] = []
    if path.exists():
        try:
            with SQLiteStore.open(path, settings, read_only=True) as store:
                records = TokenStore(store).list()
        except ScalepilotError as exc:
            raise _fail(str(exc)) from None
    if output is Output.json:
        console.print_json(data=[r.public() for r in records])
        return
    now = time.time()
    table = Table("name", "role", "created", "expires", "last used")
    for r in records:
        expiry = _when(r.expires) + (" (expired)" if r.expired(now) else "") if r.expires else "never"
        table.add_row(r.name, r.role.label, _when(r.created), expiry, _when(r.last_used))
    console.print(table)


@token_app.command("revoke")
def revoke(
    name: str = typer.Argument(..., help="The token's name (see token list)."),
    config: Path = CONFIG_OPT,
    data_dir: Path | None = DATA_DIR_OPT,
    url: str | None = URL_OPT,
) -> None:
    """Revoke a token: the next request with it is refused (401).

    [b]Examples[/b]

      scalepilot token revoke grafana

      SCALEPILOT_TOKEN=sp_... scalepilot token revoke ci
    """
    with _offline(config, data_dir) as tokens:
        if tokens is not None:
            try:
                tokens.revoke(name, actor=_actor())
            except ScalepilotError as exc:
                raise _fail(str(exc)) from None
        else:
            _api("DELETE", server_url(config, url), f"/{name}")
    console.print(f"revoked token {name!r}", highlight=False)
