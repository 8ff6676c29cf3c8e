#!/usr/bin/env python3
"""Bounded resources: 24 simulated hours of 50 M access-log lines keep Warden's memory flat.

Claim checked (reliability issue): "A simulated 24 h of 50 M lines keeps memory flat: expired
windows are evicted."

What it does
------------
A generator in this script (pure Python, stdlib only) writes nginx ``combined`` lines with
monotonically non-decreasing timestamps straight into ``warden replay --json -`` through a pipe
(nothing is written to disk). ``warden replay`` runs the engine in event time and, once per hour of
log time, calls ``Engine::evict`` (src/replay.rs), which drops every 24-h counter whose window is
over. The harness samples the replay process's VmRSS/VmHWM from /proc/PID/status and maps each
sample to the simulated hour the generator has reached.

Timeline (simulated, IST +0530):

* warm-up, 24 h (hours -24..0): only the offending traffic (scanners, invalid API keys, failed
  logins, bursts), at exactly the same per-hour rates as in the measured day. Its purpose is to
  fill the 24-h windows to their steady state: a 404/API/login window lasts 24 h from its first
  event, so during the first 24 h of any log nothing can expire and the number of live windows
  necessarily grows. Legitimate 200s are left out of the warm-up because they create no 24-h
  state (only per-minute rate counters), so they would add run time and prove nothing.
* measured day, 24 h (hours 0..24): exactly ``--lines`` lines (default 50,000,000) of full
  traffic. This is the "24 h of 50 M lines". From hour ~0.5 on, every hourly eviction removes
  the windows opened 24 h earlier while new offenders keep opening new ones, so with eviction the
  live set stays constant; without it, it would double by the end of the day.

Traffic (per simulated day at the default density of 50 M lines / 24 h; everything scales with
lines per hour). Every client address is used once in the whole run (addresses come from a
bijection of a counter, 15 % IPv6), so the ground truth is exact:

* legitimate clients, ~88 % of the measured lines, all 2xx/3xx (plus 4xx/5xx that count for no
  rule: 400, 429, 5xx, 404s on OpenAlgo's safe prefixes such as /favicon.ico): a pool of ~3,000
  trading bots (POST /api/v1/..., mean life 2 h) and ~30,000 browser sessions (mean life 10 min),
  continuously renewed: ~4.4 M distinct legitimate addresses per day. Busier in NSE market hours.
  Each only touches the per-minute rate counter, which is reset every minute.
* background scanners: 1,000,000 new addresses per day, each sending 1 to 15 counted 404s (mostly
  1-3) within a few minutes, plus uncounted probes (/, robots.txt, favicon, 403 on /.git/...).
  Each opens a 24-h 404 window that stays until eviction: this is the state that grows without
  eviction (~1 M live windows in steady state, ~2.1 M distinct offending addresses over the run).
  Paths come from a list of real probe paths and a ~20 k-entry brute-force word list, so the
  windows keep path lists (interned once, lists shared).
* 4,000/day near-threshold scanners (16-19 404s: one near notice each, no ban) and 3,000/day
  aggressive scanners (20-60 404s, one per second at most: exactly one 404 ban each).
* invalid API keys (403 on /api/v1/): 60,000/day with 1-7 (window, no notice), 1,000/day with 8-9
  (near notice), 600/day with 10-40 (one ban each).
* failed logins (401 POST /auth/login, at most 4 per minute): 8,000/day 1-7, 300/day 8-9 (near),
  200/day 10-20 (near, then one ban each: `[login] auth_attempts` is 10 and attacks are banned
  by default), and 100/day
  fast ones, 6-12 within one calendar minute (one BURST notice each for the 5/min login limit).
* 48/day rate bursts: 1,250-2,500 requests from one address in one calendar minute (one BURST
  notice each for the 1,200/min limit).

What would grow without eviction (src/engine/): the per-address 24-h counters in ``WindowMap``
(one hash-map entry per address and rule, 32-byte ``Window`` plus, for more than two distinct
paths, a path list in ``Interner::lists``), the notice de-duplication keys in ``alerted`` (one
string per near notice), the bans in ``bans``/``banned_raw`` (evicted when the ban ends) and the
per-minute rate maps (reset, not evicted, every calendar minute). Bounded by caps instead of
eviction: the top-offender map (50 k, src/source/access/pipeline.rs) and interned path strings
(200 k strings / 32 MiB, never freed). Not bounded, but proportional to verdicts, not lines: the
replay report itself (bans, near notices, notices) and ``Engine::offences`` (one entry per banned
address, never evicted).

Pass/fail
---------
* flat: RSS at the end of the measured day, and the highest RSS sampled from the end of hour 2 to
  the end, are at most 1.25 x the RSS at the end of measured hour 2 (the baseline: the rate maps
  have seen the first legitimate traffic, and the 24-h windows are in steady state since the
  warm-up). The harness also estimates what the RSS would have been without eviction (the memory
  the warm-up's windows took, added once more, since the live set would double) and says whether
  that estimate would have failed the same 1.25 x test, i.e. whether the test is sensitive.
* peak: VmHWM (and the exit rusage peak) under 150 MiB, the project's target with 1 M addresses.
* sane report: lines == lines generated, unparsed == 0, bans, near notices, BURST/REACHED notices
  exactly as the generator's ground truth, and the top-offender totals as the 20 largest
  per-address counted totals.

Diagnostics (not criteria): the RSS change over the second half of the measured day (a leak
grows there too; a one-off step does not), and the process's large mappings from
/proc/PID/smaps at each hour, with the hours where they changed: a hash table of windows is one
anonymous mapping (2^k buckets x (entry + 1 control byte); an IPv4 window entry is 36 bytes, so a
table of 2^20 buckets is a 37 MiB mapping), which tells a table resize from heap growth.
``--warmup-hours 48`` puts the measured day after a full day of evictions (the third day of
operation): that measures the steady state apart from the capacity changes the first day of
evictions can cause. The peak check covers the whole run either way.

usage: tests/reliability/memory_24h.py [--lines 50000000] [--hours 24] [--warden PATH]
                                       [--curve FILE] [--seed N] [--warmup-hours 24]
Develop with --lines 2000000 (populations scale with lines per hour). Runs from any directory;
uses temporary XDG_CONFIG_HOME/XDG_DATA_HOME/HOME and a non-existent --state-db, and checks that
the replay wrote nothing there (no --apply, so no ban is written anywhere).
"""
import argparse
import heapq
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DOMAIN = "algo.example.in"
TZ_SECS = 19800  # +0530
START = 1736620200  # 2025-01-12T00:00:00+05:30: warm-up on the 12th, measured day on the 13th

# Per simulated day at the reference density (50 M lines in 24 h); scaled by lines per hour.
REF_LINES_PER_HOUR = 50_000_000 / 24
DAILY = {
    "bg404": 1_000_000, "near404": 4_000, "ban404": 3_000,
    "api": 60_000, "api_near": 1_000, "api_ban": 600,
    "login": 8_000, "login_near": 300, "login_reach": 200, "login_fast": 100,
    "rate": 48,
}
BOT_POOL, BOT_LIFE_MIN = 3_000, 120
BROWSER_POOL, BROWSER_LIFE_MIN = 30_000, 10
BOT_SHARE = 0.45
V6_FRAC = 0.15
# Thresholds of the default configuration (src/config.rs), which the replay runs with.
T404, TAPI, TLOGIN, NEAR_FRACTION = 20, 10, 10, 0.8
RATE_LIMIT, LOGIN_RATE_LIMIT = 1200, 5
MIN_RSS_BASE_HOUR = 2
FLAT_RATIO = 1.25
PEAK_LIMIT_MIB = 150

BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
]
API_UAS = ["python-requests/2.32.3", "python-requests/2.31.0", "python-httpx/0.27.2", "OpenAlgo-Python/1.0.3",
           "Go-http-client/1.1", "axios/1.7.7", "AmiBroker/6.93 (WinHTTP)", "TradingView Webhook"]
SCANNER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 Safari/537.36",
    "Mozilla/5.0 zgrab/0.x", "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", "curl/7.88.1", "python-requests/2.25.1",
    "l9explore/1.2.2", "Go-http-client/1.1", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "-",
]
# Probe paths that OpenAlgo (and Warden) count as 404s: none starts with a safe prefix.
PROBE_PATHS = [
    "/wp-login.php", "/wp-admin/setup-config.php", "/wordpress/wp-admin/setup-config.php",
    "/wp-content/plugins/wp-file-manager/readme.txt", "/xmlrpc.php", "/wp-includes/wlwmanifest.xml",
    "/.env", "/.env.bak", "/api/.env", "/app/.env", "/backend/.env", "/.env.production",
    "/.git/HEAD", "/.aws/credentials", "/.DS_Store", "/config.json",
    "/phpmyadmin/", "/phpMyAdmin/index.php", "/pma/", "/admin/pma/", "/myadmin/", "/mysqladmin/",
    "/cgi-bin/luci/;stok=/locale", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array&vars[0]=md5&vars[1][]=HelloThinkPHP21",
    "/actuator/env", "/actuator/health", "/server-status", "/solr/admin/info/system?wt=json",
    "/boaform/admin/formLogin", "/HNAP1/", "/GponForm/diag_Form?images/", "/owa/auth/logon.aspx",
    "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession", "/global-protect/login.esp",
    "/webmail/", "/roundcube/", "/administrator/index.php", "/user/login", "/admin.php", "/admin/",
    "/login.action", "/manager/html", "/console/", "/jenkins/login", "/debug/default/view?panel=config",
    "/telescope/requests", "/_ignition/execute-solution", "/info.php", "/phpinfo.php", "/test.php",
    "/shell.php", "/backup.zip", "/db.sql", "/dump.sql", "/api/v1/pods", "/v2/_catalog", "/containers/json",
]
WORDS = ["admin", "backup", "old", "new", "test", "dev", "staging", "api", "config", "db", "data", "site",
         "www", "web", "app", "private", "secret", "upload", "uploads", "files", "tmp", "temp", "logs", "log",
         "install", "setup", "shell", "cmd", "wp", "blog", "store", "shop", "panel", "cpanel", "portal", "user",
         "users", "login", "auth", "mysql", "sql", "dump", "export", "import", "include", "lib", "vendor", "core",
         "system", "sys", "server", "status", "debug", "cgi", "bin", "conf", "settings", "env", "git", "svn"]
EXTS = ["", "/", ".php", ".bak", ".zip", ".tar.gz", ".sql", ".old", ".txt", ".json", ".yml", ".asp", ".jsp",
        ".env", ".log", ".conf"]
# Requests from scanners that count for no rule: 200s, safe-prefix 404s, 403s outside /api/v1/, 400s.
SCAN_UNCOUNTED = [
    ("GET", "/", 200, 2316), ("GET", "/robots.txt", 200, 26), ("GET", "/favicon.ico", 404, 153),
    ("GET", "/.well-known/security.txt", 404, 153), ("GET", "/sitemap.xml", 404, 153),
    ("GET", "/.git/config", 403, 153), ("GET", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", 400, 157),
]
API_ENDPOINTS = [
    ("/api/v1/placeorder", 40), ("/api/v1/placesmartorder", 15), ("/api/v1/modifyorder", 8),
    ("/api/v1/cancelorder", 8), ("/api/v1/closeposition", 3), ("/api/v1/orderbook", 25),
    ("/api/v1/tradebook", 10), ("/api/v1/positionbook", 30), ("/api/v1/holdings", 8), ("/api/v1/funds", 20),
    ("/api/v1/quotes", 90), ("/api/v1/depth", 25), ("/api/v1/history", 20), ("/api/v1/orderstatus", 15),
    ("/api/v1/openposition", 12), ("/api/v1/basketorder", 3), ("/api/v1/symbol", 6), ("/api/v1/ping", 5),
]
UI_PAGES = [("/", 6), ("/dashboard", 20), ("/orderbook", 8), ("/tradebook", 6), ("/positions", 8),
            ("/holdings", 4), ("/logs", 5), ("/apikey", 2), ("/strategy", 3), ("/analyzer", 3),
            ("/auth/logout", 1), ("/tradingview", 1), ("/settings", 1), ("/traffic", 1)]
STATIC = ["/static/css/main.css", "/static/js/socket.io.min.js", "/static/js/app.js", "/static/js/dashboard.js",
          "/static/favicon/favicon.ico", "/static/images/logo.png", "/static/sounds/alert.mp3"]


def tail(method, path, status, size, ua, referer="-", proto="HTTP/1.1"):
    return ('"%s %s %s" %d %d "%s" "%s"\n' % (method, path, proto, status, size, referer, ua)).encode()


def weighted(rng, items, n):
    vals = [v for v, _ in items]
    return rng.choices(vals, weights=[w for _, w in items], k=n)


def build_pools(rng):
    """Pre-built request+response parts ("tails"), so a line is prefix + timestamp + tail."""
    api = []
    for path in weighted(rng, API_ENDPOINTS, 4096):
        x = rng.random()
        status, size = ((200, rng.randrange(60, 4200)) if x < 0.975 else (400, 97) if x < 0.985 else
                        (429, 48) if x < 0.993 else (500, 231) if x < 0.997 else (502, 157))
        api.append(tail("POST", path, status, size, rng.choice(API_UAS)))
    browser = []
    ref = "https://%s/dashboard" % DOMAIN
    for _ in range(8192):
        ua = rng.choice(BROWSER_UAS)
        x = rng.random()
        if x < 0.40:
            st = (304, 0) if rng.random() < 0.6 else (200, rng.randrange(2000, 180000))
            browser.append(tail("GET", rng.choice(STATIC), st[0], st[1], ua, ref, "HTTP/2.0"))
        elif x < 0.50:
            q = "/socket.io/?EIO=4&transport=polling&t=P%07x" % rng.randrange(1 << 28)
            browser.append(tail("GET", q, 200, rng.randrange(30, 400), ua, ref))
        elif x < 0.53:  # safe prefixes: a 404 there counts for nothing
            browser.append(tail("GET", rng.choice(["/favicon.ico", "/apple-touch-icon.png", "/sw.js"]), 404, 153, ua))
        else:
            path = weighted(rng, UI_PAGES, 1)[0]
            y = rng.random()
            st = (200, rng.randrange(3000, 60000)) if y < 0.93 else (302, 199) if y < 0.985 else (500, 290)
            browser.append(tail("GET", path, st[0], st[1], ua, ref, "HTTP/2.0"))
    words = [("/" + a + ("-" + b if b else "") + e) for a in WORDS for b in [""] + WORDS[:20] for e in EXTS]
    scan_paths = PROBE_PATHS * 40 + words  # probe list favoured; ~20 k distinct in all
    scan404 = [[tail(m, p, 404, 153 if m != "HEAD" else 0, ua)
                for m, p in zip(rng.choices(["GET"] * 14 + ["POST"] * 3 + ["HEAD"], k=512), rng.sample(scan_paths, 512))]
               for ua in SCANNER_UAS]
    scan_other = [[tail(m, p, s, z, ua) for m, p, s, z in SCAN_UNCOUNTED] for ua in SCANNER_UAS]
    api403 = [[tail("POST", p, 403, 61, ua) for p in weighted(rng, API_ENDPOINTS, 64)] for ua in API_UAS]
    api429 = [tail("POST", "/api/v1/quotes", 429, 48, ua) for ua in API_UAS]
    login401 = [tail("POST", "/auth/login", 401, 54, ua, "https://%s/auth/login" % DOMAIN) for ua in BROWSER_UAS + API_UAS]
    burst = [tail("POST", "/api/v1/quotes", 200, rng.randrange(200, 900), ua) for ua in API_UAS for _ in range(16)]
    health = tail("GET", "/api/v1/ping", 200, 31, "curl/8.5.0")
    return dict(api=api, browser=browser, scan404=scan404, scan_other=scan_other, api403=api403, api429=api429,
                login401=login401, burst=burst, health=health, distinct_paths=len(set(scan_paths)))


class Addresses:
    """Never-repeating public client addresses: IPv4 from an odd-multiplier bijection of a counter
    (skipping ranges Warden protects or that are not clients), IPv6 from a second counter."""
    V6_PREFIXES = [(0x2401, 0x4900), (0x2409, 0x40c0), (0x2405, 0x201), (0x2402, 0x3a80), (0x2a01, 0x4f8),
                   (0x2a02, 0xc207), (0x2604, 0xa880), (0x2a03, 0xb0c0), (0x2600, 0x1f18), (0x2406, 0xda1a)]

    def __init__(self, rng):
        self.rng, self.i4, self.i6 = rng, 0, 0
        self.made = 0

    def v4(self):
        while True:
            x = (self.i4 * 0x9E3779B1 + 0x1234567) & 0xFFFFFFFF
            self.i4 += 1
            a, b = x >> 24, (x >> 16) & 255
            if a in (0, 10, 127) or a >= 224 or (a == 172 and 16 <= b < 32) or (a == 192 and b == 168) \
                    or (a == 169 and b == 254) or (a == 100 and 64 <= b < 128):
                continue
            return "%d.%d.%d.%d" % (a, b, (x >> 8) & 255, x & 255)

    def v6(self):
        i = self.i6
        self.i6 += 1
        p, q = self.V6_PREFIXES[i % len(self.V6_PREFIXES)]
        j = i // len(self.V6_PREFIXES)
        r = self.rng.getrandbits(16)
        if r & 3 == 0:  # a few in the full, uncompressed spelling (Warden canonicalizes)
            return "%x:%x:%x:%x:%x:0:0:%x" % (p, q, (j >> 16) & 0xffff, j & 0xffff, r | 1, (r >> 2) | 1)
        return "%x:%x:%x:%x:%x::%x" % (p, q, (j >> 16) & 0xffff, j & 0xffff, r | 1, (r >> 2) | 1)

    def new(self):
        self.made += 1
        return self.v6() if self.rng.random() < V6_FRAC else self.v4()

    def prefix(self):
        return (self.new() + " - - [").encode()


class TimeFmt:
    def __init__(self):
        self.cache = {}

    def __call__(self, s):
        t = time.gmtime(s + TZ_SECS)
        return ("%02d/%s/%04d:%02d:%02d:%02d +0530] " % (t.tm_mday, MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour,
                                                         t.tm_min, t.tm_sec)).encode()


def legit_weight(minute_of_day):
    """Relative legitimate traffic by local (IST) time: NSE market hours are the busiest."""
    h = minute_of_day / 60.0
    return 1.0 if 9.25 <= h < 15.5 else 0.35 if 8.0 <= h < 23.0 else 0.15


class Truth:
    """Ground truth of what the replay must report, kept as the generator emits."""

    def __init__(self):
        self.bans = self.near = self.burst = self.reached = 0
        self.episodes = 0
        self.top = []  # min-heap of the 20 largest per-address counted totals
        self.new_windows = {}  # simulated hour -> windows opened that stay until evicted
        self.offenders = 0

    def counted(self, total, hour, keeps_window):
        self.offenders += 1
        if keeps_window:
            self.new_windows[hour] = self.new_windows.get(hour, 0) + 1
        if len(self.top) < 20:
            heapq.heappush(self.top, total)
        elif total > self.top[0]:
            heapq.heapreplace(self.top, total)

    def live(self, hour):
        """Windows opened in the 24 h before `hour` and ever (the model of what eviction saves)."""
        live = sum(n for h, n in self.new_windows.items() if hour - 24 <= h < hour)
        return live, sum(n for h, n in self.new_windows.items() if h < hour)


def near_at(threshold):
    import math
    return max(1, math.ceil(NEAR_FRACTION * threshold - 1e-9))


class Generator:
    def __init__(self, args, write, on_minute):
        self.rng = random.Random(args.seed)
        self.write, self.on_minute = write, on_minute
        self.lines, self.hours, self.warm = args.lines, args.hours, args.warmup_hours
        self.scale = (args.lines / args.hours) / REF_LINES_PER_HOUR
        self.pools = build_pools(self.rng)
        self.addr = Addresses(self.rng)
        self.fmt = TimeFmt()
        self.truth = Truth()
        self.pending = {}  # absolute second -> [(prefix, tail)]
        self.acc = {k: 0.0 for k in DAILY}
        self.per_min = {k: v * self.scale / 1440.0 for k, v in DAILY.items()}
        self.bots = [self.addr.prefix() for _ in range(max(10, round(BOT_POOL * self.scale)))]
        self.browsers = [self.addr.prefix() for _ in range(max(20, round(BROWSER_POOL * self.scale)))]
        self.emitted = self.measured_emitted = self.warm_emitted = 0
        self.legit_addresses = len(self.bots) + len(self.browsers)

    # -- offending episodes ---------------------------------------------------------------
    def put(self, sec, prefix, t):
        p = self.pending.get(sec)
        if p is None:
            self.pending[sec] = [(prefix, t)]
        else:
            p.append((prefix, t))

    def schedule(self, kind, S, hour):
        rng = self.rng
        randrange, rnd = rng.randrange, rng.random
        prefix = self.addr.prefix()
        put = self.put
        if kind in ("bg404", "near404", "ban404"):
            # 404 scanners: counted 404s, sometimes a few uncounted probes too. Those that reach
            # the threshold send at most one request a second (see the report on same-second bans).
            if kind == "bg404":
                x = rnd()
                c = 1 if x < 0.45 else 2 if x < 0.70 else 3 if x < 0.82 else randrange(4, 16)
                lo, hi = 0, 3
            elif kind == "near404":
                c, lo, hi = randrange(16, 20), 1, 6
            else:
                c, lo, hi = randrange(20, 61), 1, 10
            u = randrange(len(SCANNER_UAS))
            probes, other = self.pools["scan404"][u], self.pools["scan_other"][u]
            start = randrange(len(probes))
            t = S + randrange(60)
            for i in range(c):
                put(t, prefix, probes[(start + i) % len(probes)])
                t += randrange(lo, hi + 1)
            if rnd() < 0.3:
                for _ in range(randrange(1, 4)):
                    put(t, prefix, other[randrange(len(other))])
                    t += randrange(0, 3)
            threshold, banned = T404, c >= T404
        elif kind in ("api", "api_near", "api_ban"):
            c = {"api": lambda: min(7, 1 + int(rng.expovariate(0.6))), "api_near": lambda: randrange(8, 10),
                 "api_ban": lambda: randrange(10, 41)}[kind]()
            u = randrange(len(API_UAS))
            paths = self.pools["api403"][u]
            t = S + randrange(60)
            for i in range(c):
                put(t, prefix, paths[randrange(len(paths))])
                if rnd() < 0.1:
                    put(t, prefix, self.pools["api429"][u])
                t += randrange(1, 31)
            threshold, banned = TAPI, c >= TAPI
        elif kind.startswith("login"):
            c = {"login": lambda: randrange(1, 8), "login_near": lambda: randrange(8, 10),
                 "login_reach": lambda: randrange(10, 21), "login_fast": lambda: randrange(6, 13)}[kind]()
            tl = self.pools["login401"][randrange(len(self.pools["login401"]))]
            if kind == "login_fast":  # all within one calendar minute: one BURST for /auth/login
                for i in range(c):
                    put(S + 4 * i, prefix, tl)
                self.truth.burst += 1
            else:  # 15-20 s apart: at most 4 in any calendar minute, under the 5/min limit
                t = S + randrange(60)
                for i in range(c):
                    put(t, prefix, tl)
                    t += randrange(15, 21)
            threshold, banned = TLOGIN, c >= TLOGIN
        else:  # rate burst: 1,250-2,500 requests in one calendar minute
            n = randrange(1250, 2501)
            b = self.pools["burst"]
            for i in range(n):
                put(S + (i * 59) // n, prefix, b[randrange(len(b))])
            self.truth.burst += 1
            return n
        t_ = self.truth
        t_.bans += banned
        t_.near += c >= near_at(threshold)
        t_.counted(c, hour, keeps_window=not banned)
        return c

    # -- the stream -----------------------------------------------------------------------
    def run(self):
        rng = self.rng
        choices, randrange = rng.choices, rng.randrange
        warm_min, meas_min = int(self.warm * 60), int(self.hours * 60)
        total_min = warm_min + meas_min
        weights = [legit_weight(m % 1440) for m in range(meas_min)]
        cum = [0.0]
        for w in weights:
            cum.append(cum[-1] + w)
        bots, browsers, pools = self.bots, self.browsers, self.pools
        api_t, br_t, health = pools["api"], pools["browser"], pools["health"]
        nb, nbr = len(bots), len(browsers)
        bot_new = nb / BOT_LIFE_MIN
        br_new = nbr / BROWSER_LIFE_MIN
        bot_acc = br_acc = 0.0
        stop_sched = total_min - 15  # no episode may spill past the end of the measured day
        for m in range(total_min):
            S = START + 60 * m
            measured = m >= warm_min
            hour = (m - warm_min) // 60  # simulated hour, negative in the warm-up
            if m < stop_sched:
                for kind, rate in self.per_min.items():
                    self.acc[kind] += rate
                    n = int(self.acc[kind])
                    self.acc[kind] -= n
                    for _ in range(n):
                        self.schedule(kind, S, hour)
                        self.truth.episodes += 1
            pending = self.pending
            off_now = sum(len(pending.get(s, ())) for s in range(S, S + 60))
            legit = 0
            if measured:
                mm = m - warm_min
                target = round(self.lines * cum[mm + 1] / cum[-1])
                legit = max(0, target - self.measured_emitted - off_now - 4)
                # renew the client populations
                bot_acc += bot_new
                br_acc += br_new
                for _ in range(int(bot_acc)):
                    bots[randrange(nb)] = self.addr.prefix()
                for _ in range(int(br_acc)):
                    browsers[randrange(nbr)] = self.addr.prefix()
                self.legit_addresses += int(bot_acc) + int(br_acc)
                bot_acc -= int(bot_acc)
                br_acc -= int(br_acc)
            per_sec, rem = divmod(legit, 60)
            extra = set(rng.sample(range(60), rem)) if rem else ()
            parts = []
            ext = parts.extend
            for j in range(60):
                s = S + j
                tsp = self.fmt(s)
                if measured:
                    k = per_sec + (j in extra)
                    if k:
                        kb = int(k * BOT_SHARE + rng.random())
                        ext([p + tsp + t for p, t in zip(choices(bots, k=kb), choices(api_t, k=kb))])
                        kr = k - kb
                        ext([p + tsp + t for p, t in zip(choices(browsers, k=kr), choices(br_t, k=kr))])
                    if j % 15 == 0:  # the trader's own health check (protected, counts for nothing)
                        parts.append(b"127.0.0.1 - - [" + tsp + health)
                p = pending.pop(s, None)
                if p:
                    ext([a + tsp + b for a, b in p])
            n = len(parts)
            self.emitted += n
            if measured:
                self.measured_emitted += n
            else:
                self.warm_emitted += n
            self.write(b"".join(parts))
            self.on_minute(m + 1 - warm_min, self)
        assert not self.pending, "episodes left past the end"


# -- measurement ------------------------------------------------------------------------------
def proc_mem(pid):
    rss = hwm = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, hwm


def big_mappings(pid, min_mib=8):
    """The process's mappings with at least `min_mib` MiB resident: [(size MiB, RSS MiB, name)].
    A hash table of windows is one large anonymous mapping, so its resizes show up here."""
    out, cur = [], None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    lo, hi = (int(x, 16) for x in first.split("-"))
                    fields = line.split()
                    cur = [(hi - lo) / MIB, 0.0, fields[5] if len(fields) > 5 else "anon"]
                    out.append(cur)
                elif first == "Rss:" and cur is not None:
                    cur[1] = int(line.split()[1]) / 1024
    except OSError:
        return []
    return sorted((tuple(m) for m in out if m[1] >= min_mib), reverse=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=50_000_000, help="lines in the measured day (default 50,000,000)")
    ap.add_argument("--hours", type=float, default=24, help="simulated hours of the measured span (default 24)")
    ap.add_argument("--warmup-hours", type=float, default=24, help="offender-only warm-up before it (default 24)")
    ap.add_argument("--warden", default=str(REPO / "target/harness/warden"))
    ap.add_argument("--curve", help="write the memory curve as CSV here")
    ap.add_argument("--seed", type=int, default=20250113)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between background samples")
    args = ap.parse_args()
    if args.hours < MIN_RSS_BASE_HOUR + 2 or args.hours != int(args.hours) or args.warmup_hours != int(args.warmup_hours):
        ap.error("--hours and --warmup-hours must be whole hours, --hours at least %d" % (MIN_RSS_BASE_HOUR + 2))
    warden = Path(args.warden).resolve()
    if not os.access(warden, os.X_OK):
        sys.exit("no executable warden at %s (build it with cargo build --release)" % warden)

    tmp = Path(tempfile.mkdtemp(prefix="warden-mem24-"))
    for d in ("config", "data", "home"):
        (tmp / d).mkdir()
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp / "config"), XDG_DATA_HOME=str(tmp / "data"), HOME=str(tmp / "home"))
    out_path, err_path = tmp / "report.json", tmp / "stderr.txt"
    cmd = [str(warden), "--state-db", str(tmp / "data/none/state.db"), "replay", "--json", "-"]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env, cwd=str(tmp))
    try:
        import fcntl
        fcntl.fcntl(proc.stdin.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MiB
    except (ImportError, OSError):
        pass
    fd = proc.stdin.fileno()

    def write(data):
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    samples = []  # (sim_hour, lines, rss, hwm, kind)
    hourly = {}
    maps = {}
    pos = [-args.warmup_hours, 0]
    stop = threading.Event()

    def sampler():
        while not stop.wait(args.interval):
            rss, hwm = proc_mem(proc.pid)
            if rss is not None:
                samples.append((pos[0], pos[1], rss, hwm, "tick"))

    def on_minute(mm, gen):
        pos[0], pos[1] = mm / 60.0, gen.emitted
        if mm % 60 == 0:
            rss, hwm = proc_mem(proc.pid)
            h = mm // 60
            live, ever = gen.truth.live(h)
            hourly[h] = (gen.emitted, rss, hwm, live, ever, time.monotonic() - t0)
            maps[h] = big_mappings(proc.pid)
            samples.append((float(h), gen.emitted, rss, hwm, "hour"))
            if h >= 0 and (h % 4 == 0 or h == int(args.hours)):
                print("  sim hour %+3d  %11d lines  RSS %6.1f MiB  HWM %6.1f MiB  %5.0f s" %
                      (h, gen.emitted, rss or 0, hwm or 0, time.monotonic() - t0), flush=True)
            elif h % 8 == 0:
                print("  warm-up %+3d  %11d lines  RSS %6.1f MiB  %5.0f s" % (h, gen.emitted, rss or 0,
                                                                          time.monotonic() - t0), flush=True)

    print("warden replay --json - <- %s lines in %d simulated hours (after a %d h offender-only warm-up); %s"
          % (format(args.lines, ","), args.hours, args.warmup_hours, warden), flush=True)
    t0 = time.monotonic()
    threading.Thread(target=sampler, daemon=True).start()
    gen = Generator(args, write, on_minute)
    broke = None
    try:
        gen.run()
    except BrokenPipeError as e:
        broke = e
    gen_wall = time.monotonic() - t0
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    wall = time.monotonic() - t0
    peak_rusage = usage.ru_maxrss / 1024
    stderr = err_path.read_text(errors="replace").strip()

    failures = []
    if broke or proc.returncode != 0:
        print("warden exited with %s%s\n%s" % (proc.returncode, " (broken pipe)" if broke else "", stderr[-3000:]))
        sys.exit(2)
    report = json.loads(out_path.read_text())
    left = [str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file() and p.parent != tmp]
    if left:
        failures.append("the replay wrote files: %s" % left)

    # -- the curve ----------------------------------------------------------------------------
    if args.curve:
        with open(args.curve, "w") as f:
            f.write("sim_hour,lines,rss_mib,hwm_mib,phase,sample\n")
            for h, n, rss, hwm, kind in sorted(samples, key=lambda s: (s[1], s[0], s[4] != "hour")):
                f.write("%.3f,%d,%.1f,%.1f,%s,%s\n" % (h, n, rss, hwm or 0, "warmup" if h < 0 else "measured", kind))

    H = int(args.hours)
    base = hourly[MIN_RSS_BASE_HOUR][1]
    end = hourly[H][1]
    W = int(args.warmup_hours)
    # One day of windows, as the warm-up's first day filled them (from its hour 1 to its hour 24).
    warm_start = hourly[-W + 1][1] if W >= 24 else None
    warm_end = hourly[-W + 24][1] if W >= 24 else None
    measured_max = max(r for h, (_, r, *_x) in hourly.items() if MIN_RSS_BASE_HOUR <= h <= H)
    tick_max = max((r for h, n, r, _, k in samples if MIN_RSS_BASE_HOUR <= h <= H), default=measured_max)
    hwm = max([peak_rusage] + [s[3] for s in samples if s[3]])

    print()
    print("| sim hour | lines so far | RSS MiB | peak MiB | live 24-h windows (model) | windows if never evicted |")
    print("|---:|---:|---:|---:|---:|---:|")
    for h in sorted(hourly):
        if h < 0 and h % 6 and h != -W + 1:
            continue
        n, rss, hw, live, ever, _ = hourly[h]
        tag = " (warm-up)" if h < 0 else ""
        print("| %+d%s | %s | %.1f | %.1f | %s | %s |" % (h, tag, format(n, ","), rss, hw, format(live, ","), format(ever, ",")))
    print()

    # -- checks -------------------------------------------------------------------------------
    t = gen.truth
    kinds = {}
    for n in report["notices"]:
        k = n.split()[1] if len(n.split()) > 1 else "?"
        kinds[k] = kinds.get(k, 0) + 1
    checks = [
        ("lines", report["lines"], gen.emitted),
        ("measured lines", gen.measured_emitted, args.lines),
        ("unparsed", report["unparsed"], 0),
        ("bans", len(report["bans"]), t.bans),
        ("near notices", len(report["near"]), t.near),
        ("BURST notices", kinds.get("BURST", 0), t.burst),
        ("REACHED notices", kinds.get("REACHED", 0), t.reached),
        ("other notices", sum(v for k, v in kinds.items() if k not in ("BURST", "REACHED")), 0),
        ("top totals", sorted(o["total"] for o in report["top"]), sorted(t.top)),
    ]
    for name, got, want in checks:
        ok = got == want
        if not ok:
            failures.append("%s: replay says %s, expected %s" % (name, got, want))
        if name != "top totals":
            print("  %-16s %12s  (expected %s)%s" % (name, format(got, ","), format(want, ","), "" if ok else "  <-- MISMATCH"))
    if report["unparsed"]:
        print("  unparsed samples:", report["unparsed_samples"][:5])

    ratio_end, ratio_max = end / base, max(measured_max, tick_max) / base
    # Sensitivity: without eviction the live set doubles over the measured day; the warm-up shows
    # what one day's worth of windows costs, so the no-eviction end would be about base + that.
    day_cost = (warm_end - warm_start) if warm_start is not None else None
    half = hourly[H // 2][1]
    print()
    print("  generator: %s lines (%s warm-up + %s measured), %.0f s; warden done %.0f s after start (%.0f k lines/s)"
          % (format(gen.emitted, ","), format(gen.warm_emitted, ","), format(gen.measured_emitted, ","), gen_wall,
             wall, gen.emitted / wall / 1e3))
    print("  addresses: %s distinct in all (%s offending episodes, %s legitimate), %d distinct 404 paths"
          % (format(gen.addr.made, ","), format(t.episodes, ","), format(gen.legit_addresses, ","),
             gen.pools["distinct_paths"]))
    print("  RSS: %.1f MiB at the end of hour %d (baseline), %.1f MiB at hour %d; max over hours %d-%d %.1f MiB"
          % (base, MIN_RSS_BASE_HOUR, end, H, MIN_RSS_BASE_HOUR, H, max(measured_max, tick_max)))
    print("  end/baseline %.3f, max/baseline %.3f (limit %.2f); peak %.1f MiB (VmHWM / rusage; limit %d)"
          % (ratio_end, ratio_max, FLAT_RATIO, hwm, PEAK_LIMIT_MIB))
    print("  second half of the measured day: RSS %.1f MiB at hour %d -> %.1f MiB at hour %d (%+.1f %%)"
          % (half, H // 2, end, H, 100.0 * (end - half) / half))
    if day_cost is not None:
        would = base + day_cost
        print("  without eviction: one day of windows cost %.1f MiB in the warm-up's first day (RSS %.1f -> %.1f MiB), so the"
              " end would be ~%.1f MiB = %.2f x baseline: %s" % (day_cost, warm_start, warm_end, would, would / base,
              "the 1.25 x test would catch it" if would / base > FLAT_RATIO else "TOO SMALL for the 1.25 x test to see"))
    def fmt_maps(h):
        return ", ".join("%.0f%s" % (size, "" if name == "anon" else " " + name) for size, rss, name in maps.get(h, [])) or "none"
    print("  mappings >= 8 MiB resident (size MiB): hour 0: %s; hour %d: %s; hour %d: %s"
          % (fmt_maps(0), MIN_RSS_BASE_HOUR, fmt_maps(MIN_RSS_BASE_HOUR), H, fmt_maps(H)))
    prev = None
    for h in sorted(maps):
        sizes = sorted(round(m[0]) for m in maps[h])
        if prev is not None and sizes != prev and h > -W + 1:
            print("    hour %+d: large mappings %s MiB -> %s MiB (RSS %.1f -> %.1f MiB)"
                  % (h, prev, sizes, hourly[h - 1][1], hourly[h][1]))
        prev = sizes
    if ratio_end > FLAT_RATIO:
        failures.append("memory grew: end RSS %.1f MiB is %.2f x the hour-%d RSS %.1f MiB" % (end, ratio_end, MIN_RSS_BASE_HOUR, base))
    if ratio_max > FLAT_RATIO:
        failures.append("memory grew mid-day: max RSS is %.2f x the hour-%d RSS" % (ratio_max, MIN_RSS_BASE_HOUR))
    if hwm > PEAK_LIMIT_MIB:
        failures.append("peak memory %.1f MiB is over %d MiB" % (hwm, PEAK_LIMIT_MIB))
    if stderr:
        print("  warden stderr:", stderr[:500])
    shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("\nFAIL\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("\nPASS: memory flat over %d simulated hours of %s lines" % (H, format(args.lines, ",")))


if __name__ == "__main__":
    main()
