"""Sending one message through the SMTP server of the settings (``CIVICLAKE_SMTP_*``)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from civiclake.brief.recipients import BriefError
from civiclake.settings import MissingSecretError, Settings

TIMEOUT_S = 30


class SmtpNotConfiguredError(BriefError):
    """No SMTP server is configured: briefs can be rendered (--dry-run) but not sent."""


def smtp_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def check_smtp_settings(settings: Settings) -> None:
    """Fail before any brief is made when the mail settings cannot work."""
    if not smtp_configured(settings):
        raise SmtpNotConfiguredError(
            "CIVICLAKE_SMTP_HOST is not set: no SMTP server to send the briefs through. Set "
            "CIVICLAKE_SMTP_HOST, CIVICLAKE_SMTP_PORT, CIVICLAKE_SMTP_SENDER (and CIVICLAKE_SMTP_USER / "
            "CIVICLAKE_SMTP_PASSWORD, CIVICLAKE_SMTP_TLS), or render them with --dry-run --out DIR."
        )
    if not settings.smtp_sender:
        raise SmtpNotConfiguredError(
            "CIVICLAKE_SMTP_SENDER is not set: the From: address of the briefs (e.g. brief@example.org)."
        )
    if settings.smtp_user and (
        settings.smtp_password is None or not settings.smtp_password.get_secret_value()
    ):
        raise MissingSecretError(
            f"CIVICLAKE_SMTP_PASSWORD is not set: cannot log in to {settings.smtp_host}:{settings.smtp_port} "
            f"as {settings.smtp_user}."
        )


def send(settings: Settings, message: EmailMessage) -> None:
    """Hand one message to the server; raises (smtplib.SMTPException, OSError) when it is
    not accepted. One connection per message keeps a failure to one recipient (a refused
    address, a dropped connection) from touching the next."""
    context = ssl.create_default_context()
    if settings.smtp_tls == "ssl":
        client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S, context=context)
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S)
    with client:
        if settings.smtp_tls == "starttls":
            client.starttls(context=context)
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        refused = client.send_message(message)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
