#!/usr/bin/env python3
"""Latency from a line appended to a watched access log to Warden's verdict, through the real
`warden watch`.

This script plays nginx: it appends combined-format lines to an access log that `warden watch
--json --access-log FILE` follows (with a one-hour fallback poll, so only inotify can wake it).
For each of N scanner addresses it appends 19 404s, waits for the NEAR notice to settle, then
appends the 20th line, timestamps the write, and timestamps the `banned` line when Warden prints
it. Background traffic from ordinary clients is appended between scanners. Prints p50/p90/p99/max
in milliseconds.

usage: bench/access_latency.py [--warden target/release/warden] [-n 200]
"""
import argparse, json, pathlib, sqlite3, subprocess, sys, tempfile, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--warden", default=str(pathlib.Path(__file__).resolve().parent.parent / "target/release/warden"))
ap.add_argument("-n", type=int, default=200)
args = ap.parse_args()

schema = (pathlib.Path(__file__).resolve().parent.parent.parent / "shared/spec/fixtures/schema.sql").read_text()
tmp = pathlib.Path(tempfile.mkdtemp(prefix="warden-access-latency-"))
logs = tmp / "logs.db"
c = sqlite3.connect(logs)
c.execute("PRAGMA journal_mode=WAL")
c.executescript(schema)
c.close()
access = tmp / "access.log"
access.touch()
cfg = tmp / "warden.toml"
cfg.write_text("poll_seconds = 3600\nhistory_hours = 0\n")

proc = subprocess.Popen(
    [args.warden, "--config", str(cfg), "--logs-db", str(logs), "--state-db", str(tmp / "state.db"),
     "--access-log", str(access), "watch", "--json"],
    stdout=subprocess.PIPE, text=True, bufsize=1)
arrived, ready = {}, threading.Event()

def reader():
    for line in proc.stdout:
        n = json.loads(line)
        if n.get("kind") == "source" and n.get("name") == "access log":
            ready.set()
        if n.get("kind") == "banned":
            arrived[n["ip"]] = time.monotonic()

threading.Thread(target=reader, daemon=True).start()
if not ready.wait(10):
    sys.exit("warden did not start following the access log")

def stamp():
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())

def line(ip, path, status):
    return f'{ip} - - [{stamp()}] "GET {path} HTTP/1.1" {status} 153 "-" "zgrab/0.x"\n'

sent = {}
with open(access, "a", buffering=1) as f:
    for i in range(args.n):
        ip = f"203.0.{113 + i // 250}.{1 + i % 250}"
        f.write("".join(line(ip, f"/probe-{k}.php", 404) for k in range(19)))
        f.write("".join(line(f"198.51.100.{k}", "/api/v1/quotes", 200) for k in range(10)))
        f.flush()
        time.sleep(0.03)
        sent[ip] = time.monotonic()
        f.write(line(ip, "/.env", 404))
        f.flush()
        deadline = time.monotonic() + 5
        while ip not in arrived and time.monotonic() < deadline:
            time.sleep(0.0005)
proc.terminate()
lat = sorted((arrived[ip] - sent[ip]) * 1000 for ip in sent if ip in arrived)
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
print(f"bans: {len(lat)}/{len(sent)}")
print(f"line-to-ban latency ms: p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  max {lat[-1]:.1f}")
