//! Judging OpenAlgo's `.env`: each key as OpenAlgo's own code reads it.

use std::net::IpAddr;

use super::finding;
use crate::check::env::EnvFile;
use crate::check::facts::Fact;
use crate::check::{mask, Finding, Status};

/// `KEY = 'value'` as found on its line, for evidence (never for a secret).
fn env_seen(env: &EnvFile, path: &str, key: &str) -> String {
    match (env.get(key), env.line(key)) {
        (Some(v), Some(line)) => format!("{path}:{line}: {key} = '{v}'"),
        _ => format!("{key} is not set in {path}"),
    }
}

pub(super) fn is_loopback_host(h: &str) -> bool {
    let h = h.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// OpenAlgo's own `TRUE`-only flags (CSRF, CSP, CORS, ngrok): anything but `TRUE` is off.
fn strict_true(env: &EnvFile, key: &str) -> Option<bool> {
    env.get(key).map(|v| v.trim().eq_ignore_ascii_case("true"))
}

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
