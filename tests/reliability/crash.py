#!/usr/bin/env python3
"""Crash: `kill -9` Warden 100 times during ingestion and banning; nothing is lost or doubled.

The access log is fed to Warden in 100 chunks. For each chunk the harness appends it, starts
`warden watch`, and kills it with SIGKILL after a random delay (0 to `--max-delay` s): while it
opens its files, reads lines, writes bans into logs.db, or saves its position and counters. The
delays are drawn so that most kills land while the chunk is still being read (the harness checks
that and reports how many did). After the 100th kill, Warden runs once more until it has read the
whole log.

A second workspace reads the same log in one uninterrupted run. The two must end identical:

- the counters Warden saved (per address and rule: count, first and last time, paths);
- `ip_bans` in logs.db, every column but the row id;
- the offences in Warden's state (which make the third offence permanent);
- no ban left pending, `PRAGMA integrity_check` ok on both files.

Independently of the reference run, every counter of an address that was not banned must equal
the generator's ground truth, and every attacker must be banned exactly once with a complete row.

Usage: crash.py [--kills 100] [--lines 400000] [--max-delay 0.4] [--warden PATH] [--seed 1]
"""

import argparse
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
import time
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "..", "shared", "spec", "fixtures", "schema.sql")
SCAN = ["/wp-login.php", "/.env", "/phpmyadmin/", "/.git/config", "/xmlrpc.php"]
OK = ["/api/v1/quotes", "/dashboard", "/orderbook", "/static/app.js"]


def generate(lines, seed):
    """The whole log, oldest first, over the last two hours, and the ground truth."""
    rng = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(hours=2, minutes=5)
    step = timedelta(hours=2) / lines
    n_attackers, n_abusers = max(10, lines * 15 // 4000), max(5, lines * 3 // 4000)  # 1500 and 300 for 400 k
    attackers = [f"11.{i // 250}.{i % 250}.9" for i in range(n_attackers)]   # 25 404s each: banned
    abusers = [f"12.{i // 250}.{i % 250}.9" for i in range(n_abusers)]       # 12 bad API keys: banned
    quiet = [f"13.{i // 250 % 250}.{i % 250}.9" for i in range(40000)]       # a few 404s: counted
    users = [f"14.{i // 250 % 250}.{i % 250}.9" for i in range(5000)]        # 200s only
    pending = [(ip, "404") for ip in attackers for _ in range(25)] + [(ip, "api") for ip in abusers for _ in range(12)]
    rng.shuffle(pending)
    truth = collections.Counter()
    out = []
    for n in range(lines):
        at = (start + step * n).strftime("%d/%b/%Y:%H:%M:%S +0000")
        r = rng.random()
        if pending and r < len(pending) / max(1, lines - n):
            ip, kind = pending.pop()
            if kind == "404":
                out.append(f'{ip} - - [{at}] "GET {SCAN[n % 5]} HTTP/1.1" 404 153 "-" "zgrab/0.x"\n')
            else:
                out.append(f'{ip} - - [{at}] "POST /api/v1/placeorder HTTP/1.1" 403 47 "-" "python-requests/2.32"\n')
        elif r < 0.45:
            ip = quiet[rng.randrange(len(quiet))]
            if truth[ip] >= 14:  # stays below the near-threshold of 16
                ip = users[rng.randrange(len(users))]
                out.append(f'{ip} - - [{at}] "GET {OK[n % 4]} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n')
                continue
            truth[ip] += 1
            out.append(f'{ip} - - [{at}] "GET {SCAN[n % 5]}?q={n % 7} HTTP/1.1" 404 153 "-" "curl/8.5"\n')
        else:
            ip = users[rng.randrange(len(users))]
            out.append(f'{ip} - - [{at}] "GET {OK[n % 4]} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n')
    assert not pending, "every attack line placed"
    return out, truth, set(attackers), set(abusers)


class Workspace:
    def __init__(self, root, name, warden):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.log = os.path.join(self.dir, "access.log")
        self.logs_db = os.path.join(self.dir, "logs.db")
        self.state_db = os.path.join(self.dir, "state.db")
        with sqlite3.connect(self.logs_db) as c, open(SCHEMA) as f:
            c.executescript(f.read())
        open(self.log, "w").close()
        xdg = os.path.join(self.dir, "xdg")
        self.env = dict(os.environ, XDG_CONFIG_HOME=xdg, XDG_DATA_HOME=xdg)
        self.cmd = [warden, "watch", "--json", "--logs-db", self.logs_db, "--state-db", self.state_db,
                    "--access-log", self.log]
        self.errors = []

    def start(self):
        self.out = open(os.path.join(self.dir, "notices.jsonl"), "a")
        return subprocess.Popen(self.cmd, stdout=self.out, stderr=subprocess.PIPE, env=self.env, text=True)

    def append(self, lines):
        with open(self.log, "a") as f:
            f.write("".join(lines))

    def offset(self):
        """How far Warden's saved position has got in the log (0 before the first save)."""
        try:
            c = sqlite3.connect(f"file:{self.state_db}?mode=ro", uri=True, timeout=10)
            rows = c.execute("SELECT value FROM cursors WHERE source LIKE 'access:%'").fetchall()
            c.close()
        except sqlite3.Error:
            return 0
        return max((json.loads(v)["offset"] for (v,) in rows), default=0)

    def run_to_end(self, timeout=120):
        """Runs Warden until its saved position reaches the end of the log, then stops it."""
        p = self.start()
        size = os.path.getsize(self.log)
        deadline = time.monotonic() + timeout
        while self.offset() < size and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.1)
        time.sleep(1.0)  # pending bans are retried every tick; let one more pass
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        if err.strip():
            self.errors.append(err.strip())
        return self.offset() == size

    def snapshot(self):
        s = sqlite3.connect(self.state_db)
        windows = {}
        for ip, rule, w in s.execute("SELECT ip, rule, window FROM windows"):
            w = json.loads(w)
            windows[(ip, rule)] = (w["count"], w["first_at"], w["last_at"], tuple(w.get("items", [])))
        offences = sorted(s.execute("SELECT ip, rule, at, until, source FROM offences"))
        pending = s.execute("SELECT COUNT(*) FROM pending_bans").fetchone()[0]
        state_ok = s.execute("PRAGMA integrity_check").fetchone()[0]
        s.close()
        l = sqlite3.connect(self.logs_db)
        bans = sorted(l.execute("SELECT ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, "
                                "created_by FROM ip_bans"))
        logs_ok = l.execute("PRAGMA integrity_check").fetchone()[0]
        l.close()
        return {"windows": windows, "offences": offences, "pending": pending, "bans": bans,
                "integrity": (logs_ok, state_ok)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--lines", type=int, default=400_000)
    ap.add_argument("--max-delay", type=float, default=0.4, help="longest wait before a kill, seconds")
    ap.add_argument("--warden", default=os.path.join(ROOT, "target", "harness", "warden"))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    t0 = time.monotonic()
    lines, truth, attackers, abusers = generate(args.lines, args.seed)
    root = tempfile.mkdtemp(prefix="warden-crash-")
    crashed = Workspace(root, "crashed", args.warden)
    reference = Workspace(root, "reference", args.warden)
    rng = random.Random(args.seed)

    chunk = -(-len(lines) // args.kills)
    mid_ingestion = 0
    # The longest delay adapts so that about half the kills land before Warden has read the chunk
    # (how long that takes depends on the machine).
    cap = args.max_delay
    for k in range(args.kills):
        crashed.append(lines[k * chunk:(k + 1) * chunk])
        p = crashed.start()
        time.sleep(rng.uniform(0, cap))
        p.send_signal(signal.SIGKILL)
        p.wait()
        if crashed.offset() < os.path.getsize(crashed.log):
            mid_ingestion += 1
            cap = min(args.max_delay, cap * 1.15)
        else:
            cap = max(0.005, cap * 0.8)
    finished = crashed.run_to_end()
    print(f"{args.kills} kills; {mid_ingestion} landed before Warden had saved its way to the end of "
          f"the log (mid-ingestion); the run after the last kill read to the end: {finished}")

    reference.append(lines)
    ref_finished = reference.run_to_end()
    a, b = crashed.snapshot(), reference.snapshot()

    failures = []
    if not (finished and ref_finished):
        failures.append("a run did not reach the end of the log")
    for key in ("windows", "bans", "offences"):
        if a[key] != b[key]:
            only_a = (set(a[key]) - set(b[key])) if isinstance(a[key], dict) else [x for x in a[key] if x not in b[key]]
            only_b = (set(b[key]) - set(a[key])) if isinstance(b[key], dict) else [x for x in b[key] if x not in a[key]]
            diff = [k for k in a[key] if isinstance(a[key], dict) and k in b[key] and a[key][k] != b[key][k]]
            failures.append(f"{key} differ from the uninterrupted run: only after crashes {list(only_a)[:3]}, "
                            f"only in the reference {list(only_b)[:3]}, changed {[(k, a[key][k], b[key][k]) for k in diff[:3]]}")
    if a["pending"] or b["pending"]:
        failures.append(f"bans left pending: {a['pending']} / {b['pending']}")
    if a["integrity"] != ("ok", "ok") or b["integrity"] != ("ok", "ok"):
        failures.append(f"integrity_check: {a['integrity']} / {b['integrity']}")

    # Ground truth, independent of the reference run.
    counted = {ip: w[0] for (ip, rule), w in a["windows"].items() if rule == "404"}
    wrong = {ip: (counted.get(ip), n) for ip, n in truth.items() if counted.get(ip) != n}
    if wrong:
        failures.append(f"{len(wrong)} quiet addresses counted wrong (got, truth): {list(wrong.items())[:3]}")
    banned = collections.Counter(row[0] for row in a["bans"])
    missing = (attackers | abusers) - set(banned)
    extra = set(banned) - (attackers | abusers)
    if missing or extra or any(c != 1 for c in banned.values()):
        failures.append(f"bans: {len(missing)} attackers missing, {len(extra)} others banned")
    half = [row for row in a["bans"] if any(v is None for v in row[:4]) or row[6] not in ("warden:404", "warden:api-key")
            or row[4] is None]
    if half:
        failures.append(f"{len(half)} incomplete ban rows, e.g. {half[:2]}")
    offenders = collections.Counter(o[0] for o in a["offences"])
    if any(c != 1 for c in offenders.values()) or len(offenders) != len(attackers | abusers):
        failures.append(f"offences: {len(offenders)} addresses, doubled: {[ip for ip, c in offenders.items() if c != 1][:3]}")
    errors = crashed.errors + reference.errors
    for ws in (crashed, reference):
        with open(os.path.join(ws.dir, "notices.jsonl")) as f:
            for line in f:
                try:
                    n = json.loads(line)
                except ValueError:
                    continue  # the last line of a killed run may be cut short
                if n.get("kind") in ("ban_pending", "unreadable") or (
                        n.get("kind") == "source" and n.get("health", {}).get("state") != "ok"):
                    errors.append(line.strip())
    if errors:
        failures.append(f"{len(errors)} error notices or stderr lines, e.g. {errors[:2]}")

    print(f"log: {len(lines)} lines; {len(attackers) + len(abusers)} addresses to ban, {len(truth)} quiet addresses "
          f"with {sum(truth.values())} 404s; bans written {len(a['bans'])}, counters {len(a['windows'])}, "
          f"offences {len(a['offences'])}; {time.monotonic() - t0:.0f} s")
    if failures:
        for f in failures:
            print("FAILED:", f)
        print(f"(files kept in {root})")
        sys.exit(1)
    shutil.rmtree(root)
    print("ok: after every kill -9 the state matched an uninterrupted run; nothing lost, doubled or half-written")


if __name__ == "__main__":
    main()
