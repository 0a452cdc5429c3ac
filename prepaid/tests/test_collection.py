"""Every test file in the repository is collected by ``make test`` and CI: a ``test_*.py``
outside pyproject.toml's ``testpaths`` would never run (the accounts app's token tests did not)."""

import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _pytest_options() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]


def _test_files() -> list[str]:
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    return [path for path in tracked if path.endswith(".py") and fnmatch(Path(path).name, "test_*.py")]


def test_every_test_file_is_under_a_collected_path():
    options = _pytest_options()
    assert options["python_files"] == ["test_*.py"]
    test_files = _test_files()
    assert len(test_files) > 40  # the repository's own, found
    outside = [path for path in test_files if path.split("/")[0] not in options["testpaths"]]
    assert outside == [], "test files pytest never collects: add their directory to testpaths in pyproject.toml"


def test_every_test_directory_is_a_package():
    """pytest imports test modules by package: two test_x.py in directories without __init__.py clash."""
    missing = sorted({str(Path(path).parent) for path in _test_files()
                      if not (ROOT / Path(path).parent / "__init__.py").exists()})
    assert missing == []
