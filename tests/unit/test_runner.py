"""runner.run on real processes: output as a person would read it, and every way a step is stopped
leaving no process of its tree behind. The guard here is the psutil fallback (no cgroup, no sandbox)."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import psutil

from tests.conftest import wait_for
from workers.build.runner import MAX_LINE_CHARS, ProcessTree, run

PY = sys.executable


def run_python(code: str, *, seconds: float = 30, stop=lambda: None, guard: ProcessTree | None = None, args=()):
    lines: list[str] = []
    result = run(
        [PY, "-c", code, *args],
        cwd=Path("/"),
        env={"PATH": "/usr/bin:/bin"},
        on_line=lines.append,
        deadline=time.monotonic() + seconds,
        should_stop=stop,
        guard=guard or ProcessTree(None, None),
    )
    return result, lines


def processes_with(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


# A parent that starts a child in a new session (out of the process group) and a grandchild, all
# sleeping: the shapes a real build tree takes (npm → sh → node, esbuild's service, a daemon).
TREE = """
import subprocess, sys, time
sleeper = [sys.executable, "-c", "import time; time.sleep(600)", sys.argv[1]]
subprocess.Popen(sleeper, start_new_session=True)
subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(600)", *sleeper])
print("tree started", flush=True)
time.sleep(600)
"""


def test_output_lines_progress_bars_and_exit_code():
    code = r"""
import sys
out = sys.stdout.buffer
out.write(b"first line\nprogress 10%\rprogress 50%\rprogress 100%\nwindows line\r\n")
out.write("caf\u00e9 ".encode()[:4]); out.flush()          # a UTF-8 character split across writes
out.write("caf\u00e9 ".encode()[4:] + b"ok\n"); out.flush()
out.write(b"no newline at the end")
sys.exit(3)
"""
    result, lines = run_python(code)
    assert lines == ["first line", "progress 100%", "windows line", "café ok", "no newline at the end"]
    assert result.returncode == 3 and result.stopped is None and not result.ok


def test_a_line_without_end_is_delivered_in_bounded_pieces():
    result, lines = run_python(f"import sys; sys.stdout.write('x' * {MAX_LINE_CHARS * 3 + 5})")
    assert result.ok
    assert [len(line) for line in lines] == [MAX_LINE_CHARS] * 3 + [5]


def test_endless_progress_bar_keeps_only_its_last_frame():
    code = "import sys\nfor i in range(200000): sys.stdout.write(f'\\r{i}')\nsys.stdout.write('\\n')"
    result, lines = run_python(code)
    assert result.ok and lines == ["199999"]


def test_timeout_kills_the_whole_tree_including_a_new_session():
    marker = f"wb-test-{uuid.uuid4().hex}"
    began = time.monotonic()
    result, lines = run_python(TREE, seconds=2, args=[marker])
    assert result.stopped == "timeout"
    assert "tree started" in lines
    assert time.monotonic() - began < 5
    wait_for(lambda: not processes_with(marker), timeout=5, what="the build tree to be gone")


def test_should_stop_cancels_at_once_and_kills_the_tree():
    marker = f"wb-test-{uuid.uuid4().hex}"
    asked = time.monotonic() + 1.0
    began = time.monotonic()
    result, _ = run_python(TREE, stop=lambda: "cancelled" if time.monotonic() > asked else None, args=[marker])
    assert result.stopped == "cancelled"
    assert time.monotonic() - began < 3
    wait_for(lambda: not processes_with(marker), timeout=5, what="the build tree to be gone")


def test_memory_watchdog_stops_a_tree_over_the_limit():
    hog = "import time\nblocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))\n    time.sleep(0.01)"
    result, _ = run_python(hog, guard=ProcessTree(memory_bytes=200 * 1024 * 1024, max_processes=None))
    assert result.stopped == "memory"


def test_process_count_watchdog_stops_a_fork_storm():
    marker = f"wb-test-{uuid.uuid4().hex}"
    storm = (
        "import subprocess, sys, time\n"
        "for _ in range(40):\n"
        "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', sys.argv[1]])\n"
        "    time.sleep(0.05)\n"
        "time.sleep(600)"
    )
    result, _ = run_python(storm, guard=ProcessTree(memory_bytes=None, max_processes=10), args=[marker])
    assert result.stopped == "processes"
    wait_for(lambda: not processes_with(marker), timeout=5, what="the forked processes to be gone")
