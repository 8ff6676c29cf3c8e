//! The demo's script: who sends what, tick by tick. Deterministic, so the demo and its tests
//! see the same story every time.
//!
//! Every wave of 90 s brings ordinary users, a scanner (a 404 every 1.5 s: near threshold at
//! ~24 s, banned at ~30 s), a key-sprayer (a new invalid key every 3.5 s: banned at ~35 s), an
//! IPv6 scanner whose address arrives in upper case, a scanner that OpenAlgo sees only as '' (so
//! only nginx's access log can ban it), a password guesser, and two clients that are never
//! banned: a local health check that 404s and a spoofed, non-IP header value. Later waves use new
//! addresses.

use std::io::Write;
use std::time::Duration;

use super::openalgo::OpenAlgoEmulator;
use crate::error::Result;
use crate::time::Timestamp;

/// One step of the script.
pub const TICK: Duration = Duration::from_millis(500);

/// Ticks per wave (90 s).
const WAVE: u64 = 180;

/// Something a client does to OpenAlgo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A normal request.
    Ok {
        /// Client.
        ip: String,
        /// Path.
        path: &'static str,
    },
    /// A request that ends in OpenAlgo's 404 handler.
    NotFound {
        /// Client.
        ip: String,
        /// Path.
        path: String,
    },
    /// A request with a wrong API key (answered 403).
    BadKey {
        /// Client.
        ip: String,
        /// The key tried (hashed by the emulator, never stored raw).
        key: String,
    },
    /// A 404 that only nginx attributes to the right client: OpenAlgo, with
    /// `TRUST_PROXY_HEADERS` off behind a Unix socket, sees every client as ''.
    HiddenScan {
        /// Client.
        ip: String,
        /// Path.
        path: String,
    },
    /// A wrong password on the login page (answered 401).
    BadLogin {
        /// Client.
        ip: String,
    },
}

impl Action {
    /// Plays this request: nginx logs it in `access` (combined format) and OpenAlgo writes what
    /// it writes into `logs.db`. A banned client gets OpenAlgo's 403 and nothing in `logs.db`.
    pub fn apply(&self, emu: &mut OpenAlgoEmulator, access: &mut dyn Write, now: Timestamp) -> Result<()> {
        let host = "algo.example.in";
        let (ip, method, path, status) = match self {
            Action::Ok { ip, path } => (ip.as_str(), "GET", *path, 200),
            Action::NotFound { ip, path } | Action::HiddenScan { ip, path } => (ip.as_str(), "GET", path.as_str(), 404),
            Action::BadKey { ip, .. } => (ip.as_str(), "POST", "/api/v1/placeorder", 403),
            Action::BadLogin { ip } => (ip.as_str(), "POST", "/auth/login", 401),
        };
        // Behind nginx with TRUST_PROXY_HEADERS off, OpenAlgo sees '' for the hidden scanner.
        let seen = if matches!(self, Action::HiddenScan { .. }) { "" } else { ip };
        let banned = emu.is_ip_banned(seen, now)?;
        let status = if banned { 403 } else { status };
        let agent = match self {
            Action::Ok { .. } => "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            Action::BadKey { .. } => "python-requests/2.32.3",
            _ => "Mozilla/5.0 zgrab/0.x",
        };
        // nginx's $remote_addr is lower case; the upper-case IPv6 is what a proxy header carried.
        let remote = ip.to_ascii_lowercase();
        let line = format!(
            "{remote} - - [{}] \"{method} {path} HTTP/1.1\" {status} 153 \"-\" \"{agent}\"\n",
            now.format("%d/%b/%Y:%H:%M:%S +0000")
        );
        access.write_all(line.as_bytes()).map_err(|e| crate::Error::io("writing the demo access log", e))?;
        if banned {
            return Ok(());
        }
        match self {
            Action::Ok { .. } => emu.log_traffic(seen, method, path, 200, 4.2, host, now)?,
            Action::NotFound { .. } | Action::HiddenScan { .. } => {
                emu.log_traffic(seen, method, path, 404, 2.1, host, now)?;
                emu.track_404(seen, path, now)?;
            }
            Action::BadKey { key, .. } => {
                emu.log_traffic(seen, method, path, 403, 35.0, host, now)?;
                emu.track_invalid_key(seen, key, now)?;
            }
            Action::BadLogin { .. } => emu.log_traffic(seen, method, path, 401, 120.0, host, now)?,
        }
        Ok(())
    }
}

const PROBES: [&str; 12] = [
    "/wp-login.php",
    "/.env",
    "/.git/config",
    "/phpmyadmin/index.php",
    "/admin/config.php",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/actuator/health",
    "/config.json",
    "/backup.zip",
    "/solr/admin/info/system",
    "/cgi-bin/luci",
    "/<script>alert(1)</script>",
];

const PAGES: [&str; 5] = ["/dashboard", "/api/v1/funds", "/api/v1/orderbook", "/positions", "/api/v1/quotes"];

/// What happens at `tick`.
pub fn actions_at(tick: u64) -> Vec<Action> {
    let wave = tick / WAVE;
    let t = tick % WAVE;
    let w = (wave % 200) as u8;
    let mut out = Vec::new();
    // Ordinary users: a few requests a second, and a stray 404 now and then.
    out.push(Action::Ok { ip: format!("198.51.100.{}", 10 + (tick % 5)), path: PAGES[(tick % 5) as usize] });
    if t % 40 == 7 {
        out.push(Action::NotFound { ip: "198.51.100.11".into(), path: "/favicon.ico".into() });
    }
    // The scanner: a 404 every 1.5 s for 40 s.
    if t % 3 == 1 && t < 80 {
        let path = PROBES[((t / 3) as usize) % PROBES.len()];
        out.push(Action::NotFound { ip: format!("203.0.113.{}", 7 + w), path: path.into() });
    }
    // The key-sprayer: a different key every 3.5 s for 60 s.
    if t % 7 == 3 && t < 120 {
        out.push(Action::BadKey { ip: format!("192.0.2.{}", 45 + w), key: format!("spray-{wave}-{t}") });
    }
    // An IPv6 scanner, upper-case as some proxies pass it on: a 404 every 2 s.
    if t % 4 == 2 && t < 160 {
        let path = PROBES[((t / 4) as usize) % PROBES.len()];
        out.push(Action::NotFound { ip: format!("2001:DB8::BAD:{:X}", 1 + u32::from(w)), path: path.into() });
    }
    // Never banned: a local health check that 404s, and a spoofed header that is not an IP.
    if t % 3 == 2 && t < 90 {
        out.push(Action::NotFound { ip: "127.0.0.1".into(), path: format!("/health/{t}") });
    }
    if t % 30 == 20 {
        out.push(Action::NotFound { ip: "not-an-ip".into(), path: "/xmlrpc.php".into() });
    }
    // A scanner only the access log can pin down: a 404 every second from t = 15 s.
    if t % 2 == 1 && (30..110).contains(&t) {
        let path = PROBES[((t / 2) as usize) % PROBES.len()];
        out.push(Action::HiddenScan { ip: format!("198.51.100.{}", 200 + (w % 50)), path: path.into() });
    }
    // A password guesser: a wrong password every second for 10 s (over OpenAlgo's 5 per minute).
    if (60..80).contains(&t) && t.is_multiple_of(2) {
        out.push(Action::BadLogin { ip: format!("203.0.113.{}", 150 + (w % 50)) });
    }
    out
}
