"""Every text a user reads about a wallet event, in one place (Korean, as the design note gives them)."""

import dataclasses

from prepaid.money import won


@dataclasses.dataclass(frozen=True)
class Rendered:
    title: str
    message: str
    type: str


def _with_note(note: str) -> str:
    return f" ({note})" if note else ""


def render(event: dict) -> Rendered:
    """The notification for a (schema-valid) wallet event."""
    event_type = event["eventType"]
    balance = won(event["newBalance"])
    if event_type == "CHARGE_COMPLETED":
        return Rendered("충전 완료", f"{won(event['amount'])}가 충전되었습니다. 현재 잔액: {balance}", "success")
    if event_type == "SPEND_COMPLETED":
        return Rendered(
            "사용 완료",
            f"{won(event['amount'])}가 사용되었습니다{_with_note(event['description'])}. 현재 잔액: {balance}",
            "info",
        )
    if event_type == "REVERSAL_COMPLETED":
        return Rendered(
            "취소 완료",
            f"{won(event['reversedAmount'])}가 취소되었습니다{_with_note(event['reason'])}. 현재 잔액: {balance}",
            "info",
        )
    raise ValueError(f"no notification text for event type {event_type!r}")
