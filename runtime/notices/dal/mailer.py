"""Email through Amazon SES (API v2 `SendEmail`), from the configured verified sender."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import client


class MailError(Exception):
    """SES refused or failed to take the message; `code` is SES's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Mailer:
    def __init__(self, sender: str, *, sesv2: Any = None) -> None:
        self._sender = sender
        self._ses = sesv2

    @property
    def _client(self) -> Any:
        return self._ses or client("sesv2")

    def send(self, to: str | Sequence[str], subject: str, text: str) -> str:
        """Send one plain-text email to one or more addresses; returns SES's message id."""
        addresses = [to] if isinstance(to, str) else list(to)
        try:
            answer = self._client.send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": addresses},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                    }
                },
            )
        except ClientError as exc:
            raise MailError(str(exc.response.get("Error", {}).get("Code", "ClientError"))) from exc
        except BotoCoreError as exc:
            raise MailError(type(exc).__name__) from exc
        return str(answer.get("MessageId", ""))
