"""`wecom_app`: the tenant's WeCom application (企业微信自建应用) that sends its staff SLA
reminders and dispatchers' notices as application messages (应用消息), beside SMS and email.

```yaml
wecom_app:
  corp_id: ww-demo               # the corp (企业 ID)
  agent_id: 1000002              # the application's AgentId
  secret: {ssm: /scrm/acme-home/wecom-app-secret}   # the application's Secret, in SSM
```

A level whose `channels` name `wecom` sends to each recipient's `wecom_user` (their UserId in
that corp); people without one are skipped, as a person without a phone is for SMS. The platform
gets an access token with the corp id and the secret (`GET /cgi-bin/gettoken`), caches it for
its lifetime and sends with `POST /cgi-bin/message/send` (`shared/adapters/wecom_app.py`).
"""

from __future__ import annotations

from pydantic import Field

from shared.tenant.models.base import _Model
from shared.tenant.models.channels import SecretRef
from shared.tenant.models.formats import Text


class WeComApp(_Model):
    corp_id: Text
    """The corp's id (企业 ID, ``ww...``): ``corpid`` of ``gettoken``."""
    agent_id: int = Field(ge=1, le=2**31 - 1)
    """The application's AgentId: ``agentid`` of each message."""
    secret: SecretRef
    """The application's Secret (``corpsecret`` of ``gettoken``), a SecureString in SSM."""
