"""The e-mail channel: SMTP with STARTTLS or implicit TLS, authentication, and a text
and an HTML part.

Connection rules are Alertmanager's: port 465 (or ``implicit_tls: true``) speaks TLS
from the first byte; otherwise ``require_tls`` (default true) demands STARTTLS and
refuses a server that does not offer it — a password must never cross the network in
the clear — and without it the session stays plain. ``smtplib`` is blocking, so a send
runs in a worker thread; the delivery worker bounds how many run at once.

The ``Message-Id`` is derived from the notification id, so a retried delivery of the
same notification carries the same id and mail systems can tell it is a repeat.
"""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses

from scalepilot.adapters.notify.base import NotifierContext
from scalepilot.adapters.notify.errors import NotifyError, ReceiverRejected, ReceiverUnavailable, excerpt
from scalepilot.adapters.notify.http import ssl_context
from scalepilot.adapters.notify.message import Message, default_subject, rfc3339
from scalepilot.adapters.notify.secrets import read_secret
from scalepilot.adapters.notify.template import Template, compile_template
from scalepilot.config.alertmanager import EmailConfig

Settings = EmailConfig


def default_text(message: Message) -> str:
    parts = [default_subject(message), ""]
    for a in message.alerts:
        parts.append(f"[{a.status.upper()}] {a.labels.get('alertname', '')}")
        parts += [f"  {k}: {v}" for k, v in sorted(a.annotations.items())]
        parts.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items())))
        parts.append(f"  since: {rfc3339(a.starts_at_ms)}" + ("" if a.firing else f"  ended: {rfc3339(a.ends_at_ms)}"))
        if a.generator_url:
            parts.append(f"  source: {a.generator_url}")
        parts.append("")
    parts.append(f"Sent by scalepilot: {message.external_url}")
    return "\n".join(parts)


def default_html(message: Message) -> str:
    e = html.escape
    rows = []
    for a in message.alerts:
        color = "#d00000" if a.firing else "#2e7d32"
        summary = a.annotations.get("summary") or a.annotations.get("description") or ""
        labels = ", ".join(f"{e(k)}={e(v)}" for k, v in sorted(a.labels.items()))
        rows.append(
            f'<tr><td style="color:{color};font-weight:bold">{e(a.status.upper())}</td>'
            f"<td>{e(a.labels.get('alertname', ''))}</td><td>{e(summary)}</td><td>{labels}</td>"
            f"<td>{e(rfc3339(a.starts_at_ms))}</td></tr>"
        )
    return (
        f"<html><body><h2>{e(default_subject(message))}</h2>"
        '<table border="1" cellpadding="4" cellspacing="0">'
        "<tr><th>status</th><th>alert</th><th>summary</th><th>labels</th><th>since</th></tr>"
        + "".join(rows)
        + f'</table><p><a href="{e(message.external_url)}">scalepilot</a></p></body></html>'
    )


class EmailNotifier:
    def __init__(self, settings: EmailConfig, ctx: NotifierContext, name: str = "email") -> None:
        g = ctx.global_config
        self.settings = settings
        self._ctx = ctx
        self._name = name
        sender = settings.from_ or g.smtp_from
        smarthost = settings.smarthost or g.smtp_smarthost
        if not sender:
            raise NotifyError(f"{name}: no sender: set from or global.smtp_from", transient=False)
        if not smarthost:
            raise NotifyError(f"{name}: no SMTP server: set smarthost or global.smtp_smarthost", transient=False)
        host, _, port = smarthost.rpartition(":")
        self.sender = sender
        self.host = host.strip("[]")
        self.port = int(port)
        self.hello = settings.hello or g.smtp_hello
        self.require_tls = settings.require_tls if settings.require_tls is not None else g.smtp_require_tls
        self.implicit_tls = settings.implicit_tls if settings.implicit_tls is not None else self.port == 465
        self.username = settings.auth_username or g.smtp_auth_username
        self._templates: dict[str, Template] = {k: compile_template(v) for k, v in settings.headers.items()}
        self._text = compile_template(settings.text) if settings.text is not None else None
        self._html = compile_template(settings.html) if settings.html is not None else None

    def _password(self) -> str:
        s, g = self.settings, self._ctx.global_config
        pw = read_secret(s.auth_password_file, s.auth_password_env, self._ctx.base_dir, f"{self._name} auth_password")
        if pw is None:
            pw = read_secret(
                g.smtp_auth_password_file, g.smtp_auth_password_env, self._ctx.base_dir, "global.smtp_auth_password"
            )
        return pw or ""

    def build(self, message: Message) -> EmailMessage:
        data = message.template_data()
        mail = EmailMessage()
        headers = {k: t.render(data) for k, t in self._templates.items()}
        subject = next((v for k, v in headers.items() if k.lower() == "subject"), default_subject(message))
        mail["Subject"] = subject
        mail["From"] = self.sender
        mail["To"] = self.settings.to
        mail["Date"] = formatdate(message.created_ms / 1000)
        mail["Message-Id"] = f"<{message.id}@scalepilot>"
        mail["X-Scalepilot-Notification-Id"] = message.id
        for k, v in headers.items():
            if k.lower() not in ("subject", "from", "to", "message-id", "date"):
                mail[k] = v
        mail.set_content(self._text.render(data) if self._text is not None else default_text(message))
        body = self._html.render(data, escape=html.escape) if self._html is not None else default_html(message)
        mail.add_alternative(body, subtype="html")
        return mail

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl_context(self.settings.tls_config, self._ctx.base_dir)
        return ctx

    def _deliver(self, mail: EmailMessage) -> None:
        timeout = self.settings.timeout
        tls = self._tls()
        server_name = (
            self.settings.tls_config.server_name
            if self.settings.tls_config and self.settings.tls_config.server_name
            else None
        )
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.hello, timeout=timeout, context=tls)
        else:
            smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.hello, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if not self.implicit_tls and self.require_tls:
                if not smtp.has_extn("starttls"):
                    raise ReceiverRejected(
                        f"{self._name}: require_tls is true but {self.host}:{self.port} does not offer STARTTLS"
                    )
                if server_name:
                    smtp._host = server_name  # type: ignore[attr-defined]  # starttls checks the cert against it
                smtp.starttls(context=tls)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password())
            recipients = [addr for _, addr in getaddresses([self.settings.to]) if addr]
            smtp.send_message(mail, from_addr=self.sender, to_addrs=recipients)

    async def send(self, message: Message) -> None:
        mail = self.build(message)
        try:
            await asyncio.to_thread(self._deliver, mail)
        except NotifyError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise ReceiverRejected(f"{self._name}: authentication failed: {exc.smtp_code}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            transient = all(400 <= c < 500 for c in codes)
            cls = ReceiverUnavailable if transient else ReceiverRejected
            raise cls(f"{self._name}: recipients refused ({', '.join(map(str, codes))})") from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            cls = ReceiverUnavailable if 400 <= exc.smtp_code < 500 else ReceiverRejected
            raise cls(f"{self._name}: SMTP {exc.smtp_code}: {excerpt(text)}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise ReceiverRejected(f"{self._name}: {exc}") from exc
        except ssl.SSLCertVerificationError as exc:
            raise ReceiverRejected(f"{self._name}: TLS certificate not trusted: {exc.verify_message}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else excerpt(str(exc) or repr(exc))
            raise ReceiverUnavailable(f"{self._name}: {reason}") from exc

    async def aclose(self) -> None:
        return None
