"""workers.build.sandbox with real bubblewrap, setpriv and cgroups: what a build step can see, write and
use, and that it dies with its worker. tmp_path sits under pytest's 0700 folder, like a data dir under
/root: the sandbox user could not reach it without the holder mounts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.conftest import wait_for
from workers.build import sandbox
from workers.build.runner import run

MB = 1024 * 1024


def limits(memory_mb=512, max_processes=256, disk_mb=2048, tmp_mb=64) -> sandbox.Limits:
    return sandbox.Limits(memory_mb * MB, max_processes, disk_mb * MB, tmp_mb * MB)


def step(argv, workdir: Path, *, mounts=None, bridge=None, seconds=30, env=None, **limit):
    """Run argv confined, as a pipeline step would; returns (RunResult, output lines)."""
    lines: list[str] = []
    env = env or {"PATH": sandbox.BUILD_PATH, "HOME": str(workdir)}
    label = f"test-{uuid.uuid4().hex[:8]}"
    with sandbox.confine(argv, workdir, env, mounts or [sandbox.Mount(workdir)], bridge, label, limits(**limit)) as confined:
        result = run(confined.argv, workdir, confined.env, lines.append, time.monotonic() + seconds, lambda: None, confined.guard)
        groups = [group for _, group in confined.guard.groups.values()]
    assert not any(group.exists() for group in groups), "a step's cgroups are removed after it"
    return result, lines


@pytest.fixture
def job_folders(tmp_path):
    """This build's folder, handed to the sandbox, and another job's folder with a secret in it."""
    mine = tmp_path / "jobs" / "1" / "project"
    mine.mkdir(parents=True)
    other = tmp_path / "jobs" / "2" / "source"
    other.mkdir(parents=True)
    (other / "secret.txt").write_text("another user's code")
    (tmp_path / "webbuilder.db").write_text("the app's database")
    sandbox.hand_over(mine)
    return mine, other


def test_this_host_sandboxes_builds_as_nobody_with_cgroup_limits():
    host = sandbox.host()
    assert host.bwrap, host.reason
    assert host.as_root and host.drops_privileges
    lines = sandbox.describe(1536, 512, 2048)
    assert lines[0].startswith("sandbox: bubblewrap as uid 65534")
    assert "memory 1536 MB (cgroup" in lines[1] and "512 processes (cgroup" in lines[1]
    assert "disk 2048 MB (no file larger)" in lines[1]
    assert sandbox.refusal() is None


def test_a_step_sees_only_its_own_folder_and_nothing_of_the_app(job_folders, tmp_path, monkeypatch):
    mine, other = job_folders
    monkeypatch.setenv("WEBBUILDER_SECRET_FOR_TEST", "do-not-leak")
    probe = textwrap.dedent(f"""
        id -u; id -g
        grep CapEff /proc/self/status
        echo "env: $(env | grep -c WEBBUILDER_SECRET_FOR_TEST)"
        cat {other}/secret.txt 2>/dev/null || echo "other job: unreadable"
        cat {tmp_path}/webbuilder.db 2>/dev/null || echo "app data: unreadable"
        touch {mine.parent}/escaped 2>/dev/null || true  # lands in the sandbox's own /tmp at most
        touch /usr/escaped 2>/dev/null || echo "usr: not writable"
        echo built > {mine}/out.txt && echo "own folder: written"
        echo scratch > /tmp/scratch-{uuid.uuid4().hex} && echo "tmp: private"
        echo "interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')"
        echo "processes visible: $(ls /proc | grep -c '^[0-9]')"
    """)
    result, lines = step(["/bin/sh", "-c", probe], mine)
    assert result.ok, lines
    assert lines[:3] == ["65534", "65534", "CapEff:\t0000000000000000"]
    assert "env: 0" in lines
    for expected in ("other job: unreadable", "app data: unreadable", "usr: not writable",
                     "own folder: written", "tmp: private", "interfaces: lo "):
        assert expected in lines, (expected, lines)
    visible = next(line for line in lines if line.startswith("processes visible"))
    assert int(visible.split(": ")[1]) < 10, visible  # its own pid namespace: none of the host's
    assert (mine / "out.txt").read_text() == "built\n"
    assert not (mine.parent / "escaped").exists() and not Path("/usr/escaped").exists()
    assert not any(Path("/tmp").glob("scratch-*"))


def test_the_build_environment_is_only_what_the_pipeline_gives(job_folders, monkeypatch):
    mine, _ = job_folders
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@db/webbuilder")
    result, lines = step(["/usr/bin/env"], mine, env={"PATH": sandbox.BUILD_PATH, "HOME": str(mine), "CI": "1"})
    assert result.ok
    assert sorted(lines) == ["CI=1", f"HOME={mine}", f"PATH={sandbox.BUILD_PATH}", f"PWD={mine}"]


def test_a_file_cannot_grow_past_the_disk_limit(job_folders):
    """RLIMIT_FSIZE: a sparse 20 GB file fails with EFBIG and leaves nothing that big behind."""
    mine, _ = job_folders
    result, lines = step(["/bin/sh", "-c", "truncate -s 20G big.bin"], mine, disk_mb=64)
    assert not result.ok
    assert any("File too large" in line for line in lines), lines
    assert not (mine / "big.bin").exists() or (mine / "big.bin").stat().st_size <= 64 * MB


def test_tmp_is_a_small_tmpfs(job_folders):
    mine, _ = job_folders
    result, lines = step(["/bin/sh", "-c", "head -c 40M /dev/zero > /tmp/fill"], mine, tmp_mb=16)
    assert not result.ok
    assert any("No space left on device" in line for line in lines), lines


def test_the_build_folders_total_is_capped(job_folders):
    """Many files, each under the per-file cap, stop the step once their total passes the limit."""
    mine, _ = job_folders
    fill = "i=0; while [ $i -lt 400 ]; do head -c 4M /dev/urandom > part-$i; i=$((i + 1)); done; sleep 600"
    began = time.monotonic()
    result, _ = step(["/bin/sh", "-c", fill], mine, disk_mb=32)
    assert result.stopped == "disk"
    assert time.monotonic() - began < 20


def test_memory_limit_is_a_cgroup_oom_kill(job_folders):
    mine, _ = job_folders
    hog = ["node", "-e", "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))"]
    began = time.monotonic()
    result, _ = step(hog, mine, memory_mb=128)
    assert result.stopped == "memory"
    assert time.monotonic() - began < 10


def test_fork_bomb_is_stopped_by_the_pids_limit_and_nothing_survives(job_folders):
    mine, _ = job_folders
    marker = f"wb-bomb-{uuid.uuid4().hex}"
    bomb = ["/bin/sh", "-c", "bomb() { bomb | bomb & }; bomb; sleep 600", marker]
    result, _ = step(bomb, mine, max_processes=64)
    assert result.stopped == "processes"
    wait_for(lambda: not _processes_with(marker), timeout=5, what="the fork bomb to be gone")


def test_the_tree_dies_with_its_worker_when_the_worker_is_sigkilled(job_folders, tmp_path):
    """A stand-in worker runs a sandboxed sleep, then is SIGKILLed: --die-with-parent ends the tree."""
    mine, _ = job_folders
    marker = f"wb-orphan-{uuid.uuid4().hex}"
    worker = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from workers.build import sandbox
        from workers.build.runner import run
        workdir = Path({str(mine)!r})
        with sandbox.confine(["/bin/sh", "-c", "sleep 600", {marker!r}], workdir, {{"PATH": sandbox.BUILD_PATH}},
                             [sandbox.Mount(workdir)], None, "orphan-test", sandbox.Limits(256 << 20, 64, 1 << 30, 1 << 26)) as confined:
            run(confined.argv, workdir, confined.env, print, time.monotonic() + 600, lambda: None, confined.guard)
    """)
    proc = subprocess.Popen([sys.executable, "-c", worker], cwd=Path(__file__).parents[2])
    try:
        wait_for(lambda: _running(["/bin/sh", "-c", "sleep 600", marker]), timeout=20, what="the sandboxed sleep to start")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_for(lambda: not _processes_with(marker), timeout=5, what="the sandboxed tree to die with its worker")
    finally:
        proc.kill()
    sandbox.sweep_orphans()  # what the next worker's maintenance does (another worker's may do it first)
    assert _groups_of(proc.pid) == []


def test_sealed_dependencies_are_read_only_for_the_sandbox(job_folders):
    mine, _ = job_folders
    package = mine / "node_modules" / "lib"
    package.mkdir(parents=True)
    (package / "index.js").write_text("module.exports = 1\n")
    sandbox.hand_over(mine)
    sandbox.seal(mine / "node_modules")
    probe = ["/bin/sh", "-c",
             "{ echo poisoned >> node_modules/lib/index.js; } 2>/dev/null || echo 'package: read-only'; "
             "mkdir node_modules/.tmp && echo 'scratch: allowed'"]
    result, lines = step(probe, mine)
    assert result.ok
    assert lines == ["package: read-only", "scratch: allowed"]
    assert (package / "index.js").read_text() == "module.exports = 1\n"
    assert (package / "index.js").stat().st_uid == 0


def test_without_bubblewrap_the_log_says_so_and_limits_still_apply(job_folders, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_SANDBOX", "off")
    monkeypatch.setenv("WEBBUILDER_CGROUPS", "off")
    mine, _ = job_folders
    warning, limit_line = sandbox.describe(256, 32, 100)
    assert warning.startswith("WARNING: BUILDS ARE NOT SANDBOXED: disabled by WEBBUILDER_SANDBOX=off")
    assert limit_line == ("limits still enforced: memory 256 MB (psutil watchdog), 32 processes (psutil watchdog), "
                          "disk 100 MB (no file larger)")
    assert sandbox.refusal() is None, "both turned off on purpose"
    hog = ["node", "-e", "const a = []; setInterval(() => { for (let i = 0; i < 32; i++) a.push(Buffer.alloc(1 << 20, 1)) }, 10)"]
    result, _ = step(hog, mine, memory_mb=256)
    assert result.stopped == "memory"
    marker = f"wb-bomb-{uuid.uuid4().hex}"
    result, _ = step(["/bin/sh", "-c", "bomb() { sleep 1; bomb & bomb & wait; }; bomb", marker], mine, max_processes=32)
    assert result.stopped == "processes"
    wait_for(lambda: not _processes_with(marker), timeout=5, what="the fork bomb to be gone")


def test_orphaned_build_of_a_dead_worker_is_killed_by_the_sweep(job_folders, monkeypatch):
    """Without bubblewrap nothing ties the tree to its worker; its cgroup still holds it."""
    monkeypatch.setenv("WEBBUILDER_SANDBOX", "off")
    mine, _ = job_folders
    marker = f"wb-orphan-{uuid.uuid4().hex}"
    worker = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from workers.build import sandbox
        from workers.build.runner import run
        workdir = Path({str(mine)!r})
        with sandbox.confine(["/bin/sh", "-c", "setsid sleep 600 & wait", {marker!r}], workdir, {{"PATH": sandbox.BUILD_PATH}},
                             [], None, "orphan-test", sandbox.Limits(256 << 20, 64, 1 << 30, 1 << 26)) as confined:
            run(confined.argv, workdir, confined.env, print, time.monotonic() + 600, lambda: None, confined.guard)
    """)
    proc = subprocess.Popen([sys.executable, "-c", worker], cwd=Path(__file__).parents[2], env={**os.environ})
    try:
        wait_for(lambda: _running(["/bin/sh", "-c", "setsid sleep 600 & wait", marker]), timeout=20, what="the build to start")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        sleeper = wait_for(lambda: [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "600"] and _in_orphan_group(p)], timeout=5, what="the orphan")
        sandbox.sweep_orphans()
        wait_for(lambda: not any(p.is_running() for p in sleeper), timeout=5, what="the orphaned build to be killed")
        assert _groups_of(proc.pid) == []
    finally:
        proc.kill()


def _groups_of(worker_pid: int) -> list[Path]:
    return [group for c in sandbox._controllers().values() for group in c.parent.glob(f"webbuilder-{worker_pid}-*")]


def _in_orphan_group(proc: psutil.Process) -> bool:
    try:
        return "orphan-test" in Path(f"/proc/{proc.pid}/cgroup").read_text()
    except OSError:
        return False


def _running(cmdline: list[str]) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == cmdline]


def _processes_with(marker: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]


@pytest.mark.parametrize(("missing", "cause", "fix"), [
    ("bwrap", "bubblewrap (bwrap) is not installed", "apt-get install bubblewrap"),
    ("socat", "socat (the sandbox's network bridge) is not installed", "apt-get install socat"),
])
def test_a_host_without_the_sandbox_refuses_builds(job_folders, monkeypatch, missing, cause, fix):
    """Fail closed: by default a missing tool refuses the step with the cause and the fix."""
    mine, _ = job_folders
    real_which = sandbox.shutil.which
    monkeypatch.setattr(sandbox.shutil, "which", lambda name, *a, **k: None if name == missing else real_which(name, *a, **k))
    sandbox._probe.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxUnavailable) as refused:
            step(["/bin/true"], mine)
    finally:
        sandbox._probe.cache_clear()
    message = str(refused.value)
    assert message.startswith(f"builds are refused: the build sandbox is required but {cause}; fix: {fix}")
    assert "WEBBUILDER_SANDBOX=off" in message


def test_a_host_without_cgroup_limits_refuses_builds(job_folders, monkeypatch):
    mine, _ = job_folders
    monkeypatch.setattr(sandbox, "_controllers", lambda: {})
    with pytest.raises(sandbox.SandboxUnavailable) as refused:
        step(["/bin/true"], mine)
    assert str(refused.value).startswith("builds are refused: the memory and pids cgroup controller(s) cannot be used")
    assert "WEBBUILDER_CGROUPS=off" in str(refused.value)
