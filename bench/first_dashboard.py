#!/usr/bin/env python3
"""Time to the first dashboard: from launching the real desktop app (through tauri-driver, in
the real WebKit webview) to the stat cards showing numbers, on a logs.db with N traffic rows,
against an empty logs.db as the baseline measured in the same run.

Run it inside the e2e environment (Xvfb, a D-Bus session, tauri-driver on port 4444):

    xvfb-run -a dbus-run-session -- bash -c 'tauri-driver --port 4444 & sleep 1; \
        python3 bench/first_dashboard.py --app target/debug/warden-desktop -n 1000000 --runs 5'

The time includes the app's process start, the window, the UI's first render, the first
`overview` command (stat cards, source health, the chart and the top offenders) and painting its
numbers. As a floor, the same is measured in the same run for a blank Tauri window with the same
Tauri version and WebKit flag (src-tauri/examples/blank.rs, built with
`cargo build --release -p warden-desktop --features custom-protocol --example blank`): from the
session to its empty page loaded.
"""
import argparse, os, shutil, statistics, subprocess, tempfile, time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions

from first_dashboard_db import make_db

ap = argparse.ArgumentParser()
ap.add_argument("--app", default="target/debug/warden-desktop")
ap.add_argument("-n", type=int, default=1_000_000)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--blank", default="target/release/examples/blank")
args = ap.parse_args()
app = str(Path(args.app).resolve())
blank = str(Path(args.blank).resolve())


def blank_window() -> float:
    subprocess.run(["pkill", "-f", blank], check=False)
    time.sleep(0.3)
    opts = ArgOptions()
    opts.set_capability("browserName", "wry")
    opts.set_capability("tauri:options", {"application": blank, "args": []})
    t0 = time.perf_counter()
    d = webdriver.Remote(command_executor="http://127.0.0.1:4444", options=opts)
    try:
        while d.execute_script("return document.readyState") != "complete":
            if time.perf_counter() - t0 > 60:
                raise SystemExit("no blank page within 60 s")
            time.sleep(0.005)
        return time.perf_counter() - t0
    finally:
        d.quit()


def first_dashboard(ws: Path) -> float:
    subprocess.run(["pkill", "-f", app], check=False)
    time.sleep(0.3)
    cfg = ws / "config.toml"
    cfg.write_text("")
    opts = ArgOptions()
    opts.set_capability("browserName", "wry")
    opts.set_capability("tauri:options", {"application": app, "args": ["--config", str(cfg), "--logs-db", str(ws / "logs.db"), "--state-db", str(ws / "state.db")]})
    t0 = time.perf_counter()
    d = webdriver.Remote(command_executor="http://127.0.0.1:4444", options=opts)
    try:
        while True:
            v = d.execute_script("const e = document.querySelector('[data-testid=\"stat-suspicious\"]'); return e ? e.textContent : null")
            if v and v.strip().isdigit():
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > 60:
                raise SystemExit("no dashboard within 60 s")
            time.sleep(0.005)
    finally:
        d.quit()


floor = None
if os.access(blank, os.X_OK):
    times = [blank_window() for _ in range(args.runs)]
    floor = statistics.median(times)
    print(f"blank Tauri window (floor): page loaded median {floor*1000:.0f} ms, min {min(times)*1000:.0f}, "
          f"max {max(times)*1000:.0f} over {args.runs} launches", flush=True)
else:
    print(f"blank Tauri window (floor): not built ({blank})", flush=True)

for label, rows in (("empty logs.db (baseline)", 0), (f"{args.n:,} traffic rows", args.n)):
    ws = Path(tempfile.mkdtemp(prefix="warden-first-"))
    t = time.perf_counter()
    make_db(ws / "logs.db", rows)
    built = time.perf_counter() - t
    times = [first_dashboard(ws) for _ in range(args.runs)]
    print(f"{label}: first dashboard median {statistics.median(times)*1000:.0f} ms, "
          f"min {min(times)*1000:.0f}, max {max(times)*1000:.0f} over {args.runs} launches "
          f"(db {os.path.getsize(ws / 'logs.db') / 1e6:.0f} MB, built in {built:.1f} s)", flush=True)
    if floor is not None:
        print(f"  above the blank window's floor: {(statistics.median(times) - floor)*1000:+.0f} ms", flush=True)
    if rows == 0:
        base = statistics.median(times)
    else:
        print(f"ratio to the empty baseline: {statistics.median(times) / base:.2f}x")
    shutil.rmtree(ws)
