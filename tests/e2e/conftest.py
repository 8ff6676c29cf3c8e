"""End-to-end fixtures: a real logs.db in OpenAlgo's schema, the real app in the real WebKit
webview, driven through tauri-driver and WebKitWebDriver. scripts/e2e.sh starts Xvfb, a D-Bus
session with dbus-monitor recording Notify calls, and tauri-driver, then runs pytest."""

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "spec" / "fixtures"
APP = Path(os.environ.get("WARDEN_APP", ROOT / "target" / "debug" / "warden-desktop"))
SHOTS = Path(os.environ.get("WARDEN_SHOTS", ROOT / "target" / "e2e-shots"))
DRIVER = os.environ.get("WARDEN_DRIVER_URL", "http://127.0.0.1:4444")


class Workspace:
    """A temporary OpenAlgo layout: logs.db (a copy of OpenAlgo's own fixture, emptied),
    an nginx access log, Warden's state and configuration."""

    def __init__(self, root: Path):
        self.root = root
        self.logs_db = root / "logs.db"
        shutil.copy(FIXTURES / "logs.db", self.logs_db)
        os.chmod(self.logs_db, 0o644)
        with self.db() as c:
            for t in ("ip_bans", "error_404_tracker", "invalid_api_key_tracker", "traffic_logs"):
                c.execute(f"DELETE FROM {t}")
        self.access_log = root / "access.log"
        self.access_log.write_text("")
        self.state_db = root / "state.db"
        self.config = root / "config.toml"
        self.config.write_text("poll_seconds = 1\n")
        os.chmod(self.config, 0o600)

    def db(self):
        c = sqlite3.connect(self.logs_db, timeout=15)
        c.isolation_level = None
        return c

    def args(self):
        return [
            "--config", str(self.config),
            "--logs-db", str(self.logs_db),
            "--state-db", str(self.state_db),
            "--access-log", str(self.access_log),
        ]

    def ban_rows(self, ip):
        with self.db() as c:
            return c.execute("SELECT ip_address, ban_reason, is_permanent, created_by FROM ip_bans WHERE ip_address = ?", (ip,)).fetchall()


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path)


class App:
    def __init__(self, driver):
        self.d = driver

    def wait(self, cond, timeout=15, what="condition"):
        try:
            # The UI re-renders on every live refresh, so an element found a moment ago may be gone:
            # conditions look elements up afresh, and a stale one means "try again".
            return WebDriverWait(
                self.d, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
            ).until(lambda _: cond(), message=what)
        except Exception:
            self.shot("FAILED-" + "".join(c if c.isalnum() else "-" for c in what)[:60])
            raise

    def text(self, testid):
        """The text of an element, as the DOM holds it (WebKitWebDriver's visible-text rules
        skip text inside buttons)."""
        return self.d.execute_script("return arguments[0].textContent", self.tid(testid)).strip()

    def css(self, selector):
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def page_text(self):
        """All text in the page, including cells cut short by an ellipsis."""
        return self.d.execute_script("return document.body.textContent")

    def tid(self, testid):
        return self.d.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def tids(self, testid):
        return self.d.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def wait_tid(self, testid, timeout=15):
        return self.wait(lambda: (self.tids(testid) or [None])[0], timeout, f"[data-testid={testid}]")

    def click(self, testid, timeout=15):
        """Clicks an element, looking it up again if a live refresh replaced it between the
        lookup and the click (a stale element is retried; a click that landed is not)."""
        def attempt():
            found = self.tids(testid)
            if not found:
                return False
            # In the middle of the view, so that a sticky bar cannot be over it.
            self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", found[0])
            found[0].click()
            return True
        self.wait(attempt, timeout, f"a click on [data-testid={testid}]")

    def nav(self, name):
        self.click(f"nav-{name}")

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        # WebKitWebDriver takes a screenshot at the page's next rendering update after it was asked
        # for one. The app at rest renders nothing (until its one-minute safety refresh), so the
        # test schedules one frame just after asking: an opacity of 0.999 or back, which looks the
        # same. Without it each screenshot waited up to a minute.
        self.d.execute_script(
            "setTimeout(() => { const b = document.body; b.style.opacity = b.style.opacity === '0.999' ? '' : '0.999'; }, 150);"
        )
        self.d.save_screenshot(str(SHOTS / f"{name}.png"))


def _kill_leftovers():
    # The single-instance plugin would hand a new start to a lingering old window.
    subprocess.run(["pkill", "-f", str(APP)], check=False)
    time.sleep(0.2)


@pytest.fixture
def launch():
    drivers = []

    def start(args):
        _kill_leftovers()
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": str(APP), "args": list(args)})
        d = webdriver.Remote(command_executor=DRIVER, options=opts)
        d.set_window_size(1280, 820)
        drivers.append(d)
        return App(d)

    yield start
    for d in drivers:
        try:
            d.quit()
        except Exception:
            pass
    _kill_leftovers()
