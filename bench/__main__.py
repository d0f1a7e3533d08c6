"""`python -m bench`: every benchmark (builds and caches, a website's redeploy, promote → served, dispatcher,
live-update latency, the upload burst, 200 live event streams, page loads during a sign-in burst, the
priority/fairness trace), then a table, also written to bench/RESULTS.md with the command, the date, the machine and
its load. The fault suite (`python -m bench.faults`) takes a quarter of an hour and runs on its own.

    python -m bench [--only builds,redeploy,promote,dispatch,fairness,latency,load,sse,signin]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import psutil

from . import builds, dispatch, fairness, live_latency, load, promote, redeploy, signin_burst, sse_load
from .environment import valkey

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTIONS = ("builds", "redeploy", "promote", "dispatch", "fairness", "latency", "load", "sse", "signin")


def _row(name: str, measured: str, target: str, ok: bool) -> str:
    return f"| {name} | {measured} | {target} | {'yes' if ok else 'NO'} |"


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) / {five:.2f} (5 min) on {psutil.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS))
    wanted = parser.parse_args().only.split(",")
    rows, trace, breakdown, loads = [], "", "", [f"at start: {_load()}"]
    with valkey() as redis_url:
        if "builds" in wanted:
            print("builds (react-ts sample, median of rounds):")
            b = builds.run(redis_url)
            warm, cold = b.warm_ratio, b.cold_ratio
            rows.append(_row("warm-dependency job ÷ raw (`cp -al` + tsc + vite build)", f"**{warm:.2f}** (medians {b.warm_job:.2f} s, {b.warm_raw:.2f} s)", "≤ 1.5", warm <= 1.5))
            rows.append(_row("cold job ÷ raw (`npm ci` + tsc + vite build)", f"**{cold:.2f}** (medians {b.cold_job:.2f} s, {b.cold_raw:.2f} s)", "≤ 1.2", cold <= 1.2))
            rows.append(_row("cold job ÷ raw, npm's cache cold too", f"**{b.cold_npm_ratio:.2f}** (medians {b.cold_npm_job:.2f} s, {b.cold_npm_raw:.2f} s)", "≤ 1.2", b.cold_npm_ratio <= 1.2))
            rows.append(_row("identical re-upload → completed", f"median **{b.identical * 1000:.0f} ms** (max {b.identical_max * 1000:.0f} ms)", "≤ 1 s", b.identical_max <= 1.0))
            loads.append(f"after builds: {_load()}")
            breakdown = "\n".join(
                ["| part | warm (s) | cold (s) |", "|---|---|---|"]
                + [f"| {part} | {b.breakdown['warm'][part]:.2f} | {b.breakdown['cold'][part]:.2f} |" for part in b.breakdown["warm"]]
            )
        if "redeploy" in wanted:
            print("redeploy of a website, one source file changed (react-ts sample, median of rounds):")
            r = redeploy.run(redis_url)
            parts = ", ".join(f"{part} {r.breakdown[part]:.2f} s" for part in ("job typecheck", "job build", "raw tsc -b", "raw vite build"))
            rows.append(_row("redeploy, one source file changed ÷ raw from clean (`cp -al` + tsc -b + vite build)",
                             f"**{r.ratio:.2f}** (medians {r.job:.2f} s, {r.raw:.2f} s; {parts})", f"≤ {redeploy.TARGET}", r.ratio <= redeploy.TARGET))
            loads.append(f"after the redeploys: {_load()}")
        if "promote" in wanted:
            print(f"promote → served at the stable address by {promote.WEB_PROCESSES} web processes:")
            p = promote.run(redis_url)
            rows.append(_row(f"promote → the stable address serves it, {promote.WEB_PROCESSES} web processes",
                             f"p50 {p.p50_ms:.0f} ms, **max {p.max_ms:.0f} ms** ({p.rounds} rounds; the promote call p50 {p.call_p50_ms:.0f} ms)", "< 1 s", p.max_ms < 1000))
        if "dispatch" in wanted:
            print("dispatcher pick:")
            d = dispatch.run(redis_url)
            rows.append(_row(f"dispatcher pick, {dispatch.QUEUED} queued jobs ({d.database})", f"median **{d.median_ms:.1f} ms** (p95 {d.p95_ms:.1f} ms)", "≤ 20 ms", d.median_ms <= 20))
        if "latency" in wanted:
            print("live-update latency in Chromium:")
            for r in live_latency.run():
                rows.append(_row(f"live update → DOM, {r['page']} page, {r['pages']} open", f"p50 {r['p50_ms']:.0f} ms, **p95 {r['p95_ms']:.0f} ms** (websocket frame at the page: p95 {r['frame_p95_ms']:.0f} ms)", "p95 ≤ 300 ms", r["p95_ms"] <= 300))
        if "load" in wanted:
            print(f"upload burst ({load.UPLOADS} uploads, {load.CLIENTS} clients):")
            u = load.run()
            rows.append(_row(f"upload answer, {u.uploads} uploads from {load.CLIENTS} clients at once", f"p50 {u.p50_ms:.0f} ms, **p95 {u.p95_ms:.0f} ms**", "p95 ≤ 100 ms", u.p95_ms <= 100))
            rows.append(_row("the burst's jobs: lost / duplicated", f"**{u.lost} / {u.duplicated}** ({u.completed} completed, {u.failed} failed, all terminal after {u.drain_seconds:.0f} s)", "0 / 0", u.lost == u.duplicated == 0))
            loads.append(f"after the burst: {_load()}")
            paced = load.run(rate=load.PACED_RATE)
            rows.append(_row(f"upload answer, the same paced at {load.PACED_RATE:.0f} uploads/s", f"p50 {paced.p50_ms:.0f} ms, **p95 {paced.p95_ms:.0f} ms**", "p95 ≤ 100 ms", paced.p95_ms <= 100))
        if "sse" in wanted:
            print("live event streams:")
            e = sse_load.run()
            rows.append(_row(f"change → event, {e.clients} event streams open, builds running", f"p50 {e.p50_ms:.0f} ms, **p95 {e.p95_ms:.0f} ms** ({e.missed} missed)", "p95 ≤ 1 s", e.p95_ms <= 1000 and e.missed == 0))
        if "signin" in wanted:
            print("page loads during a sign-in burst:")
            s = signin_burst.run()
            ratios = " / ".join(f"**{s.ratio(page):.2f}**" for page in signin_burst.PAGES)
            p95s = "; ".join(f"{page} p95 {s.idle[page].p95_ms:.0f} → {s.burst[page].p95_ms:.0f} ms" for page in signin_burst.PAGES)
            rows.append(_row(f"page load p95 during a sign-in burst ÷ idle ({' / '.join(signin_burst.PAGES)})",
                             f"{ratios} ({p95s}; {s.signins_per_second:.1f} sign-ins/s)", "≤ 2", max(s.ratio(page) for page in signin_burst.PAGES) <= 2))
        if "fairness" in wanted:
            print("priority/fairness trace:")
            trace = fairness.table(fairness.run(redis_url))
    table = "\n".join(["| benchmark | measured | target | met |", "|---|---|---|---|", *rows])
    report = "\n\n".join(
        part
        for part in (
            "# Benchmark results",
            f"Command: `{' '.join(['python -m bench', *sys.argv[1:]])}` (or `make bench`), "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.platform()}, Python {platform.python_version()}.\n"
            f"Machine load ({'; '.join(loads)}).",
            table if rows else "",
            f"## Where a job's time goes (medians, seconds)\n\n{breakdown}" if breakdown else "",
            (f"## Priority/fairness trace (1 slot, builds of {fairness.BUILD_SECONDS} s, simulated clock)\n\n"
             + fairness.__doc__.split("\n\n", 1)[1].strip() + "\n\n" + trace) if trace else "",
        )
        if part
    )
    print("\n" + report)
    RESULTS.write_text(report + "\n")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
