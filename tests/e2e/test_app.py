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
    app.tid("ban-submit").click()
    app.wait_tid("confirm-ok").click()
    rows = app.wait(lambda: ws.ban_rows("203.0.113.77"), what="the ban row in logs.db")
    assert rows[0][1] == "probing /wp-admin"
    assert rows[0][2] == 0, "a week is not permanent"
    assert rows[0][3] == "warden:manual"
    app.nav("bans")
    table = app.wait_tid("bans-table")
    app.wait(lambda: table.find_elements(By.CSS_SELECTOR, '[data-ip="203.0.113.77"]'), what="the row in the table")
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
    app.wait_tid("unban-198.51.100.23").click()
    ok = app.wait_tid("confirm-ok")
    time.sleep(0.5)
    assert ws.ban_rows("198.51.100.23"), "nothing is deleted before the confirmation"
    app.shot("unban-confirmation")
    ok.click()
    app.wait(lambda: not ws.ban_rows("198.51.100.23"), what="the row deleted from logs.db")
    table = app.tid("bans-table")
    app.wait(lambda: not table.find_elements(By.CSS_SELECTOR, '[data-ip="198.51.100.23"]'), what="the row gone")


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
    app.nav("api")
    app.wait_tid("tracker-api-table")
    app.nav("404")
    app.wait_tid("tracker-404-table")
