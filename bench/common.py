"""Shared set-up of the benchmarks: settings, database, topics, processes, statistics."""

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
sys.path.insert(0, str(ROOT))


def setup() -> None:
    """Create the bench database if needed, migrate it, create the topics."""
    import django
    import psycopg
    from django.conf import settings

    url = settings.DATABASE_URL
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("kafka_create_topics", verbosity=0)


def bench_api_token(user) -> str:
    """A fresh API token of a benchmark user (the ones of earlier runs revoked: a user may hold only so many)."""
    from accounts.services import api_token_create, api_tokens_revoke_all

    api_tokens_revoke_all(user=user)
    return api_token_create(user=user)[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (f"n={len(ms)} p50={percentile(ms, 50):.1f}ms p95={percentile(ms, 95):.1f}ms "
            f"p99={percentile(ms, 99):.1f}ms max={max(ms):.1f}ms mean={statistics.fmean(ms):.1f}ms")


def start(argv: list[str], log_name: str, **env: str) -> subprocess.Popen:
    log_dir = ROOT / ".devstack" / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{log_name}.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "prepaid", *args]


class CpuMeter:
    """CPU time used by groups of processes between ``start()`` and ``stop()``.

    ``groups`` maps a name to a predicate on a process. A process that exits in
    between is not counted, so the figures are lower bounds.
    """

    def __init__(self, groups: dict):
        self.groups = groups
        self.before: dict = {}

    def _sample(self) -> dict:
        import psutil

        sample = {}
        for proc in psutil.process_iter(["name", "cmdline", "create_time", "cpu_times"]):
            for group, matches in self.groups.items():
                try:
                    if matches(proc):
                        times = proc.info["cpu_times"]
                        sample[(proc.pid, proc.info["create_time"])] = (group, times.user + times.system)
                        break
                except (psutil.Error, OSError):
                    break
        return sample

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        used = dict.fromkeys(self.groups, 0.0)
        for key, (group, seconds) in self._sample().items():
            used[group] += seconds - self.before.get(key, (group, 0.0))[1]
        return used


def in_session(pid: int):
    """A CpuMeter predicate: the process belongs to the session ``pid`` leads (see ``start``)."""

    def matches(proc) -> bool:
        return os.getsid(proc.pid) == pid

    return matches


def cpu_report(used: dict[str, float], *, operations: int, seconds: float, cores: int) -> str:
    lines = [f"CPU per operation ({operations} operations in {seconds:.1f}s, {cores} cores):"]
    for group, cpu in sorted(used.items(), key=lambda item: -item[1]):
        lines.append(f"  {group:<16} {cpu / operations * 1000:7.1f} ms  ({cpu / seconds * 100:5.1f}% of a core)")
    total = sum(used.values())
    lines.append(f"  {'total':<16} {total / operations * 1000:7.1f} ms  ({total / seconds * 100:5.1f}% of a core); "
                 f"at this cost {cores} cores serve at most {cores * operations / total:.0f} operations/s")
    return "\n".join(lines)


def procfile_commands() -> dict[str, str]:
    """The Procfile's processes: name -> shell command."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and command.strip() and not name.strip().startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


def procfile_start(log_prefix: str, **env: str) -> dict[str, subprocess.Popen]:
    """Start every process of the Procfile, as ``make run`` runs them (each in its own session)."""
    return {name: start(["sh", "-c", command], f"{log_prefix}-{name}", **env)
            for name, command in procfile_commands().items()}


def stop_all(procs) -> None:
    """SIGTERM each process group, then SIGKILL what is left after 20 s."""
    import signal
    import time

    procs = list(procs)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_http_ok(url: str, *, timeout_s: float = 60, ok_statuses: tuple[int, ...] = (200,)) -> None:
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1).status_code in ok_statuses:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer 200 within {timeout_s:.0f}s")
        time.sleep(0.2)


def platform_cpu_groups(procs: dict[str, subprocess.Popen], **extra) -> dict:
    """CpuMeter groups: each Procfile process (with its children), the servers, and ``extra``."""
    groups = {name: in_session(proc.pid) for name, proc in procs.items()}
    groups |= {
        "postgres": lambda p: p.info["name"] == "postgres",
        "redis": lambda p: p.info["name"].startswith("redis-server"),
        "kafka": lambda p: p.info["name"] == "java" and "kafka.Kafka" in " ".join(p.info["cmdline"] or []),
        "front proxy": lambda p: p.info["name"] == "nginx",
        "bench": lambda p: p.pid == os.getpid(),
    }
    return groups | extra


def bench_pushpin(*, port: int, origin_port: int, name: str = "bench-pushpin"):
    """A Pushpin of the benchmark's own (scripts/devstack.sh), in front of ``origin_port``; started.
    Its control ports are where bench/settings.py publishes (GRIP_CONTROL_URLS)."""
    from django.conf import settings

    from tests.support import Pushpin

    return Pushpin(name, port=port, origin_port=origin_port, port_offset=settings.BENCH_PUSHPIN_PORT_OFFSET).start()


def pushpin_groups(name: str = "bench-pushpin") -> dict:
    """CpuMeter groups for the processes of that Pushpin instance: its proxy, zurl (the proxy's HTTP
    client), condure (the client connections), handler (publishing) and runner."""
    marker = f"/{name}/"

    def process(process_name: str):
        def matches(proc) -> bool:
            # psutil truncates a process name to 15 characters.
            return proc.info["name"] == process_name[:15] and marker in " ".join(proc.info["cmdline"] or [])

        return matches

    return {f"pushpin:{short}": process(full) for short, full in (
        ("proxy", "pushpin-proxy"), ("zurl", "zurl"), ("condure", "condure"), ("handler", "pushpin-handler"),
        ("runner", "pushpin"))}


def py_spy_start(proc: subprocess.Popen, name: str) -> tuple[subprocess.Popen, Path]:
    """Sample a process and its children while the run lasts (py-spy, 100 Hz, threads holding the GIL)."""
    out = ROOT / ".devstack" / "bench-logs" / f"{name.replace(' ', '-')}-py-spy.txt"
    py_spy = Path(sys.executable).parent / "py-spy"
    spy = subprocess.Popen([str(py_spy), "record", "--pid", str(proc.pid), "--subprocesses", "--rate", "100", "--gil",
                            "--format", "raw", "--output", str(out), "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)  # py-spy attaches
    return spy, out


def py_spy_report(spy: subprocess.Popen, out: Path, top: int = 30) -> None:
    """Stop py-spy; print where the samples were: by function including callees, and by own time."""
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"py-spy: {total} samples ({out})")
    print("  including callees:")
    for frame, count in inclusive.most_common(top):
        print(f"    {count / total * 100:5.1f}%  {frame}")
    print("  own time:")
    for frame, count in own.most_common(top // 2):
        print(f"    {count / total * 100:5.1f}%  {frame}")
