"""The ways a notice leaves: SMS through SNS (`Publish` to a phone number), email (SES v2) and
WeCom application messages (`shared.adapters.wecom_app`, to the API at `WECOM_API_URL`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from shared.adapters.wecom_app import WeComAppSender
    from shared.notices import Notifier
    from shared.tenant.models import WeComApp


class AwsSender:
    def __init__(
        self,
        sender_email: str,
        region: str,
        sns: Any | None = None,
        ses: Any | None = None,
        wecom: WeComAppSender | None = None,
    ) -> None:
        self.sender_email = sender_email
        self._sns = sns or boto3.client("sns", region_name=region)
        self._ses = ses or boto3.client("sesv2", region_name=region)
        self._wecom = wecom

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

    def wecom(self, app: WeComApp, user: str, text: str) -> None:
        if self._wecom is None:  # built on first use: most tenants have no WeCom application
            from shared.adapters.wecom_app import WeComAppSender
            from shared.settings import settings

            self._wecom = WeComAppSender(base=settings().wecom_api_url)
        self._wecom.send(app, user, text)


def aws_notifier() -> Notifier:
    """Notices to the tenant's dispatchers (no candidate, a failed ticket): these channels (WeCom
    for a tenant with a ``wecom_app``) and the reminders' sent-markers. Email needs
    ``SENDER_EMAIL`` (a verified SES identity) in the function's environment; without it no email
    is sent."""
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
