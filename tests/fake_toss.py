"""A local HTTP server that speaks Toss Payments' API, for tests (Toss cannot be reached from here).

What it implements, as Toss documents it (https://docs.tosspayments.com/reference):

- HTTP Basic auth with ``base64("<secret key>:")``; anything else is 401 ``UNAUTHORIZED_KEY``;
- ``POST /v1/payments/confirm`` ``{paymentKey, orderId, amount}``: a payment the customer
  authorized (``READY``) becomes ``DONE``; the amount and order must match what the
  customer authorized (else 400 ``NOT_MATCHES_AMOUNT`` / 404 ``NOT_FOUND_PAYMENT``); a
  payment already ``DONE`` answers 400 ``ALREADY_PROCESSED_PAYMENT``;
- ``POST /v1/payments/{paymentKey}/cancel`` ``{cancelReason, cancelAmount?}`` with an
  ``Idempotency-Key`` header: the same key gets the same answer and cancels once;
  partial cancels lower ``balanceAmount`` (``PARTIAL_CANCELED``), the last one makes
  the payment ``CANCELED``; more than the balance is 400 ``NOT_CANCELABLE_AMOUNT``;
- ``GET /v1/payments/{paymentKey}`` and ``GET /v1/payments/orders/{orderId}``;
- errors as ``{"code", "message"}``.

What Toss's widget and console do, the test drives through methods: ``authorize`` (the
customer paid in the widget: the payment is ``READY``), ``console_cancel`` (an operator
cancels in Toss's console, and Toss posts ``PAYMENT_STATUS_CHANGED`` to the webhook URL).

Faults (``fault``): the next N calls of an operation answer 5xx, ``PROVIDER_ERROR``,
another error code, or do their work and then answer too late (``timeout``: the effect
happened, the client did not hear it). Run alone: ``python -m tests.fake_toss --port 8089``.
"""

import base64
import dataclasses
import datetime
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

SECRET_KEY = "test_sk_fake0000000000000000000"
CLIENT_KEY = "test_ck_fake0000000000000000000"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=9))).isoformat(timespec="seconds")


@dataclasses.dataclass
class _Fault:
    operation: str  # confirm | cancel | lookup
    kind: str  # timeout | 5xx | an error code (PROVIDER_ERROR, ALREADY_PROCESSED_PAYMENT, REJECT_CARD_PAYMENT, ...)
    times: int
    status: int = 400


# Answers that cannot be read, after Toss has done the work: a field missing, a field of the wrong
# type, an HTML error page (a proxy's), a body cut short.
GARBLED = ("missing_field", "wrong_type", "html", "truncated")


def _garble(kind: str, answer: dict) -> dict | bytes:
    answer = json.loads(json.dumps(answer))
    if kind == "missing_field":
        for cancel in answer.get("cancels") or ():
            cancel.pop("transactionKey", None)
        if not answer.get("cancels"):
            answer.pop("totalAmount", None)
        return answer
    if kind == "wrong_type":
        answer["totalAmount"] = str(answer.get("totalAmount"))
        return answer
    if kind == "html":
        return b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    data = json.dumps(answer).encode()
    return data[:len(data) // 2]


class FakeToss:
    def __init__(self, *, secret_key: str = SECRET_KEY, timeout_s: float = 3.0):
        self.secret_key = secret_key
        self.timeout_s = timeout_s  # how late a "timeout" answer comes
        self.payments: dict[str, dict] = {}  # by paymentKey: Toss's Payment object
        self.cancel_answers: dict[str, tuple[int, dict]] = {}  # by Idempotency-Key
        self.calls: list[tuple[str, str]] = []  # (method, path) of every call
        self.webhook_url: str | None = None
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- what the widget, the console and the tests do ---------------------------

    def authorize(self, *, order_id: str, amount: int, payment_key: str | None = None,
                  order_name: str = "지갑 충전") -> str:
        """The customer paid in the widget: a READY payment Toss waits to have confirmed."""
        payment_key = payment_key or f"tgen_{uuid.uuid4().hex[:20]}"
        with self._lock:
            self.payments[payment_key] = {
                "mId": "tosspayments", "version": "2022-11-16", "paymentKey": payment_key, "type": "NORMAL",
                "orderId": order_id, "orderName": order_name, "currency": "KRW", "method": "카드",
                "status": "READY", "requestedAt": _now(), "approvedAt": None, "totalAmount": amount,
                "balanceAmount": amount, "cancels": None, "lastTransactionKey": None,
            }
        return payment_key

    def fault(self, operation: str, kind: str, *, times: int = 1, status: int = 400) -> None:
        with self._lock:
            self._faults.append(_Fault(operation, kind, times, status))

    def console_cancel(self, payment_key: str, amount: int | None = None, reason: str = "고객 요청") -> dict:
        """An operator cancels in Toss's console; Toss then posts PAYMENT_STATUS_CHANGED."""
        status, body = self._cancel(payment_key, {"cancelReason": reason, "cancelAmount": amount})
        assert status == 200, body
        if self.webhook_url:
            httpx.post(self.webhook_url, json=self.webhook_body(payment_key), timeout=10)
        return body

    def webhook_body(self, payment_key: str) -> dict:
        with self._lock:
            payment = json.loads(json.dumps(self.payments[payment_key]))
        return {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": _now(), "data": payment}

    def cancelled_amount(self, payment_key: str) -> int:
        payment = self.payments[payment_key]
        return payment["totalAmount"] - payment["balanceAmount"]

    # --- the API --------------------------------------------------------------------

    def _take_fault(self, operation: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation == operation and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _confirm(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            payment = self.payments.get(str(body.get("paymentKey")))
            if payment is None or payment["orderId"] != body.get("orderId"):
                return 404, {"code": "NOT_FOUND_PAYMENT", "message": "존재하지 않는 결제 정보 입니다."}
            if payment["totalAmount"] != body.get("amount"):
                return 400, {"code": "NOT_MATCHES_AMOUNT", "message": "결제 금액이 일치하지 않습니다."}
            if payment["status"] != "READY":
                return 400, {"code": "ALREADY_PROCESSED_PAYMENT", "message": "이미 처리된 결제 입니다."}
            payment.update(status="DONE", approvedAt=_now(), lastTransactionKey=uuid.uuid4().hex)
            return 200, dict(payment)

    def _cancel(self, payment_key: str, body: dict, idempotency_key: str | None = None) -> tuple[int, dict]:
        with self._lock:
            if idempotency_key and idempotency_key in self.cancel_answers:
                return self.cancel_answers[idempotency_key]
            answer = self._cancel_once(payment_key, body)
            if idempotency_key:
                self.cancel_answers[idempotency_key] = answer
            return answer

    def _cancel_once(self, payment_key: str, body: dict) -> tuple[int, dict]:
        payment = self.payments.get(payment_key)
        if payment is None:
            return 404, {"code": "NOT_FOUND_PAYMENT", "message": "존재하지 않는 결제 정보 입니다."}
        if payment["status"] == "CANCELED":
            return 400, {"code": "ALREADY_CANCELED_PAYMENT", "message": "이미 취소된 결제 입니다."}
        if payment["status"] not in ("DONE", "PARTIAL_CANCELED"):
            return 403, {"code": "NOT_CANCELABLE_PAYMENT", "message": "취소 할 수 없는 결제 입니다."}
        amount = body.get("cancelAmount") or payment["balanceAmount"]
        if not isinstance(amount, int) or amount <= 0 or amount > payment["balanceAmount"]:
            return 400, {"code": "NOT_CANCELABLE_AMOUNT", "message": "취소 할 수 없는 금액 입니다."}
        transaction_key = uuid.uuid4().hex
        payment["balanceAmount"] -= amount
        payment["status"] = "CANCELED" if payment["balanceAmount"] == 0 else "PARTIAL_CANCELED"
        payment["cancels"] = (payment["cancels"] or []) + [{
            "transactionKey": transaction_key, "cancelReason": body.get("cancelReason", ""), "cancelAmount": amount,
            "canceledAt": _now(), "cancelStatus": "DONE", "refundableAmount": payment["balanceAmount"],
        }]
        payment["lastTransactionKey"] = transaction_key
        return 200, json.loads(json.dumps(payment))

    def _lookup(self, path: str) -> tuple[int, dict]:
        with self._lock:
            if match := re.fullmatch(r"/v1/payments/orders/([^/]+)", path):
                found = [p for p in self.payments.values() if p["orderId"] == match[1]]
                payment = found[-1] if found else None
            else:
                payment = self.payments.get(path.removeprefix("/v1/payments/"))
            if payment is None:
                return 404, {"code": "NOT_FOUND_PAYMENT", "message": "존재하지 않는 결제 정보 입니다."}
            return 200, json.loads(json.dumps(payment))

    def handle(self, method: str, path: str, headers, body: dict) -> tuple[int, dict | bytes]:
        self.calls.append((method, path))
        expected = "Basic " + base64.b64encode(f"{self.secret_key}:".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"code": "UNAUTHORIZED_KEY", "message": "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다."}
        if method == "POST" and path == "/v1/payments/confirm":
            operation, work = "confirm", lambda: self._confirm(body)
        elif method == "POST" and (match := re.fullmatch(r"/v1/payments/([^/]+)/cancel", path)):
            key = headers.get("Idempotency-Key")
            if key is not None and len(key) > 300:
                return 400, {"code": "INVALID_REQUEST", "message": "Idempotency-Key는 300자 이하입니다."}
            operation, work = "cancel", lambda: self._cancel(match[1], body, key)
        elif method == "GET" and path.startswith("/v1/payments/"):
            operation, work = "lookup", lambda: self._lookup(path)
        else:
            return 404, {"code": "NOT_FOUND", "message": "없는 API 입니다."}
        fault = self._take_fault(operation)
        if fault is None:
            return work()
        if fault.kind == "timeout":
            work()  # done at Toss; the answer comes too late for the client
            time.sleep(self.timeout_s)
            return 200, {}
        if fault.kind in GARBLED:  # done at Toss; the answer cannot be read
            status, answer = work()
            return status, _garble(fault.kind, answer)
        if fault.kind == "5xx":
            return 500, {"code": "FAILED_INTERNAL_SYSTEM_PROCESSING", "message": "내부 시스템 처리가 실패했습니다."}
        if fault.kind == "ALREADY_PROCESSED_PAYMENT":
            work()  # the first confirm succeeded, the client heard only this
        return fault.status, {"code": fault.kind, "message": f"{fault.kind} (주입된 오류)"}

    # --- the server -----------------------------------------------------------------

    def start(self, port: int = 0) -> "FakeToss":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    status, answer = 400, {"code": "INVALID_REQUEST", "message": "잘못된 요청입니다."}
                else:
                    status, answer = fake.handle(self.command, self.path, self.headers, body)
                raw = isinstance(answer, bytes)  # a garbled answer, sent as it is
                data = answer if raw else json.dumps(answer, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if raw else "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout)

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-toss").start()
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8089)
    port = parser.parse_args().port
    FakeToss().start(port)
    print(f"fake Toss Payments API on http://127.0.0.1:{port}: TOSS_CLIENT_KEY={CLIENT_KEY} "
          f"TOSS_SECRET_KEY={SECRET_KEY}", flush=True)
    threading.Event().wait()
