#!/usr/bin/env python3
"""Latency from an OpenAlgo tracker write to Warden's ban, through the real `warden watch`.

A second process (this script) plays OpenAlgo: it creates a logs.db in OpenAlgo's schema (WAL,
busy_timeout 15000, a fresh connection per write, as OpenAlgo does), then for each of N addresses
commits the tracker update that reaches the 404 threshold and timestamps it. `warden watch --json`
runs with a one-hour fallback poll, so only inotify can wake it in time; each `banned` line is
timestamped as it arrives. Prints p50/p90/p99/max in milliseconds.

usage: bench/logsdb_latency.py [--warden target/release/warden] [-n 200]
"""
import argparse, json, os, pathlib, sqlite3, subprocess, sys, tempfile, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--warden", default="target/release/warden")
ap.add_argument("-n", type=int, default=200)
args = ap.parse_args()

schema = (pathlib.Path(__file__).resolve().parent.parent.parent / "shared/spec/fixtures/schema.sql").read_text()
tmp = pathlib.Path(tempfile.mkdtemp(prefix="warden-latency-"))
logs = tmp / "logs.db"
c = sqlite3.connect(logs)
c.execute("PRAGMA journal_mode=WAL")
c.executescript(schema)
c.close()
cfg = tmp / "warden.toml"
cfg.write_text("poll_seconds = 3600\n")

proc = subprocess.Popen(
    [args.warden, "--config", str(cfg), "--logs-db", str(logs), "--state-db", str(tmp / "state.db"), "watch", "--json"],
    stdout=subprocess.PIPE, text=True, bufsize=1)
arrived = {}
ready = threading.Event()

def reader():
    for line in proc.stdout:
        n = json.loads(line)
        if n.get("kind") == "source" and n.get("name") == "logs.db":
            ready.set()
        if n.get("kind") == "banned":
            arrived[n["ip"]] = time.monotonic()

threading.Thread(target=reader, daemon=True).start()
if not ready.wait(10):
    sys.exit("warden did not start")

def openalgo_write(sql, params):
    conn = sqlite3.connect(logs, timeout=15)
    conn.execute("PRAGMA busy_timeout=15000")
    conn.execute(sql, params)
    conn.commit()
    conn.close()

sent = {}
now = lambda: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
for i in range(args.n):
    ip = f"203.0.{113 + i // 250}.{1 + i % 250}"
    openalgo_write("INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) VALUES (?, 19, ?, ?, '[]')", (ip, now(), now()))
    time.sleep(0.02)
    sent[ip] = time.monotonic()
    openalgo_write("UPDATE error_404_tracker SET error_count = 20 WHERE ip_address = ?", (ip,))
    deadline = time.monotonic() + 5
    while ip not in arrived and time.monotonic() < deadline:
        time.sleep(0.0005)
proc.terminate()
lat = sorted((arrived[ip] - sent[ip]) * 1000 for ip in sent if ip in arrived)
missing = len(sent) - len(lat)
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
print(f"bans: {len(lat)}/{len(sent)} (missing {missing})")
print(f"latency ms: p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  max {lat[-1]:.1f}")
