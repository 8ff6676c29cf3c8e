#!/usr/bin/env python3
"""Scrolling a 100 000-row table in the real app: the Traffic view asks for 100 000 rows from a
logs.db that has them, then the script scrolls the table's viewport by one screen per animation
frame, 300 times, timing each frame in the page (performance.now() between requestAnimationFrame
callbacks). Also reports how long the 100 000 rows took to arrive and how many row elements the page
holds (the table is virtualized, so it stays a few dozen whatever the row count).

Run it inside the e2e environment (see bench/first_dashboard.py):

    xvfb-run -a dbus-run-session -- bash -c 'tauri-driver --port 4444 & sleep 1; \
        python3 bench/table_scroll.py --app target/debug/warden-desktop'
"""
import argparse, statistics, subprocess, tempfile, time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions

import first_dashboard_db  # noqa: E402  (the same logs.db builder)

ap = argparse.ArgumentParser()
ap.add_argument("--app", default="target/debug/warden-desktop")
ap.add_argument("-n", type=int, default=100_000)
args = ap.parse_args()
app = str(Path(args.app).resolve())

ws = Path(tempfile.mkdtemp(prefix="warden-scroll-"))
first_dashboard_db.make_db(ws / "logs.db", args.n)
(ws / "config.toml").write_text("")
subprocess.run(["pkill", "-f", app], check=False)
opts = ArgOptions()
opts.set_capability("browserName", "wry")
opts.set_capability("tauri:options", {"application": app, "args": ["--config", str(ws / "config.toml"), "--logs-db", str(ws / "logs.db"), "--state-db", str(ws / "state.db")]})
d = webdriver.Remote(command_executor="http://127.0.0.1:4444", options=opts)
d.set_script_timeout(120)
try:
    d.find_element(By.CSS_SELECTOR, '[data-testid="nav-traffic"]').click()
    time.sleep(1)
    rows_in = d.find_element(By.CSS_SELECTOR, 'input[aria-label="Rows"]')
    rows_in.clear()
    rows_in.send_keys(str(args.n))
    t0 = time.perf_counter()
    d.execute_script("arguments[0].form.requestSubmit()", rows_in)
    while True:
        n = d.execute_script("const c = document.querySelector('[data-testid=\"traffic-table\"] .vt-count'); return c ? c.textContent : ''")
        if n.replace(",", "").replace("\u202f", "").replace(" ", "").strip().startswith(str(args.n)):
            break
        if time.perf_counter() - t0 > 60:
            raise SystemExit(f"rows did not arrive: count shows {n!r}")
        time.sleep(0.01)
    arrived = time.perf_counter() - t0
    frames = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const vp = document.querySelector('[data-testid="traffic-table"] .vt-viewport');
        if (!vp) { done({error: 'no viewport'}); return; }
        const times = []; let last = performance.now(); let i = 0;
        function step(t) {
          try {
            times.push(t - last); last = t;
            vp.scrollTop += vp.clientHeight;
            if (++i < 300) requestAnimationFrame(step);
            else done({times, rows: document.querySelectorAll('[data-testid="traffic-table"] .vt-row').length, top: vp.scrollTop});
          } catch (e) { done({error: String(e)}); }
        }
        requestAnimationFrame(step);
    """)
    if "error" in frames:
        raise SystemExit(f"the scroll script failed: {frames['error']}")
    t = sorted(frames["times"][1:])
    print(f"{args.n:,} rows arrived and rendered in {arrived*1000:.0f} ms; "
          f"scrolling one screen per frame for 300 frames: median {statistics.median(t):.1f} ms, "
          f"p95 {t[int(len(t)*0.95)]:.1f} ms, max {t[-1]:.1f} ms per frame; "
          f"{frames['rows']} row elements in the page at the end (scrollTop {frames['top']:.0f} px)")
finally:
    d.quit()
