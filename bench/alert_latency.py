#!/usr/bin/env python3
"""How fast an alert reaches the phone, measured against an HTTP receiver on loopback that answers
as Telegram does.

A live `warden watch` (release) follows a copy of OpenAlgo's sign-in fixture, with one Telegram
channel pointing at the receiver. Then, --n times (default 50), 0.4 s apart:
  1. sign-in: a successful sign-in from a new address is committed to openalgo.db as OpenAlgo
     writes it (the password row, then the broker step's row); the time from the commit to the
     receiver's request is taken;
  2. ban (--bans times, default 6, 20.5 s apart): the threshold's worth of 404s from a new address is written through OpenAlgo's tracker
     logic into logs.db (one commit per 404, as OpenAlgo does); the time from the last commit to
     the receiver's request is taken.
p50, p99 and max of each. A sign-in alert goes out as soon as it is read; a ban alert too (the
first three of a minute; the rest of a storm is merged into one summary, which this script does not
time: it spaces the bans so that each of the first three of every minute is timed).

usage: python3 bench/alert_latency.py [--warden target/release/warden] [--n 50] [--bans 6]
"""

import argparse, http.server, json, os, shutil, sqlite3, statistics, subprocess, tempfile, threading, time
from datetime import datetime, timedelta, timezone
from pathlib import Path

here = Path(__file__).resolve().parent
FIX = here.parent.parent / "shared" / "spec" / "fixtures"
ap = argparse.ArgumentParser()
ap.add_argument("--warden", default=str(here.parent / "target/release/warden"))
ap.add_argument("--n", type=int, default=50)
ap.add_argument("--bans", type=int, default=6)
args = ap.parse_args()
D = Path(tempfile.mkdtemp(prefix="warden-alerts-"))
got = []
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock:
            got.append((time.monotonic(), body["text"]))
        out = b'{"ok":true,"result":{}}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
shutil.copy(FIX / "logs.db", D / "logs.db")
shutil.copy(FIX / "openalgo_signins.db", D / "openalgo.db")
with sqlite3.connect(D / "logs.db") as c:
    for t in ("ip_bans", "error_404_tracker", "invalid_api_key_tracker", "traffic_logs"):
        c.execute(f"DELETE FROM {t}")
token = D / "tg.token"
token.write_text("123456:bench-token\n")
os.chmod(token, 0o600)
cfg = D / "config.toml"
cfg.write_text(
    f'logs_db = "{D}/logs.db"\nopenalgo_db = "{D}/openalgo.db"\nstate_db = "{D}/state.db"\n'
    f'[[alert]]\nname = "phone"\nkind = "telegram"\nurl = "http://127.0.0.1:{srv.server_address[1]}"\n'
    f'token_file = "{token}"\nchat_id = "1"\nevents = ["banned", "signin_new_address"]\n'
)
os.chmod(cfg, 0o600)
w = subprocess.Popen([args.warden, "--config", str(cfg), "watch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(text, since, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with lock:
            for at, t in got:
                if at >= since and text in t:
                    return at
        time.sleep(0.001)
    raise SystemExit(f"no alert with {text!r} within {timeout} s")


try:
    for _ in range(100):
        c = sqlite3.connect(D / "state.db") if (D / "state.db").exists() else None
        if c and c.execute("SELECT 1 FROM sqlite_master WHERE name = 'cursors'").fetchone() and c.execute(
            "SELECT value FROM cursors WHERE source = 'openalgo.login_attempts'"
        ).fetchone():
            break
        time.sleep(0.1)
    signin, ban = [], []
    oa = sqlite3.connect(D / "openalgo.db", isolation_level=None)
    logs = sqlite3.connect(D / "logs.db", isolation_level=None, timeout=15)
    for i in range(args.n):
        ip = f"192.0.2.{i + 1}"
        ist = (datetime.now(timezone.utc) + timedelta(minutes=330)).strftime("%Y-%m-%d %H:%M:%S.%f")
        oa.execute("BEGIN")
        oa.execute(
            "INSERT INTO login_attempts (username, ip_address, device_info, status, login_type, timestamp) "
            "VALUES ('trader', ?, 'bench', 'success', 'password', ?)",
            (ip, ist),
        )
        oa.execute("COMMIT")
        t0 = time.monotonic()
        signin.append(wait_for(f"from {ip},", t0) - t0)
        time.sleep(0.4)
    for i in range(args.bans):
        ip = f"198.51.100.{i + 1}"
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        for k in range(20):
            logs.execute("BEGIN IMMEDIATE")
            row = logs.execute("SELECT id, error_count FROM error_404_tracker WHERE ip_address = ?", (ip,)).fetchone()
            if row:
                logs.execute("UPDATE error_404_tracker SET error_count = ?, last_error_at = ? WHERE id = ?", (row[1] + 1, now, row[0]))
            else:
                logs.execute(
                    "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) "
                    "VALUES (?, 1, ?, ?, '[]')",
                    (ip, now, now),
                )
            logs.execute("COMMIT")
        t0 = time.monotonic()
        ban.append(wait_for(f"Banned {ip}\n", t0) - t0)
        # At most three ban alerts a minute go out one by one; the rest are merged.
        time.sleep(20.5)
finally:
    w.terminate()
    w.wait()
    srv.shutdown()


def show(name, xs):
    xs = sorted(x * 1000 for x in xs)
    p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    print(f"{name}: n={len(xs)} p50 {statistics.median(xs):.1f} ms, p99 {p(0.99):.1f} ms, max {xs[-1]:.1f} ms")


show("new-address sign-in -> receiver", signin)
show("ban (20th 404 committed) -> receiver", ban)
shutil.rmtree(D, ignore_errors=True)
