//! Exports for a SIEM (`[export]`): Prometheus metrics over HTTP, a JSON-lines event file, and
//! syslog (RFC 5424) over UDP or TCP. Each is off until configured, and none of them can hold up
//! the monitor: the metrics are served from their own thread, and syslog sends from its own.
//!
//! - [`metrics`]: the counters and their text exposition, and the HTTP server;
//! - [`jsonl`]: the event file, reopened when logrotate moves it;
//! - [`syslog`]: RFC 5424 messages, framed by octet counting over TCP (RFC 6587).

pub mod jsonl;
pub mod metrics;
pub mod syslog;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::monitor::Notice;
use crate::time::Timestamp;

/// `[export]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    /// Where Prometheus metrics are served, such as `127.0.0.1:9464` (off when unset). Keep it
    /// on loopback, or behind the proxy with authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// A file that gets one JSON object per notice (the objects of `warden watch --json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_lines: Option<PathBuf>,
    /// A syslog receiver: `udp://HOST:PORT` or `tcp://HOST:PORT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syslog: Option<String>,
}

impl ExportConfig {
    /// Checks every value; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(m) = &self.metrics {
            m.parse::<std::net::SocketAddr>().map_err(|_| {
                format!(
                    "export.metrics must be an address and port such as 127.0.0.1:9464, not '{}'",
                    crate::ip::display_raw(m)
                )
            })?;
        }
        if let Some(p) = &self.json_lines {
            if !p.is_absolute() {
                return Err("export.json_lines must be an absolute path".into());
            }
        }
        if let Some(s) = &self.syslog {
            syslog::Target::parse(s)?;
        }
        Ok(())
    }
}

/// One notice as a JSON object, as `warden watch --json` prints it: the notice's own fields and
/// `time`, when Warden reported it.
pub fn json_line(n: &Notice, now: Timestamp) -> String {
    let mut v =
        serde_json::to_value(n).unwrap_or_else(|e| serde_json::json!({ "kind": "error", "message": e.to_string() }));
    if let Some(o) = v.as_object_mut() {
        o.insert("time".into(), serde_json::Value::String(crate::time::rfc3339(now)));
    }
    v.to_string()
}

/// The exports in force, fed by the monitor after every round.
#[derive(Debug, Default)]
pub struct Exports {
    metrics: Option<metrics::Server>,
    jsonl: Option<jsonl::JsonLines>,
    syslog: Option<syslog::Sender>,
}

impl Exports {
    /// Starts what `cfg` asks for. A metrics address already in use is an error (two Wardens
    /// cannot serve the same port).
    pub fn start(cfg: &ExportConfig) -> crate::Result<Self> {
        let metrics = match &cfg.metrics {
            Some(addr) => Some(metrics::Server::start(addr)?),
            None => None,
        };
        let jsonl = cfg.json_lines.as_ref().map(|p| jsonl::JsonLines::new(p.clone()));
        let syslog = match &cfg.syslog {
            Some(t) => Some(syslog::Sender::start(syslog::Target::parse(t).map_err(crate::Error::Alert)?)),
            None => None,
        };
        Ok(Self { metrics, jsonl, syslog })
    }

    /// Whether nothing is exported.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_none() && self.jsonl.is_none() && self.syslog.is_none()
    }

    /// The shared counters, for the monitor to update.
    pub fn metrics(&self) -> Option<&metrics::Shared> {
        self.metrics.as_ref().map(metrics::Server::shared)
    }

    /// Exports a round's notices. Returns a notice when the event file or syslog started or
    /// stopped working.
    pub fn on_notices(&mut self, notices: &[Notice], now: Timestamp) -> Vec<Notice> {
        let mut out = Vec::new();
        if let Some(m) = &self.metrics {
            m.record(notices, now);
        }
        if let Some(j) = &mut self.jsonl {
            if let Some(n) = j.write(notices, now) {
                out.push(n);
            }
        }
        if let Some(s) = &self.syslog {
            for n in notices {
                s.send(n, now);
            }
            if let Some(n) = s.health() {
                out.push(n);
            }
        }
        out
    }
}
