"""The e-mail channel against a real SMTP server (aiosmtpd on loopback).

Covers:
- STARTTLS with a self-signed certificate generated for the test (trusted through
  tls_config.ca_file), AUTH with the password read from a file: the mail arrives with a
  text and an HTML part, the subject, and the Message-Id made from the notification id;
- implicit TLS (SMTPS) with implicit_tls: true;
- require_tls against a server that offers no STARTTLS: refused, dead-lettered;
- a wrong password: refused (permanent), dead-lettered.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from scalepilot.domain.store import OutboxState
from tests.integration.test_notify_support import FAST_DELIVERY, Running, firing, open_store, service, wait_until
from tests.support import free_port, require_binary


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.mails.append(envelope)
        return "250 Message accepted"


def _auth(server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"alerts" and auth_data.password == b"pa55word"
    return AuthResult(success=ok, handled=False)  # handled=True (the default) means "I already replied"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    return d / "cert.pem", d / "key.pem"


def _server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


def _run(controller: Controller) -> Iterator[Controller]:
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(inbox: Inbox, cert: tuple[Path, Path]) -> Iterator[Controller]:
    yield from _run(
        Controller(
            inbox, hostname="127.0.0.1", port=free_port(), tls_context=_server_tls(cert), require_starttls=True,
            authenticator=_auth, auth_require_tls=True,
        )
    )  # fmt: skip


def _config(port: int, ca: Path, **extra: Any) -> str:
    options = "".join(f"\n        {k}: {v}" for k, v in extra.items())
    return f"""
route: {{receiver: mail, group_by: [alertname], group_wait: 200ms}}
receivers:
  - name: mail
    email_configs:
      - to: ops@example.org
        from: scalepilot@example.org
        smarthost: 127.0.0.1:{port}
        auth_username: alerts
        auth_password_file: password
        tls_config: {{ca_file: {ca}}}{options}
{FAST_DELIVERY}
"""


async def test_starttls_with_auth_delivers_text_and_html(
    tmp_path: Path, inbox: Inbox, starttls_server: Controller, cert: tuple[Path, Path]
) -> None:
    (tmp_path / "password").write_text("pa55word\n")
    store = open_store(tmp_path / "data")
    try:
        svc = service(_config(starttls_server.port, cert[0]), store, tmp_path)
        async with Running(svc):
            svc.send([firing(service="shop", severity="critical")])
            (envelope,) = await wait_until(lambda: inbox.mails, timeout=15, what="the mail")
        (item,) = store.outbox_items()
        assert item.state is OutboxState.DONE
        assert envelope.mail_from == "scalepilot@example.org" and envelope.rcpt_tos == ["ops@example.org"]
        assert isinstance(envelope.content, bytes)
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert mail["Subject"] == "[FIRING:1] HighLatency (shop critical)"
        assert mail["Message-Id"] == f"<{item.id}@scalepilot>"
        assert mail.get_content_type() == "multipart/alternative"
        text = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert text is not None and "HighLatency on shop" in text.get_content()
        assert html is not None and "<table" in html.get_content()
    finally:
        store.close()


async def test_implicit_tls(tmp_path: Path, inbox: Inbox, cert: tuple[Path, Path]) -> None:
    (tmp_path / "password").write_text("pa55word")
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=_server_tls(cert),
        authenticator=_auth,
        auth_require_tls=False,  # aiosmtpd only counts STARTTLS as TLS; this session is TLS from the start
    )
    store = open_store(tmp_path / "data")
    for _ in _run(controller):
        try:
            svc = service(_config(controller.port, cert[0], implicit_tls="true"), store, tmp_path)
            async with Running(svc):
                svc.send([firing(service="shop")])
                await wait_until(lambda: inbox.mails, timeout=15, what="the mail over SMTPS")
        finally:
            store.close()


async def test_require_tls_refuses_a_server_without_starttls(
    tmp_path: Path, inbox: Inbox, cert: tuple[Path, Path]
) -> None:
    (tmp_path / "password").write_text("pa55word")
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    store = open_store(tmp_path / "data")
    for _ in _run(controller):
        try:
            svc = service(_config(controller.port, cert[0]), store, tmp_path)
            async with Running(svc):
                svc.send([firing(service="shop")])
                (event,) = await wait_until(
                    lambda: store.events(kinds=["notification_dead"]), timeout=15, what="the dead letter"
                )
            assert "does not offer STARTTLS" in event.message and not inbox.mails
        finally:
            store.close()


async def test_wrong_password_is_permanent(
    tmp_path: Path, inbox: Inbox, starttls_server: Controller, cert: tuple[Path, Path]
) -> None:
    (tmp_path / "password").write_text("wrong")
    store = open_store(tmp_path / "data")
    try:
        svc = service(_config(starttls_server.port, cert[0]), store, tmp_path)
        async with Running(svc):
            svc.send([firing(service="shop")])
            (event,) = await wait_until(
                lambda: store.events(kinds=["notification_dead"]), timeout=15, what="the dead letter"
            )
        assert "authentication failed" in event.message and "wrong" not in event.message
    finally:
        store.close()
