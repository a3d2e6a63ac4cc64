"""The two ways a notice leaves: SMS through SNS (`Publish` to a phone number) and email (SES v2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from shared.notices import Notifier


class AwsSender:
    def __init__(
        self, sender_email: str, region: str, sns: Any | None = None, ses: Any | None = None
    ) -> None:
        self.sender_email = sender_email
        self._sns = sns or boto3.client("sns", region_name=region)
        self._ses = ses or boto3.client("sesv2", region_name=region)

    def sms(self, phone: str, text: str) -> None:
        self._sns.publish(
            PhoneNumber=phone,
            Message=text,
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )

    def email(self, address: str, subject: str, body: str) -> None:
        self._ses.send_email(
            FromEmailAddress=self.sender_email,
            Destination={"ToAddresses": [address]},
            Content={
                "Simple": {
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
                }
            },
        )


def aws_notifier() -> Notifier:
    """Notices to the tenant's dispatchers (no candidate, a failed ticket): these channels and the
    reminders' sent-markers. Email needs ``SENDER_EMAIL`` (a verified SES identity) in the
    function's environment; without it only SMS is sent."""
    from shared.notices import Notifier
    from shared.repositories.reminders import ReminderMarkers, marker_key
    from shared.settings import settings

    sender_email = (settings().sender_email or "").strip()
    return Notifier(
        sender=AwsSender(sender_email or "unset@invalid", settings().region),
        markers=ReminderMarkers(),
        marker_key=marker_key,
        email_enabled=bool(sender_email),
    )
