"""The apps form layers: a lower app never imports a higher one (the root URLconf sees them all)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Lowest first. prepaid holds what every app shares (settings, errors, the event contract, Kafka clients).
LAYERS = ["prepaid", "accounts", "ledger", "outbox", "notifications", "wallets", "audit"]
# The one module allowed to see every app: it wires their URLs together.
EXEMPT = {"prepaid/urls.py"}


def imported_apps(path: Path) -> set[str]:
    apps = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        apps |= {name.split(".")[0] for name in names} & set(LAYERS)
    return apps


def runtime_modules(app: str) -> list[Path]:
    return [p for p in sorted((ROOT / app).rglob("*.py"))
            if not {"tests", "migrations"} & set(p.relative_to(ROOT).parts)]


def test_no_app_imports_a_higher_one():
    arrows = []
    for rank, app in enumerate(LAYERS):
        for path in runtime_modules(app):
            relative = str(path.relative_to(ROOT))
            if relative in EXEMPT:
                continue
            arrows += [f"{relative} imports {other}" for other in imported_apps(path) if LAYERS.index(other) > rank]
    assert arrows == []


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from wallets.selectors import wallet_get\n    import notifications.sse\n")
    assert imported_apps(module) == {"wallets", "notifications"}
