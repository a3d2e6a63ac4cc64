"""The two ways a reminder leaves: SMS through SNS (`Publish` to a phone number) and email through SES v2."""

from __future__ import annotations

from typing import Any

import boto3


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
