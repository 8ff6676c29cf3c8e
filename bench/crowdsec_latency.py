#!/usr/bin/env python3
"""How fast a ban travels between two Wardens through a real CrowdSec LAPI, at the default pull
interval (10 s). Needs Debian's crowdsec package (as scripts/test.sh installs it).

A LAPI runs offline on a free loopback port (../shared/notes/crowdsec-lapi.md), with a machine and a
bouncer for each of A and B. Two `warden watch` (release) run, A and B, each on its own copy of
OpenAlgo's logs.db, both with [crowdsec] at its defaults but the credentials.
  1. --n times (default 10): the 20th 404 of a new address is committed to A's logs.db through
     OpenAlgo's tracker logic; the time until B's logs.db holds the ban row is taken.
  2. --n times: `cscli decisions add --ip` for a new address; the time from the start of that
     command until A's logs.db holds the row is taken.
p50, p99 and max of each. The pulls run every 10 s, so each run starts at a random moment of that
interval (a fixed spacing would lock onto the pull timer and report one phase only).

usage: python3 bench/crowdsec_latency.py [--warden target/release/warden] [--n 10]
"""

import argparse, os, random, shutil, socket, sqlite3, statistics, subprocess, tempfile, time
from datetime import datetime, timezone
from pathlib import Path

here = Path(__file__).resolve().parent
FIX = here.parent.parent / "shared" / "spec" / "fixtures"
ap = argparse.ArgumentParser()
ap.add_argument("--warden", default=str(here.parent / "target/release/warden"))
ap.add_argument("--n", type=int, default=10)
args = ap.parse_args()
D = Path(tempfile.mkdtemp(prefix="warden-crowdsec-"))


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


port = free_port()
(D / "config.yaml").write_text(
    f"common:\n  log_media: stdout\n  log_level: info\nconfig_paths:\n  config_dir: {D}/\n  data_dir: {D}/\n"
    f"db_config:\n  type: sqlite\n  db_path: {D}/crowdsec.db\n  use_wal: false\napi:\n  client:\n    credentials_path: {D}/cscli.yaml\n"
    f"  server:\n    listen_uri: 127.0.0.1:{port}\n    profiles_path: {D}/profiles.yaml\nprometheus:\n  enabled: false\n"
)
(D / "profiles.yaml").write_text(
    'name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == "Ip"\n'
    "decisions:\n - type: ban\n   duration: 4h\non_success: break\n"
)
lapi = subprocess.Popen(["crowdsec", "-c", str(D / "config.yaml"), "-no-cs", "-no-capi"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
cscli = lambda *a: subprocess.run(["cscli", "-c", str(D / "config.yaml"), *a], check=True, capture_output=True, text=True).stdout
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        break
    except OSError:
        time.sleep(0.05)
cscli("machines", "add", "cscli-bench", "--password", "Bench-pw-12345", "-f", str(D / "cscli.yaml"))
procs = []
side = {}
for name in ("a", "b"):
    w = D / name
    w.mkdir()
    shutil.copy(FIX / "logs.db", w / "logs.db")
    with sqlite3.connect(w / "logs.db") as c:
        for t in ("ip_bans", "error_404_tracker", "invalid_api_key_tracker", "traffic_logs"):
            c.execute(f"DELETE FROM {t}")
    cscli("machines", "add", f"warden-{name}", "--password", f"Warden-{name}-pw-1", "-f", str(w / "lapi.yaml"))
    (w / "bouncer.key").write_text(cscli("bouncers", "add", f"warden-{name}", "-o", "raw").strip())
    for f in ("lapi.yaml", "bouncer.key"):
        os.chmod(w / f, 0o600)
    (w / "config.toml").write_text(
        f'logs_db = "{w}/logs.db"\nstate_db = "{w}/state.db"\n[crowdsec]\nurl = "http://127.0.0.1:{port}"\n'
        f'credentials = "{w}/lapi.yaml"\nbouncer_key_file = "{w}/bouncer.key"\n'
    )
    os.chmod(w / "config.toml", 0o600)
    procs.append(subprocess.Popen([args.warden, "--config", str(w / "config.toml"), "watch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    side[name] = w


def row(name, ip):
    with sqlite3.connect(side[name] / "logs.db", timeout=15) as c:
        return c.execute("SELECT 1 FROM ip_bans WHERE ip_address = ?", (ip,)).fetchone()


def wait_row(name, ip, t0, timeout=60):
    while time.monotonic() - t0 < timeout:
        if row(name, ip):
            return time.monotonic() - t0
        time.sleep(0.01)
    raise SystemExit(f"{ip} never reached {name}'s logs.db")


try:
    time.sleep(2)
    a_to_b, cscli_to_a = [], []
    logs = sqlite3.connect(side["a"] / "logs.db", isolation_level=None, timeout=15)
    for i in range(args.n):
        ip = f"203.0.113.{i + 1}"
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        for k in range(20):
            logs.execute("BEGIN IMMEDIATE")
            r = logs.execute("SELECT id, error_count FROM error_404_tracker WHERE ip_address = ?", (ip,)).fetchone()
            if r:
                logs.execute("UPDATE error_404_tracker SET error_count = ?, last_error_at = ? WHERE id = ?", (r[1] + 1, now, r[0]))
            else:
                logs.execute(
                    "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) VALUES (?, 1, ?, ?, '[]')",
                    (ip, now, now),
                )
            logs.execute("COMMIT")
        a_to_b.append(wait_row("b", ip, time.monotonic()))
        time.sleep(random.uniform(0.2, 10.2))  # a random phase against B's pull timer
    for i in range(args.n):
        ip = f"198.51.100.{i + 1}"
        t0 = time.monotonic()
        cscli("decisions", "add", "--ip", ip, "--duration", "1h", "--reason", "bench")
        cscli_to_a.append(wait_row("a", ip, t0))
        time.sleep(random.uniform(0.2, 10.2))
finally:
    for p in procs:
        p.terminate(); p.wait()
    lapi.terminate(); lapi.wait()


def show(name, xs):
    xs = sorted(x * 1000 for x in xs)
    p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    print(f"{name}: n={len(xs)} p50 {statistics.median(xs):.0f} ms, p99 {p(0.99):.0f} ms, max {xs[-1]:.0f} ms")


show("ban on A -> row in B's logs.db", a_to_b)
show("cscli decisions add -> row in A's logs.db", cscli_to_a)
shutil.rmtree(D, ignore_errors=True)
