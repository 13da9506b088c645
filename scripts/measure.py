#!/usr/bin/env python3
"""Whole-process measurements for BENCHMARKS.md: start-up, first frame, idle and animating CPU,
and how soon the event loop runs a task that is ready.

Usage: cargo build --release && python3 scripts/measure.py [path/to/threadlab] [--only startup]
Runs the real binary in a pseudo-terminal and reads CPU time from /proc (or, for a process that
has exited, from wait4). Prints one line per figure; nothing here asserts, the targets are
compared in BENCHMARKS.md. `--only startup` measures `list` and the first frame alone.
"""

import os
import pty
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import json

ARGS = [a for a in sys.argv[1:] if not a.startswith("--") and a != "startup"]
ONLY_STARTUP = "--only" in sys.argv[1:]
BIN = ARGS[0] if ARGS else "target/release/threadlab"
TICK = os.sysconf("SC_CLK_TCK")


def startup(args, runs=20):
    """Median and best of CPU time (user + system, all threads) and of wall time, in ms."""
    cpu, wall = [], []
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen([BIN] + args, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall.append(time.perf_counter() - start)
        assert os.waitstatus_to_exitcode(status) == 0, f"{args} failed"
        cpu.append(usage.ru_utime + usage.ru_stime)
    ms = lambda xs: (statistics.median(xs) * 1e3, min(xs) * 1e3)
    return ms(cpu), ms(wall)


def spawn_tui(args):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execv(BIN, [BIN] + args)
    # 120x40, as a classroom terminal.
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    os.kill(pid, signal.SIGWINCH)
    return pid, fd


def read_until(fd, needle, timeout):
    seen = b""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        r, _, _ = select.select([fd], [], [], 0.01)
        if r:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            if needle in seen:
                return True
    return False


def drain(fd, seconds):
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def first_frame(runs=20):
    """From fork to the menu's footer on screen (wall), and the CPU of the whole session (open
    the menu, quit at once): an upper bound of the CPU spent on the first frame."""
    times, cpu = [], []
    for _ in range(runs):
        start = time.perf_counter()
        pid, fd = spawn_tui([])
        ok = read_until(fd, b"quit", 5)
        times.append(time.perf_counter() - start)
        os.write(fd, b"q")
        _, _, usage = os.wait4(pid, 0)
        cpu.append(usage.ru_utime + usage.ru_stime)
        os.close(fd)
        assert ok, "no menu drawn"
    return statistics.median(times) * 1e3, min(times) * 1e3, statistics.median(cpu) * 1e3


def cpu_ticks(pid, ui_only):
    """CPU ticks of the process, or of its threads that are not scenario threads (tl-*)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if ui_only and name.startswith("tl-"):
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def cpu_share(pid, fd, seconds, ui_only):
    before = cpu_ticks(pid, ui_only)
    drain(fd, seconds)
    after = cpu_ticks(pid, ui_only)
    return (after - before) / TICK / seconds * 100


def tui_cpu():
    pid, fd = spawn_tui(["run", "semaphore"])
    read_until(fd, b"RUNNING", 5)
    drain(fd, 0.5)
    animating = cpu_share(pid, fd, 3, ui_only=True)
    os.write(fd, b" ")
    read_until(fd, b"PAUSED", 2)
    drain(fd, 1)
    idle = cpu_share(pid, fd, 10, ui_only=False)
    os.write(fd, b"q")
    os.waitpid(pid, 0)
    return animating, idle


def loop_wakeup(runs=10):
    """Ready -> running on an idle event loop, from the events of real event-loop-blocking runs:
    a task whose await is over, with nobody else taking the loop before it gets it."""
    latencies = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            path = os.path.join(tmp, f"{i}.jsonl")
            subprocess.run(
                [BIN, "run", "event-loop-blocking", "--headless", "--speed", "4", "--events", path],
                stdout=subprocess.DEVNULL,
                check=True,
            )
            events = sorted((json.loads(line) for line in open(path)), key=lambda e: e["t_us"])
            holder, ready = None, {}
            for e in events:
                if e["resource"] != "main":
                    continue
                if e["event"] == "block":
                    ready[e["thread"]] = (e["t_us"], holder is None)
                elif e["event"] == "acquire":
                    at, idle = ready.pop(e["thread"], (0, False))
                    # The loop went to this task: whoever else was ready waited for it.
                    ready = {t: (then, False) for t, (then, _) in ready.items()}
                    if idle:
                        latencies.append(e["t_us"] - at)
                    holder = e["thread"]
                elif e["event"] == "release":
                    holder = None
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.9)], len(latencies)


if __name__ == "__main__":
    if not ONLY_STARTUP:
        med, p90, n = loop_wakeup()
        print(f"event loop, ready -> running when idle: median {med:.0f} us, p90 {p90:.0f} us ({n} wake-ups)")
    for args in (["--version"], ["list"]):
        (cpu, cpu_best), (wall, wall_best) = startup(args)
        print(
            f"start-up `threadlab {' '.join(args)}`: CPU median {cpu:.1f} ms, best {cpu_best:.1f} ms; "
            f"wall median {wall:.1f} ms, best {wall_best:.1f} ms (20 runs)"
        )
    med, best, cpu = first_frame()
    print(
        f"TUI first frame (menu drawn): median {med:.1f} ms, best {best:.1f} ms, "
        f"whole session's CPU median {cpu:.1f} ms (20 runs)"
    )
    if ONLY_STARTUP:
        sys.exit(0)
    animating, idle = tui_cpu()
    print(f"animating (semaphore, running): UI threads {animating:.1f}% of one core over 3 s")
    print(f"idle (paused, no input): whole process {idle:.2f}% of one core over 10 s")
