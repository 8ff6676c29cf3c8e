#!/usr/bin/env python3
"""What the desktop app costs at rest: the CPU time of its whole process tree (warden-desktop,
WebKitWebProcess, WebKitNetworkProcess) over a quiet minute, and its resident memory, against a
blank Tauri window built with the same Tauri version and WebKit flag (the floor), and the CLI
monitor on the same file (what the monitor alone costs). All measured in the same run.

Run it through bench/idle.sh, which starts Xvfb, a private D-Bus session and tauri-driver:

    bash bench/idle.sh                       # release builds of the app, the blank window and the CLI
    bash bench/idle.sh --seconds 60 --app target/release/warden-desktop

Each app is started through WebDriver on a copy of OpenAlgo's logs.db fixture with nothing writing
to it. The measurement starts once the first dashboard shows numbers (for the blank window, once
its page has loaded), plus a settle time, and WebDriver sends nothing during it.
"""
import argparse, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT.parent / "shared" / "spec" / "fixtures" / "logs.db"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

ap = argparse.ArgumentParser()
ap.add_argument("--app", default="target/release/warden-desktop")
ap.add_argument("--blank", default="target/release/examples/blank")
ap.add_argument("--cli", default="target/release/warden")
ap.add_argument("--seconds", type=float, default=60)
ap.add_argument("--settle", type=float, default=5)
ap.add_argument("--driver", default="http://127.0.0.1:4444")
args = ap.parse_args()


def procs():
    """pid -> (ppid, cpu ticks, rss pages, name) for every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        f = stat[stat.rindex(")") + 2:].split()
        out[int(d)] = (int(f[1]), int(f[11]) + int(f[12]), int(f[21]), name)
    return out


def tree(root):
    ps = procs()
    pids, grew = {root}, True
    while grew:
        grew = False
        for pid, (ppid, *_rest) in ps.items():
            if ppid in pids and pid not in pids:
                pids.add(pid)
                grew = True
    return {p: ps[p] for p in pids if p in ps}


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def sample(root, seconds):
    t0, before = time.monotonic(), tree(root)
    time.sleep(seconds)
    t1, after = time.monotonic(), tree(root)
    ticks = sum(after[p][1] - before.get(p, (0, 0))[1] for p in after)
    cpu = ticks / TICKS / (t1 - t0) * 100
    rss = sum(v[2] for v in after.values()) * PAGE / 2**20
    return cpu, rss, pss_kib(after) / 1024, sorted({v[3] for v in after.values()})


def pid_of(path):
    out = subprocess.run(["pgrep", "-nf", f"^{path}( |$)"], capture_output=True, text=True).stdout.split()
    if not out:
        raise SystemExit(f"{path} is not running")
    return int(out[0])


def session(app, app_args):
    subprocess.run(["pkill", "-f", app], check=False)
    time.sleep(0.3)
    opts = ArgOptions()
    opts.set_capability("browserName", "wry")
    opts.set_capability("tauri:options", {"application": app, "args": app_args})
    return webdriver.Remote(command_executor=args.driver, options=opts)


def wait_for(d, js, what):
    t0 = time.monotonic()
    while not d.execute_script(js):
        if time.monotonic() - t0 > 60:
            raise SystemExit(f"no {what} within 60 s")
        time.sleep(0.05)
    return time.monotonic() - t0


def report(label, cpu, rss, pss, names):
    print(f"{label}: {cpu:.2f} % of a core over {args.seconds:.0f} s; RSS {rss:.0f} MiB, PSS {pss:.0f} MiB "
          f"({', '.join(names)})", flush=True)


app, blank, cli = (str((ROOT / p).resolve()) for p in (args.app, args.blank, args.cli))
for p in (app, blank, cli):
    if not os.access(p, os.X_OK):
        sys.exit(f"error: {p} is not built (see the header of {__file__})")
ws = Path(tempfile.mkdtemp(prefix="warden-idle-"))
try:
    shutil.copy(FIXTURE, ws / "logs.db")
    (ws / "config.toml").write_text("")
    os.chmod(ws / "config.toml", 0o600)
    app_args = ["--config", str(ws / "config.toml"), "--logs-db", str(ws / "logs.db"), "--state-db", str(ws / "state.db")]

    d = session(blank, [])
    try:
        wait_for(d, "return document.readyState === 'complete'", "blank page")
        time.sleep(args.settle)
        b = sample(pid_of(blank), args.seconds)
        report("blank Tauri window (floor)", *b)
    finally:
        d.quit()
        subprocess.run(["pkill", "-f", blank], check=False)

    d = session(app, app_args)
    try:
        took = wait_for(d, "const e = document.querySelector('[data-testid=\"stat-suspicious\"]');"
                           " return !!e && /^\\d+$/.test(e.textContent.trim())", "dashboard")
        print(f"first dashboard after {took * 1000:.0f} ms (from the WebDriver session)", flush=True)
        time.sleep(args.settle)
        pid = pid_of(app)
        a = sample(pid, args.seconds)
        report("warden-desktop, window shown, at rest", *a)
        print(f"  minus the floor: {a[0] - b[0]:+.2f} % of a core, RSS {a[1] - b[1]:+.0f} MiB, PSS {a[2] - b[2]:+.0f} MiB",
              flush=True)
        try:
            d.minimize_window()
            time.sleep(args.settle)
            m = sample(pid, args.seconds)
            report("warden-desktop, window minimized", *m)
        except Exception as e:  # noqa: BLE001 - the driver may not minimize; say so
            print(f"warden-desktop, window minimized: not measured ({type(e).__name__}: {str(e).splitlines()[0]})")
    finally:
        d.quit()
        subprocess.run(["pkill", "-f", app], check=False)

    mon = subprocess.Popen([cli, "--config", str(ws / "config.toml"), "--logs-db", str(ws / "logs.db"),
                            "--state-db", str(ws / "state-cli.db"), "watch", "--seconds", str(int(args.seconds + args.settle + 10))],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(args.settle)
        c = sample(mon.pid, args.seconds)
        report("warden watch (the monitor alone)", *c)
    finally:
        mon.kill()
finally:
    shutil.rmtree(ws, ignore_errors=True)
