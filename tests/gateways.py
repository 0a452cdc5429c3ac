"""Payment gateways for tests (selected with the PAYMENT_GATEWAY setting)."""


class ProcessDied(BaseException):
    """Stands for the request's process dying (kill -9): nothing after it runs, no handler catches it."""


class DyingGateway:
    """The request dies while the gateway is being asked (the charge stays in flight)."""

    name = "sandbox"

    def confirm(self, *, payment_key: str, order_id: str, amount: int):
        raise ProcessDied(f"died while confirming {order_id}")
