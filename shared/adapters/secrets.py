"""Channel secrets from SSM Parameter Store (``shared.ports.ChannelSecrets``).

SecureString parameters, decrypted and cached by powertools ``parameters`` (one cache per process)
for :data:`SECRET_CACHE_SECONDS`. SSM's standard throughput is 40 reads/s shared by the whole
account and region, and every webhook container reads each channel secret it verifies with, so
the cache is long (an hour); a rotated secret is picked up at once instead by a *refresh on
mismatch*: when a signature does not verify with the cached value, the caller asks again with
``fresh=True``, which reads SSM at most once per :data:`REFRESH_INTERVAL_SECONDS` per secret and
process (a flood of forged deliveries costs one read a minute, not one per request).

A parameter that cannot be read counts as missing: it is logged by its name (a reference, not a
value) and the error's type, never by anything that could echo a value.
"""

from __future__ import annotations

import threading
import time

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import GetParameterError

from shared.observability import logger

SECRET_CACHE_SECONDS = 3600
REFRESH_INTERVAL_SECONDS = 60.0


class SsmChannelSecrets:
    def __init__(self) -> None:
        self._refreshed: dict[str, float] = {}  # name -> time.monotonic() of its last forced read
        self._lock = threading.Lock()

    def get(self, name: str, *, fresh: bool = False) -> str | None:
        force = fresh and self._may_refresh(name)
        try:
            value = parameters.get_parameter(
                name, decrypt=True, max_age=SECRET_CACHE_SECONDS, force_fetch=force
            )
        except GetParameterError as exc:
            logger.warning("channel secret could not be read", secret_ref=name, error=type(exc).__name__)
            return None
        return value if isinstance(value, str) and value else None

    def _may_refresh(self, name: str) -> bool:
        with self._lock:
            last = self._refreshed.get(name)
            now = time.monotonic()
            if last is not None and now - last < REFRESH_INTERVAL_SECONDS:
                return False
            self._refreshed[name] = now
            return True
