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
    returned = "returnedTransactionId" in event.get("metadata", {})
    if event_type == "TRANSFER_SENT":
        verb = "돌려보냈습니다" if returned else "보냈습니다"
        return Rendered(
            "송금 완료",
            f"{event['counterparty']}님에게 {won(event['amount'])}을 {verb}{_with_note(event['message'])}. "
            f"현재 잔액: {balance}",
            "info",
        )
    if event_type == "TRANSFER_RECEIVED":
        title, verb = ("송금 반환", "돌려받았습니다") if returned else ("입금", "받았습니다")
        return Rendered(
            title,
            f"{event['counterparty']}님에게서 {won(event['amount'])}을 {verb}{_with_note(event['message'])}. "
            f"현재 잔액: {balance}",
            "success",
        )
    if event_type == "HOLD_PLACED":
        return Rendered(
            "결제 보류",
            f"{won(event['amount'])}이 보류되었습니다{_with_note(event['description'])}. "
            f"사용 가능 잔액: {won(event['availableBalance'])}",
            "info",
        )
    if event_type == "HOLD_CAPTURED":
        return Rendered(
            "결제 확정",
            f"보류된 금액 중 {won(event['amount'])}이 결제되었습니다{_with_note(event['description'])}. "
            f"현재 잔액: {balance}",
            "info",
        )
    if event_type == "HOLD_RELEASED":
        why = "만료" if event["reason"] == "expired" else "취소"
        return Rendered(
            "보류 해제",
            f"보류된 {won(event['releasedAmount'])}이 풀렸습니다 ({why}). "
            f"사용 가능 잔액: {won(event['availableBalance'])}",
            "success",
        )
    raise ValueError(f"no notification text for event type {event_type!r}")
