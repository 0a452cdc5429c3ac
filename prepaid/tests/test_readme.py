"""README's commands work as written, in a fresh shell: no ``make``, no exported variables, only
the checkout's ``.env`` (which ``make`` writes). They run against the tests' database, Redis and
topics (the only variables given), and the "Using it" block against the tests' platform."""

import os
import pty
import re
import select
import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.support import test_database_url

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def fresh_shell_env() -> dict[str, str]:
    """A login-less shell's environment, plus where the tests' services are."""
    return {"HOME": os.environ.get("HOME", "/root"), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "DATABASE_URL": test_database_url(), "REDIS_URL": settings.REDIS_URL,
            "KAFKA_TOPIC_WALLET_EVENTS": settings.KAFKA_TOPIC_WALLET_EVENTS}


def run_in_terminal(script: str, *, answers: list[tuple[str, str]], timeout_s: float = 120) -> tuple[int, str]:
    """Run ``script`` with bash in a pseudo-terminal (as a person would: prompts read the terminal),
    answering each prompt of ``answers`` (a regular expression and a line) in turn."""
    if not (ROOT / ".env").exists():
        pytest.fail(".env is missing: make writes it (make test runs first)")
    pid, fd = pty.fork()
    if pid == 0:  # the child: a shell in the checkout
        os.chdir(ROOT)
        os.execve(shutil.which("bash"), ["bash", "-e", "-c", script], fresh_shell_env())  # noqa: S606
    output, pending = b"", list(answers)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child ended
                break
            if not chunk:
                break
            output += chunk
        if pending and re.search(pending[0][0], output.decode(errors="replace").rsplit("\n", 1)[-1]):
            os.write(fd, pending.pop(0)[1].encode() + b"\n")
    else:
        os.kill(pid, 9)
        pytest.fail(f"timed out; output so far:\n{output.decode(errors='replace')}")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def readme_block(containing: str) -> str:
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        if containing in block:
            return block
    raise AssertionError(f"README has no sh block with {containing!r}")


@pytest.mark.e2e
def test_using_it_works_as_written(web, django_user_model):
    platform = web()
    block = readme_block("create_api_token")
    # As written, but against the tests' platform (its public address) and with a name of this run.
    script = block.replace("localhost:8000", platform.base_url.removeprefix("http://"))
    assert "alice" in script
    script = script.replace("alice", "readme-alice")
    password = "a long passphrase for the readme test"
    code, output = run_in_terminal(script, answers=[("Password: ?$", password), ("Password \\(again\\): ?$", password)])
    assert code == 0, output
    assert django_user_model.objects.get(username="readme-alice").is_superuser
    assert '"transactionId"' in output and '"newBalance":10000' in output, output  # the charge's answer


COMMANDS = sorted(set(re.findall(r"`(\.venv/bin/python manage\.py [a-z_]+)[^`]*`", README)))
LONG_RUNNING = {".venv/bin/python manage.py run_consumer", ".venv/bin/python manage.py run_audit_consumer"}


def test_readme_lists_the_commands_this_test_runs():
    assert ".venv/bin/python manage.py reconcile_ledger" in COMMANDS
    assert not re.search(r"^\s*python manage\.py", README, flags=re.M)  # always the checkout's Python
    assert "`python manage.py" not in README


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in LONG_RUNNING])
def test_operating_commands_work_in_a_fresh_shell(command, user):
    shown = re.search(rf"`({re.escape(command)}[^`]*)`", README).group(1)
    if "<username>" in shown:
        line = f"{command} {user.username}"
    elif "--stats" in shown:
        line = f"{command} --stats"
    elif command.endswith("kafka_partitions_add"):  # it grows a topic for good: tests/e2e/test_partitions_add.py
        line = f"{command} --help"
    else:
        line = command
    code, output = run_in_terminal(line, answers=[])
    assert code == 0, f"{line}\n{output}"
    assert "ImproperlyConfigured" not in output and "Traceback" not in output
