"""The OpenAPI schema says what the API does (Schemathesis holds the API to it:
test_api_contract.py); its documentation page shows it."""

import subprocess
import sys
from pathlib import Path

import pytest

from accounts.services import SignInErrorCode, TokenErrorCode
from notifications.services import DeadLetterErrorCode
from prepaid.errors import CommonErrorCode
from wallets.errors import WalletErrorCode

pytestmark = pytest.mark.django_db
# Every error code there is, and its HTTP status.
CODES = {str(code): code.http_status
         for cls in (CommonErrorCode, WalletErrorCode, TokenErrorCode, SignInErrorCode, DeadLetterErrorCode)
         for code in cls}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def schema(client) -> dict:
    r = client.get("/api/schema/?format=json")
    assert r.status_code == 200
    return r.json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def resolve(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_the_schema_is_valid_and_generated_without_warnings():
    result = subprocess.run([sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn",
                             "--file", "/dev/null"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_operation_documents_its_errors_in_the_error_body(schema):
    for name, operation in operations(schema):
        statuses = {int(s) for s in operation["responses"]}
        if operation.get("security"):  # not the open ones (a payment gateway's webhook)
            assert 401 in statuses, name
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                # One error body for every answer, its codes named per operation and status.
                assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error"), name
                assert response["x-error-codes"], name
                assert {CODES[code] for code in response["x-error-codes"]} == {int(status)}, name
                assert all(f"`{code}`" in response["description"] for code in response["x-error-codes"]), name
        if operation.get("requestBody"):
            assert {400, 413, 415} <= statuses, name
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message"} and "fields" in error["properties"]
    assert set(error["properties"]["code"]["enum"]) == set(CODES)
    assert not [n for n in schema["components"]["schemas"] if "Error" in n and n != "Error"]


def test_lists_are_documented_as_the_pages_they_are(schema):
    for path, item in (("/api/v1/wallet/transactions", "TransactionListItem"),
                       ("/api/v1/notifications", "Notification")):
        operation = schema["paths"][path]["get"]
        page = resolve(schema, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
        assert set(page["properties"]) == {"next", "previous", "results"}
        assert page["properties"]["results"]["items"]["$ref"].endswith(f"/{item}")
        assert {p["name"] for p in operation["parameters"]} == {"pageSize", "cursor"}
        assert 400 in {int(s) for s in operation["responses"]}


def test_components_have_their_own_names(schema):
    wallet = schema["paths"]["/api/v1/wallet"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(resolve(schema, wallet["$ref"])["properties"]) == {"balance", "available", "currency", "asOf",
                                                                       "tier", "balanceMax", "transferDailyMax"}
    names = set(schema["components"]["schemas"])
    assert {"Transaction", "ChargeRequest", "SpendRequest", "ReversalRequest", "StreamToken", "ApiToken"} <= names
    assert not {"Input", "Output"} & names


def test_writes_document_the_idempotency_and_throttling_headers(schema):
    for path in ("/api/v1/wallet/charges", "/api/v1/wallet/spends", "/api/v1/wallet/reversals"):
        operation = schema["paths"][path]["post"]
        key = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
        assert key["required"] and key["in"] == "header" and key["schema"]["pattern"]
        assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
        assert "Retry-After" in operation["responses"]["429"]["headers"]
        request = resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        assert request["additionalProperties"] is False  # unknown fields are refused
    charge = schema["paths"]["/api/v1/wallet/charges"]["post"]
    assert charge["responses"]["201"]["links"]["ReverseTransaction"]["operationId"] == "wallet_reversals_create"


def test_security_schemes_and_docs_page(schema, client):
    assert set(schema["components"]["securitySchemes"]) == {"apiToken", "cookieAuth"}
    assert schema["components"]["securitySchemes"]["apiToken"]["name"] == "Authorization"
    assert client.get("/api/docs/").status_code == 200


def test_a_generated_client_has_one_error_type(tmp_path):
    """openapi-python-client builds a typed client from the schema: one error model (and its code
    enum), not one per operation and status (there were 333 of 370 model files)."""
    schema = tmp_path / "schema.json"
    subprocess.run([sys.executable, "manage.py", "spectacular", "--format", "openapi-json", "--file", str(schema)],
                   cwd=ROOT, check=True, capture_output=True)
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")  # no formatter run on the output
    result = subprocess.run(
        [str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path", str(schema),
         "--meta", "none", "--output-path", str(tmp_path / "client"), "--config", str(tmp_path / "config.yaml")],
        cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    models = sorted(path.stem for path in (tmp_path / "client" / "models").glob("*.py") if path.stem != "__init__")
    assert [m for m in models if "error" in m] == ["error", "error_code", "error_fields"]
    # 60 before the bulk API, whose request is one model an operation kind (and each kind's enum of one);
    # the tiers' staff endpoint adds its request, its answer and two enums (the tier, who decided); remaining-
    # balance refunds add ten: the request (the user's, the operator's with its ground enum), the bank account and
    # its bank-code enum, the answer, its card refunds and payouts (each with a status enum), its page.
    assert len(models) < 87
