"""Money is an integer number of won (``BigIntegerField``, never a float); this is its one currency."""

CURRENCY = "KRW"


def won(amount: int) -> str:
    """How people read an amount: ₩ with thousands separators (10000 -> ₩10,000)."""
    return f"₩{amount:,}"
