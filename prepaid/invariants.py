"""Checked invariants: a helper that raises, unlike ``assert`` (stripped by ``python -O``)."""


class InvariantViolation(RuntimeError):
    """A rule that must always hold did not: a bug, never a user error."""


def ensure(condition: bool, message: str) -> None:
    if not condition:
        raise InvariantViolation(message)
