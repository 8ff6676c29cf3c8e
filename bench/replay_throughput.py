#!/usr/bin/env python3
"""Replay throughput of `warden replay`, as a ratio against `cat` of the same file, measured in
the same script, and peak memory.

1. The reference log: ../shared/bench/gen_access_log.py -n LINES -s 1 (nginx combined, ~5k
   clients, scanners, key-sprayers), generated once into --dir.
2. `cat FILE > /dev/null` and `warden replay FILE --json > /dev/null`, --runs times each,
   interleaved (cat, warden, cat, warden, ...) so that both see the same state of a shared
   machine. CPU time is user + system, from getrusage of the child. The fastest run of each is
   reported, and the median of warden's. With --baseline, a second warden binary (an older
   build) runs in the same interleaving, and the ratio of the two is printed.
3. A worst case for memory: LINES lines from LINES distinct addresses, every one a 404 inside
   ten minutes, so every address gets a counter.

4. With --callgrind: instructions per line under valgrind's callgrind on the whole reference
   log (start-up included), and on its first 100 000 lines. Unlike CPU time on a shared machine,
   this count repeats exactly, so it is the figure to compare two versions by.

usage: bench/replay_throughput.py [--lines 1000000] [--runs 11] [--warden target/release/warden]
                                  [--baseline OLD_WARDEN] [--callgrind]
"""
import argparse, os, pathlib, resource, statistics, subprocess, sys

here = pathlib.Path(__file__).resolve().parent
ap = argparse.ArgumentParser()
ap.add_argument("--lines", type=int, default=1_000_000)
ap.add_argument("--runs", type=int, default=11)
ap.add_argument("--warden", default=str(here.parent / "target/release/warden"))
ap.add_argument("--dir", default="/tmp/warden-bench")
ap.add_argument("--baseline", help="another warden binary to measure in the same interleaving")
ap.add_argument("--callgrind", action="store_true")
args = ap.parse_args()

out = pathlib.Path(args.dir)
out.mkdir(parents=True, exist_ok=True)
ref = out / f"ref-{args.lines}.log"
if not ref.exists():
    gen = here.parent.parent / "shared/bench/gen_access_log.py"
    subprocess.run([sys.executable, str(gen), "-n", str(args.lines), "-s", "1", "-o", str(ref)], check=True)
distinct = out / f"distinct-{args.lines}.log"
if not distinct.exists():
    with open(distinct, "w") as f:
        for i in range(args.lines):
            a, b, c, d = 11 + (i >> 24) % 200, (i >> 16) & 255, (i >> 8) & 255, i & 255
            minute, sec = 10 + (i * 10 // args.lines), (i // 1000) % 60
            f.write(f'{a}.{b}.{c}.{d} - - [13/Jan/2025:10:{minute:02d}:{sec:02d} +0530] "GET /wp-login.php?{i} HTTP/1.1" 404 153 "-" "zgrab/0.x"\n')

def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.devnull, "w") as null:
        subprocess.run(cmd, stdout=null, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, after.ru_maxrss / 1024  # ru_maxrss of children is the max so far, in KiB

state = str(out / "no-state.db")
def warden(path, binary=None):
    return [binary or args.warden, "--state-db", state, "replay", "--json", str(path)]

# This is a shared virtual machine: CPU time varies by tens of percent from run to run, in phases.
# The runs are interleaved so that every program sees the same phases; the fastest run is the
# best estimate of the cost itself, and the median is shown too.
cats, w, base = [], [], []
for _ in range(args.runs):
    cats.append(run(["cat", str(ref)])[0])
    w.append(run(warden(ref))[0])
    if args.baseline:
        base.append(run(warden(ref, args.baseline))[0])
cat_cpu, w_cpu, w_med = min(cats), min(w), statistics.median(w)
lines = args.lines
print(f"reference log: {ref} ({ref.stat().st_size / 2**20:.0f} MiB, {lines} lines)")
print(f"cat:    {cat_cpu:.3f} CPU-s  -> {lines / cat_cpu / 1e6:.1f} M lines per CPU-second (fastest of {args.runs})")
print(f"warden: {w_cpu:.3f} CPU-s  -> {lines / w_cpu / 1e6:.2f} M lines per CPU-second (fastest of {args.runs}; median {lines / w_med / 1e6:.2f} M)")
print(f"ratio:  warden takes {w_cpu / cat_cpu:.1f}x the CPU time of cat on the same file (median {w_med / statistics.median(cats):.1f}x)")
if base:
    b_cpu, b_med = min(base), statistics.median(base)
    print(f"baseline {args.baseline}: {b_cpu:.3f} CPU-s fastest -> {lines / b_cpu / 1e6:.2f} M lines per CPU-second (median {lines / b_med / 1e6:.2f} M)")
    print(f"warden / baseline CPU time: {w_cpu / b_cpu:.2f} fastest, {w_med / b_med:.2f} median")
# Peak memory needs a fresh process tree per measurement: run it as a grandchild via `sh -c`.
rss = subprocess.run(["/usr/bin/time", "-f", "%M"] + warden(distinct), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr.strip().splitlines()[-1]
print(f"memory: {int(rss) / 1024:.0f} MiB peak RSS replaying {lines} lines from {lines} distinct addresses (all 404s within 10 min)")

def instructions(binary, path):
    cg = out / "callgrind.out"
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}"] + warden(path, binary),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return next(int(l.split()[1]) for l in open(cg) if l.startswith("summary:") or l.startswith("totals:"))

if args.callgrind:
    sample = out / "sample-100000.log"
    with open(ref, "rb") as src, open(sample, "wb") as dst:
        for i, line in enumerate(src):
            if i == 100_000:
                break
            dst.write(line)
    for name, binary in [("warden", args.warden)] + ([("baseline", args.baseline)] if args.baseline else []):
        whole, first = instructions(binary, ref), instructions(binary, sample)
        print(f"callgrind ({name}): {whole / lines:.0f} instructions per line over the whole log, "
              f"{first / 100_000:.0f} over its first 100 000 lines (start-up included)")
