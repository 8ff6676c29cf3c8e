#!/usr/bin/env python3
"""Rotation storm: every line is counted exactly once while the log is rotated under Warden.

A writer appends nginx `combined` lines (all 404s, so each one is counted in Warden's per-address
404 window) and rotates the file every `--lines / --rotations` lines, alternating the two styles
logrotate offers:

- rename and create (logrotate's default): access.log -> access.log.1, older files shifted up, the
  oldest deleted; the writer, like nginx before its USR1 reopen, keeps writing a few more lines into
  the renamed file, then opens a fresh access.log;
- copytruncate: access.log is copied to access.log.1 and truncated in place; the writer's O_APPEND
  handle carries on at the new end.

`warden watch` follows access.log the whole time. Thresholds are set out of reach (10 000, no
near-threshold notices, no rate limit) so no ban resets a window: at the end, Warden's saved count
for every address (the `windows` table of its state file, saved with the file position in one
transaction) must equal the writer's ground truth exactly. One lost line or one line read twice
fails the run. It also fails on any source-failing notice.

The writer keeps 20 rotated files (logrotate's `rotate 20`): Warden must look at least once
every 20 rotations (here, once a second), which it does in milliseconds when it has a core. When
the writer falls behind its pace it catches up, but its rotations stay at least half their usual
interval apart, so Warden always has at least half a second: a writer stalled by the disk and then
catching up used to squeeze 20 rotations into 0.2 s.

`--disk-load` (the default) runs a bulk writer beside it the whole time (`dd` of 2 GiB with
`conv=fsync`, read back, deleted, over and over), as a build or a backup does: a disk that takes a
second to sync must not make Warden lose lines. `--no-disk-load` leaves the disk alone.
`--cpu-load` (the default) also runs a CPU-bound loop (`while :; do :; done`) the whole time, so the
two cores are shared by the writer, the bulk writer, the loop and Warden; `--no-cpu-load` leaves it
out. With both loads, Warden's save on its reading thread once took 0.8 s, past the 0.5 s floor.
`--trace` gives every 100-line batch an address of its own, so a loss or a double count names
the batches, to be matched with the rotations printed.

Usage: rotation_storm.py [--lines 1000000] [--rotations 1000] [--rate 20000] [--keep 20] [--trace]
       [--no-disk-load] [--no-cpu-load] [--warden PATH]
"""

import argparse
import atexit
import collections
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATHS = ["/wp-login.php", "/.env", "/phpmyadmin/", "/.git/config", "/xmlrpc.php", "/admin/config.php"]
SCHEMA = os.path.join(ROOT, "..", "shared", "spec", "fixtures", "schema.sql")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--rotations", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=20000, help="lines per second the writer aims for")
    ap.add_argument("--ips", type=int, default=100_000, help="distinct client addresses")
    ap.add_argument("--keep", type=int, default=20, help="rotated files kept (logrotate's `rotate`)")
    ap.add_argument("--warden", default=os.path.join(ROOT, "target", "harness", "warden"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--trace", action="store_true", help="one address per 100-line batch (to debug a loss)")
    ap.add_argument("--disk-load", action=argparse.BooleanOptionalAction, default=True,
                    help="a bulk writer syncing to the same disk throughout")
    ap.add_argument("--cpu-load", action=argparse.BooleanOptionalAction, default=True,
                    help="a CPU-bound loop throughout")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="warden-storm-")
    log = os.path.join(work, "access.log")
    logs_db = os.path.join(work, "logs.db")
    state_db = os.path.join(work, "state.db")
    with sqlite3.connect(logs_db) as c, open(SCHEMA) as f:
        c.executescript(f.read())
    cfg = os.path.join(work, "config.toml")
    with open(cfg, "w") as f:
        f.write('near_fraction = 1.0\n[rules]\nnot_found_threshold = 10000\n[rate]\nper_minute = 0\n')
    open(log, "w").close()

    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(work, "xdg"), XDG_DATA_HOME=os.path.join(work, "xdg"))
    warden = subprocess.Popen(
        [args.warden, "watch", "--json", "--config", cfg, "--logs-db", logs_db, "--state-db", state_db,
         "--access-log", log],
        stdout=subprocess.PIPE, stderr=open(os.path.join(work, "stderr.txt"), "w"), env=env, text=True)
    notices = []
    reader = threading.Thread(target=lambda: notices.extend(warden.stdout), daemon=True)
    reader.start()
    time.sleep(1.0)  # let it start and take its first look
    loads = []
    if args.disk_load:
        bulk = os.path.join(work, "bulk")
        loads.append(subprocess.Popen(
            ["bash", "-c", f'while :; do dd if=/dev/zero of="{bulk}" bs=1M count=2048 conv=fsync status=none; '
                           f'cat "{bulk}" > /dev/null; rm -f "{bulk}"; done'],
            start_new_session=True))
    if args.cpu_load:
        loads.append(subprocess.Popen(["sh", "-c", "while :; do :; done"], start_new_session=True))

    def stop_loads():
        # Also on an error or a SIGTERM: a CPU loop left behind would slow everything after.
        for load in loads:
            try:
                os.killpg(load.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            load.wait()
        loads.clear()
        if os.path.exists(os.path.join(work, "bulk")):
            os.remove(os.path.join(work, "bulk"))
    atexit.register(stop_loads)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    rng = random.Random(args.seed)
    ips = [f"{11 + i // 65536 % 80}.{i // 256 % 256}.{i % 256}.{7 + i % 200}" for i in range(args.ips)]
    truth = collections.Counter()
    # Rotations spread evenly, none at the very start or end.
    every = args.lines / (args.rotations + 1)
    next_rotation = every
    # Catching up never brings two rotations closer than half their usual interval.
    min_gap = every / args.rate / 2
    last_rotation = float("-inf")
    started = time.monotonic()
    out = open(log, "a")
    rotations = {"rename": 0, "copytruncate": 0}
    late = 0  # lines written into a renamed file before the "reopen"

    def shift():
        oldest = f"{log}.{args.keep}"
        if os.path.exists(oldest):
            os.remove(oldest)
        for i in range(args.keep - 1, 0, -1):
            if os.path.exists(f"{log}.{i}"):
                os.rename(f"{log}.{i}", f"{log}.{i + 1}")

    def line(n):
        # --trace: one address per batch of 100 lines, so a loss points at its batch.
        # Half the lines, so there are still many counters to save.
        if args.trace and n % 2 == 0:
            ip = f"2001:db8::1:{n // 100:x}"
        else:
            ip = ips[rng.randrange(args.ips)]
        truth[ip] += 1
        now = datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
        path = PATHS[n % len(PATHS)]
        return f'{ip} - - [{now}] "GET {path} HTTP/1.1" 404 153 "-" "storm/1.0"\n'

    n = 0
    reopen_after = None
    while n < args.lines:
        batch = min(100, args.lines - n)
        out.write("".join(line(n + i) for i in range(batch)))
        out.flush()
        n += batch
        if reopen_after is not None:
            late += batch
            if n >= reopen_after:
                out.close()
                out = open(log, "a")  # nginx's reopen after logrotate's postrotate USR1
                reopen_after = None
        if (n >= next_rotation and sum(rotations.values()) < args.rotations
                and time.monotonic() - last_rotation >= min_gap):
            next_rotation += every
            last_rotation = time.monotonic()
            if args.trace:
                print(f"  line {n}: rotation {sum(rotations.values()) + 1} at {time.time():.4f}")
            shift()
            if (rotations["rename"] + rotations["copytruncate"]) % 2 == 0:
                if reopen_after is not None:  # a second rotation before the reopen: reopen now
                    out.close()
                    out = open(log, "a")
                os.rename(log, f"{log}.1")
                open(log, "a").close()  # logrotate's `create`
                reopen_after = n + 200
                rotations["rename"] += 1
            else:
                if reopen_after is not None:
                    out.close()
                    out = open(log, "a")
                    reopen_after = None
                shutil.copyfile(log, f"{log}.1")
                os.truncate(log, 0)
                rotations["copytruncate"] += 1
        # Pace the writer.
        ahead = n / args.rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    out.close()
    wrote = time.monotonic() - started
    stop_loads()
    print(f"wrote {n} lines in {wrote:.1f} s ({n / wrote:,.0f}/s) with {rotations['rename']} rename and "
          f"{rotations['copytruncate']} copytruncate rotations; {late} lines went into renamed files before "
          f"the reopen; {len(truth)} addresses")

    # Wait until Warden's saved counts stop changing (or match).
    expected = sum(truth.values())
    last, still, counted = None, time.monotonic(), {}
    while True:
        counted = saved_counts(state_db)
        total = sum(counted.values())
        if total != last:
            last, still = total, time.monotonic()
        if total == expected and counted == dict(truth):
            break
        if time.monotonic() - still > 30:
            break
        time.sleep(0.5)
    caught_up = time.monotonic() - started - wrote
    warden.send_signal(signal.SIGTERM)
    warden.wait(timeout=30)
    reader.join(timeout=5)
    stderr = open(os.path.join(work, "stderr.txt")).read()

    failures = []
    lost = {ip: c - counted.get(ip, 0) for ip, c in truth.items() if counted.get(ip, 0) < c}
    doubled = {ip: counted[ip] - truth.get(ip, 0) for ip in counted if counted[ip] > truth.get(ip, 0)}
    print(f"Warden counted {sum(counted.values())} of {expected} lines "
          f"({caught_up:.1f} s after the writer stopped); lost {sum(lost.values())} "
          f"in {len(lost)} addresses, counted twice {sum(doubled.values())} in {len(doubled)} addresses")
    if args.trace:
        batch = lambda ip: int(ip.rsplit(":", 1)[1], 16) * 100
        print("lost batches:", sorted((batch(ip), c) for ip, c in lost.items() if ip.startswith("2001:"))[:40])
        print("doubled batches:", sorted((batch(ip), c) for ip, c in doubled.items() if ip.startswith("2001:"))[:40])
    if lost or doubled:
        failures.append(f"counts differ: e.g. lost {list(lost.items())[:3]}, doubled {list(doubled.items())[:3]}")
    seen = [json.loads(l) for l in notices if l.strip()]
    bad = [x for x in seen
           if x.get("kind") in ("unreadable", "ban_pending", "banned")
           or (x.get("kind") == "source" and x.get("health", {}).get("state") != "ok")]
    for x in bad[:5]:
        print("notice:", json.dumps(x))
    if any(x.get("kind") == "banned" for x in bad):
        failures.append("an address was banned, so a window was reset: the check is void")
    if [x for x in bad if x.get("kind") != "banned"]:
        failures.append(f"{len(bad)} error notices")
    if stderr.strip():
        print("stderr:", stderr.strip()[:2000])
        failures.append("Warden wrote to stderr")
    if failures:
        print("FAILED:", "; ".join(failures), f"(files kept in {work})")
        sys.exit(1)
    shutil.rmtree(work)
    print("ok: every line counted exactly once")


def saved_counts(state_db):
    """Warden's saved 404 count per address."""
    if not os.path.exists(state_db):
        return {}
    try:
        c = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True, timeout=10)
        rows = c.execute("SELECT ip, window FROM windows WHERE rule = '404'").fetchall()
        c.close()
    except sqlite3.Error:
        return {}
    return {ip: json.loads(w)["count"] for ip, w in rows}


if __name__ == "__main__":
    main()
