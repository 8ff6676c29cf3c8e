"""The real app in the real webview: each test proves one promise of the desktop issue."""

import os
import time
from datetime import datetime, timezone
from pathlib import Path

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

XSS = [
    '<img src=x onerror="window.__xss=1">',
    '"><script>window.__xss=2</script>',
    "<svg/onload=window.__xss=3>",
    "javascript:window.__xss=4",
    "<iframe src=javascript:window.__xss=5>",
    "{{constructor.constructor('window.__xss=6')()}}",
]


def now_db():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def test_ban_form_writes_the_row_and_the_table_shows_it(ws, launch):
    app = launch(ws.args())
    app.nav("ban")
    app.wait_tid("ban-ip").send_keys("203.0.113.77")
    app.tid("ban-reason").send_keys("probing /wp-admin")
    Select(app.tid("ban-duration")).select_by_value("1w")
    app.shot("manual-ban-form")
    app.click("ban-submit")
    app.click("confirm-ok")
    rows = app.wait(lambda: ws.ban_rows("203.0.113.77"), what="the ban row in logs.db")
    assert rows[0][1] == "probing /wp-admin"
    assert rows[0][2] == 0, "a week is not permanent"
    assert rows[0][3] == "warden:manual"
    app.nav("bans")
    app.wait(lambda: app.css('[data-testid="bans-table"] [data-ip="203.0.113.77"]'), what="the row in the table")
    app.wait(lambda: app.text("stat-total-bans") == "1", what="the stat card counts the ban")
    app.shot("banned-ips")


def test_unban_asks_for_confirmation_then_deletes_the_row(ws, launch):
    with ws.db() as c:
        c.execute(
            "INSERT INTO ip_bans (ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by) "
            "VALUES ('198.51.100.23', 'Manual ban', 1, ?, NULL, 1, 'manual')",
            (now_db(),),
        )
    app = launch(ws.args())
    app.nav("bans")
    app.click("unban-198.51.100.23")
    app.wait_tid("confirm-ok")
    time.sleep(0.5)
    assert ws.ban_rows("198.51.100.23"), "nothing is deleted before the confirmation"
    app.shot("unban-confirmation")
    app.click("confirm-ok")
    app.wait(lambda: not ws.ban_rows("198.51.100.23"), what="the row deleted from logs.db")
    app.wait(lambda: app.css('[data-testid="bans-table"]') and not app.css('[data-testid="bans-table"] [data-ip="198.51.100.23"]'), what="the row gone")


def test_near_threshold_sends_a_desktop_notification_over_dbus(ws, launch):
    log = Path(os.environ["WARDEN_DBUS_LOG"])
    app = launch(ws.args())
    app.wait_tid("stat-total-bans")
    with ws.db() as c:
        c.execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) "
            "VALUES ('203.0.113.7', 16, ?, ?, '[\"/.env\"]')",
            (now_db(), now_db()),
        )
    want = "203.0.113.7: 16 of 20 404s in 24 h"
    app.wait(lambda: want in log.read_text(errors="replace"), timeout=20, what="a Notify call on D-Bus")
    text = log.read_text(errors="replace")
    assert "member=Notify" in text
    assert "Near the ban threshold" in text
    assert "readable again" not in text, "a start with every source fine sends no alert"
    app.wait(lambda: app.text("stat-near-threshold") == "1", what="the stat card")
    app.shot("overview-near-threshold")


def test_xss_payloads_in_paths_agents_and_hosts_execute_nothing(ws, launch):
    stamp = datetime.now(timezone.utc)
    lines = []
    with ws.db() as c:
        for i, p in enumerate(XSS):
            c.execute(
                "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) "
                "VALUES (?, '203.0.113.66', 'GET', ?, 404, 1.0, ?)",
                (now_db(), "/" + p, p),
            )
            lines.append(
                '203.0.113.66 - - [%s] "GET /%s HTTP/1.1" 404 9 "-" "%s"'
                % (stamp.strftime("%d/%b/%Y:%H:%M:%S +0000"), p.replace('"', "%22").replace(" ", "%20"), p.replace('"', "'"))
            )
        import json

        c.execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) "
            "VALUES ('203.0.113.66', 6, ?, ?, ?)",
            (now_db(), now_db(), json.dumps(["/" + p for p in XSS])),
        )
        c.execute(
            "INSERT INTO ip_bans (ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by) "
            "VALUES ('198.51.100.66', ?, 1, ?, NULL, 1, ?)",
            (XSS[0], now_db(), XSS[1]),
        )
    ws.access_log.write_text("\n".join(lines) + "\n")
    app = launch(ws.args())
    for view in ["overview", "bans", "404", "traffic"]:
        app.nav(view)
        time.sleep(1.0)
        app.shot(f"xss-{view}")
    page = app.page_text()
    for p in XSS:
        assert p in page, f"the payload {p!r} is shown as text"
    assert app.d.execute_script("return window.__xss === undefined"), "a payload ran"
    assert not app.d.find_elements(By.CSS_SELECTOR, "img[src='x'], iframe, svg[onload], script:not([src])")
    try:
        app.d.switch_to.alert
        raise AssertionError("an alert opened")
    except NoAlertPresentException:
        pass


def test_every_view_renders_and_is_captured(ws, launch):
    with ws.db() as c:
        c.execute(
            "INSERT INTO invalid_api_key_tracker (ip_address, attempt_count, first_attempt_at, last_attempt_at, api_keys_tried) "
            "VALUES ('203.0.113.8', 7, ?, ?, '[\"a1b2c3\"]')",
            (now_db(), now_db()),
        )
        c.execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) "
            "VALUES ('203.0.113.9', 12, ?, ?, '[\"/.env\", \"/wp-login.php\"]')",
            (now_db(), now_db()),
        )
    app = launch(ws.args())
    app.wait(lambda: app.text("stat-suspicious") == "2", what="stat cards")
    app.shot("overview")
    for view in ["bans", "api", "404", "traffic", "ban", "settings", "audit"]:
        app.nav(view)
        time.sleep(0.6)
        app.shot(view)
    # The server checklist runs `warden check` in Rust: here OpenAlgo's .env is not beside the
    # test's logs.db, so its checks say they could not be read, with the reason.
    app.nav("checklist")
    app.wait(lambda: "could not be checked" in app.text("checklist-summary"), what="the checklist's summary")
    app.wait(lambda: app.css('[data-finding="env.flask_debug"][data-status="unknown"]'), what="an unknown .env check")
    app.shot("server-checklist")
    app.nav("api")
    app.wait_tid("tracker-api-table")
    app.nav("404")
    app.wait_tid("tracker-404-table")


def failing_checks(app):
    """The sidebar's count of failing server checks (0 when its badge is hidden)."""
    badge = app.tid("checklist-badge")
    return 0 if app.d.execute_script("return arguments[0].hidden", badge) else int(badge.get_attribute("textContent"))


def test_a_check_that_starts_failing_raises_a_desktop_alert_and_the_sidebar_counts_it(tmp_path, launch):
    from conftest import Workspace

    # OpenAlgo's layout: .env beside db/, where logs.db is.
    db = tmp_path / "openalgo" / "db"
    db.mkdir(parents=True)
    ws = Workspace(db)
    env = tmp_path / "openalgo" / ".env"
    env.write_text("FLASK_DEBUG = 'False'\n")
    os.chmod(env, 0o600)
    log = Path(os.environ["WARDEN_DBUS_LOG"])
    app = launch(ws.args())
    app.nav("checklist")
    app.wait(lambda: app.css('[data-testid="checklist-fine"] [data-finding="env.flask_debug"]'), what="debug mode off, fine")
    app.wait(lambda: "Checking" not in app.text("checklist-summary"), what="the first checklist")
    before = failing_checks(app)
    # The trader (or an update) turns debug mode on: nobody presses Check again.
    env.write_text("FLASK_DEBUG = 'True'\n")
    app.wait(lambda: "Server check failing: Debug mode" in log.read_text(errors="replace"), timeout=25, what="a Notify call on D-Bus")
    app.wait(lambda: app.css('[data-finding="env.flask_debug"][data-status="fail"]'), what="the view re-checked by itself")
    app.wait(lambda: failing_checks(app) == before + 1, what="the sidebar's count")
    app.nav("overview")
    app.wait(lambda: app.css('[data-warning="checklist"]'), what="the overview's warning")
    app.shot("overview-checklist-failing")


def test_with_no_openalgo_the_app_opens_the_demo_and_says_so(tmp_path, launch):
    # No --logs-db and an empty configuration: the app must open on the demo workspace.
    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    os.chmod(cfg, 0o600)
    app = launch(["--demo", "--config", str(cfg), "--state-db", str(tmp_path / "state.db")])
    app.wait_tid("demo-banner")
    app.wait(lambda: "Demo workspace" in app.text("demo-banner"), what="the demo banner's words")
    # The simulator's scanners reach the threshold about 30 s in (README, "Demo").
    app.wait(lambda: app.text("stat-total-bans") not in ("", "–", "0"), timeout=75, what="a ban in the demo")
    assert app.tid("demo-banner").is_displayed(), "the banner stays on every view"
    app.nav("overview")
    time.sleep(1.5)
    app.shot("demo-overview")
    for view in ["bans", "404", "api", "traffic", "audit"]:
        app.nav(view)
        time.sleep(0.8)
        app.shot(f"demo-{view}")
    app.nav("traffic")
    app.wait(lambda: "access.log" in app.page_text(), what="access-log traffic in the demo")


def test_host_ban_lists_distinct_addresses_then_bans_each_once(ws, launch):
    with ws.db() as c:
        for ip in ["203.0.113.40", "203.0.113.40", "203.0.113.40", "203.0.113.41"]:
            c.execute(
                "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) "
                "VALUES (?, ?, 'GET', '/', 200, 1.0, 'scanner.example:443')",
                (now_db(), ip),
            )
    app = launch(ws.args())
    app.nav("ban")
    app.wait_tid("host-input").send_keys("scanner.example")
    app.click("host-preview")
    app.wait_tid("host-candidates")
    app.wait(lambda: "203.0.113.41" in app.text("host-candidates"), what="the candidates")
    text = app.text("host-candidates")
    assert text.count("203.0.113.40") == 1, "one line per distinct address"
    app.shot("manual-ban-host-preview")
    app.wait(lambda: app.tid("host-submit").is_enabled(), what="the ban button enabled")
    app.click("host-submit")
    app.click("confirm-ok")
    app.wait(lambda: ws.ban_rows("203.0.113.40") and ws.ban_rows("203.0.113.41"), what="both bans written")
    with ws.db() as c:
        counts = c.execute("SELECT ban_count, is_permanent FROM ip_bans WHERE ip_address = '203.0.113.40'").fetchall()
    assert counts == [(1, 0)], "three traffic rows make one ban, not a permanent one"
    app.nav("audit")
    app.wait(lambda: "Host ban: scanner.example" in app.page_text(), what="the audit entries")
    app.shot("audit-after-host-ban")


def test_settings_refuse_bad_input_with_the_reason_next_to_the_field(ws, launch):
    app = launch(ws.args())
    app.nav("settings")
    app.wait_tid("settings-form")
    field = app.wait(lambda: app.css('[data-testid="settings-form"] input[name="not_found_threshold"]'))[0]
    field.clear()
    field.send_keys("0")
    app.click("settings-save")
    err = '[data-testid="settings-form"] [data-error-for="not_found_threshold"]'
    app.wait(lambda: app.css(err)[0].get_attribute("textContent").strip() != "", what="the field's error")
    app.shot("settings-refused")
    assert "not_found_threshold = 0" not in ws.config.read_text(), "nothing saved"


def test_ip_detail_shows_one_timeline_across_sources(ws, launch):
    with ws.db() as c:
        c.execute(
            "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) "
            "VALUES (?, '203.0.113.50', 'GET', '/.env', 404, 1.0, 'h')",
            (now_db(),),
        )
        c.execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) "
            "VALUES ('203.0.113.50', 9, ?, ?, '[\"/.env\"]')",
            (now_db(), now_db()),
        )
    app = launch(ws.args())
    app.nav("404")
    app.wait_tid("tracker-404-table")
    # Clicked in the page: the table re-renders on live refreshes, so a held element can go stale.
    click = """for (const b of document.querySelectorAll('[data-testid="tracker-404-table"] button, [data-testid="tracker-404-table"] a'))
                 if (b.textContent.trim() === arguments[0]) { b.click(); return true; }
               return false;"""
    app.wait(lambda: app.d.execute_script(click, "203.0.113.50"), what="the address link")
    app.wait_tid("view-ip")
    app.wait(lambda: "/.env" in app.text("view-ip"), what="the request on the timeline")
    app.shot("ip-detail")


def test_access_policy_adds_a_range_and_allow_only_mode_names_who_it_cuts_off(ws, launch):
    import sqlite3

    with ws.db() as c:
        c.execute(
            "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) "
            "VALUES (?, '203.0.113.9', 'GET', '/', 200, 1.0, 'algo')",
            (now_db(),),
        )
    app = launch(ws.args())
    app.nav("access")
    app.wait_tid("policy-value").send_keys("203.0.113.77/24")
    Select(app.tid("policy-ttl")).select_by_value("24h")
    app.tid("policy-reason").send_keys("scanner farm")
    app.click("policy-add")
    app.wait(lambda: app.css('[data-testid="policies-table"] [data-value="203.0.113.0/24"]'), what="the canonical range listed")
    with sqlite3.connect(ws.state_db) as s:
        row = s.execute("SELECT policy, ttl_seconds, reason, created_by FROM policies WHERE value = '203.0.113.0/24'").fetchone()
    assert row == ("deny", 86400, "scanner farm", "gui"), row
    # Allow-list-only mode: first an allow entry, then the mode, which names who it cuts off.
    app.tid("policy-value").send_keys("198.51.100.7")
    Select(app.tid("policy-kind")).select_by_value("allow")
    Select(app.tid("policy-ttl")).select_by_value("")
    app.click("policy-add")
    app.wait(lambda: app.css('[data-testid="policies-table"] [data-value="198.51.100.7"]'), what="the allow entry")
    app.click("allow-only-toggle")
    app.wait(lambda: "203.0.113.9" in app.text("allow-only-cut-off"), what="who would be cut off")
    app.shot("allow-only-confirmation")
    app.click("confirm-ok")
    app.wait_tid("allow-only-banner")
    app.wait(lambda: "On:" in app.text("allow-only-state"), what="the mode on")
    app.shot("access-policy")
    app.nav("bans")
    assert app.tid("allow-only-banner").is_displayed(), "the banner stays on every view"


class Receiver:
    """An HTTP receiver on loopback standing in for Telegram: records each request, answers ok."""

    def __init__(self):
        import http.server
        import json
        import threading

        got = self.got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got.append((self.path, json.loads(body or b"{}")))
                out = b'{"ok":true,"result":{}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_telegram_channel_set_up_in_settings_tests_and_then_gets_a_new_address_sign_in(ws, launch):
    import shutil
    import sqlite3
    import stat
    from datetime import timedelta

    from conftest import FIXTURES

    rx = Receiver()
    token = "7012345678:AAH-e2eSecretBotToken_xyz"
    oa = ws.root / "openalgo.db"
    shutil.copy(FIXTURES / "openalgo_signins.db", oa)
    os.chmod(oa, 0o644)
    log = Path(os.environ["WARDEN_DBUS_LOG"])
    app = launch(ws.args() + ["--openalgo-db", str(oa)])
    app.nav("settings")
    Select(app.wait_tid("channel-kind")).select_by_value("telegram")
    app.click("channel-add")
    app.wait_tid("channel-url").send_keys(rx.url)
    app.tid("channel-token").send_keys(token)
    app.tid("channel-chat").send_keys("4242")
    app.click("channel-test")
    app.wait(lambda: "Telegram took the test alert" in app.text("channel-test-result"), what="the test's answer")
    path, body = rx.got[0]
    assert path == f"/bot{token}/sendMessage"
    assert body["chat_id"] == "4242" and "test of the channel 'telegram'" in body["text"]
    app.shot("settings-alert-channel")
    app.click("settings-save")
    app.wait(lambda: "token_file" in ws.config.read_text(), what="the channel saved")
    saved = ws.config.read_text()
    assert token not in saved, "the token is not in the configuration"
    token_file = ws.config.parent / "alert-telegram.token"
    assert token_file.read_text().strip() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    app.wait(lambda: "••••" in app.tid("channel-token").get_attribute("placeholder"), what="the token shown masked")
    time.sleep(1.5)  # the monitor restarted with the channel and learned the sign-in history

    # Someone signs in from an address this user never used.
    ist = (datetime.now(timezone.utc) + timedelta(minutes=330)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(oa) as c:
        for kind in ("password", "oauth"):
            c.execute(
                "INSERT INTO login_attempts (username, ip_address, device_info, status, login_type, timestamp) "
                "VALUES ('trader', '192.0.2.150', 'curl/8.5.0', 'success', ?, ?)",
                (kind, ist),
            )
    app.wait(lambda: len(rx.got) >= 2, timeout=15, what="the sign-in alert at the receiver")
    assert "New sign-in address for trader" in rx.got[1][1]["text"]
    assert "192.0.2.150" in rx.got[1][1]["text"]
    app.wait(lambda: "New sign-in address for trader" in log.read_text(errors="replace"), what="a Notify call on D-Bus")
    app.nav("signins")
    app.wait(lambda: app.css('[data-testid="signins-table"] [data-ip="192.0.2.150"] [data-testid="new-address"]'), what="the new address marked")
    app.shot("signins")
    app.nav("incidents")
    app.wait_tid("incidents-table")
    app.shot("incidents")
    time.sleep(1)
    assert len(rx.got) == 2, "one alert for one sign-in (its broker step folded in)"
