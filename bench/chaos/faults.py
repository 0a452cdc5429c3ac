"""The faults: their kinds, the schedule a seed draws, and the injector that carries it out on the
platform and the chaos stack (and watches for processes that die by themselves)."""

import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import time

from bench.chaos.common import say
from bench.chaos.stack import Platform, crash, devstack


@dataclasses.dataclass
class Fault:
    at_s: float  # planned, from the start of the load
    name: str
    duration_s: float  # how long the part stays down (or paused)
    started_s: float | None = None  # as it happened
    ended_s: float | None = None
    started_at: float | None = None  # the same, wall-clock (the events' timeline is)


PROCESS_KILLS = ("kill-web", "kill-worker", "kill-beat", "kill-consumer", "kill-email", "kill-slack", "kill-audit")
SERVICE_STOPS = ("stop-postgres", "stop-redis", "stop-kafka", "stop-pushpin")
SERVICE_CRASHES = ("crash-postgres", "crash-kafka")  # no clean shutdown: recovery from their logs at start
PAUSES = ("pause-consumer", "pause-worker")
FAULT_KINDS = ("kill-web-worker", *PROCESS_KILLS, *SERVICE_STOPS, *SERVICE_CRASHES, *PAUSES)


def fault_schedule(seed: int, *, cycles: int, gap_s: tuple[float, float], down_s: tuple[float, float],
                   session_timeout_s: float) -> list[Fault]:
    """``cycles`` rounds of every kind of fault, each round in an order drawn from ``seed``. A pause lasts
    longer than the Kafka session timeout: the group gives the paused consumer's partitions away, and
    the consumer finds out only when it wakes."""
    rng = random.Random(seed)
    faults, at = [], 5.0
    for _ in range(cycles):
        for name in rng.sample(FAULT_KINDS, len(FAULT_KINDS)):
            if name.startswith("pause-"):
                duration = session_timeout_s + rng.uniform(2, 8)
            elif name == "kill-web-worker":
                duration = 0.0  # gunicorn's master replaces it at once
            else:
                duration = rng.uniform(*down_s)
            faults.append(Fault(at_s=round(at, 1), name=name, duration_s=round(duration, 1)))
            at += duration + rng.uniform(*gap_s)
    return faults


class Injector:
    """Carries out the schedule, one fault at a time, and records when each happened."""

    def __init__(self, platform: Platform, schedule: list[Fault], t0: float):
        self.platform = platform
        self.schedule = schedule
        self.t0 = t0
        self.done: list[Fault] = []
        self.stopping = asyncio.Event()
        self.down: str | None = None  # the process a fault holds down (killed or paused) right now
        self.crashes: list[str] = []  # processes that died by themselves (see watch)
        self.windows: list[tuple[float, float]] = []  # wall-clock (start, end) of each fault

    def now_s(self) -> float:
        return time.monotonic() - self.t0

    async def run(self) -> None:
        for fault in self.schedule:
            delay = fault.at_s - self.now_s()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return
            fault.started_s = self.now_s()
            wall_start = fault.started_at = time.time()
            say(f"fault {len(self.done) + 1}/{len(self.schedule)}: {fault.name} for {fault.duration_s}s")
            try:
                await self.inject(fault)
            except Exception as exc:  # a fault that could not be injected or undone is the run's failure
                raise RuntimeError(f"fault {fault.name} at {fault.started_s:.1f}s: {exc}") from exc
            fault.ended_s = self.now_s()
            self.windows.append((wall_start, time.time()))
            self.done.append(fault)

    async def inject(self, fault: Fault) -> None:
        platform, kind = self.platform, fault.name
        if kind == "kill-web-worker":
            workers = await asyncio.to_thread(platform.web_workers)
            if workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(random.Random(fault.at_s).choice(workers), signal.SIGKILL)
        elif kind in PROCESS_KILLS:
            name = self.down = kind.removeprefix("kill-")
            await asyncio.to_thread(platform.kill9, name)
            await asyncio.sleep(fault.duration_s)
            platform.restart(name)
            self.down = None
        elif kind in PAUSES:
            name = self.down = kind.removeprefix("pause-")
            platform.signal(name, signal.SIGSTOP)
            await asyncio.sleep(fault.duration_s)
            platform.signal(name, signal.SIGCONT)
            self.down = None
        elif kind in SERVICE_STOPS:
            service = kind.removeprefix("stop-")
            await asyncio.to_thread(devstack, "stop", service)
            await asyncio.sleep(fault.duration_s)
            await asyncio.to_thread(devstack, "start", service)
        elif kind in SERVICE_CRASHES:
            service = kind.removeprefix("crash-")
            await asyncio.to_thread(crash, service)
            await asyncio.sleep(fault.duration_s)
            await asyncio.to_thread(devstack, "start", service)
        else:
            raise ValueError(kind)

    async def watch(self) -> None:
        """A process of the platform must survive any outage of what it uses: one that exits without a
        fault killing it is a finding (restarted, so that the run goes on, and reported)."""
        while True:
            await asyncio.sleep(1)
            for name, proc in self.platform.procs.items():
                if name != self.down and proc.poll() is not None:
                    self.crashes.append(f"{name} exited with {proc.returncode} at {self.now_s():.0f}s "
                                        f"(see .devstack/chaos/logs/{name}.log)")
                    say(f"CRASH: {self.crashes[-1]}")
                    self.platform.restart(name)
