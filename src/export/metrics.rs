//! Prometheus metrics: the counters the monitor keeps, their text exposition (format 0.0.4), and
//! a small HTTP server for `GET /metrics`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `warden_bans_total` | counter | `rule`, `origin`, `source` |
//! | `warden_events_total` | counter | `rule` |
//! | `warden_notices_total` | counter | `kind` |
//! | `warden_source_up` | gauge | `source`, `path` |
//! | `warden_sink_up` | gauge | `sink` |
//! | `warden_alerts_delivered_total`, `warden_alerts_failed_total` | counter | `channel` |
//! | `warden_ban_latency_seconds` | histogram | |
//! | `warden_build_info` | gauge | `version` |
//!
//! No label holds a client address: the number of series stays small whatever attacks.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::event::Rule;
use crate::monitor::Notice;
use crate::source::openalgo::Health;
use crate::time::Timestamp;

/// The ban-latency histogram's upper bounds, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The counters, shared between the monitor and the server.
pub type Shared = Arc<Mutex<Metrics>>;

/// Everything the metrics report.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    bans: BTreeMap<(String, String, String), u64>,
    events: BTreeMap<String, u64>,
    notices: BTreeMap<String, u64>,
    sources: BTreeMap<(String, String), bool>,
    sinks: BTreeMap<String, bool>,
    deliveries: BTreeMap<String, (u64, u64)>,
    latency: [u64; LATENCY_BUCKETS.len()],
    latency_sum: f64,
    latency_count: u64,
}

fn kind_of(n: &Notice) -> String {
    serde_json::to_value(n)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(String::from))
        .unwrap_or_else(|| "other".into())
}

impl Metrics {
    /// Counts a round's notices.
    pub fn record(&mut self, notices: &[Notice], now: Timestamp) {
        for n in notices {
            if matches!(n, Notice::Traffic { .. }) {
                continue;
            }
            *self.notices.entry(kind_of(n)).or_default() += 1;
            match n {
                Notice::Banned { rule, source, at, .. } => {
                    let source = serde_json::to_value(source).ok().and_then(|v| v.as_str().map(String::from));
                    let key = (rule.as_str().to_string(), "warden".to_string(), source.unwrap_or_default());
                    *self.bans.entry(key).or_default() += 1;
                    let secs = ((now - *at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6).max(0.0);
                    for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                        if secs <= *bound {
                            self.latency[i] += 1;
                        }
                    }
                    self.latency_sum += secs;
                    self.latency_count += 1;
                }
                Notice::Source { name, path, health } => {
                    self.sources.insert((name.clone(), path.clone()), *health == Health::Ok);
                }
                Notice::Sink { name, state, .. } => {
                    self.sinks.insert(name.clone(), *state == crate::enforce::SinkState::Working);
                }
                _ => {}
            }
        }
    }

    /// Sets the requests counted per rule.
    pub fn set_events(&mut self, seen: &[(Rule, u64)]) {
        for (rule, n) in seen {
            self.events.insert(rule.as_str().to_string(), *n);
        }
    }

    /// Sets each alert channel's delivered and failed counts.
    pub fn set_deliveries(&mut self, tallies: impl IntoIterator<Item = (String, u64, u64)>) {
        for (name, ok, failed) in tallies {
            self.deliveries.insert(name, (ok, failed));
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let family = |o: &mut String, name: &str, kind: &str, help: &str| {
            o.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        };
        family(&mut o, "warden_build_info", "gauge", "Warden's version.");
        o.push_str(&format!("warden_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION")));
        family(
            &mut o,
            "warden_bans_total",
            "counter",
            "Bans Warden made, by rule, origin and where the requests were seen.",
        );
        for ((rule, origin, source), n) in &self.bans {
            o.push_str(&format!(
                "warden_bans_total{{rule=\"{}\",origin=\"{}\",source=\"{}\"}} {n}\n",
                esc(rule),
                esc(origin),
                esc(source)
            ));
        }
        family(&mut o, "warden_events_total", "counter", "Requests counted by each rule (access logs and sign-ins).");
        for (rule, n) in &self.events {
            o.push_str(&format!("warden_events_total{{rule=\"{}\"}} {n}\n", esc(rule)));
        }
        family(&mut o, "warden_notices_total", "counter", "Notices the monitor reported, by kind.");
        for (kind, n) in &self.notices {
            o.push_str(&format!("warden_notices_total{{kind=\"{}\"}} {n}\n", esc(kind)));
        }
        family(&mut o, "warden_source_up", "gauge", "Whether a source is being read (1) or failing (0).");
        for ((name, path), up) in &self.sources {
            o.push_str(&format!(
                "warden_source_up{{source=\"{}\",path=\"{}\"}} {}\n",
                esc(name),
                esc(path),
                u8::from(*up)
            ));
        }
        family(
            &mut o,
            "warden_sink_up",
            "gauge",
            "Whether an enforcement point holds the desired state (1) or is failing (0).",
        );
        for (name, up) in &self.sinks {
            o.push_str(&format!("warden_sink_up{{sink=\"{}\"}} {}\n", esc(name), u8::from(*up)));
        }
        family(&mut o, "warden_alerts_delivered_total", "counter", "Alerts a channel delivered.");
        for (name, (ok, _)) in &self.deliveries {
            o.push_str(&format!("warden_alerts_delivered_total{{channel=\"{}\"}} {ok}\n", esc(name)));
        }
        family(&mut o, "warden_alerts_failed_total", "counter", "Alerts a channel gave up on (refused, or a day old).");
        for (name, (_, failed)) in &self.deliveries {
            o.push_str(&format!("warden_alerts_failed_total{{channel=\"{}\"}} {failed}\n", esc(name)));
        }
        family(
            &mut o,
            "warden_ban_latency_seconds",
            "histogram",
            "Time from the request that earned a ban to the ban written into logs.db.",
        );
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            o.push_str(&format!("warden_ban_latency_seconds_bucket{{le=\"{bound}\"}} {}\n", self.latency[i]));
        }
        o.push_str(&format!("warden_ban_latency_seconds_bucket{{le=\"+Inf\"}} {}\n", self.latency_count));
        o.push_str(&format!("warden_ban_latency_seconds_sum {}\n", self.latency_sum));
        o.push_str(&format!("warden_ban_latency_seconds_count {}\n", self.latency_count));
        o
    }
}

/// A label value escaped as the exposition format asks: `\`, `"` and line feeds.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Serves `GET /metrics` on its own thread for as long as it lives.
#[derive(Debug)]
pub struct Server {
    shared: Shared,
    addr: std::net::SocketAddr,
}

impl Server {
    /// Binds `addr` and starts serving.
    pub fn start(addr: &str) -> crate::Result<Self> {
        let listener = TcpListener::bind(addr).map_err(|e| {
            crate::Error::io(format!("serving metrics on {addr} (export.metrics; is another Warden using it?)"), e)
        })?;
        let bound = listener.local_addr().map_err(|e| crate::Error::io("reading the metrics address", e))?;
        let shared: Shared = Arc::default();
        let mine = shared.clone();
        std::thread::Builder::new()
            .name("warden-metrics".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let _ = serve(stream, &mine);
                }
            })
            .map_err(|e| crate::Error::io("starting the metrics thread", e))?;
        Ok(Self { shared, addr: bound })
    }

    /// The counters.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Counts a round's notices.
    pub fn record(&self, notices: &[Notice], now: Timestamp) {
        if let Ok(mut m) = self.shared.lock() {
            m.record(notices, now);
        }
    }
}

fn serve(stream: std::net::TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.by_ref().take(8192).read_line(&mut line)?;
    // Read the headers away (a client may wait until they are consumed).
    loop {
        let mut h = String::new();
        if reader.by_ref().take(8192).read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", shared.lock().map(|m| m.render()).unwrap_or_default()),
        ("GET", _) => ("404 Not Found", "only /metrics is served here\n".to_string()),
        _ => ("405 Method Not Allowed", "only GET\n".to_string()),
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}
