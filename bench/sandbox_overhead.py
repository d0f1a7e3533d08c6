"""What the build sandbox costs per step: each tool raw and inside `workers.build.sandbox`, median of 5,
on the react-ts sample. Run as root (the sandbox drops to uid 65534): `python -m bench.sandbox_overhead`.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from workers.build import install_policy, sandbox
from workers.build.egress_proxy import EgressProxy
from workers.build.runner import run

from .environment import ROOT

ROUNDS = 5
NPM_CI = ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"]


class Bench:
    def __init__(self, root: Path):
        self.project, self.home, self.cache = root / "project", root / "home", root / "npm"
        shutil.copytree(ROOT / "tests" / "fixtures" / "react-ts", self.project)
        self.home.mkdir()
        self.cache.mkdir()
        sandbox.hand_over(self.project, self.home, self.cache)
        self.env = {"PATH": sandbox.BUILD_PATH, "HOME": str(self.home), "LANG": "C.UTF-8", "CI": "1",
                    "npm_config_cache": str(self.cache)}

    def raw(self, argv: list[str]) -> float:
        began = time.monotonic()
        subprocess.run(argv, cwd=self.project, env=self.env, capture_output=True, check=True)
        return time.monotonic() - began

    def boxed(self, argv: list[str], network: bool = False) -> float:
        """The step confined; with `network`, behind its egress proxy, as the install runs."""
        mounts = [sandbox.Mount(self.project), sandbox.Mount(self.home)] + ([sandbox.Mount(self.cache, shared=True)] if network else [])
        began = time.monotonic()
        with ExitStack() as stack:
            bridge, env = None, self.env
            if network:
                rules = install_policy.policy(None, (), False)
                owner = sandbox.SANDBOX_UID if sandbox.host().drops_privileges else None
                bridge = stack.enter_context(EgressProxy(rules.allowlist(), lambda *_: None, owner)).socket_path
                env = {**env, **rules.env()}
            step = stack.enter_context(sandbox.confine(argv, self.project, env, mounts, bridge, "overhead", sandbox.limits()))
            result = run(step.argv, self.project, step.env, lambda _: None, time.monotonic() + 600, lambda: None, step.guard)
        assert result.ok, result
        return time.monotonic() - began

    def remove(self, relative: str) -> None:
        shutil.rmtree(self.project / relative, ignore_errors=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wb-overhead-") as folder:
        bench = Bench(Path(folder))
        bench.boxed(NPM_CI, network=True)  # warms npm's cache
        tools = bench.project / "node_modules" / ".bin"
        cases = [
            ("true", ["/bin/true"], None, False),
            ("npm ci (warm cache)", NPM_CI, "node_modules", True),
            ("tsc -b --force", [str(tools / "tsc"), "-b", "--force"], None, False),
            ("vite build", [str(tools / "vite"), "build"], "dist", False),
        ]
        print("| step | raw | sandboxed | overhead |\n|---|---|---|---|")
        for label, argv, scratch, network in cases:
            raws, boxes = [], []
            for _ in range(ROUNDS):
                if scratch:
                    bench.remove(scratch)
                boxes.append(bench.boxed(argv, network))
                sandbox.hand_over(bench.project)
                if scratch:
                    bench.remove(scratch)
                raws.append(bench.raw(argv))
                sandbox.hand_over(bench.project)
            raw, boxed = statistics.median(raws), statistics.median(boxes)
            print(f"| {label} | {raw:.3f} s | {boxed:.3f} s | {boxed - raw:+.3f} s |", flush=True)


if __name__ == "__main__":
    main()
