"""Channel secrets from SSM Parameter Store (``shared.ports.ChannelSecrets``).

SecureString parameters, decrypted and cached for 5 minutes by powertools ``parameters`` (one
cache per process). A parameter that cannot be read counts as missing: it is logged by its name
(a reference, not a value) and the error's type, never by anything that could echo a value.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import GetParameterError

from shared.observability import logger

SECRET_CACHE_SECONDS = 300


class SsmChannelSecrets:
    def get(self, name: str) -> str | None:
        try:
            value = parameters.get_parameter(name, decrypt=True, max_age=SECRET_CACHE_SECONDS)
        except GetParameterError as exc:
            logger.warning("channel secret could not be read", secret_ref=name, error=type(exc).__name__)
            return None
        return value if isinstance(value, str) and value else None
