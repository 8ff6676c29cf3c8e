#!/usr/bin/env python3
"""Reliability harness: Warden bans while an OpenAlgo-like process hammers logs.db.

Claim (reliability issue): a separate process writes logs.db the way OpenAlgo does (WAL,
busy_timeout 15000, a fresh connection per request, ~200 writes/s to traffic_logs and the
trackers, lazy deletes of expired bans) for 60 s while Warden bans 1,000 IPs. Result: 0 lost
bans, 0 errors surfaced to the user, PRAGMA integrity_check ok.

How the 1,000 bans come about: half of the attackers send 20 404s through the nginx access log
Warden follows; the other half exist only in logs.db, where the writer pushes their
error_404_tracker rows to 20 (or invalid_api_key_tracker rows to 10) exactly as OpenAlgo's
track_404 / track_invalid_api_key do. Their rows are seeded part-way (12 and 4, an attack already
under way when Warden starts) so that the attack writes fit in the 200 writes/s budget and leave
room for ordinary traffic, below-threshold trackers and lazy deletes (spec openalgo.md §5).

`--old-rows N` seeds N tracker rows that past scanners left behind (1 to 3 hits each, in the last day;
OpenAlgo keeps them until its dashboard is opened), as on a server that has been up for months.

`--disk-load` runs a bulk writer on the same disk while the writer runs (`dd` of 2 GiB with
`conv=fsync`, read back, deleted, over and over), as a backup or a build does: a commit that waits for
the disk then shows in the ban latency.

Usage: python3 tests/reliability/concurrent_writer.py [--seconds 60] [--ips 1000] [--rate 200]
       [--warden PATH] [--keep DIR] [--disk-load] [--old-rows N]   (stdlib only; any directory)
Exit 0 when every check holds; otherwise 1, after one FAIL line per broken check.
"""
import argparse, collections, datetime as dt, hashlib, json, os, queue, random, signal, sqlite3, subprocess, sys, tempfile
import threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "spec" / "fixtures" / "schema.sql"
# Rule -> (threshold, seeded count, ban hours, created_by, reason): Warden's defaults (src/config.rs, src/event.rs).
RULES = {"404": (20, 12, 24, "warden:404", "Exceeded 404 threshold: 20 errors in 24 hours"),
         "api": (10, 4, 48, "warden:api-key", "Exceeded invalid API key threshold: 10 attempts in 24 hours")}
# Tracker table columns, as OpenAlgo names them: table, count, first, last, items, items kept.
TRACKERS = {"404": ("error_404_tracker", "error_count", "first_error_at", "last_error_at", "paths_attempted", 50),
            "api": ("invalid_api_key_tracker", "attempt_count", "first_attempt_at", "last_attempt_at", "api_keys_tried",
                    20)}
SCAN_PATHS = ["/wp-login.php", "/.env", "/xmlrpc.php", "/phpmyadmin/", "/admin.php", "/.git/config", "/cgi-bin/luci"]
OK_PATHS = ["/api/v1/quotes", "/api/v1/funds", "/dashboard", "/orderbook", "/api/v1/positionbook"]
BAN_COLS = "ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by"
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()  # nginx's, whatever the locale


def utc():  # naive UTC, as OpenAlgo's datetime.utcnow()
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def py_time(d):   # SQLAlchemy's spelling of datetime.utcnow(): always microseconds (spec §3)
    return d.strftime("%Y-%m-%d %H:%M:%S.%f")


def sql_time(d):  # SQLite CURRENT_TIMESTAMP's spelling
    return d.strftime("%Y-%m-%d %H:%M:%S")


def key_hash():   # OpenAlgo keeps sha256(key)[:16] of each invalid key tried
    return hashlib.sha256(os.urandom(16)).hexdigest()[:16]


def ip(group, i):  # public unicast addresses only: Warden never bans private/loopback/CGNAT (src/ip.rs)
    return f"{group}.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}"


# ----------------------------------------------------------------------------- the OpenAlgo-like writer
def connect(db):
    # NullPool: a fresh connection per request, with OpenAlgo's connect-listener pragmas. Python's
    # default isolation (BEGIN only before DML) is pysqlite's, i.e. what SQLAlchemy does on SQLite.
    c = sqlite3.connect(db, timeout=15.0)
    for p in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=15000"):
        c.execute("PRAGMA " + p)
    return c


class Writer:
    """OpenAlgo's request path (ban check, trackers) on this thread, and its single-thread
    traffic-log executor on another, each with fresh connections: two writers in one process."""

    def __init__(self, db):
        self.db, self.writes, self.requests, self.blocked, self.stale = db, 0, 0, 0, 0
        self.errors, self.lazy_deleted, self.last_commit = collections.Counter(), [], {}
        self.lock, self.traffic = threading.Lock(), queue.Queue()
        self.executor = threading.Thread(target=self.drain_traffic)
        self.executor.start()

    def txn(self, conn, fn):
        """One short transaction; every sqlite error is counted (OpenAlgo would log and roll back)."""
        try:
            out = fn(conn)
            conn.commit()
        except sqlite3.Error as e:
            conn.rollback()
            with self.lock:
                self.errors[f"{type(e).__name__}: {e}"] += 1
            return None
        with self.lock:
            self.writes += 1
        return out

    def is_banned(self, conn, addr):  # is_ip_banned without the 60 s cache (stricter: a read per request)
        row = conn.execute("SELECT id, expires_at, is_permanent FROM ip_bans WHERE ip_address = ?", (addr,)).fetchone()
        if row is None or (not row[2] and row[1] is None):
            return False
        if row[2] or utc() < dt.datetime.fromisoformat(row[1]):
            return True
        # Lazy expiry (spec §5.2 d), as the ORM does it: DELETE by id of the row just read as expired.
        if self.txn(conn, lambda c: c.execute("DELETE FROM ip_bans WHERE id = ?", (row[0],)).rowcount) == 1:
            self.lazy_deleted.append(addr)
        return False

    def track(self, conn, addr, kind, item):  # track_404 / track_invalid_api_key, auto-ban off
        table, count, first, last, items, keep = TRACKERS[kind]
        def upsert(c):   # SELECT, then UPDATE or INSERT: not atomic, exactly like OpenAlgo
            row = c.execute(f"SELECT id, {count}, {first}, {items} FROM {table} WHERE ip_address = ? LIMIT 1",
                            (addr,)).fetchone()
            if row is None:  # first/last come from the CURRENT_TIMESTAMP server default
                c.execute(f"INSERT INTO {table} (ip_address, {count}, {items}) VALUES (?, 1, ?)",
                          (addr, json.dumps([item])))
                return 1
            now = utc()
            if (now - dt.datetime.fromisoformat(row[2])).days >= 1:   # fixed 24 h window: reset
                n, start, lst = 1, py_time(now), [item]
            else:
                n, start, lst = row[1] + 1, row[2], json.loads(row[3] or "[]")
                lst = (lst + [item] if item not in lst else lst)[-keep:]
            return c.execute(f"UPDATE {table} SET {count} = ?, {first} = ?, {last} = ?, {items} = ? WHERE id = ?",
                             (n, start, py_time(now), json.dumps(lst), row[0])).rowcount
        done = self.txn(conn, upsert)
        if done is not None:
            self.last_commit[addr] = time.time()
            self.stale += done != 1   # our row vanished between SELECT and UPDATE: someone deleted it early

    def drain_traffic(self):  # one INSERT + commit per row, in arrival order, fresh connection each
        while (row := self.traffic.get()) is not None:
            conn = connect(self.db)
            try:
                self.txn(conn, lambda c: c.execute(
                    "INSERT INTO traffic_logs (client_ip, method, path, status_code, duration_ms, host, error, "
                    "user_id) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)", row))
            finally:
                conn.close()

    def request(self, addr, kind, path):
        self.requests += 1
        conn = connect(self.db)
        try:
            try:
                banned = self.is_banned(conn, addr)
            except sqlite3.Error as e:   # OpenAlgo fails open; we count it
                with self.lock:
                    self.errors[f"{type(e).__name__}: {e}"] += 1
                banned = False
            if banned:                   # 403 before Flask: no tracker, no traffic row
                self.blocked += 1
                return
            if kind == "404":
                self.track(conn, addr, "404", path)
            elif kind == "api":
                self.track(conn, addr, "api", key_hash())   # a new key each time: repeats are cached, not counted
        finally:
            conn.close()
        status = {"404": 404, "api": 403}.get(kind, 200)
        self.traffic.put((addr, "POST" if status == 403 else "GET", path, status, round(random.uniform(0.5, 40), 3),
                          "trade.example.com"))


def writer_main(plan_path, result_path):
    plan = json.loads(Path(plan_path).read_text())
    w, t0, lag = Writer(plan["db"]), plan["t0"], 0.0
    for t, addr, kind, path in plan["events"]:   # paced by absolute time, so a slow write never drifts the rate
        delay = t0 + t - time.time()
        if delay > 0:
            time.sleep(delay)
        else:
            lag = max(lag, -delay)
        w.request(addr, kind, path)
    w.traffic.put(None)
    w.executor.join()
    result = {"writes": w.writes, "requests": w.requests, "blocked": w.blocked, "stale": w.stale,
              "errors": dict(w.errors), "lazy_deleted": w.lazy_deleted, "last_commit": w.last_commit,
              "elapsed": time.time() - t0, "max_lag": lag}
    Path(result_path).write_text(json.dumps(result))


# ----------------------------------------------------------------------------- the plan
def spread(addrs, hits, seconds, rng):
    """Each address's hits fall evenly inside a window of 20 % of the run; the windows are staggered
    over the run, so bans land all along it rather than all at the end."""
    win = max(seconds * 0.2, 1.0)
    return [(i / len(addrs) * (seconds - win) + k * win / max(hits - 1, 1) + rng.uniform(0, 0.01), a)
            for i, a in enumerate(addrs) for k in range(hits)]


def build_plan(a):
    rng = random.Random(a.seed)
    n_access = a.ips // 2
    n404 = (a.ips - n_access) // 2
    p = {"access": [ip(11, i) for i in range(n_access)], "404": [ip(12, i) for i in range(n404)],
         "api": [ip(13, i) for i in range(a.ips - n_access - n404)],
         "expired": [ip(14, i) for i in range(max(10, a.ips // 5))],
         "active": [ip(15, i) for i in range(max(5, a.ips // 20))]}
    to_go = {k: RULES[k][0] - RULES[k][1] for k in RULES}   # increments left to the threshold
    events = [(t, x, "404", rng.choice(SCAN_PATHS)) for t, x in spread(p["404"], to_go["404"], a.seconds, rng)]
    events += [(t, x, "api", "/api/v1/placeorder") for t, x in spread(p["api"], to_go["api"], a.seconds, rng)]
    events += [(rng.uniform(0, a.seconds), x, "ok", rng.choice(OK_PATHS)) for x in p["expired"] + p["active"]]
    # Writes so far: 2 per attack request (tracker + traffic row), 2 per expired-ban visit (lazy delete +
    # traffic row), 0 per banned visit. The rest of the budget is ordinary traffic (1 write) and
    # below-threshold tracker noise (2 writes, <= 5 404s or 3 bad keys per address: under the near mark).
    budget = a.rate * a.seconds - 2 * (len(events) - len(p["active"]))
    if budget < 0.2 * a.rate * a.seconds:
        sys.exit(f"--rate {a.rate} x --seconds {a.seconds} is too few writes for {a.ips} attackers; raise one")
    n_ok, n_noise = int(budget * 0.7), int(budget * 0.3) // 2
    events += [(rng.uniform(0, a.seconds), ip(16, rng.randrange(500)), "ok", rng.choice(OK_PATHS)) for _ in range(n_ok)]
    for j in range(n_noise):
        kind = "404" if j % 2 else "api"
        addr = ip(17, j // 10) if kind == "404" else ip(18, j // 6)
        path = rng.choice(SCAN_PATHS) if kind == "404" else "/api/v1/funds"
        events.append((rng.uniform(0, a.seconds), addr, kind, path))
    p["events"] = sorted(events)
    access = [(t, x, 404, rng.choice(SCAN_PATHS)) for t, x in spread(p["access"], RULES["404"][0], a.seconds, rng)]
    access += [(rng.uniform(0, a.seconds), ip(16, rng.randrange(500)), 200, rng.choice(OK_PATHS))
               for _ in range(2 * n_access)]
    p["access_lines"] = sorted(access)
    return p


def make_db(path, plan, old_rows=0):
    """A fresh logs.db from OpenAlgo's exact DDL, in WAL, seeded like a server already running."""
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode=WAL")
    c.executescript(SCHEMA.read_text())
    now = utc()
    for i, x in enumerate(plan["expired"]):   # OpenAlgo's own auto-bans, expired, not yet lazily deleted
        c.execute(f"INSERT INTO ip_bans ({BAN_COLS}) "
                  "VALUES (?, 'Exceeded 404 threshold: 100 errors in 24 hours', 1, ?, ?, 0, '404_detector')",
                  (x, sql_time(now - dt.timedelta(hours=30 + i % 5)), py_time(now - dt.timedelta(hours=6 + i % 5))))
    for i, x in enumerate(plan["active"]):    # manual bans in force (every 5th permanent): must survive
        perm = i % 5 == 0
        c.execute(f"INSERT INTO ip_bans ({BAN_COLS}) VALUES (?, 'Manual ban', 1, ?, ?, ?, 'manual')",
                  (x, sql_time(now), None if perm else py_time(now + dt.timedelta(days=7)), int(perm)))
    for kind in ("404", "api"):               # attacks under way: rows part-way to the threshold
        table, count, first, last, items, _ = TRACKERS[kind]
        seed = RULES[kind][1]
        for x in plan[kind]:
            lst = SCAN_PATHS[:5] if kind == "404" else [key_hash() for _ in range(seed)]
            c.execute(f"INSERT INTO {table} (ip_address, {count}, {first}, {last}, {items}) VALUES (?, ?, ?, ?, ?)",
                      (x, seed, sql_time(now - dt.timedelta(minutes=40)), py_time(now - dt.timedelta(minutes=2)),
                       json.dumps(lst)))
    for i in range(old_rows):                 # scanners long gone: a hit or three each, never near a threshold
        kind = "404" if i % 2 else "api"
        table, count, first, last, items, _ = TRACKERS[kind]
        seen = now - dt.timedelta(hours=3 + i % 20)
        c.execute(f"INSERT INTO {table} (ip_address, {count}, {first}, {last}, {items}) VALUES (?, ?, ?, ?, ?)",
                  (ip(19 if kind == "404" else 20, i // 2), 1 + i % 3 if kind == "404" else 1 + i % 2,
                   sql_time(seen), py_time(seen), json.dumps(SCAN_PATHS[:1] if kind == "404" else [key_hash()])))
    c.commit()
    c.close()


def append_access(path, lines, t0, done_at):
    """nginx: one `combined` line per request, stamped now; records when each attacker's line landed
    (the last record per address is its 20th 404, since the lines are in time order)."""
    with open(path, "a") as f:
        i = 0
        while i < len(lines):
            now, batch, hit = time.time(), [], []
            g = time.gmtime(now)
            stamp = f"{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{g.tm_year}:{time.strftime('%H:%M:%S', g)} +0000"
            while i < len(lines) and t0 + lines[i][0] <= now:
                _, addr, status, path_ = lines[i]
                batch.append(f'{addr} - - [{stamp}] "GET {path_} HTTP/1.1" {status} 162 "-" "Mozilla/5.0 (scan)"\n')
                hit += [addr] if status == 404 else []
                i += 1
            if batch:
                f.write("".join(batch))
                f.flush()
                done_at.update((addr, time.time()) for addr in hit)
            if i < len(lines):
                time.sleep(min(0.05, max(0.0, t0 + lines[i][0] - time.time())))


# ----------------------------------------------------------------------------- the run and the checks
def run(a, work):
    warden = Path(a.warden) if a.warden else ROOT / "target" / "harness" / "warden"
    plan = build_plan(a)
    db, log, state = work / "logs.db", work / "access.log", work / "state.db"
    make_db(db, plan, a.old_rows)
    log.touch()
    for _ in range(120):   # the lead's build may be replacing the binary right now
        if os.access(warden, os.X_OK):
            break
        time.sleep(1)
    # Nothing of the real user's: configuration and data homes are throw-away directories.
    env = dict(os.environ, XDG_CONFIG_HOME=str(work / "xdg-config"), XDG_DATA_HOME=str(work / "xdg-data"))
    wsecs = a.seconds + a.grace + 5   # --seconds: Warden stops by itself, so its exit code means something
    stderr = open(work / "warden.stderr", "w")
    proc = subprocess.Popen([str(warden), "watch", "--json", "--logs-db", str(db), "--state-db", str(state),
                             "--access-log", str(log), "--seconds", str(wsecs)],
                            stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    writer, r, load = None, {"notices": [], "access_done": {}}, None
    try:
        reader = threading.Thread(target=lambda: [r["notices"].append((time.time(), l)) for l in proc.stdout])
        reader.start()
        deadline = time.time() + 5   # ready = both sources reported healthy
        while time.time() < deadline and sum('"state":"ok"' in l for _, l in list(r["notices"])) < 2:
            time.sleep(0.05)
        if a.disk_load:
            bulk = work / "bulk"
            load = subprocess.Popen(
                ["bash", "-c", f'while :; do dd if=/dev/zero of="{bulk}" bs=1M count=2048 conv=fsync status=none; '
                               f'cat "{bulk}" > /dev/null; rm -f "{bulk}"; done'], start_new_session=True)
        t0 = time.time() + 0.5
        (work / "plan.json").write_text(json.dumps({"db": str(db), "t0": t0, "events": plan["events"]}))
        writer = subprocess.Popen([sys.executable, __file__, "--_writer", str(work / "plan.json"),
                                   str(work / "writer.json")])
        appender = threading.Thread(target=append_access, args=(log, plan["access_lines"], t0, r["access_done"]))
        appender.start()
        r["writer_rc"] = writer.wait(timeout=a.seconds * 3 + 120)
        r["writer_end"] = time.time()
        stop_load(load, work)
        appender.join()
        r["warden_rc"] = proc.wait(timeout=wsecs + 120)
        r["warden_end"] = time.time()
        reader.join(timeout=10)
    finally:   # on any harness failure, stop our own children (by their handles) before leaving
        stop_load(load, work)
        for child in (writer, proc):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
        stderr.close()
    return verify(a, work, plan, r)


def stop_load(load, work):
    """Stops the bulk writer, its `dd` included, and removes its file."""
    if load is not None and load.poll() is None:
        os.killpg(load.pid, signal.SIGKILL)
        load.wait()
    (work / "bulk").unlink(missing_ok=True)


def verify(a, work, plan, r):
    fails = []
    def check(ok, what):
        print(("  ok    " if ok else "  FAIL  ") + what)
        fails.extend([] if ok else [what])

    load = (", a bulk writer on the disk" if a.disk_load else "") + (f", {a.old_rows} old tracker rows" if a.old_rows else "")
    print(f"\n== results ({a.seconds} s, {a.ips} IPs, target {a.rate} writes/s{load}; files in {work})")
    # 3. The writer: no sqlite error at all, and the rate it promised.
    path = work / "writer.json"
    res = json.loads(path.read_text()) if path.exists() else {"writes": 0, "requests": 0, "blocked": 0, "stale": 0,
        "errors": {"no result": 1}, "lazy_deleted": [], "last_commit": {}, "elapsed": 1, "max_lag": 0}
    rate = res["writes"] / res["elapsed"]
    check(r["writer_rc"] == 0 and path.exists(), f"writer process exited {r['writer_rc']} and reported")
    print(f"  writer: {res['requests']} requests, {res['writes']} writes in {res['elapsed']:.1f} s = "
          f"{rate:.1f} writes/s (max lag behind schedule {res['max_lag'] * 1000:.0f} ms), "
          f"{res['blocked']} answered 403 as banned")
    check(not res["errors"], f"writer sqlite errors: {sum(res['errors'].values())} {res['errors'] or ''}")
    check(res["stale"] == 0, f"tracker rows deleted under the writer before their threshold: {res['stale']}")
    check(rate >= 0.75 * a.rate, f"write rate {rate:.1f}/s is at least 75 % of {a.rate}/s")
    tail = r["warden_end"] - r["writer_end"]
    check(tail >= 5, f"Warden ran {tail:.1f} s past the writer's end")
    # 1. The bans: one row per attacker, Warden's, in force, with the rule's reason and length.
    conn = sqlite3.connect(work / "logs.db")
    rows = {x[0]: x for x in conn.execute(f"SELECT {BAN_COLS} FROM ip_bans")}
    conn.close()
    now, lost, bad = utc(), [], []
    expected = {x: "404" for x in plan["access"] + plan["404"]} | {x: "api" for x in plan["api"]}
    for x, rule in expected.items():
        _, _, hours, by, reason = RULES[rule]
        if (row := rows.get(x)) is None:
            lost.append(x)
        elif (row[1], row[2], row[5], row[6]) != (reason, 1, 0, by) or len(row[3]) != 26 or row[4] is None \
                or dt.datetime.fromisoformat(row[4]) - dt.datetime.fromisoformat(row[3]) != dt.timedelta(hours=hours) \
                or dt.datetime.fromisoformat(row[4]) <= now:
            bad.append(row)
    by_warden = sum((x[6] or "").startswith("warden:") for x in rows.values())
    check(not lost, f"lost bans: {len(lost)} of {len(expected)} {lost[:5]}")
    check(not bad, f"ban rows of the wrong shape: {len(bad)} {bad[:3]}")
    check(by_warden == len(expected), f"rows created by Warden: {by_warden}, expected {len(expected)} (no innocent IP)")
    kept = sum(x in rows for x in plan["active"])
    check(kept == len(plan["active"]), f"seeded bans in force kept: {kept} of {len(plan['active'])}")
    gone = sorted(x for x in plan["expired"] if x not in rows)
    check(gone == sorted(plan["expired"]) == sorted(res["lazy_deleted"]),
          f"expired bans lazily deleted by the writer: {len(res['lazy_deleted'])} of {len(plan['expired'])}")
    # 2. What Warden told the user: bans, near-threshold, thresholds, traffic and healthy sources only.
    kinds, errors, banned_at, dup = collections.Counter(), [], {}, 0
    for at, line in r["notices"]:
        try:
            n = json.loads(line)
        except ValueError:
            n = {"kind": "not JSON"}
        kinds[n.get("kind")] += 1
        if n.get("kind") == "banned":
            dup += n["ip"] in banned_at
            banned_at.setdefault(n["ip"], at)
        elif n.get("kind") not in ("near_threshold", "thresholds", "traffic") and n.get("health") != {"state": "ok"}:
            errors.append(line.strip())
    print(f"  warden notices: {dict(kinds)}")
    check(not errors, f"error notices from Warden: {len(errors)} {errors[:5]}")
    check(not dup and set(banned_at) == set(expected), f"ban notices: {len(banned_at)} attackers, duplicates {dup}")
    err_text = (work / "warden.stderr").read_text().strip()
    check(not err_text, f"Warden's stderr is empty {err_text[:300]!r}")
    check(r["warden_rc"] == 0, f"Warden exited {r['warden_rc']}")
    # 4. Integrity of both databases (connecting to a missing file would create an empty, "ok" one).
    for path in (work / "logs.db", work / "state.db"):
        verdict = [("missing",)]
        if path.exists():
            c = sqlite3.connect(path)
            verdict = c.execute("PRAGMA integrity_check").fetchall()
            c.close()
        check(verdict == [("ok",)], f"integrity_check {path.name}: {verdict[:3]}")
    # 5. Ban latency: the last offending line/row committed -> Warden's ban notice read.
    lat = {"access log": [banned_at[x] - r["access_done"][x] for x in plan["access"] if x in banned_at],
           "trackers": [banned_at[x] - res["last_commit"][x] for x in plan["404"] + plan["api"]
                        if x in banned_at and x in res["last_commit"]]}
    lat["all"] = lat["access log"] + lat["trackers"]
    for src, xs in lat.items():
        q = lambda f: sorted(xs)[min(len(xs) - 1, int(f * len(xs)))] * 1000 if xs else float("nan")
        print(f"  ban latency {src:10}: n={len(xs)} p50={q(.5):.0f} ms p99={q(.99):.0f} ms max={q(1):.0f} ms")
    print("PASS" if not fails else f"FAIL: {len(fails)} check(s) failed")
    return 0 if not fails else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=60, help="how long the writer runs (default 60)")
    ap.add_argument("--ips", type=int, default=1000, help="attackers Warden must ban (default 1000)")
    ap.add_argument("--rate", type=int, default=200, help="writer's writes per second (default 200)")
    ap.add_argument("--warden", help="the warden binary (default: target/harness/warden, built by `cargo build --profile harness --bin warden`)")
    ap.add_argument("--keep", help="work in this directory and keep it")
    ap.add_argument("--grace", type=int, default=30, help="seconds Warden runs after the writer's schedule (30)")
    ap.add_argument("--disk-load", action="store_true", help="a bulk writer syncing to the same disk meanwhile")
    ap.add_argument("--old-rows", type=int, default=0, help="tracker rows past scanners left behind (default 0)")
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--_writer", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._writer:
        return writer_main(*a._writer)
    if a.keep:
        work = Path(a.keep).resolve()
        work.mkdir(parents=True, exist_ok=True)
        for old in work.iterdir():   # a previous run's files: start from a fresh logs.db and state
            if old.is_file() and old.name.split(".")[0] in ("logs", "state", "access", "plan", "writer", "warden"):
                old.unlink()
        return run(a, work)
    with tempfile.TemporaryDirectory(prefix="warden-concurrent-") as d:
        return run(a, Path(d))


if __name__ == "__main__":
    sys.exit(main())
