"""SMTP delivery configured by one URL: smtp://host:port, smtp://user:pass@host:587?starttls=true,
smtps://host:465 (TLS from the first byte). Optional query parameter: timeout (seconds)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

TRUE_VALUES = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    use_ssl: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 30.0) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, got {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("SMTP_URL has no host")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        use_ssl = parts.scheme == "smtps"
        starttls = query.get("starttls", "").lower() in TRUE_VALUES
        if use_ssl and starttls:
            raise ValueError("SMTP_URL: smtps:// is already TLS; drop ?starttls=true")
        default_port = 465 if use_ssl else 587 if starttls else 25
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            use_ssl=use_ssl,
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=float(query.get("timeout", timeout)),
        )


class SmtpMailer:
    """One SMTP connection, opened on the first send and reused until close()."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._connection: smtplib.SMTP | None = None

    def send(self, message: EmailMessage, *, sender: str, recipients: list[str]) -> None:
        connection = self._connect()
        try:
            connection.send_message(message, from_addr=sender, to_addrs=recipients)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
            raise  # the server refused this message; the connection is still usable
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        s = self.settings
        if s.use_ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            connection.ehlo()
            if s.starttls:
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if s.username:
                connection.login(s.username, s.password or "")
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection
