"""The chaos run's stack (PostgreSQL, Redis, Kafka, Pushpin in ``.devstack/chaos/``, through
scripts/devstack.sh) and the platform's processes on it (every process of the Procfile)."""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from bench.chaos.environment import CHAOS_DIR, ROOT


def devstack(action: str, *services: str) -> None:
    done = subprocess.run([str(ROOT / "scripts" / "devstack.sh"), action, *services], env=os.environ,
                          capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"devstack.sh {action} {' '.join(services)}: {done.stdout}{done.stderr}")


def crash(service: str) -> None:
    """Stop a service the way a crash does: PostgreSQL's immediate shutdown (no checkpoint: WAL replay at
    the next start), kill -9 of Kafka's JVM (its logs recovered at the next start)."""
    if service == "postgres":
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        argv = [str(pg_ctl), "-D", str(CHAOS_DIR / "postgres" / "data"), "-m", "immediate", "-w", "stop"]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    elif service == "kafka":
        pid_file = CHAOS_DIR / "kafka" / "kafka.pid"
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
    else:
        raise ValueError(service)


def stack_fresh() -> None:
    """A clean chaos stack: stopped if a run left it running, its data deleted (Kafka's jars kept)."""
    devstack("stop")
    if CHAOS_DIR.exists():
        for path in CHAOS_DIR.iterdir():
            if path.name == "kafka":
                for inner in path.iterdir():
                    if inner.name != "lib":
                        shutil.rmtree(inner) if inner.is_dir() else inner.unlink()
            else:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    (CHAOS_DIR / "logs").mkdir(parents=True, exist_ok=True)
    (CHAOS_DIR / "metrics").mkdir(parents=True, exist_ok=True)
    devstack("start", "postgres", "redis", "kafka", "pushpin")


class Platform:
    """The Procfile's processes, each in its own session (so kill -9 takes its children too)."""

    def __init__(self):
        from bench.common import procfile_commands

        self.commands = procfile_commands()
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        with open(CHAOS_DIR / "logs" / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                ["sh", "-c", self.commands[name]], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1",
                     "CELERY_BEAT_SCHEDULE_FILE": str(CHAOS_DIR / "celerybeat-schedule")},
                start_new_session=True)

    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def signal(self, name: str, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, sig)

    def kill9(self, name: str) -> None:
        self.signal(name, signal.SIGKILL)
        self.procs[name].wait(timeout=30)

    def restart(self, name: str) -> None:
        self.start(name)

    def web_workers(self) -> list[int]:
        """The gunicorn workers: the children of the gunicorn master."""
        import psutil

        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.procs["web"].pid)
            gunicorns = [p for p in [root, *root.children(recursive=True)]
                         if "gunicorn" in " ".join(p.cmdline())]
            pids = {p.pid for p in gunicorns}
            return [p.pid for p in gunicorns if p.ppid() in pids]
        return []

    def revive(self) -> None:
        """Start whatever is not running, wake whatever is paused."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                self.restart(name)
            self.signal(name, signal.SIGCONT)

    def stop_all(self) -> None:
        from bench.common import stop_all

        for name in self.procs:
            self.signal(name, signal.SIGCONT)
        stop_all(self.procs.values())
