//! The demo's script: who sends what, tick by tick. Deterministic, so the demo and its tests
//! see the same story every time.
//!
//! Every wave of 90 s brings ordinary users, a scanner (a 404 every 1.5 s: near threshold at
//! ~24 s, banned at ~30 s), a key-sprayer (a new invalid key every 3.5 s: banned at ~35 s), an
//! IPv6 scanner whose address arrives in upper case, and two clients that are never banned: a
//! local health check that 404s and a spoofed, non-IP header value. Later waves use new addresses.

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
}

impl Action {
    /// Writes this request into `logs.db` as OpenAlgo would: nothing at all for a banned client.
    pub fn apply(&self, emu: &mut OpenAlgoEmulator, now: Timestamp) -> Result<()> {
        let host = "algo.example.in";
        match self {
            Action::Ok { ip, path } => {
                if !emu.is_ip_banned(ip, now)? {
                    emu.log_traffic(ip, "GET", path, 200, 4.2, host, now)?;
                }
            }
            Action::NotFound { ip, path } => {
                if !emu.is_ip_banned(ip, now)? {
                    emu.log_traffic(ip, "GET", path, 404, 2.1, host, now)?;
                    emu.track_404(ip, path, now)?;
                }
            }
            Action::BadKey { ip, key } => {
                if !emu.is_ip_banned(ip, now)? {
                    emu.log_traffic(ip, "POST", "/api/v1/placeorder", 403, 35.0, host, now)?;
                    emu.track_invalid_key(ip, key, now)?;
                }
            }
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
    out
}
