//! Alert channels against HTTP receivers on loopback that answer as each service does, and
//! OpenAlgo's sign-ins in copies of a real `openalgo.db` with rows added as OpenAlgo writes them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use hmac::Mac;
use warden::config::{Config, Paths};
use warden::event::Rule;
use warden::monitor::{Monitor, Notice};
use warden::time::Timestamp;

use crate::common::receiver::{Receiver, Reply};
use crate::common::{copy_fixture, fresh_logs_db, raw, wait_for};

const TG_TOKEN: &str = "123456789:AAHsecretTelegramTokenXYZ";
const DISCORD: &str = "112233/discordSecretWebhookToken";
const NTFY_TOKEN: &str = "tk_ntfyaccesstokensecret99";
const HOOK_KEY: &str = "webhook-signing-key-0123456789";
const OA_KEY: &str = "openalgo0api0key0secret0value0abc";
const SECRETS: [&str; 5] = [TG_TOKEN, DISCORD, NTFY_TOKEN, HOOK_KEY, OA_KEY];

struct Ws {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Ws {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A workspace with logs.db, a copy of the sign-ins fixture and a configuration ending in `extra`.
fn ws(extra: &str) -> Ws {
    let dir = tempfile::tempdir().unwrap();
    fresh_logs_db(dir.path());
    copy_fixture("openalgo_signins.db", dir.path());
    let config = dir.path().join("config.toml");
    let text = format!(
        "logs_db = \"{0}/logs.db\"\nopenalgo_db = \"{0}/openalgo_signins.db\"\nstate_db = \"{0}/state/warden.db\"\n{extra}",
        dir.path().display()
    );
    private(&config, &text);
    Ws { dir, config }
}

fn warden(w: &Ws, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--config")
        .arg(&w.config)
        .args(args)
        .env("XDG_CONFIG_HOME", w.dir.path())
        .env("XDG_DATA_HOME", w.dir.path())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn assert_no_secret(what: &str, s: &str) {
    for secret in SECRETS {
        assert!(!s.contains(secret), "{what} shows a secret:\n{s}");
        // Nor its distinctive middle (a URL-encoded or cut copy).
        assert!(!s.contains(&secret[4..secret.len() - 4]), "{what} shows part of a secret:\n{s}");
    }
}

fn cfg_of(w: &Ws) -> (Config, Paths) {
    let cfg = Config::load(Some(&w.config)).unwrap();
    let paths = Paths {
        logs_db: w.path("logs.db"),
        openalgo_db: Some(w.path("openalgo_signins.db")),
        state_db: w.path("state/warden.db"),
        access_logs: vec![],
    };
    (cfg, paths)
}

/// OpenAlgo's spelling of a time in `login_attempts`: naive IST with six fraction digits.
fn ist(at: Timestamp) -> String {
    (at + Duration::minutes(330)).format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// A row as `log_login_attempt()` writes it.
fn attempt(db: &Path, user: &str, ip: &str, ua: &str, ok: bool, login_type: &str, at: Timestamp) {
    let (status, reason, broker) = match (ok, login_type) {
        (true, "oauth") => ("success", None, Some("dhan_sandbox")),
        (true, _) => ("success", None, None),
        (false, "totp") => ("failed", Some("invalid_totp"), None),
        (false, _) => ("failed", Some("invalid_credentials"), None),
    };
    raw(db)
        .execute(
            "INSERT INTO login_attempts (username, ip_address, device_info, status, login_type, broker, failure_reason, timestamp) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![user, ip, ua, status, login_type, broker, reason, ist(at)],
        )
        .unwrap();
}

/// 404s through OpenAlgo's own tracker logic, enough for a ban.
fn scan(logs: &Path, ip: &str, now: Timestamp) {
    let mut emu = warden::demo::openalgo::OpenAlgoEmulator::open(logs).unwrap();
    for i in 0..20 {
        emu.track_404(ip, &format!("/wp-{i}.php"), now - Duration::seconds(60 - i)).unwrap();
    }
}

#[test]
fn each_channel_sends_exactly_the_request_its_service_expects_and_no_secret_is_shown() {
    let rx = Receiver::start(Reply::json(200, r#"{"ok":true}"#));
    let u = rx.url();
    let tmp = tempfile::tempdir().unwrap();
    let tg_file = tmp.path().join("tg.token");
    private(&tg_file, &format!("{TG_TOKEN}\n"));
    let w = ws(&format!(
        r#"
[[alert]]
name = "phone"
kind = "telegram"
url = "{u}"
token_file = "{tg}"
chat_id = "4242"

[[alert]]
name = "discord"
kind = "discord"
url = "{u}/api/webhooks"
token = "{DISCORD}"

[[alert]]
name = "ntfy"
kind = "ntfy"
url = "{u}"
topic = "warden-alerts"
token = "{NTFY_TOKEN}"
tags = ["rotating_light"]

[[alert]]
name = "siem"
kind = "webhook"
url = "{u}/hooks/warden"
token = "{HOOK_KEY}"

[[alert]]
name = "openalgo"
kind = "openalgo_telegram"
url = "{u}"
token = "{OA_KEY}"
username = "trader"
"#,
        tg = tg_file.display()
    ));
    let out = warden(&w, &["alert", "test"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    for name in ["phone", "discord", "ntfy", "siem", "openalgo"] {
        assert!(shown.contains(&format!("{name}: delivered")), "{shown}");
    }
    assert_no_secret("`warden alert test`", &shown);
    let got = rx.wait_for(5, StdDuration::from_secs(10));
    assert!(got.iter().all(|r| r.method == "POST" && r.header("content-type") == Some("application/json")));

    let tg = &got[0];
    assert_eq!(tg.target, format!("/bot{TG_TOKEN}/sendMessage"));
    let b = tg.json();
    assert_eq!(b["chat_id"], "4242");
    assert_eq!(b["disable_web_page_preview"], true);
    assert!(b.get("parse_mode").is_none(), "plain text only: {b}");
    assert!(b["text"].as_str().unwrap().starts_with("Warden: test of the channel 'phone'\n"), "{b}");

    let dc = &got[1];
    assert_eq!(dc.target, format!("/api/webhooks/{DISCORD}?wait=true"));
    let b = dc.json();
    assert_eq!(b["allowed_mentions"], serde_json::json!({ "parse": [] }));
    assert_eq!(b["username"], "Warden");
    assert!(b["content"].as_str().unwrap().contains("test of the channel 'discord'"));

    let nt = &got[2];
    assert_eq!(nt.target, "/");
    assert_eq!(nt.header("authorization"), Some(format!("Bearer {NTFY_TOKEN}").as_str()));
    let b = nt.json();
    assert_eq!(b["topic"], "warden-alerts");
    assert_eq!(b["title"], "Warden: test of the channel 'ntfy'");
    assert_eq!(b["priority"], 3);
    assert_eq!(b["tags"], serde_json::json!(["rotating_light"]));

    let wh = &got[3];
    assert_eq!(wh.target, "/hooks/warden");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(HOOK_KEY.as_bytes()).unwrap();
    mac.update(&wh.body);
    let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(wh.header("x-warden-signature-256"), Some(format!("sha256={want}").as_str()));
    assert_eq!(wh.header("x-warden-event"), Some("test"));
    let b = wh.json();
    assert_eq!((b["source"].as_str(), b["event"].as_str()), (Some("warden"), Some("test")));

    let oa = &got[4];
    assert_eq!(oa.target, "/api/v1/telegram/notify");
    let b = oa.json();
    assert_eq!((b["apikey"].as_str(), b["username"].as_str()), (Some(OA_KEY), Some("trader")));
    assert!(b["message"].as_str().unwrap().contains("test of the channel 'openalgo'"));

    // The list shows tokens masked.
    let list = text(&warden(&w, &["alert", "list"]));
    assert!(list.contains("phone (Telegram)") && list.contains("token ••••nXYZ"), "{list}");
    assert_no_secret("`warden alert list`", &list);
}

#[test]
fn a_refused_token_an_unreachable_service_and_a_bad_url_each_get_one_clear_message() {
    let rx = Receiver::start(Reply::json(401, r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#));
    let w = ws(&format!(
        "[[alert]]\nname = \"phone\"\nkind = \"telegram\"\nurl = \"{}\"\ntoken = \"{TG_TOKEN}\"\nchat_id = \"4242\"\n\n\
         [[alert]]\nname = \"down\"\nkind = \"telegram\"\nurl = \"http://127.0.0.1:1\"\ntoken = \"{TG_TOKEN}\"\nchat_id = \"1\"\n",
        rx.url()
    ));
    let out = warden(&w, &["alert", "test", "phone"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("phone: NOT delivered: Telegram said: Unauthorized (HTTP 401). Check the token."),
        "{shown}"
    );
    assert_eq!(rx.received().len(), 1, "a refused token is not retried");
    let out = warden(&w, &["alert", "test", "down"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(shown.contains("down: NOT delivered: could not reach Telegram: connection refused"), "{shown}");
    assert_no_secret("a failed test", &shown);
    let out = warden(&w, &["alert", "test", "nope"]);
    assert!(
        text(&out).contains("there is no alert channel named 'nope'; the channels are: phone, down"),
        "{}",
        text(&out)
    );

    let bad = ws("[[alert]]\nname = \"x\"\nkind = \"ntfy\"\nurl = \"ntfy.sh/topic with space\"\ntopic = \"t\"\n");
    let out = warden(&bad, &["alert", "test"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(shown.contains("alert 'x': `url` must start with https://"), "{shown}");
    assert_eq!(shown.lines().count(), 1, "{shown}");
}

fn tick_until(m: &mut Monitor, what: &str, mut f: impl FnMut(&Notice) -> bool) -> Notice {
    wait_for(StdDuration::from_secs(10), what, || m.tick(warden::time::now()).into_iter().find(|n| f(n)))
}

#[test]
fn a_ban_reaches_the_phone_once_after_a_429_and_a_500_honouring_retry_after() {
    let rx = Receiver::start(Reply::json(200, "{}"));
    rx.script([
        Reply::json(429, r#"{"code":42901,"http":429,"error":"limit reached"}"#).with("Retry-After", "2"),
        Reply::json(500, "{}"),
    ]);
    let w = ws(&format!(
        "[[alert]]\nname = \"ntfy\"\nkind = \"ntfy\"\nurl = \"{}\"\ntopic = \"t\"\nevents = [\"banned\"]\n",
        rx.url()
    ));
    let (cfg, paths) = cfg_of(&w);
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    scan(&paths.logs_db, "203.0.113.9", warden::time::now());
    tick_until(&mut m, "the ban", |n| matches!(n, Notice::Banned { .. }));
    let got = rx.wait_for(3, StdDuration::from_secs(15));
    assert!(got[1].at - got[0].at >= StdDuration::from_millis(1900), "Retry-After: 2 was not honoured");
    assert!(got.iter().all(|r| r.body == got[0].body), "the same alert each time");
    assert!(got[0].json()["title"].as_str().unwrap().contains("Banned 203.0.113.9"));
    std::thread::sleep(StdDuration::from_secs(3));
    assert_eq!(rx.received().len(), 3, "delivered exactly once: nothing after the 200");
    let tally = warden::store::state::StateDb::open(&paths.state_db).unwrap().channel_tallies().unwrap();
    assert_eq!((tally[0].delivered, tally[0].failed, tally[0].waiting), (1, 0, 0));
}

#[test]
fn a_4xx_is_not_retried_and_the_channel_is_reported_failing() {
    let rx = Receiver::start(Reply::json(400, r#"{"message":"Invalid Webhook Token","code":50027}"#));
    let w = ws(&format!(
        "[[alert]]\nname = \"dc\"\nkind = \"discord\"\nurl = \"{}\"\ntoken = \"{DISCORD}\"\nevents = [\"banned\"]\n",
        rx.url()
    ));
    let (cfg, paths) = cfg_of(&w);
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    scan(&paths.logs_db, "203.0.113.10", warden::time::now());
    tick_until(&mut m, "the ban", |n| matches!(n, Notice::Banned { .. }));
    rx.wait_for(1, StdDuration::from_secs(10));
    let failing = tick_until(&mut m, "the channel failing", |n| matches!(n, Notice::Delivery { working: false, .. }));
    let line = failing.to_string();
    assert!(line.contains("ALERTS     dc: failing: Discord said: Invalid Webhook Token (HTTP 400)"), "{line}");
    assert_no_secret("the notice", &line);
    std::thread::sleep(StdDuration::from_secs(2));
    assert_eq!(rx.received().len(), 1, "a 400 is not retried");
}

#[test]
fn an_alert_pending_across_a_restart_is_delivered_after_it_exactly_once() {
    let rx = Receiver::start(Reply::json(503, "{}"));
    let w = ws(&format!(
        "[[alert]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}/h\"\ntoken = \"{HOOK_KEY}\"\nevents = [\"banned\"]\n",
        rx.url()
    ));
    let (cfg, paths) = cfg_of(&w);
    {
        let mut m = Monitor::open(&cfg, &paths).unwrap();
        scan(&paths.logs_db, "203.0.113.11", warden::time::now());
        tick_until(&mut m, "the ban", |n| matches!(n, Notice::Banned { .. }));
        rx.wait_for(1, StdDuration::from_secs(10));
    }
    let queued = raw(&paths.state_db).query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(queued, 1, "the undelivered alert is kept in the state database");
    let before = rx.received().len();
    rx.set_default(Reply::json(200, "{}"));
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    let _ = m.tick(warden::time::now());
    let got = rx.wait_for(before + 1, StdDuration::from_secs(15));
    assert!(got.last().unwrap().json()["title"].as_str().unwrap().contains("203.0.113.11"));
    std::thread::sleep(StdDuration::from_secs(2));
    assert_eq!(rx.received().len(), before + 1, "delivered once after the restart");
    let left = raw(&paths.state_db).query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(left, 0);
}

#[test]
fn a_sign_in_from_a_new_address_reaches_the_phone_within_two_seconds_and_history_is_not_alerted() {
    let rx = Receiver::start(Reply::json(200, r#"{"ok":true}"#));
    let w = ws(&format!(
        "[[alert]]\nname = \"phone\"\nkind = \"telegram\"\nurl = \"{}\"\ntoken = \"{TG_TOKEN}\"\nchat_id = \"4242\"\n\
         events = [\"signin_new_address\"]\n",
        rx.url()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--config")
        .arg(&w.config)
        .args(["watch", "--seconds", "30"])
        .env("XDG_CONFIG_HOME", w.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first start learns the fixture's sign-ins (and remembers where it stopped).
    let state = w.path("state/warden.db");
    wait_for(StdDuration::from_secs(15), "the sign-in history learned", || {
        let c = rusqlite::Connection::open(&state).ok()?;
        c.query_row("SELECT value FROM cursors WHERE source = 'openalgo.login_attempts'", [], |r| r.get::<_, String>(0))
            .ok()
    });
    let db = w.path("openalgo_signins.db");
    let now = warden::time::now();
    // A known address signs in again: nothing for this channel.
    attempt(&db, "trader", "198.51.100.5", "Mozilla/5.0", true, "password", now);
    // A new one, with the broker step right after: one alert.
    let start = Instant::now();
    attempt(&db, "trader", "192.0.2.77", "curl/8.5.0\u{1b}[31m", true, "password", now);
    attempt(&db, "trader", "192.0.2.77", "curl/8.5.0\u{1b}[31m", true, "oauth", now);
    let got = rx.wait_for(1, StdDuration::from_secs(10));
    let took = got[0].at - start;
    let text_sent = got[0].json()["text"].as_str().unwrap().to_string();
    assert!(text_sent.starts_with("Warden: New sign-in address for trader\n"), "{text_sent}");
    assert!(text_sent.contains("192.0.2.77, an address never used before"), "{text_sent}");
    assert!(!text_sent.contains('\u{1b}'), "control characters are escaped: {text_sent:?}");
    assert!(took < StdDuration::from_secs(2), "the alert took {took:?}");
    std::thread::sleep(StdDuration::from_millis(1500));
    assert_eq!(rx.received().len(), 1, "one alert per sign-in, none for history or known addresses");
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let printed = text(&out);
    assert!(printed.contains("SIGN-IN    trader from 192.0.2.77, a NEW address for this user"), "{printed}");
    assert_no_secret("`warden watch`", &printed);
    eprintln!("new-address sign-in to the receiver: {took:?}");
}

#[test]
fn failed_sign_ins_become_an_attack_at_the_limit_and_a_protected_address_is_never_banned() {
    let w = ws("[login]\nauth_attempts = 5\ndeny_seconds = 3600\n");
    let (cfg, paths) = cfg_of(&w);
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    let _ = m.tick(warden::time::now());
    let db = paths.openalgo_db.clone().unwrap();
    let now = warden::time::now();
    for (i, user) in ["admin", "root", "trader", "admin", "test"].iter().enumerate() {
        attempt(
            &db,
            user,
            "203.0.113.50",
            "python-requests/2.31",
            false,
            "password",
            now - Duration::seconds(10 - i as i64),
        );
    }
    let ban = tick_until(&mut m, "the attack's ban", |n| matches!(n, Notice::Banned { .. }));
    let Notice::Banned { ip, rule, expires_at, at, count, .. } = ban else { unreachable!() };
    assert_eq!((ip.as_str(), rule, count), ("203.0.113.50", Rule::FailedLogin, 5));
    assert_eq!(expires_at.map(|e| (e - at).num_seconds()), Some(3600));
    let rows: i64 = raw(&paths.logs_db)
        .query_row("SELECT COUNT(*) FROM ip_bans WHERE ip_address = '203.0.113.50'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    for _ in 0..6 {
        attempt(&db, "trader", "10.1.2.3", "Mozilla/5.0", false, "password", now);
    }
    let p = tick_until(&mut m, "the protected notice", |n| matches!(n, Notice::Protected { .. }));
    assert!(matches!(p, Notice::Protected { ref ip, rule: Rule::FailedLogin, .. } if ip == "10.1.2.3"), "{p:?}");
    let rows: i64 = raw(&paths.logs_db)
        .query_row("SELECT COUNT(*) FROM ip_bans WHERE ip_address = '10.1.2.3'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
    // The incidents view agrees.
    let list = warden::logins::incidents(&cfg, &paths, 24, warden::time::now()).unwrap();
    let i = list.iter().find(|i| i.ip == "203.0.113.50").unwrap();
    assert!(i.attack && i.attempts == 5 && i.source == "openalgo");
    assert_eq!(i.usernames[0], "admin");
}

#[test]
fn an_older_schema_a_locked_database_and_a_non_utf8_user_agent_are_reported_and_nothing_is_lost() {
    // An older login_attempts without ip_address.
    let w = ws("");
    let db = w.path("openalgo_signins.db");
    std::fs::remove_file(&db).unwrap();
    raw(&db)
        .execute_batch(
            "CREATE TABLE login_attempts (id INTEGER PRIMARY KEY, username TEXT, status TEXT, timestamp DATETIME);",
        )
        .unwrap();
    let (cfg, paths) = cfg_of(&w);
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    let n = tick_until(
        &mut m,
        "the layout notice",
        |n| matches!(n, Notice::Source { name, .. } if name == "openalgo.db sign-ins"),
    );
    assert!(n.to_string().contains("has an older layout without the column ip_address"), "{n}");
    let out = warden(&w, &["signins"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("older layout without the column ip_address"), "{}", text(&out));

    // A locked database: reported, and the row is read once the lock goes.
    let w = ws("");
    let (cfg, paths) = cfg_of(&w);
    let db = paths.openalgo_db.clone().unwrap();
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    let _ = m.tick(warden::time::now());
    let holder = raw(&db);
    holder.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;").unwrap();
    holder
        .execute(
            "INSERT INTO login_attempts (username, ip_address, device_info, status, login_type, timestamp) \
             VALUES ('trader', '192.0.2.99', CAST(X'66FF6F' AS TEXT), 'success', 'password', ?1)",
            [ist(warden::time::now())],
        )
        .unwrap();
    holder.execute_batch("COMMIT").unwrap();
    let locked = tick_until(
        &mut m,
        "the locked notice",
        |n| matches!(n, Notice::Source { name, .. } if name == "openalgo.db sign-ins"),
    );
    assert!(locked.to_string().contains("is locked by another program"), "{locked}");
    drop(holder);
    let signed = tick_until(&mut m, "the sign-in after the lock", |n| matches!(n, Notice::SignIn(_)));
    let Notice::SignIn(s) = signed else { unreachable!() };
    assert_eq!(s.ip, "192.0.2.99");
    assert!(s.new_address);
    assert_eq!(s.user_agent.as_deref(), Some("f\u{fffd}o"), "bytes that are not UTF-8 are replaced, not fatal");
}

#[test]
fn the_daily_summary_goes_out_once_at_its_time_with_the_days_counts_and_not_again_after_a_restart() {
    let rx = Receiver::start(Reply::json(200, "{}"));
    let w = ws(&format!(
        "[[alert]]\nname = \"n\"\nkind = \"ntfy\"\nurl = \"{}\"\ntopic = \"t\"\nevents = [\"summary\"]\nsummary_at = \"00:00Z\"\n",
        rx.url()
    ));
    let (cfg, paths) = cfg_of(&w);
    // The last summary went out the day before yesterday's midnight: today's is due.
    let now = warden::time::now();
    let last = warden::alert::DailyAt::parse("00:00Z").unwrap().last_before(now) - Duration::days(1);
    warden::store::state::StateDb::open(&paths.state_db)
        .unwrap()
        .set_cursor("alert.summary.n", &warden::time::format_db_time(last))
        .unwrap();
    {
        let mut m = Monitor::open(&cfg, &paths).unwrap();
        scan(&paths.logs_db, "203.0.113.60", warden::time::now());
        tick_until(&mut m, "the ban", |n| matches!(n, Notice::Banned { .. }));
        let got = rx.wait_for(1, StdDuration::from_secs(10));
        let b = got[0].json();
        assert_eq!(b["title"], "Warden: Daily summary");
        let text = b["message"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("Since {}: 1 ban, 0 addresses close to a ban", warden::time::rfc3339(last))),
            "{text}"
        );
        for _ in 0..5 {
            let _ = m.tick(warden::time::now());
        }
    }
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    let _ = m.tick(warden::time::now());
    std::thread::sleep(StdDuration::from_secs(1));
    assert_eq!(rx.received().len(), 1, "one summary a day, restarts included; bans are not this channel's event");
}

/// A Fernet token of `plain` under `key`, as Python's `cryptography` makes one.
fn fernet(key: &[u8; 32], plain: &str) -> String {
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    use base64::Engine;
    let iv = [7u8; 16];
    let ct = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key[16..], &iv)
        .unwrap()
        .encrypt_padded_vec_mut::<aes::cipher::block_padding::Pkcs7>(plain.as_bytes());
    let mut body = vec![0x80];
    body.extend_from_slice(&1_700_000_000u64.to_be_bytes());
    body.extend_from_slice(&iv);
    body.extend_from_slice(&ct);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key[..16]).unwrap();
    mac.update(&body);
    body.extend_from_slice(&mac.finalize().into_bytes());
    base64::engine::general_purpose::URL_SAFE.encode(body)
}

#[test]
fn an_email_channel_logs_in_and_sends_plain_text_and_a_refused_login_is_not_retried() {
    use crate::common::smtp::SmtpReceiver;
    let smtp = SmtpReceiver::start();
    let w = ws(&format!(
        "[[alert]]\nname = \"mail\"\nkind = \"email\"\nurl = \"smtp://{}\"\nusername = \"warden@example.com\"\n\
         token = \"{OA_KEY}\"\nfrom = \"Warden <warden@example.com>\"\nto = [\"trader@example.com\"]\n",
        smtp.addr
    ));
    let out = warden(&w, &["alert", "test", "mail"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("mail: delivered (the mail server)"), "{shown}");
    let s = &smtp.sessions()[0];
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0warden@example.com\0{OA_KEY}"));
    assert!(s.commands.iter().any(|c| c == &format!("AUTH PLAIN {plain}")), "{:?}", s.commands);
    assert!(s.commands.iter().any(|c| c == "MAIL FROM:<warden@example.com>"), "{:?}", s.commands);
    assert!(s.commands.iter().any(|c| c == "RCPT TO:<trader@example.com>"), "{:?}", s.commands);
    assert!(s.data.contains("Subject: Warden: test of the channel 'mail'"), "{}", s.data);
    assert!(s.data.contains("Content-Type: text/plain"), "{}", s.data);
    assert!(s.data.contains("If you can read this, Warden's alerts reach you here."), "{}", s.data);
    assert_no_secret("an e-mail test", &shown);

    *smtp.auth_reply.lock().unwrap() = "535 5.7.8 Authentication credentials invalid".into();
    let out = warden(&w, &["alert", "test", "mail"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(shown.contains("mail: NOT delivered: the mail server 127.0.0.1 said:"), "{shown}");
    assert!(shown.contains("Check the user and password."), "{shown}");
    assert_no_secret("a refused e-mail", &shown);
    *smtp.auth_reply.lock().unwrap() = "235 ok".into();
    *smtp.mail_reply.lock().unwrap() = "451 4.3.0 Try again later".into();
    let shown = text(&warden(&w, &["alert", "test", "mail"]));
    assert!(shown.contains("mail: NOT delivered: the mail server 127.0.0.1 said: transient error (451)"), "{shown}");
}

#[test]
fn an_email_channel_can_use_openalgos_own_smtp_settings_and_password() {
    use crate::common::smtp::SmtpReceiver;
    let smtp = SmtpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    let oa = copy_fixture("openalgo_settings_only.db", &dir.path().join("db"));
    let pepper = "a-pepper-of-at-least-32-characters-0123456789";
    std::fs::write(dir.path().join(".env"), format!("API_KEY_PEPPER = '{pepper}'\n")).unwrap();
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pepper.as_bytes(), b"smtp-openalgo-salt", 100_000, &mut key);
    let token = fernet(&key, "the-smtp-password");
    raw(&oa)
        .execute(
            "UPDATE settings SET smtp_server = '127.0.0.1', smtp_port = ?1, smtp_username = 'ops@example.com', \
             smtp_password_encrypted = ?2, smtp_use_tls = 1, smtp_from_email = 'ops@example.com', smtp_helo_hostname = 'oa.example.com'",
            rusqlite::params![smtp.addr.port(), token],
        )
        .unwrap();
    let mut a = warden::alert::AlertConfig::new("mail", warden::alert::Kind::Email);
    a.openalgo_smtp = true;
    a.to = vec!["trader@example.com".into()];
    a.openalgo_db = Some(oa);
    assert_eq!(a.validate(), Ok(()));
    // smtp_use_tls with a relay on loopback: STARTTLS when offered (this one does not).
    warden::alert::courier::test(&a, warden::time::now()).unwrap();
    let s = &smtp.sessions()[0];
    assert_eq!(s.commands[0], "EHLO oa.example.com");
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD.encode("\0ops@example.com\0the-smtp-password");
    assert!(s.commands.iter().any(|c| c == &format!("AUTH PLAIN {plain}")), "{:?}", s.commands);
    assert!(s.commands.iter().any(|c| c == "MAIL FROM:<ops@example.com>"), "{:?}", s.commands);
}
