//! The desktop shell on Tauri's mock runtime (no display): each command's JSON shape and errors,
//! the monitor's notices reaching the UI as events, and the app's attack surface.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};
use warden::config::{Config, Paths};
use warden_desktop::events::NOTICE_EVENT;
use warden_desktop::Launch;

struct Fixture {
    _dir: tempfile::TempDir,
    logs_db: std::path::PathBuf,
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
}

fn start() -> Fixture {
    start_with(false)
}

/// With `signins`, openalgo.db is a copy of the fixture OpenAlgo's own sign-in flows wrote (its
/// successful sign-ins make their addresses the trader's own, never banned).
fn start_with(signins: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let logs_db = dir.path().join("logs.db");
    warden::store::logs_db::create_openalgo_schema(&logs_db).unwrap();
    // OpenAlgo's sign-ins, as its own code wrote them.
    let openalgo_db = signins.then(|| {
        let db = dir.path().join("openalgo.db");
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/fixtures/openalgo_signins.db"),
            &db,
        )
        .unwrap();
        db
    });
    let paths =
        Paths { logs_db: logs_db.clone(), openalgo_db, state_db: dir.path().join("state.db"), access_logs: Vec::new() };
    let cfg = Config { poll_seconds: 1, ..Config::default() };
    let launch = Launch::on(cfg, paths, Some(dir.path().join("config.toml")));
    let mut app = warden_desktop::run_app(mock_builder(), launch).build(mock_context(noop_assets())).unwrap();
    // Tauri runs the setup hook (which starts the monitor) on the event loop's first turn. One
    // turn, not a loop, so the busy-loop that deprecated `run_iteration` warns of cannot happen.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Fixture { _dir: dir, logs_db, app, window }
}

fn call(f: &Fixture, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        &f.window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::from(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

#[test]
fn ban_command_writes_the_row_and_bans_lists_it() {
    let f = start();
    let out = call(&f, "ban_ip", json!({"ip": "203.0.113.7", "reason": "probing", "duration": "48h"})).unwrap();
    assert_eq!(out["ip"], "203.0.113.7");
    assert_eq!(out["permanent"], false);
    let bans = call(&f, "bans", json!({})).unwrap();
    assert_eq!(bans[0]["ip"], "203.0.113.7");
    assert_eq!(bans[0]["created_by"], "warden:manual");
    let n: i64 = rusqlite::Connection::open(&f.logs_db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM ip_bans WHERE ip_address = '203.0.113.7'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(call(&f, "unban_ip", json!({"ip": "203.0.113.7"})).unwrap(), json!(1));
    assert_eq!(call(&f, "bans", json!({})).unwrap(), json!([]));
}

#[test]
fn commands_reject_with_a_kind_and_words() {
    let f = start();
    let e = call(&f, "ban_ip", json!({"ip": "127.0.0.1", "reason": "", "duration": "24h"})).unwrap_err();
    assert_eq!(e["kind"], "protected", "{e}");
    assert!(e["message"].as_str().unwrap().contains("127.0.0.1"), "{e}");
    let e = call(&f, "ban_ip", json!({"ip": "x", "reason": "", "duration": "24h"})).unwrap_err();
    assert_eq!(e["kind"], "invalid_input");
    let mut s = call(&f, "settings", json!({})).unwrap();
    s["near_fraction"] = json!(0);
    let e = call(&f, "save_settings", json!({"settings": s})).unwrap_err();
    assert_eq!(e["kind"], "invalid_settings");
    assert!(e["fields"]["near_fraction"].is_string(), "{e}");
}

#[test]
fn every_view_answers_in_the_shape_the_ui_expects() {
    let f = start();
    let o = call(&f, "overview", json!({})).unwrap();
    for k in ["status", "sources", "warnings", "per_minute", "top", "not_found_threshold", "demo"] {
        assert!(o.get(k).is_some(), "overview lacks {k}: {o}");
    }
    assert_eq!(o["status"]["total_bans"], 0);
    assert!(call(&f, "trackers", json!({})).unwrap().is_array());
    let filter = json!({"filter": {"ip": null, "status": null, "text": null, "limit": 100}});
    let page = call(&f, "traffic", filter).unwrap();
    assert!(page["rows"].is_array() && page["older"].is_null(), "{page}");
    assert_eq!(call(&f, "ip_detail", json!({"ip": "198.51.100.1"})).unwrap()["ip"], "198.51.100.1");
    assert!(call(&f, "audit", json!({"limit": 10})).unwrap().is_array());
    let s = call(&f, "settings", json!({})).unwrap();
    assert_eq!(s["not_found_threshold"], 20);
    let saved = call(&f, "save_settings", json!({"settings": s})).unwrap();
    assert_eq!(saved["not_found_threshold"], 20);
    let p = call(&f, "host_preview", json!({"host": "198.51.100.1"})).unwrap();
    assert_eq!(p["candidates"][0]["ip"], "198.51.100.1");
    let c = call(&f, "checklist", json!({})).unwrap();
    assert!(c["findings"].as_array().is_some_and(|f| f.len() >= 20), "{c}");
    assert!(c["summary"]["fail"].is_number(), "{c}");
    // Access policy: an entry added from the app is listed with created_by "gui"; a deny over a
    // private range is refused as protected; allow-only mode is refused until something is allowed.
    let refused = call(&f, "set_allow_only", json!({"on": true})).unwrap_err();
    assert_eq!(refused["kind"], "refused", "{refused}");
    let p = call(&f, "add_policy", json!({"policy": "deny", "value": "203.0.113.77/24", "ttl": "30m", "reason": "r"}))
        .unwrap();
    assert_eq!(
        (p["value"].as_str(), p["ttl_seconds"].as_u64(), p["created_by"].as_str()),
        (Some("203.0.113.0/24"), Some(1800), Some("gui"))
    );
    let e =
        call(&f, "add_policy", json!({"policy": "deny", "value": "10.0.0.0/8", "ttl": "", "reason": ""})).unwrap_err();
    assert_eq!(e["kind"], "protected", "{e}");
    let e = call(&f, "add_policy", json!({"policy": "deny", "value": "203.0.113.5", "ttl": "5y", "reason": ""}))
        .unwrap_err();
    assert_eq!(e["kind"], "invalid_input", "{e}");
    let a = call(&f, "access", json!({})).unwrap();
    assert_eq!(a["policies"][0]["value"], "203.0.113.0/24", "{a}");
    assert_eq!(a["allow_only"], false);
    call(&f, "add_policy", json!({"policy": "allow", "value": "192.0.2.7", "ttl": "", "reason": ""})).unwrap();
    assert_eq!(call(&f, "set_allow_only", json!({"on": true})).unwrap(), true);
    assert_eq!(call(&f, "overview", json!({})).unwrap()["allow_only"], true, "the banner's flag");
    call(&f, "remove_policy", json!({"value": "203.0.113.0/24"})).unwrap();
    assert_eq!(call(&f, "access", json!({})).unwrap()["policies"].as_array().unwrap().len(), 1);
}

#[test]
fn a_ban_by_the_monitor_reaches_the_ui_as_an_event() {
    let f = start();
    use tauri::Manager;
    // The monitor starts on a thread of its own, so that the window does not wait for its files.
    let started = std::time::Instant::now();
    while !f.app.state::<warden_desktop::Shell>().monitor_running() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the monitor started with the app");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (tx, rx) = mpsc::channel::<Value>();
    f.app.listen(NOTICE_EVENT, move |e| {
        let _ = tx.send(serde_json::from_str(e.payload()).unwrap());
    });
    rusqlite::Connection::open(&f.logs_db)
        .unwrap()
        .execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) \
             VALUES ('203.0.113.9', 20, datetime('now'), datetime('now'), '[]')",
            [],
        )
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let n = rx.recv_timeout(left).unwrap_or_else(|e| {
            let bans: i64 = rusqlite::Connection::open(&f.logs_db)
                .unwrap()
                .query_row("SELECT COUNT(*) FROM ip_bans", [], |r| r.get(0))
                .unwrap();
            panic!("no banned notice within 20 s ({e}); ip_bans has {bans} row(s)")
        });
        if n["kind"] == "banned" {
            assert_eq!(n["ip"], "203.0.113.9");
            assert_eq!(n["rule"], "404");
            break;
        }
    }
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The app's commands, as build.rs lists them.
fn build_rs_commands() -> Vec<String> {
    let b = read("build.rs");
    let list = b.split("const COMMANDS: &[&str] = &[").nth(1).unwrap().split("];").next().unwrap();
    list.split(',').map(|s| s.trim().trim_matches('"').to_string()).filter(|s| !s.is_empty()).collect()
}

#[test]
fn the_capability_grants_exactly_the_apps_commands_to_the_main_window() {
    let cap: Value = serde_json::from_str(&read("capabilities/main.json")).unwrap();
    assert_eq!(cap["windows"], json!(["main"]), "main window only");
    let mut granted: Vec<String> =
        cap["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    granted.sort();
    let mut expected: Vec<String> =
        build_rs_commands().iter().map(|c| format!("allow-{}", c.replace('_', "-"))).collect();
    expected.push("core:event:allow-listen".into());
    expected.push("core:event:allow-unlisten".into());
    expected.sort();
    assert_eq!(granted, expected, "a capability was widened or a command is not granted");
    let lib = read("src/lib.rs");
    for c in build_rs_commands() {
        assert!(lib.contains(&format!("commands::{c},")), "{c} is in build.rs but not registered");
    }
    let capabilities = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities")).unwrap().count();
    assert_eq!(capabilities, 1, "one capability file");
}

#[test]
fn the_csp_stays_strict_and_the_globals_stay_off() {
    let conf: Value = serde_json::from_str(&read("tauri.conf.json")).unwrap();
    let sec = &conf["app"]["security"];
    assert_eq!(sec["freezePrototype"], true);
    assert_eq!(conf["app"]["withGlobalTauri"], false);
    assert!(conf["build"].get("devUrl").is_none(), "no dev server in the shipped config");
    let csp = sec["csp"].as_object().unwrap();
    let expected = json!({
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "ipc: http://ipc.localhost",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'"
    });
    assert_eq!(&Value::Object(csp.clone()), &expected, "the CSP changed: widening it needs a reviewed test change");
    assert!(sec.get("devCsp").is_none() && sec.get("dangerousDisableAssetCspModification").is_none());
}

/// Every field name declared in `ui/src/ipc.ts` (`name:` or `name?:` at the start of a line).
fn ipc_ts_fields() -> std::collections::HashSet<String> {
    read("../ui/src/ipc.ts")
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let name: String = l.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let rest = &l[name.len()..];
            (!name.is_empty() && (rest.starts_with(':') || rest.starts_with("?:"))).then_some(name)
        })
        .collect()
}

fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[test]
fn every_field_rust_sends_is_declared_in_ipc_ts() {
    let f = start_with(true);
    call(&f, "ban_ip", json!({"ip": "203.0.113.7", "reason": "r", "duration": "24h"})).unwrap();
    rusqlite::Connection::open(&f.logs_db)
        .unwrap()
        .execute_batch(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) \
               VALUES ('198.51.100.4', 3, datetime('now'), datetime('now'), '[\"/x\"]');
             INSERT INTO invalid_api_key_tracker (ip_address, attempt_count, first_attempt_at, last_attempt_at, api_keys_tried) \
               VALUES ('198.51.100.5', 3, datetime('now'), datetime('now'), '[\"abc\"]');
             INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) \
               VALUES (datetime('now'), '198.51.100.4', 'GET', '/x', 404, 1.0, 'h');",
        )
        .unwrap();
    let answers = [
        call(&f, "overview", json!({})),
        call(&f, "bans", json!({})),
        call(&f, "trackers", json!({})),
        // A one-row page of a longer history: the answer carries the cursor of the next page.
        call(&f, "traffic", json!({"filter": {"ip": null, "status": null, "text": null, "limit": 1}})),
        call(&f, "ip_detail", json!({"ip": "203.0.113.7"})),
        call(&f, "host_preview", json!({"host": "198.51.100.4"})),
        call(&f, "settings", json!({})),
        call(&f, "audit", json!({"limit": 10})),
        call(&f, "checklist", json!({})),
        call(&f, "add_policy", json!({"policy": "deny", "value": "198.51.100.0/24", "ttl": "24h", "reason": "r"})),
        call(&f, "add_policy", json!({"policy": "allow", "value": "192.0.2.7", "ttl": "", "reason": ""})),
        call(&f, "access", json!({})),
        call(&f, "allow_only_plan", json!({})),
        call(&f, "set_allow_only", json!({"on": true})),
        call(&f, "add_policy", json!({"policy": "deny", "value": "10.0.0.0/8", "ttl": "", "reason": ""})),
        call(&f, "set_allow_only", json!({"on": false})),
        call(&f, "ban_ip", json!({"ip": "203.0.113.8", "reason": "r", "duration": "48h"})),
        call(
            &f,
            "ban_host",
            json!({"host": "h", "reason": "", "duration": "24h", "ips": ["203.0.113.9", "127.0.0.1"]}),
        ),
        call(&f, "ban_ip", json!({"ip": "x", "reason": "", "duration": "24h"})),
        call(&f, "test_crowdsec", json!({"crowdsec": {"enabled": false}})),
        call(&f, "signins", json!({"limit": 10})),
        call(&f, "incidents", json!({"hours": 2000})),
        call(
            &f,
            "test_alert",
            json!({"channel": {"name": "phone", "kind": "telegram", "url": "http://127.0.0.1:1", "token": "1:x", "chat_id": "1", "events": ["banned"]}}),
        ),
    ];
    let n = answers.len();
    assert!(answers[n - 3].is_ok() && answers[n - 2].is_ok(), "sign-ins and incidents answer: {:?}", &answers[n - 3..]);
    assert!(answers[n - 1].is_err(), "a channel that cannot be reached fails its test");
    let declared = ipc_ts_fields();
    let mut sent = Vec::new();
    for a in &answers {
        keys(a.as_ref().unwrap_or_else(|e| e), &mut sent);
    }
    assert!(sent.len() > 60, "the answers carry data: {sent:?}");
    let missing: std::collections::BTreeSet<&String> = sent.iter().filter(|k| !declared.contains(*k)).collect();
    assert!(missing.is_empty(), "fields Rust sends but ui/src/ipc.ts does not declare: {missing:?}");
}
