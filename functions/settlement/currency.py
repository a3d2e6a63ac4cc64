"""Decimals of a currency's minor unit (ISO 4217), shared by pricing and the API's money strings.

Apart from ``pricing.py`` so that the earnings and revenue routes format amounts without importing
the pricing rules and the tenant catalog's models at their cold start.
"""

from __future__ import annotations

_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW"), 0),
    **dict.fromkeys(("PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
"""ISO 4217 currencies whose minor unit is not 2 decimals."""


def minor_unit(currency: str) -> int:
    """Decimals of the currency's minor unit (ISO 4217): 2 for CNY, 0 for JPY, 3 for KWD."""
    return _MINOR_UNITS.get(currency, 2)
