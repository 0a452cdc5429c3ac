"""The OpenAPI schema says what the API does (Schemathesis holds the API to it:
test_api_contract.py); its documentation page shows it."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db
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
                body = resolve(schema, response["content"]["application/json"]["schema"]["$ref"])
                assert set(body["required"]) == {"code", "message"} and "fields" in body["properties"], name
                assert body["properties"]["code"]["enum"], name  # the codes this answer can carry
        if operation.get("requestBody"):
            assert {400, 413, 415} <= statuses, name


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
    assert set(resolve(schema, wallet["$ref"])["properties"]) == {"balance", "currency"}
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
