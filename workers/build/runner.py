"""Run one build command as a killable process tree, streaming its output line by line.

Builds start in their own session so the whole tree (npm → node → esbuild …) can be killed at once
on timeout, cancel or a limit breach; a blocking read in a Dramatiq thread could not be interrupted
otherwise. What counts as a breach, and how the tree is killed, is the `guard`'s job: `ProcessTree`
watches with psutil, `sandbox.Confinement` adds cgroups and bubblewrap.
"""

from __future__ import annotations

import codecs
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

POLL_SECONDS = 0.2
# A tool printing without newlines (or a hostile one printing gigabytes on one line) must not grow
# the reader's buffer without bound: longer lines are delivered in pieces.
MAX_LINE_CHARS = 16_384


@dataclass(frozen=True)
class RunResult:
    returncode: int | None
    # Why we killed it: "timeout", "memory", "processes", "disk", or what should_stop() said ("cancelled", "lost lease").
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return self.stopped is None and self.returncode == 0


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class ProcessTree:
    """Limits checked with psutil over the process tree of the command, and a kill that takes the
    process group plus any descendant that left it. Used where no cgroup enforces the limits."""

    def __init__(self, memory_bytes: int | None, max_processes: int | None):
        self.memory_bytes = memory_bytes
        self.max_processes = max_processes
        # Every descendant seen while the leader ran; psutil.Process refuses to signal a reused pid.
        self._seen: dict[int, psutil.Process] = {}

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        self._seen.update((proc.pid, proc) for proc in procs[1:])
        return procs

    def breach(self, pid: int) -> str | None:
        """While `pid` runs: 'memory' or 'processes' when its tree is over a limit, else None."""
        procs = self._tree(pid)
        if self.max_processes is not None and len(procs) > self.max_processes:
            return "processes"
        if self.memory_bytes is not None:
            rss = 0
            for proc in procs:
                try:
                    rss += proc.memory_info().rss
                except psutil.Error:
                    pass
            if rss > self.memory_bytes:
                return "memory"
        return None

    def exhausted(self) -> str | None:
        """After the leader exited: a limit that killed part of the tree (only a cgroup can tell)."""
        return None

    def kill(self, pid: int) -> None:
        """Kill the group led by `pid` and every descendant seen, even after the leader exited."""
        kill_group(pid)
        for proc in self._seen.values():  # daemons that called setsid() are no longer in the group
            try:
                proc.kill()
            except psutil.Error:
                pass


def _last_frame(text: str) -> str:
    """What a terminal would show: a run of `\\r` updates (progress bars) keeps only its final state."""
    return text.rstrip("\r").rsplit("\r", 1)[-1]


def _split_output(stream, on_line: Callable[[str], None]) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for chunk in iter(lambda: stream.read1(65536), b""):
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            on_line(_last_frame(line))
        if "\r" in pending[:-1]:  # drop progress frames already overwritten
            pending = pending[pending.rindex("\r", 0, len(pending) - 1) + 1 :]
        while len(pending) > MAX_LINE_CHARS:
            on_line(pending[:MAX_LINE_CHARS])
            pending = pending[MAX_LINE_CHARS:]
    pending += decoder.decode(b"", final=True)
    if pending:
        on_line(_last_frame(pending))


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the process exits; None where the kernel (< 5.3) or a
    seccomp profile refuses pidfd_open."""
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def _wait(proc: subprocess.Popen, pidfd: int | None, seconds: float) -> None:
    """Return when the process exits or `seconds` pass. The pidfd wakes at the exit itself, where
    Popen.wait(timeout) polls with sleeps of up to 50 ms: ~25 ms added to every build step."""
    if pidfd is not None:
        exited = select.poll()  # not select.select: a busy worker's descriptors may pass 1024
        exited.register(pidfd, select.POLLIN)
        exited.poll(seconds * 1000)
        return
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def run(
    argv: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    on_line: Callable[[str], None],
    deadline: float,
    should_stop: Callable[[], str | None],
    guard: ProcessTree,
) -> RunResult:
    """Run argv until it exits, the monotonic `deadline` passes, `should_stop()` names a reason, or
    the guard reports a limit breach; then kill whatever is left of its tree. Output goes to `on_line`."""
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
    pidfd = _pidfd(proc.pid)
    stopped = None
    try:
        guard.breach(proc.pid)  # remember the first descendants
        while proc.poll() is None:
            if time.monotonic() > deadline:
                stopped = "timeout"
            else:
                stopped = guard.breach(proc.pid) or should_stop()
            if stopped:
                break
            _wait(proc, pidfd, POLL_SECONDS)
        if stopped is None and proc.returncode != 0:
            stopped = guard.exhausted()  # a cgroup's OOM kill ends the tool before we notice it
    finally:
        # Children may outlive the leader (daemonised esbuild/vite helpers): the tree goes with it,
        # also when should_stop() raised (its progress write failed), so no build runs on unowned.
        guard.kill(proc.pid)
        proc.wait()
        reader.join(timeout=5)
        if pidfd is not None:
            os.close(pidfd)
    return RunResult(proc.returncode, stopped)
