"""A logs.db in OpenAlgo's schema (a copy of OpenAlgo's own fixture, emptied) with N traffic rows over
the last 24 h and 500 tracker rows: the data set of the desktop app's benchmarks."""
import random, shutil, sqlite3, time
from pathlib import Path

fixtures = Path(__file__).resolve().parents[2] / "shared/spec/fixtures"


def make_db(path: Path, rows: int):
    shutil.copy(fixtures / "logs.db", path)
    c = sqlite3.connect(path)
    for t in ("ip_bans", "error_404_tracker", "invalid_api_key_tracker", "traffic_logs"):
        c.execute(f"DELETE FROM {t}")
    rnd = random.Random(7)
    now = time.time()
    def gen():
        for i in range(rows):
            ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - (rows - i) * 86400 / max(rows, 1)))
            status = rnd.choice((200, 200, 200, 200, 404, 403, 500, 302))
            yield (ts + ".000000", f"203.0.{rnd.randrange(256)}.{rnd.randrange(256)}", "GET", f"/p/{i % 5000}", status, 1.0, "openalgo.example")
    c.executemany("INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) VALUES (?,?,?,?,?,?,?)", gen())
    for i in range(500):
        c.execute("INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) VALUES (?, ?, datetime('now'), datetime('now'), '[\"/x\"]')", (f"198.51.100.{i % 250}" if i < 250 else f"2001:db8::{i:x}", 1 + i % 19))
    c.commit()
    c.close()


