"""How amounts leave the app: exactly as stored, with at least two decimals, never rounded."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def money_text(amount: Decimal | None) -> str | None:
    """`412.5` -> "412.50", `412.0049` -> "412.0049", `412.0000` -> "412.00"."""
    if amount is None:
        return None
    exact = amount.normalize()
    if exact == exact.quantize(CENT):
        return f"{exact:.2f}"
    return f"{exact:f}"
