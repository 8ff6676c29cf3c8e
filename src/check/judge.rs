//! The checklist's judgements: pure functions from [`Facts`] to [`Finding`]s.

use std::net::IpAddr;

use super::env::EnvFile;
use super::facts::{Fact, Facts, FileFacts};
use super::net::Listener;
use super::nginx::{Directive, NginxConf};
use super::{mask, one_line, Finding, Report, Status};

/// OpenAlgo's sample placeholders and the values its `.sample.env` published over the years
/// (APP_KEY, API_KEY_PEPPER): a server using one has secrets that everybody knows.
const KNOWN_SECRETS: &[&str] = &[
    "OPENALGO_PLACEHOLDER_APP_KEY_REGENERATE_BEFORE_USE",
    "OPENALGO_PLACEHOLDER_API_KEY_PEPPER_REGENERATE_BEFORE_USE",
    "3daa0403ce2501ee7432b75bf100048e3cf510d63d2754f952e93d88bf07ea84",
    "a25d94718479b170c16278e321ea6c989358bf499a658fd20c90033cef8ce772",
    "change_this_to_a_random_string_during_setup_e8a4b3f9d2",
    "335lkjlkj532fff67jk4354",
    "335l52jlkj532fff67jk4354",
    "3d5l52jlk232f8fd32ffdg67jk4354",
    "dfsd98sdf98dsfjk34ghuu85df",
    "dfsd98tyhgfrtk34ghuu85df",
    "<app_key>",
];

/// OpenAlgo's own rate limits (its `.sample.env`), as (key, requests, seconds).
const DEFAULT_LIMITS: &[(&str, u64, u64)] = &[
    ("LOGIN_RATE_LIMIT_MIN", 5, 60),
    ("LOGIN_RATE_LIMIT_HOUR", 25, 3600),
    ("RESET_RATE_LIMIT", 15, 3600),
    ("API_RATE_LIMIT", 50, 1),
    ("ORDER_RATE_LIMIT", 10, 1),
    ("SMART_ORDER_RATE_LIMIT", 10, 1),
    ("WEBHOOK_RATE_LIMIT", 100, 60),
    ("STRATEGY_RATE_LIMIT", 200, 60),
];

/// Judges every fact.
pub fn judge(f: &Facts) -> Report {
    let env_path = f.openalgo_dir.as_ref().map_or_else(|| ".env".to_string(), |d| d.join(".env").display().to_string());
    let nginx = f.nginx.as_ref().map(|(c, _)| c);
    let fronted = nginx.ok().map(|c| fronts_openalgo(c, f.env.as_ref().ok()));
    let mut out = Vec::new();
    out.extend(env_checks(&f.env, &env_path, fronted, f.in_docker));
    out.push(env_file_mode(&f.env_file));
    out.push(db_mode(&f.db_files));
    out.push(keys_mode(&f.keys_dir));
    out.extend(nginx_checks(&f.nginx, f.env.as_ref().ok(), &f.readable));
    out.push(exposed_ports(&f.listeners, f.env.as_ref().ok()));
    out.push(auto_ban(&f.settings));
    Report::new(out)
}

fn finding(id: &'static str, title: &'static str, status: Status, why: impl Into<String>) -> Finding {
    Finding { id, title, status, why: why.into(), fix: String::new(), evidence: None, reason: None }
}

impl Finding {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }

    fn seen(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = Some(one_line(&evidence.into(), 300));
        self
    }

    fn unknown(id: &'static str, title: &'static str, why: &str, reason: &str) -> Self {
        Finding {
            id,
            title,
            status: Status::Unknown,
            why: why.into(),
            fix: String::new(),
            evidence: None,
            reason: Some(one_line(reason, 300)),
        }
    }
}

/// `KEY = 'value'` as found on its line, for evidence (never for a secret).
fn env_seen(env: &EnvFile, path: &str, key: &str) -> String {
    match (env.get(key), env.line(key)) {
        (Some(v), Some(line)) => format!("{path}:{line}: {key} = '{v}'"),
        _ => format!("{key} is not set in {path}"),
    }
}

fn is_loopback_host(h: &str) -> bool {
    let h = h.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// OpenAlgo's own `TRUE`-only flags (CSRF, CSP, CORS, ngrok): anything but `TRUE` is off.
fn strict_true(env: &EnvFile, key: &str) -> Option<bool> {
    env.get(key).map(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// All `.env` checks. `fronted`: whether nginx proxies to OpenAlgo (`None` when nginx's
/// configuration could not be read).
pub fn env_checks(env: &Fact<EnvFile>, path: &str, fronted: Option<bool>, in_docker: bool) -> Vec<Finding> {
    const IDS: &[(&str, &str)] = &[
        ("env.flask_debug", "Debug mode"),
        ("env.app_key", "APP_KEY"),
        ("env.api_key_pepper", "API_KEY_PEPPER"),
        ("env.bind_address", "What OpenAlgo listens on"),
        ("env.trust_proxy_headers", "The address OpenAlgo trusts"),
        ("env.host_server_https", "HTTPS in HOST_SERVER"),
        ("env.cors", "Cross-origin requests (CORS)"),
        ("env.csp", "Content-Security-Policy"),
        ("env.csrf", "CSRF protection"),
        ("env.session_expiry", "Daily sign-out"),
        ("env.ngrok", "ngrok tunnel"),
        ("env.mcp", "AI assistants (MCP)"),
        ("env.rate_limits", "Rate limits"),
    ];
    let env = match env {
        Ok(e) => e,
        Err(reason) => {
            return IDS
                .iter()
                .map(|(id, title)| Finding::unknown(id, title, "OpenAlgo's settings are in its .env file.", reason))
                .collect();
        }
    };
    vec![
        flask_debug(env, path),
        secret(env, path, "env.app_key", "APP_KEY"),
        secret(env, path, "env.api_key_pepper", "API_KEY_PEPPER"),
        bind_address(env, path, fronted, in_docker),
        trust_proxy(env, path, fronted),
        host_server(env, path),
        cors(env, path),
        csp(env, path),
        csrf(env, path),
        session_expiry(env, path),
        ngrok(env, path),
        mcp(env, path),
        rate_limits(env, path),
    ]
}

fn flask_debug(env: &EnvFile, path: &str) -> Finding {
    let (id, title) = ("env.flask_debug", "Debug mode");
    let on =
        env.get("FLASK_DEBUG").is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "t"));
    if on {
        finding(
            id,
            title,
            Status::Fail,
            "Debug mode shows the Werkzeug debugger, which lets anyone who reaches it run commands on your server.",
        )
        .fix(format!("In {path} set FLASK_DEBUG = 'False', then restart OpenAlgo (sudo systemctl restart openalgo)."))
        .seen(env_seen(env, path, "FLASK_DEBUG"))
    } else {
        finding(id, title, Status::Pass, "Debug mode is off.").seen(env_seen(env, path, "FLASK_DEBUG"))
    }
}

fn secret(env: &EnvFile, path: &str, id: &'static str, key: &'static str) -> Finding {
    let title = if key == "APP_KEY" { "APP_KEY" } else { "API_KEY_PEPPER" };
    let why_kind = if key == "APP_KEY" {
        "APP_KEY signs your sign-in sessions: whoever knows it can forge one."
    } else {
        "API_KEY_PEPPER protects your password, your API keys and the keys that encrypt your broker and Telegram tokens."
    };
    let fix = if key == "APP_KEY" {
        format!(
            "Make a new one with: python3 -c \"import secrets; print(secrets.token_hex(32))\" and put it in {path} as \
             APP_KEY = '<the new value>', then restart OpenAlgo (everyone signs in again)."
        )
    } else {
        format!(
            "Rotate it with OpenAlgo's own upgrade/rotate_pepper.py, which re-encrypts what the old pepper protects. \
             Only changing the line in {path} would lock out every password and API key."
        )
    };
    let line = env.line(key).map_or_else(String::new, |l| format!("{path}:{l}: "));
    match env.get(key) {
        None => finding(id, title, Status::Fail, format!("{key} is not set. {why_kind}"))
            .fix(fix)
            .seen(format!("{key} is not set in {path}")),
        Some(v) if KNOWN_SECRETS.iter().any(|k| k.eq_ignore_ascii_case(v.trim())) => finding(
            id,
            title,
            Status::Fail,
            format!("{key} is a value published in OpenAlgo's sample files, so anybody can know it. {why_kind}"),
        )
        .fix(fix)
        .seen(format!("{line}{key} = {} (a published value)", mask(v))),
        Some(v) if v.chars().count() < 32 => finding(
            id,
            title,
            Status::Fail,
            format!(
                "{key} is shorter than 32 characters, too short to be secret (OpenAlgo itself refuses it). {why_kind}"
            ),
        )
        .fix(fix)
        .seen(format!("{line}{key} = {}", mask(v))),
        Some(v) if distinct(v) < 8 => finding(
            id,
            title,
            Status::Fail,
            format!("{key} repeats a few characters over and over, so it is easy to guess. {why_kind}"),
        )
        .fix(fix)
        .seen(format!("{line}{key} = {}", mask(v))),
        Some(v) => finding(id, title, Status::Pass, format!("{key} is long and not a published value."))
            .seen(format!("{line}{key} = {}", mask(v))),
    }
}

fn distinct(s: &str) -> usize {
    let mut c: Vec<char> = s.chars().collect();
    c.sort_unstable();
    c.dedup();
    c.len()
}

fn bind_address(env: &EnvFile, path: &str, fronted: Option<bool>, in_docker: bool) -> Finding {
    let (id, title) = ("env.bind_address", "What OpenAlgo listens on");
    let hosts =
        [("FLASK_HOST_IP", "the app"), ("WEBSOCKET_HOST", "its WebSocket"), ("ZMQ_HOST", "its tick feed (ZMQ)")];
    let open: Vec<(&str, &str, &str)> = hosts
        .iter()
        .filter_map(|(k, what)| {
            env.get(k).filter(|v| !v.trim().is_empty() && !is_loopback_host(v)).map(|v| (*k, *what, v))
        })
        .collect();
    let zmq_open = open.iter().any(|(k, _, _)| *k == "ZMQ_HOST");
    let seen = open.iter().map(|(k, _, v)| format!("{k} = '{v}'")).collect::<Vec<_>>().join(", ");
    if open.is_empty() {
        let shown = hosts.iter().map(|(k, _)| env_seen(env, path, k)).collect::<Vec<_>>().join("; ");
        return finding(
            id,
            title,
            Status::Pass,
            "The app, its WebSocket and its tick feed listen on this machine only.",
        )
        .seen(shown);
    }
    let fix = format!(
        "In {path} set {} to '127.0.0.1', then restart OpenAlgo.",
        open.iter().map(|(k, _, _)| *k).collect::<Vec<_>>().join(", ")
    );
    if zmq_open {
        return finding(
            id,
            title,
            Status::Fail,
            "The tick feed (ZMQ) has no password: anyone who reaches it can read your market data or inject fake ticks.",
        )
        .fix(fix)
        .seen(seen);
    }
    if in_docker {
        return finding(
            id,
            title,
            Status::Pass,
            "Inside a container OpenAlgo must listen on every interface; the ports Docker publishes decide what is \
             exposed (see net.exposed_ports).",
        )
        .seen(seen);
    }
    match fronted {
        Some(true) => finding(
            id,
            title,
            Status::Fail,
            format!(
                "nginx fronts OpenAlgo, but {} also listen{} on every interface, past nginx, its TLS and Warden's bans.",
                open.iter().map(|(_, w, _)| *w).collect::<Vec<_>>().join(" and "),
                if open.len() == 1 { "s" } else { "" }
            ),
        )
        .fix(fix)
        .seen(seen),
        _ => finding(
            id,
            title,
            Status::Warn,
            "OpenAlgo listens beyond this machine. Unless that is deliberate, put nginx in front and listen on 127.0.0.1 only.",
        )
        .fix(fix)
        .seen(seen),
    }
}

fn trust_proxy(env: &EnvFile, path: &str, fronted: Option<bool>) -> Finding {
    let (id, title) = ("env.trust_proxy_headers", "The address OpenAlgo trusts");
    let on = env.flag("TRUST_PROXY_HEADERS").unwrap_or(false);
    let seen = env_seen(env, path, "TRUST_PROXY_HEADERS");
    match (fronted, on) {
        (Some(true), true) => {
            finding(id, title, Status::Pass, "Behind nginx, OpenAlgo takes the client's address from nginx's headers.")
                .seen(seen)
        }
        (Some(true), false) => finding(
            id,
            title,
            Status::Fail,
            "Behind nginx with TRUST_PROXY_HEADERS off, every client looks like nginx to OpenAlgo: its bans and \
             login limits hit everybody at once, you included.",
        )
        .fix(format!("In {path} set TRUST_PROXY_HEADERS = 'TRUE', then restart OpenAlgo."))
        .seen(seen),
        (Some(false), true) => finding(
            id,
            title,
            Status::Fail,
            "Nothing in front of OpenAlgo sets the address headers, yet OpenAlgo trusts them: any client can choose \
             its own address and walk past every ban.",
        )
        .fix(format!("In {path} set TRUST_PROXY_HEADERS = 'FALSE' (or put nginx in front), then restart OpenAlgo."))
        .seen(seen),
        (Some(false), false) => {
            finding(id, title, Status::Pass, "Nothing fronts OpenAlgo, and it trusts no address header.").seen(seen)
        }
        (None, _) => finding(
            id,
            title,
            Status::Warn,
            "Could not tell whether nginx fronts OpenAlgo (its configuration was not readable): TRUST_PROXY_HEADERS \
             must be TRUE behind nginx and FALSE without it.",
        )
        .seen(seen),
    }
}

fn host_server(env: &EnvFile, path: &str) -> Finding {
    let (id, title) = ("env.host_server_https", "HTTPS in HOST_SERVER");
    let seen = env_seen(env, path, "HOST_SERVER");
    match env.get("HOST_SERVER").map(str::trim) {
        Some(v) if v.to_ascii_lowercase().starts_with("https://") => {
            finding(id, title, Status::Pass, "OpenAlgo knows it is served over HTTPS, so its cookies are marked Secure.").seen(seen)
        }
        Some(v) if v.to_ascii_lowercase().starts_with("http://") && is_loopback_host(host_of(v)) => finding(
            id,
            title,
            Status::Warn,
            "HOST_SERVER is a local http:// address: fine on your own computer, but on a server your sign-in cookie is \
             not marked Secure.",
        )
        .fix(format!("In {path} set HOST_SERVER = 'https://<your domain>', then restart OpenAlgo."))
        .seen(seen),
        _ => finding(
            id,
            title,
            Status::Fail,
            "HOST_SERVER is not an https:// address, so OpenAlgo sends your sign-in cookie without the Secure flag: \
             one plain-HTTP request can leak it.",
        )
        .fix(format!("In {path} set HOST_SERVER = 'https://<your domain>', then restart OpenAlgo."))
        .seen(seen),
    }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn cors(env: &EnvFile, path: &str) -> Finding {
    let (id, title) = ("env.cors", "Cross-origin requests (CORS)");
    if strict_true(env, "CORS_ENABLED") != Some(true) {
        return finding(id, title, Status::Pass, "CORS is off: other websites get no extra access.").seen(env_seen(
            env,
            path,
            "CORS_ENABLED",
        ));
    }
    let origins = env.get("CORS_ALLOWED_ORIGINS").unwrap_or("");
    let wildcard = origins.split(',').any(|o| o.trim() == "*" || o.trim().contains("*."));
    let seen = env_seen(env, path, "CORS_ALLOWED_ORIGINS");
    if wildcard {
        return finding(
            id,
            title,
            Status::Fail,
            "CORS allows any website (a wildcard): a page you visit elsewhere can call your OpenAlgo from your browser.",
        )
        .fix(format!("In {path} set CORS_ALLOWED_ORIGINS to your own address only, e.g. 'https://<your domain>'."))
        .seen(seen);
    }
    let plain: Vec<&str> = origins
        .split(',')
        .map(str::trim)
        .filter(|o| o.starts_with("http://") && !is_loopback_host(host_of(o)))
        .collect();
    if !plain.is_empty() {
        return finding(
            id,
            title,
            Status::Warn,
            "CORS allows a plain http:// website, which anyone on its network path can impersonate.",
        )
        .fix(format!("In {path} list only https:// origins in CORS_ALLOWED_ORIGINS."))
        .seen(seen);
    }
    finding(id, title, Status::Pass, "CORS allows only the origins you listed, with no wildcard.").seen(seen)
}

fn csp(env: &EnvFile, path: &str) -> Finding {
    let (id, title) = ("env.csp", "Content-Security-Policy");
    if env.get("CSP_ENABLED").is_some() && strict_true(env, "CSP_ENABLED") != Some(true) {
        return finding(
            id,
            title,
            Status::Warn,
            "OpenAlgo's Content-Security-Policy is off (only the exact word TRUE turns it on), so a script injected into a page runs freely.",
        )
        .fix(format!("In {path} set CSP_ENABLED = 'TRUE', then restart OpenAlgo."))
        .seen(env_seen(env, path, "CSP_ENABLED"));
    }
    if strict_true(env, "CSP_REPORT_ONLY") == Some(true) {
        return finding(
            id,
            title,
            Status::Warn,
            "The Content-Security-Policy only reports what it would block; it blocks nothing.",
        )
        .fix(format!("In {path} set CSP_REPORT_ONLY = 'FALSE', then restart OpenAlgo."))
        .seen(env_seen(env, path, "CSP_REPORT_ONLY"));
    }
    let script = env.get("CSP_SCRIPT_SRC").unwrap_or("");
    if script.contains("'unsafe-eval'") || script.split_whitespace().any(|s| s == "*") {
        return finding(
            id,
            title,
            Status::Warn,
            "The policy lets pages run scripts from anywhere or from strings ('unsafe-eval' or *).",
        )
        .fix(format!("In {path} remove 'unsafe-eval' and * from CSP_SCRIPT_SRC."))
        .seen(env_seen(env, path, "CSP_SCRIPT_SRC"));
    }
    finding(id, title, Status::Pass, "OpenAlgo sends a Content-Security-Policy.").seen(env_seen(
        env,
        path,
        "CSP_ENABLED",
    ))
}

fn csrf(env: &EnvFile, path: &str) -> Finding {
    let (id, title) = ("env.csrf", "CSRF protection");
    if env.get("CSRF_ENABLED").is_some() && strict_true(env, "CSRF_ENABLED") != Some(true) {
        return finding(
            id,
            title,
            Status::Fail,
            "CSRF protection is off (only the exact word TRUE turns it on): a page you visit elsewhere can submit forms \
             to your OpenAlgo as you.",
        )
        .fix(format!("In {path} set CSRF_ENABLED = 'TRUE', then restart OpenAlgo."))
        .seen(env_seen(env, path, "CSRF_ENABLED"));
    }
    finding(id, title, Status::Pass, "CSRF protection is on.").seen(env_seen(env, path, "CSRF_ENABLED"))
}

fn session_expiry(env: &EnvFile, path: &str) -> Finding {
    let (id, title) = ("env.session_expiry", "Daily sign-out");
    if env.get("DISABLE_SESSION_EXPIRY").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return finding(
            id,
            title,
            Status::Warn,
            "Sessions never expire at night (they last a year), so a stolen cookie keeps working. OpenAlgo's installer \
             turns this on for crypto brokers, which trade around the clock; otherwise turn it off.",
        )
        .fix(format!("In {path} set DISABLE_SESSION_EXPIRY = 'false', then restart OpenAlgo."))
        .seen(env_seen(env, path, "DISABLE_SESSION_EXPIRY"));
    }
    finding(id, title, Status::Pass, "Sessions end every day, as OpenAlgo does by default.").seen(env_seen(
        env,
        path,
        "DISABLE_SESSION_EXPIRY",
    ))
}

fn ngrok(env: &EnvFile, path: &str) -> Finding {
    let (id, title) = ("env.ngrok", "ngrok tunnel");
    if strict_true(env, "NGROK_ALLOW") == Some(true) {
        return finding(
            id,
            title,
            Status::Warn,
            "An ngrok tunnel publishes OpenAlgo on the internet around nginx, so nginx's TLS and bans do not apply to it.",
        )
        .fix(format!("In {path} set NGROK_ALLOW = 'FALSE' unless you use the tunnel on purpose."))
        .seen(env_seen(env, path, "NGROK_ALLOW"));
    }
    finding(id, title, Status::Pass, "No ngrok tunnel.").seen(env_seen(env, path, "NGROK_ALLOW"))
}

fn mcp(env: &EnvFile, path: &str) -> Finding {
    let (id, title) = ("env.mcp", "AI assistants (MCP)");
    let on = env
        .get("MCP_HTTP_ENABLED")
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "t"));
    if !on {
        return finding(id, title, Status::Pass, "OpenAlgo's remote MCP server is off.").seen(env_seen(
            env,
            path,
            "MCP_HTTP_ENABLED",
        ));
    }
    let approval = env.get("MCP_OAUTH_REQUIRE_APPROVAL").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let writes = env.get("MCP_OAUTH_WRITE_SCOPE_ENABLED").is_none_or(|v| v.trim().eq_ignore_ascii_case("true"));
    if !approval {
        return finding(
            id,
            title,
            Status::Fail,
            if writes {
                "The remote MCP server approves every AI client by itself, and those clients may place orders."
            } else {
                "The remote MCP server approves every AI client by itself."
            },
        )
        .fix(format!(
            "In {path} set MCP_OAUTH_REQUIRE_APPROVAL = 'True' (or MCP_HTTP_ENABLED = 'False'), then restart OpenAlgo."
        ))
        .seen(env_seen(env, path, "MCP_OAUTH_REQUIRE_APPROVAL"));
    }
    finding(id, title, Status::Pass, "The remote MCP server asks you to approve each client.").seen(env_seen(
        env,
        path,
        "MCP_OAUTH_REQUIRE_APPROVAL",
    ))
}

/// `"5 per minute"` (or several joined by `;`, the strictest taken) as requests per second.
fn per_second(v: &str) -> Option<f64> {
    v.split(';')
        .filter_map(|part| {
            let mut w = part.split_whitespace();
            let n: f64 = w.next()?.parse().ok()?;
            if w.next()? != "per" {
                return None;
            }
            let secs = match w.next()?.trim_end_matches('s') {
                "second" => 1.0,
                "minute" => 60.0,
                "hour" => 3600.0,
                "day" => 86400.0,
                _ => return None,
            };
            Some(n / secs)
        })
        .reduce(f64::min)
}

fn rate_limits(env: &EnvFile, path: &str) -> Finding {
    let (id, title) = ("env.rate_limits", "Rate limits");
    let weaker: Vec<String> = DEFAULT_LIMITS
        .iter()
        .filter_map(|(k, n, secs)| {
            let v = env.get(k)?;
            let rate = per_second(v)?;
            (rate > *n as f64 / *secs as f64 * 1.000_001).then(|| format!("{k} = '{v}'"))
        })
        .collect();
    if weaker.is_empty() {
        return finding(id, title, Status::Pass, "No rate limit is weaker than OpenAlgo's defaults.");
    }
    finding(
        id,
        title,
        Status::Warn,
        "Some rate limits are weaker than OpenAlgo's defaults, which gives password guessers and key sprayers more tries.",
    )
    .fix(format!(
        "In {path} go back to OpenAlgo's defaults: LOGIN_RATE_LIMIT_MIN = \"5 per minute\", LOGIN_RATE_LIMIT_HOUR = \"25 per hour\", \
         API_RATE_LIMIT = \"50 per second\", ORDER_RATE_LIMIT = \"10 per second\"."
    ))
    .seen(weaker.join(", "))
}

fn mode_text(f: &FileFacts) -> String {
    format!("{} is {:04o}, owner uid {}, group gid {}", f.path.display(), f.mode, f.uid, f.gid)
}

fn env_file_mode(f: &Fact<FileFacts>) -> Finding {
    let (id, title) = ("files.env_mode", ".env readable only by OpenAlgo");
    match f {
        Err(reason) => Finding::unknown(id, title, ".env holds OpenAlgo's secrets.", reason),
        Ok(f) if f.mode & 0o077 != 0 => finding(
            id,
            title,
            Status::Fail,
            ".env holds APP_KEY and API_KEY_PEPPER, and other accounts on the server can read it.",
        )
        .fix(format!("sudo chmod 600 {}", f.path.display()))
        .seen(mode_text(f)),
        Ok(f) => finding(id, title, Status::Pass, "Only its owner can read .env.").seen(mode_text(f)),
    }
}

fn db_mode(f: &Fact<Vec<FileFacts>>) -> Finding {
    let (id, title) = ("files.db_mode", "OpenAlgo's databases private");
    let files = match f {
        Err(reason) => {
            return Finding::unknown(id, title, "db/ holds your sign-ins, API keys and broker tokens.", reason)
        }
        Ok(f) => f,
    };
    // NOTE: group access is how Warden itself reaches logs.db (the README's set-up): only others count.
    let open: Vec<&FileFacts> = files.iter().filter(|f| f.mode & 0o007 != 0).collect();
    let Some(dir) = files.first() else {
        return Finding::unknown(id, title, "db/ holds your data.", "db/ was not found");
    };
    if open.is_empty() {
        return finding(id, title, Status::Pass, "Other accounts on the server cannot read OpenAlgo's databases.")
            .seen(mode_text(dir));
    }
    let d = dir.path.display();
    finding(
        id,
        title,
        Status::Fail,
        "Other accounts on the server can read OpenAlgo's databases: sign-ins, encrypted broker tokens and the ban list \
         (OpenAlgo's native installer leaves them world-readable).",
    )
    .fix(format!("sudo chmod o-rwx {d} {d}/*.db* (OpenAlgo and its group, Warden included, keep their access)"))
    .seen(open.iter().take(4).map(|f| mode_text(f)).collect::<Vec<_>>().join("; "))
}

fn keys_mode(f: &Fact<Option<FileFacts>>) -> Finding {
    let (id, title) = ("files.keys_mode", "keys/ private");
    match f {
        Err(reason) => {
            Finding::unknown(id, title, "keys/ holds the keys OpenAlgo signs AI clients' tokens with.", reason)
        }
        Ok(None) => finding(id, title, Status::Pass, "There is no keys/ folder."),
        Ok(Some(f)) if f.mode & 0o077 != 0 => finding(
            id,
            title,
            Status::Fail,
            "keys/ holds the keys OpenAlgo signs AI clients' tokens with, and other accounts can open it.",
        )
        .fix(format!("sudo chmod 700 {}", f.path.display()))
        .seen(mode_text(f)),
        Ok(Some(f)) => finding(id, title, Status::Pass, "Only its owner can open keys/.").seen(mode_text(f)),
    }
}

/// The upstream targets of `proxy_pass` that are OpenAlgo: its Unix socket, or its port on this
/// machine (`FLASK_PORT`, default 5000), directly or through an `upstream` block.
fn is_openalgo_target(target: &str, conf: &NginxConf, port: &str) -> bool {
    let t = target.trim_start_matches("http://").trim_start_matches("https://");
    if t.starts_with("unix:") {
        return t.contains("openalgo") || t.contains(".sock");
    }
    let host_port = t.split('/').next().unwrap_or(t);
    if host_port == format!("127.0.0.1:{port}")
        || host_port == format!("localhost:{port}")
        || host_port == format!("[::1]:{port}")
    {
        return true;
    }
    // An upstream by that name whose servers are OpenAlgo.
    conf.http().flat_map(|h| h.children("upstream")).any(|u| {
        u.args.first().is_some_and(|n| n == host_port)
            && u.children("server")
                .any(|s| s.args.first().is_some_and(|a| is_openalgo_target(a, &NginxConf::default(), port)))
    })
}

fn flask_port(env: Option<&EnvFile>) -> String {
    env.and_then(|e| e.get("FLASK_PORT")).map_or_else(|| "5000".to_string(), |p| p.trim().to_string())
}

/// The `location` blocks (with their server) that proxy to OpenAlgo.
fn openalgo_locations<'a>(conf: &'a NginxConf, env: Option<&EnvFile>) -> Vec<(&'a Directive, &'a Directive)> {
    let port = flask_port(env);
    let mut out = Vec::new();
    for s in conf.servers() {
        for l in s.children("location") {
            if l.children("proxy_pass").any(|p| p.args.first().is_some_and(|t| is_openalgo_target(t, conf, &port))) {
                out.push((s, l));
            }
        }
    }
    out
}

/// Whether nginx proxies to OpenAlgo.
pub fn fronts_openalgo(conf: &NginxConf, env: Option<&EnvFile>) -> bool {
    !openalgo_locations(conf, env).is_empty()
}

/// The servers that serve OpenAlgo: those proxying to it, and the plain-HTTP servers for the same
/// names.
fn openalgo_servers<'a>(conf: &'a NginxConf, env: Option<&EnvFile>) -> Vec<&'a Directive> {
    let mut out: Vec<&Directive> = Vec::new();
    for (s, _) in openalgo_locations(conf, env) {
        if !out.iter().any(|o| std::ptr::eq(*o, s)) {
            out.push(s);
        }
    }
    out
}

fn names(s: &Directive) -> Vec<&str> {
    s.children("server_name").flat_map(|d| d.args.iter().map(String::as_str)).collect()
}

fn is_tls(s: &Directive) -> bool {
    s.children("listen").any(|l| l.args.iter().any(|a| a == "ssl" || a == "quic"))
}

/// The `add_header` names in force at `level`, inherited as nginx inherits them: from the
/// innermost level that has any.
fn headers_in_force<'a>(levels: &[&'a Directive]) -> Vec<&'a Directive> {
    for level in levels.iter().rev() {
        let here: Vec<&Directive> = level.children("add_header").collect();
        if !here.is_empty() {
            return here;
        }
    }
    Vec::new()
}

fn has_header(hs: &[&Directive], name: &str) -> Option<String> {
    hs.iter()
        .find(|h| h.args.first().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .map(|h| format!("{}: {}", h.at(), h.text()))
}

/// All nginx checks.
pub fn nginx_checks(
    nginx: &Fact<(NginxConf, String)>,
    env: Option<&EnvFile>,
    readable: &[(String, Result<(), String>)],
) -> Vec<Finding> {
    const IDS: &[(&str, &str)] = &[
        ("nginx.tls", "HTTPS, and HTTP redirected"),
        ("nginx.hsts", "HSTS"),
        ("nginx.security_headers", "Security headers"),
        ("nginx.server_tokens", "nginx's version hidden"),
        ("nginx.spoofable_ip_headers", "Address headers a client can fake"),
        ("nginx.access_log_readable", "An access log Warden can read"),
    ];
    let (conf, source) = match nginx {
        Ok((c, s)) => (c, s),
        Err(reason) => {
            return IDS
                .iter()
                .map(|(id, title)| Finding::unknown(id, title, "This is judged from nginx's configuration.", reason))
                .collect();
        }
    };
    let mut servers = openalgo_servers(conf, env);
    if servers.is_empty() {
        let reason = format!("no server in {source} proxies to OpenAlgo (its socket or 127.0.0.1:{})", flask_port(env));
        return IDS
            .iter()
            .map(|(id, title)| {
                Finding::unknown(id, title, "This is judged from the nginx server that fronts OpenAlgo.", &reason)
            })
            .collect();
    }
    let https: Vec<&Directive> = servers.iter().copied().filter(|s| is_tls(s)).collect();
    let app_names: Vec<&str> = servers.iter().flat_map(|s| names(s)).collect();
    // The plain-HTTP servers for the same names: they must redirect.
    for s in conf.servers() {
        if !is_tls(s) && names(s).iter().any(|n| app_names.contains(n)) && !servers.iter().any(|o| std::ptr::eq(*o, s))
        {
            servers.push(s);
        }
    }
    let plain_proxies: Vec<&Directive> =
        servers.iter().copied().filter(|s| !is_tls(s) && proxies(s, conf, env)).collect();
    let http: Vec<&Directive> = conf.http().collect();
    let mut out = Vec::new();

    // TLS.
    let (id, title) = IDS[0];
    out.push(if https.is_empty() {
        finding(id, title, Status::Fail, "OpenAlgo is served over plain HTTP: your password and session cross the internet unencrypted.")
            .fix("Get a certificate and turn on HTTPS: sudo apt install certbot python3-certbot-nginx && sudo certbot --nginx")
            .seen(servers.iter().map(|s| format!("{}: server listening on {}", s.at(), listens(s))).collect::<Vec<_>>().join("; "))
    } else if let Some(p) = plain_proxies.first() {
        finding(
            id,
            title,
            Status::Warn,
            "HTTPS is on, but a plain-HTTP server also serves OpenAlgo instead of redirecting to HTTPS.",
        )
        .fix("In that server, replace the proxy with: return 301 https://$host$request_uri;")
        .seen(format!("{}: server listening on {}", p.at(), listens(p)))
    } else {
        finding(id, title, Status::Pass, "OpenAlgo is served over HTTPS, and plain HTTP redirects to it.")
            .seen(https.iter().map(|s| format!("{}: {}", s.at(), listens(s))).collect::<Vec<_>>().join("; "))
    });

    // HSTS.
    let (id, title) = IDS[1];
    let hsts: Vec<Option<String>> = https
        .iter()
        .map(|s| has_header(&headers_in_force(&[http.first().copied().unwrap_or(s), s]), "Strict-Transport-Security"))
        .collect();
    out.push(if https.is_empty() {
        finding(id, title, Status::Fail, "HSTS needs HTTPS first (see nginx.tls).")
    } else if let Some(seen) = hsts.iter().flatten().next().filter(|_| hsts.iter().all(Option::is_some)) {
        finding(id, title, Status::Pass, "Browsers are told to use HTTPS only.").seen(seen.clone())
    } else {
        finding(
            id,
            title,
            Status::Warn,
            "Browsers are not told to use HTTPS only, so the first visit can be downgraded to plain HTTP.",
        )
        .fix("In the HTTPS server of OpenAlgo add: add_header Strict-Transport-Security \"max-age=63072000\" always;")
        .seen(format!(
            "no Strict-Transport-Security header in {}",
            https.iter().map(|s| s.at()).collect::<Vec<_>>().join(", ")
        ))
    });

    // Security headers: set by nginx, or by OpenAlgo itself when its CSP is on.
    let (id, title) = IDS[2];
    let csp_on = env.is_none_or(|e| e.get("CSP_ENABLED").is_none_or(|v| v.trim().eq_ignore_ascii_case("true")));
    let level = https.first().or(servers.first()).copied();
    let hs = level.map(|s| headers_in_force(&[http.first().copied().unwrap_or(s), s])).unwrap_or_default();
    let missing: Vec<&str> =
        ["X-Content-Type-Options", "X-Frame-Options"].into_iter().filter(|h| has_header(&hs, h).is_none()).collect();
    out.push(if missing.is_empty() || csp_on {
        let by = if missing.is_empty() { "nginx" } else { "OpenAlgo (its CSP middleware)" };
        finding(id, title, Status::Pass, format!("X-Content-Type-Options, X-Frame-Options and a Content-Security-Policy are sent, by {by}."))
    } else {
        finding(id, title, Status::Warn, "Neither nginx nor OpenAlgo sends X-Content-Type-Options and X-Frame-Options, which stop content sniffing and clickjacking.")
            .fix("In the HTTPS server add: add_header X-Content-Type-Options nosniff; add_header X-Frame-Options DENY;")
            .seen(format!("missing: {}", missing.join(", ")))
    });

    // server_tokens.
    let (id, title) = IDS[3];
    // A file given by hand (a sites-enabled file) is included inside http { }: its top level is
    // http's.
    let tokens_off = http
        .iter()
        .chain(servers.iter())
        .flat_map(|d| d.children("server_tokens"))
        .chain(conf.top.iter().filter(|d| d.name == "server_tokens"))
        .find(|d| d.args.first().is_some_and(|a| a == "off"));
    out.push(match tokens_off {
        Some(d) => finding(id, title, Status::Pass, "nginx does not tell visitors its version.").seen(format!(
            "{}: {}",
            d.at(),
            d.text()
        )),
        None => finding(
            id,
            title,
            Status::Warn,
            "nginx tells every visitor, scanners included, exactly which version it runs.",
        )
        .fix("In the http { } block of /etc/nginx/nginx.conf add: server_tokens off;"),
    });

    // Spoofable address headers.
    let (id, title) = IDS[4];
    let trusts = env.is_none_or(|e| e.flag("TRUST_PROXY_HEADERS").unwrap_or(false));
    let mut leaks = Vec::new();
    for (s, l) in openalgo_locations(conf, env) {
        let set = proxy_headers_in_force(&[http.first().copied().unwrap_or(s), s, l]);
        for h in ["CF-Connecting-IP", "True-Client-IP"] {
            let cleared = set.iter().any(|d| {
                d.args.first().is_some_and(|n| n.eq_ignore_ascii_case(h))
                    && d.args.get(1).is_some_and(|v| v.is_empty() || v == "$remote_addr")
            });
            if !cleared {
                leaks.push(format!("{}: location {} passes {h} as the client sent it", l.at(), l.args.join(" ")));
            }
        }
    }
    out.push(if leaks.is_empty() {
        finding(id, title, Status::Pass, "nginx clears CF-Connecting-IP and True-Client-IP before they reach OpenAlgo.")
    } else if !trusts {
        finding(id, title, Status::Pass, "OpenAlgo trusts no address header (TRUST_PROXY_HEADERS is off), so clients cannot fake their address through them.")
    } else {
        finding(
            id,
            title,
            Status::Fail,
            "OpenAlgo trusts CF-Connecting-IP and True-Client-IP before nginx's own header, and nginx passes them on as \
             the client sent them: any client can pose as another address, walk past its ban or get someone else banned.",
        )
        .fix(
            "In each location that proxies to OpenAlgo add: proxy_set_header CF-Connecting-IP \"\"; proxy_set_header \
             True-Client-IP \"\"; (keep them only behind Cloudflare or Akamai, with their ranges in set_real_ip_from). \
             Then: sudo nginx -t && sudo systemctl reload nginx",
        )
        .seen(leaks.into_iter().take(4).collect::<Vec<_>>().join("; "))
    });

    // The access log.
    out.push(access_log(&servers, &http, readable));
    out
}

fn listens(s: &Directive) -> String {
    let l: Vec<String> = s.children("listen").map(|l| l.args.join(" ")).collect();
    if l.is_empty() {
        "80 (the default)".into()
    } else {
        l.join(", ")
    }
}

fn proxies(s: &Directive, conf: &NginxConf, env: Option<&EnvFile>) -> bool {
    let port = flask_port(env);
    s.children("location")
        .any(|l| l.children("proxy_pass").any(|p| p.args.first().is_some_and(|t| is_openalgo_target(t, conf, &port))))
}

/// `proxy_set_header` in force at the innermost level, inherited as nginx does: from the
/// innermost level that has any.
fn proxy_headers_in_force<'a>(levels: &[&'a Directive]) -> Vec<&'a Directive> {
    for level in levels.iter().rev() {
        let here: Vec<&Directive> = level.children("proxy_set_header").collect();
        if !here.is_empty() {
            return here;
        }
    }
    Vec::new()
}

/// nginx's predefined format, and the ones Warden reads by name.
const KNOWN_FORMATS: &[&str] = &["combined", "main"];

fn access_log(servers: &[&Directive], http: &[&Directive], readable: &[(String, Result<(), String>)]) -> Finding {
    let (id, title) = ("nginx.access_log_readable", "An access log Warden can read");
    // The innermost access_log in force for OpenAlgo's HTTPS server (or any of its servers).
    let server = servers.iter().find(|s| is_tls(s)).or(servers.first()).copied();
    let chosen = server
        .and_then(|s| s.children("access_log").next())
        .or_else(|| http.iter().flat_map(|h| h.children("access_log")).next());
    let Some(log) = chosen else {
        return finding(
            id,
            title,
            Status::Pass,
            "nginx writes its default access log (/var/log/nginx/access.log) in the combined format, which Warden reads.",
        )
        .seen("no access_log directive: nginx's default applies");
    };
    if log.args.first().is_some_and(|a| a == "off") {
        return finding(
            id,
            title,
            Status::Fail,
            "nginx keeps no access log for OpenAlgo, so Warden cannot see the clients nginx sees.",
        )
        .fix("In OpenAlgo's server replace access_log off; with: access_log /var/log/nginx/access.log;")
        .seen(format!("{}: {}", log.at(), log.text()));
    }
    let path = log.args.first().cloned().unwrap_or_default();
    let format = log.args.get(1).map(String::as_str).unwrap_or("combined");
    if !KNOWN_FORMATS.contains(&format) {
        let defined =
            http.iter().flat_map(|h| h.children("log_format")).find(|d| d.args.first().is_some_and(|n| n == format));
        let spec = defined.map(|d| d.args[1..].concat());
        let ok = spec.as_deref().is_some_and(|s| crate::source::access::pipeline::LineParser::new(s).is_ok());
        if !ok {
            return finding(
                id,
                title,
                Status::Warn,
                format!("The access log uses the log_format '{format}', which Warden could not read as given."),
            )
            .fix(format!(
                "Give Warden the same format: in Warden's configuration, [[access_log]] path = \"{path}\" and format = the log_format's text."
            ))
            .seen(format!("{}: {}", log.at(), log.text()));
        }
    }
    match readable.iter().find(|(p, _)| *p == path) {
        Some((_, Err(e))) => finding(
            id,
            title,
            Status::Warn,
            "nginx writes a log Warden understands, but Warden's user may not read it.",
        )
        .fix("Add Warden's user to the group that owns the logs: sudo usermod -aG adm <warden's user>")
        .seen(format!("{}: {} ({e})", log.at(), log.text())),
        _ => finding(id, title, Status::Pass, "nginx writes an access log that Warden reads.").seen(format!(
            "{}: {}",
            log.at(),
            log.text()
        )),
    }
}

/// OpenAlgo's ports: the app, its WebSocket and its tick feed.
fn openalgo_ports(env: Option<&EnvFile>) -> Vec<(u16, &'static str)> {
    let port = |k: &str, d: u16| env.and_then(|e| e.get(k)).and_then(|v| v.trim().parse().ok()).unwrap_or(d);
    vec![
        (port("FLASK_PORT", 5000), "the app"),
        (port("WEBSOCKET_PORT", 8765), "its WebSocket"),
        (port("ZMQ_PORT", 5555), "its tick feed (ZMQ)"),
    ]
}

fn exposed_ports(listeners: &Fact<Vec<Listener>>, env: Option<&EnvFile>) -> Finding {
    let (id, title) = ("net.exposed_ports", "OpenAlgo's ports closed to the internet");
    let ls = match listeners {
        Ok(l) => l,
        Err(reason) => {
            return Finding::unknown(id, title, "This is judged from the sockets listening on this machine.", reason)
        }
    };
    let ports = openalgo_ports(env);
    let open: Vec<String> = ls
        .iter()
        .filter(|l| !l.loopback_only())
        .filter_map(|l| ports.iter().find(|(p, _)| *p == l.port).map(|(_, what)| format!("{what} on {}", socket(l))))
        .collect();
    if open.is_empty() {
        return finding(id, title, Status::Pass, "None of OpenAlgo's ports listens beyond this machine.").seen(
            format!("checked ports {}", ports.iter().map(|(p, _)| p.to_string()).collect::<Vec<_>>().join(", ")),
        );
    }
    finding(
        id,
        title,
        Status::Fail,
        "OpenAlgo's ports listen on every interface: anyone can reach the app past nginx, its TLS and every ban, and the \
         tick feed has no password at all.",
    )
    .fix(
        "Bind them to 127.0.0.1: in OpenAlgo's .env set FLASK_HOST_IP, WEBSOCKET_HOST and ZMQ_HOST to '127.0.0.1' (with \
         Docker, publish as 127.0.0.1:5000:5000), and close them in the firewall: sudo ufw deny 5000 && sudo ufw deny 8765 && sudo ufw deny 5555",
    )
    .seen(open.join("; "))
}

fn socket(l: &Listener) -> String {
    match l.addr {
        IpAddr::V6(a) => format!("[{a}]:{}", l.port),
        IpAddr::V4(a) => format!("{a}:{}", l.port),
    }
}

fn auto_ban(settings: &Fact<crate::store::SettingsRow>) -> Finding {
    let (id, title) = ("openalgo.auto_ban", "Who bans");
    match settings {
        Err(reason) => Finding::unknown(id, title, "OpenAlgo's own ban settings are in openalgo.db.", reason),
        Ok(s) if s.auto_ban_enabled == Some(true) => finding(
            id,
            title,
            Status::Pass,
            "OpenAlgo bans by itself; Warden warns first, bans from nginx's log too, and makes repeat offenders permanent.",
        )
        .seen(format!("security_auto_ban_enabled = 1, 404 threshold {}, API key threshold {}", opt(s.threshold_404), opt(s.threshold_api))),
        Ok(s) => finding(id, title, Status::Pass, "OpenAlgo's own auto-ban is off: Warden bans for it.")
            .seen(format!("security_auto_ban_enabled = {}", opt(s.auto_ban_enabled.map(i64::from)))),
    }
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".into(), |n| n.to_string())
}
