#!/usr/bin/env python3
"""How fast a ban reaches nginx and the kernel, and what big ban lists cost there. Needs root.

1. Latency, over --bans bans (default 200): a live `warden watch` (release) follows an access
   log, with [enforce.nginx] on a private nginx on loopback (Warden's snippet, reloads spaced by
   --spacing seconds) and [enforce.nftables] in a network namespace this script creates. For each
   ban, the threshold's worth of 404 lines from one new address is appended in one write; then
   - the nft element's arrival is read from `nft monitor` in the namespace (no polling), and
   - nginx is asked every 5 ms, as that address (X-Forwarded-For from loopback), until it says 403.
   p50, p99 and max of each, from the write.
2. Size: `warden enforce apply` with 10 000 and 100 000 deny entries, nginx only and nftables
   only, timed whole (reading the policies, writing the list, nginx -t and the reload, or one nft
   batch through `ip netns exec`), and `nginx -t` alone on that list, and a single ban added to the
   100 000 (the delta batch a live monitor sends).

usage: sudo python3 bench/enforce_latency.py [--warden target/release/warden] [--bans 200] [--spacing 1]
"""

import argparse, json, os, shutil, socket, sqlite3, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path

here = Path(__file__).resolve().parent
ap = argparse.ArgumentParser()
ap.add_argument("--warden", default=str(here.parent / "target/release/warden"))
ap.add_argument("--bans", type=int, default=200)
ap.add_argument("--spacing", type=int, default=1)
ap.add_argument("--skip-size", action="store_true")
args = ap.parse_args()
WARDEN = os.path.abspath(args.warden)
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NS = f"warden-bench-{os.getpid()}"
D = Path(tempfile.mkdtemp(prefix="warden-enforce-"))


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def logs_db(path):
    src = here.parent.parent / "shared/spec/fixtures/logs.db"
    shutil.copy(src, path)
    c = sqlite3.connect(path)
    for t in ("ip_bans", "error_404_tracker", "invalid_api_key_tracker", "traffic_logs"):
        c.execute(f"DELETE FROM {t}")
    c.commit(); c.close()


def start_nginx(port, geo):
    conf = D / "nginx.conf"
    http = subprocess.run([WARDEN, "--config", str(D / "cfg-snippet.toml"), "enforce", "nginx-snippet", "--http"],
                          capture_output=True, text=True, check=True).stdout
    conf.write_text(f"""pid {D}/nginx.pid;
error_log {D}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {D}/body; proxy_temp_path {D}/proxy; fastcgi_temp_path {D}/fcgi; uwsgi_temp_path {D}/uwsgi; scgi_temp_path {D}/scgi;
  {http}
  server {{
    listen 127.0.0.1:{port};
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    if ($warden_banned) {{ return 403; }}
    return 200 "ok\\n";
  }}
}}
""")
    sh(NGINX, "-p", str(D), "-c", str(conf))
    return conf


def status(port, ip):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(f"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {ip}\r\nConnection: close\r\n\r\n".encode())
        data = s.recv(64); s.close()
        return int(data.split()[1])
    except Exception:
        return 0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def line(ip, i):
    return f'{ip} - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())}] "GET /probe-{i}.php HTTP/1.1" 404 153 "-" "bench"\n'


def main():
    sh("ip", "netns", "add", NS)
    nginx_conf = None
    watch = monitor = None
    try:
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
        port = free_port()
        geo = D / "warden/banned.geo"
        nft = ["ip", "netns", "exec", NS, "nft"]
        enforce = f"""[enforce.nginx]
geo_file = "{geo}"
check = ["{NGINX}", "-t", "-q", "-p", "{D}", "-c", "{D}/nginx.conf"]
reload = ["{NGINX}", "-s", "reload", "-p", "{D}", "-c", "{D}/nginx.conf"]
reload_spacing_seconds = {args.spacing}
"""
        (D / "cfg-snippet.toml").write_text(enforce)
        nginx_conf = start_nginx(port, geo)
        nft_cfg = '[enforce.nftables]\nports = [8080]\ncommand = [' + ", ".join(f'"{c}"' for c in nft) + "]\n"
        # The live monitor runs inside the namespace, so that it calls nft as on a server (no
        # `ip netns exec` per batch); nginx, outside, is reached through its pid file as usual.
        (D / "config.toml").write_text("poll_seconds = 60\n" + enforce + '[enforce.nftables]\nports = [8080]\n')
        for f in ("config.toml", "cfg-snippet.toml"):
            os.chmod(D / f, 0o600)
        logs_db(D / "logs.db")
        access = D / "access.log"
        access.write_text("")
        base = [WARDEN, "--config", str(D / "config.toml"), "--logs-db", str(D / "logs.db"), "--state-db", str(D / "state.db")]
        # nft monitor first, so that no element is missed.
        monitor = subprocess.Popen(nft + ["monitor", "elements"], stdout=subprocess.PIPE, text=True, bufsize=1)
        seen = {}
        def read_monitor():
            for l in monitor.stdout:
                t = time.perf_counter()
                if "add element" in l and "ban4" in l:
                    ip = l.split("{")[1].split()[0]
                    seen.setdefault(ip, t)
        threading.Thread(target=read_monitor, daemon=True).start()
        watch = subprocess.Popen(["ip", "netns", "exec", NS] + base + ["--access-log", str(access), "watch", "--json"], stdout=subprocess.PIPE, text=True)
        # The first round applies the empty state to both sinks.
        deadline = time.time() + 20
        working = set()
        while len(working) < 2 and time.time() < deadline:
            n = json.loads(watch.stdout.readline())
            if n.get("kind") == "sink" and n.get("state") == "working":
                working.add(n["name"])
        assert len(working) == 2, f"sinks did not come up: {working}"
        threading.Thread(target=lambda: [None for _ in watch.stdout], daemon=True).start()
        to_nft, to_nginx = [], []
        for b in range(args.bans):
            ip = f"203.0.{113 + b // 250}.{1 + b % 250}"
            text = "".join(line(ip, i) for i in range(20))
            t0 = time.perf_counter()
            with open(access, "a") as f:
                f.write(text)
            # The element first (nft monitor's thread stamps it; this loop only waits for it), then
            # nginx, asked every 5 ms.
            while ip not in seen:
                if time.perf_counter() - t0 > 30:
                    raise SystemExit(f"{ip} never reached nft")
                time.sleep(0.0005)
            to_nft.append(seen[ip] - t0)
            while status(port, ip) != 403:
                if time.perf_counter() - t0 > 30:
                    raise SystemExit(f"{ip} never got 403 from nginx")
                time.sleep(0.005)
            to_nginx.append(time.perf_counter() - t0)
        ms = lambda x: f"{x * 1000:.1f} ms"
        print(f"{args.bans} bans, each 20 404s written at once to the access log:")
        print(f"  to the nft element: p50 {ms(pct(to_nft, 50))}, p99 {ms(pct(to_nft, 99))}, max {ms(max(to_nft))}")
        print(f"  to nginx's 403 (reloads spaced {args.spacing} s): p50 {ms(pct(to_nginx, 50))}, p99 {ms(pct(to_nginx, 99))}, max {ms(max(to_nginx))}")
        watch.terminate(); watch.wait(); watch = None
        # `nft monitor` would print every one of the 100 000 elements below: stop it first.
        monitor.kill(); monitor.wait(); monitor = None
        if args.skip_size:
            return
        for n in (10_000, 100_000):
            state = D / f"state-{n}.db"
            # Policies written straight into Warden's state database (its schema), then one apply.
            subprocess.run(base[:5] + ["--state-db", str(state), "policy", "list"], check=True, capture_output=True)
            c = sqlite3.connect(state)
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
            c.executemany("INSERT INTO policies (value, policy, ttl_seconds, expires_at, created_at, reason, created_by) VALUES (?, 'deny', NULL, NULL, ?, '', 'cli')",
                          [(f"11.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", now) for i in range(n)])
            c.commit(); c.close()
            for name, cfg in (("nginx", enforce), ("nftables", nft_cfg)):
                p = D / f"only-{name}.toml"; p.write_text(cfg); os.chmod(p, 0o600)
                t = time.perf_counter()
                r = subprocess.run([WARDEN, "--config", str(p), "--logs-db", str(D / "logs.db"), "--state-db", str(state), "enforce", "apply"], capture_output=True, text=True)
                took = time.perf_counter() - t
                assert r.returncode == 0, r.stderr
                print(f"{n} entries, warden enforce apply, {name} only: {ms(took)}")
            t = time.perf_counter(); sh(NGINX, "-t", "-q", "-p", str(D), "-c", str(nginx_conf)); print(f"{n} entries, nginx -t alone: {ms(time.perf_counter() - t)}")
            if n == 100_000:
                t = time.perf_counter()
                sh(*nft, "-f", "-", input="add element inet warden ban4 { 12.0.0.1 timeout 86400s }\n")
                print(f"{n} entries, one more element (the monitor's delta batch): {ms(time.perf_counter() - t)}")
    finally:
        for p in (watch, monitor):
            if p:
                p.kill()
        if nginx_conf and (D / "nginx.pid").exists():
            subprocess.run(["kill", "-QUIT", (D / "nginx.pid").read_text().strip()])
        subprocess.run(["ip", "netns", "del", NS])
        shutil.rmtree(D, ignore_errors=True)


main()
