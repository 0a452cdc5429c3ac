"""The API keeps the contract its OpenAPI schema states: Schemathesis, against the schema the
server serves, through the proxy, every operation, with generated valid and invalid input
and a stateful run (a charge's or spend's transaction feeds a reversal)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import api_token, charge

pytestmark = pytest.mark.e2e

CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "negative_data_rejection", "error_code_documented"]
ROOT = Path(__file__).resolve().parents[2]
SEED = 20261129
EXAMPLES_PER_OPERATION = 100


def test_the_api_keeps_its_openapi_contract(web, user_factory, tmp_path):
    # A remaining-balance refund would empty the wallet the stateful run's spends and reversals need: the user
    # is never eligible here (its requests are checked and refused; the refunds themselves:
    # wallets/tests/apis/test_refund_requests.py).
    platform = web(WALLET_REFUND_USED_PERCENT_MIN="101", WALLET_REFUND_SMALL_CHARGE_USED_PERCENT_MIN="101")
    user = user_factory()
    charge(user, 5_000_000)  # so that spends and reversals can succeed
    report = tmp_path / "schemathesis.json"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(ROOT / "tests" / "schemathesis.toml"),
         "run", f"{platform.base_url}/api/schema/",
         "--checks", ",".join(CHECKS), "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED),
         "--header", f"Authorization: Token {api_token(user)}", "--workers", "1", "--no-shrink",
         "--generation-database", "none", "--report", "json", "--report-json-path", str(report)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
    run = json.loads(report.read_text())
    assert run["operations"]["tested"] == run["operations"]["total"] == 34  # every operation of the schema
    assert run["test_cases"]["generated"] >= 1_000
    assert {name: phase["status"] for name, phase in run["phases"].items()} == dict.fromkeys(
        ["examples", "coverage", "fuzzing", "stateful"], "success")
    # The stateful run followed the links: transactions into reversals, holds into captures and voids.
    covered = re.search(r"API Links:\s+(\d+) covered", result.stdout)
    assert covered and int(covered.group(1)) >= 4, result.stdout[-3_000:]
