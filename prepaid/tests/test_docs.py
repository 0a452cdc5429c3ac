"""The documents name tests that exist: a renamed or deleted test leaves no dangling reference."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def referenced_tests() -> list[tuple[str, str, str]]:
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for line in doc.read_text().splitlines():
            path = None
            for token in re.findall(r"`([\w/]+\.py)(?:::(\w+))?`|`::(\w+)`", line):
                if token[0]:
                    path = token[0]
                name = token[1] or token[2]
                if path and name and path.rsplit("/", 1)[-1].startswith("test_"):
                    found.append((doc.name, path, name))
    return found


def test_every_test_a_document_names_exists():
    references = referenced_tests()
    assert len(references) > 40
    missing = [f"{doc}: {path}::{name}" for doc, path, name in references
               if not (ROOT / path).exists() or f"def {name}(" not in (ROOT / path).read_text()]
    assert missing == []
