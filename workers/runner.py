"""Run one build command as a killable process group, streaming its output line by line.

Builds start in their own session so the whole tree (npm → node → esbuild …) can be killed at once
on timeout, cancel or memory overrun; a blocking read in a Dramatiq thread could not be interrupted
otherwise.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
POLL_SECONDS = 0.2


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


@dataclass(frozen=True)
class RunResult:
    returncode: int | None
    stopped: str | None = None  # "timeout", "cancelled", "memory" or "lost lease" when we killed it

    @property
    def ok(self) -> bool:
        return self.stopped is None and self.returncode == 0


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _split_output(stream, on_line: Callable[[str], None]) -> None:
    """Deliver complete lines; a run of `\r` updates (progress bars) keeps only its final state."""
    pending = ""
    for chunk in iter(lambda: stream.read1(65536), b""):
        pending += chunk.decode("utf-8", errors="replace")
        *lines, pending = pending.split("\n")
        for line in lines:
            on_line(line.rstrip("\r").rsplit("\r", 1)[-1])
    if pending:
        on_line(pending.rsplit("\r", 1)[-1])


def run(
    argv: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    on_line: Callable[[str], None],
    deadline: float,
    should_stop: Callable[[], str | None],
    memory_limit_bytes: int,
) -> RunResult:
    """Run argv until it exits, the monotonic `deadline` passes, `should_stop()` names a reason, or
    the process tree's resident memory exceeds the limit. Output goes to `on_line`."""
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    reader = threading.Thread(target=_split_output, args=(proc.stdout, on_line), daemon=True)
    reader.start()
    stopped = None
    try:
        root = psutil.Process(proc.pid)
    except psutil.Error:
        root = None
    while proc.poll() is None:
        if time.monotonic() > deadline:
            stopped = "timeout"
        elif root is not None and _tree_rss(root) > memory_limit_bytes:
            stopped = "memory"
        else:
            stopped = should_stop()
        if stopped:
            kill_group(proc.pid)
            break
        try:
            proc.wait(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    # Children may outlive the leader (daemonised esbuild/vite helpers): the group goes with it.
    kill_group(proc.pid)
    proc.wait()
    reader.join(timeout=5)
    return RunResult(proc.returncode, stopped)
