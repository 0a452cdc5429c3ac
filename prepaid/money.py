"""Money is an integer number of won; this is how people read it."""


def won(amount: int) -> str:
    """₩ with thousands separators: 10000 -> ₩10,000."""
    return f"₩{amount:,}"
