//! The Overview: stat cards, source health, OpenAlgo's own settings with plain-language warnings,
//! requests per minute by status, and the top offenders.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DurationRound, TimeDelta};
use serde::Serialize;

use super::{traffic, Desk, DeskResult};
use crate::config::ThresholdSource;
use crate::event::Rule;
use crate::ip::canonicalize;
use crate::monitor::{Pulse, SharedPulse};
use crate::report::{self, key, Status};
use crate::source::minutes::{MinuteRing, StatusCounts};
use crate::source::openalgo::Health;
use crate::store::openalgo_settings::OpenAlgoDb;
use crate::store::LogsDb;
use crate::time::Timestamp;

/// The health of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceView {
    /// `logs.db`, `openalgo.db`, `state.db` or `access log`.
    pub name: String,
    /// Its path.
    pub path: String,
    /// Found, missing, locked or failing.
    pub health: Health,
    /// For an access log: its format and size.
    pub detail: Option<String>,
}

/// OpenAlgo's own security settings, as it would use them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpenAlgoSettings {
    /// Whether OpenAlgo bans by itself.
    pub auto_ban: Option<bool>,
    /// Its 404 threshold.
    pub not_found_threshold: Option<i64>,
    /// Its 404 ban length in hours (0 = permanent).
    pub not_found_ban_hours: Option<i64>,
    /// Its invalid-key threshold.
    pub api_threshold: Option<i64>,
    /// Its invalid-key ban length in hours.
    pub api_ban_hours: Option<i64>,
    /// Its repeat-offender limit.
    pub repeat_offender_limit: Option<i64>,
    /// `TRUST_PROXY_HEADERS` from the `.env` beside openalgo.db, when found.
    pub trust_proxy_headers: Option<bool>,
}

/// A plain-language warning for the Overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// A stable id.
    pub id: &'static str,
    /// `info`, `warn` or `danger`.
    pub level: &'static str,
    /// The headline.
    pub title: String,
    /// What it means and what to do.
    pub text: String,
}

/// Requests in one minute, by status class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MinuteBucket {
    /// The start of the minute.
    #[serde(with = "crate::time::serde_rfc3339")]
    pub at: Timestamp,
    /// 1xx to 3xx.
    pub ok: u32,
    /// 404.
    pub not_found: u32,
    /// 401 and 403.
    pub denied: u32,
    /// Other 4xx.
    pub other_4xx: u32,
    /// 5xx.
    pub errors: u32,
}

/// One of the top offenders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offender {
    /// The address.
    pub ip: String,
    /// 404s and invalid keys in the live windows.
    pub score: u32,
    /// 404s.
    pub not_found: u32,
    /// Invalid keys.
    pub api: u32,
    /// Whether a ban is in force.
    pub banned: bool,
    /// Why it can never be banned, in words; `None` if it can.
    pub protected: Option<String>,
}

/// Everything on the Overview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// The stat cards.
    pub status: Status,
    /// The health of each source.
    pub sources: Vec<SourceView>,
    /// OpenAlgo's settings, when openalgo.db is known.
    pub openalgo: Option<OpenAlgoSettings>,
    /// Warnings, most serious first.
    pub warnings: Vec<Warning>,
    /// The last 60 minutes, oldest first.
    pub per_minute: Vec<MinuteBucket>,
    /// Where `per_minute` was counted: `access log`, `logs.db` or `none`.
    pub per_minute_source: &'static str,
    /// The ten worst live offenders.
    pub top: Vec<Offender>,
    /// The 404 threshold in force.
    pub not_found_threshold: u32,
    /// The invalid-key threshold in force.
    pub api_threshold: u32,
    /// The near-threshold fraction.
    pub near_fraction: f64,
    /// The demo banner, when on the demo workspace.
    pub demo: Option<String>,
    /// How the server checklist last came out, when the monitor runs it (see
    /// [`Overview::with_checklist`]).
    pub checklist: Option<crate::check::Summary>,
    /// Whether the allow-list-only mode is on (the app says so on every view).
    pub allow_only: bool,
    /// The enforcement points beyond `logs.db` that are configured, and how each is doing.
    pub sinks: Vec<crate::enforce::SinkStatus>,
}

impl Overview {
    /// Adds the server checklist's counts, and a warning when a check fails.
    pub fn with_checklist(mut self, summary: crate::check::Summary) -> Self {
        if summary.fail > 0 {
            let n = summary.fail;
            // Most serious first: after the other dangers.
            let at = self.warnings.iter().position(|w| w.level != "danger").unwrap_or(self.warnings.len());
            self.warnings.insert(
                at,
                Warning {
                    id: "checklist",
                    level: "danger",
                    title: if n == 1 {
                        "1 server check is failing.".into()
                    } else {
                        format!("{n} server checks are failing.")
                    },
                    text: "Open the Server checklist: each problem says how to fix it.".into(),
                },
            );
        }
        self.checklist = Some(summary);
        self
    }
}

/// How many traffic rows the chart reads at most: the newest, back to an hour ago.
const CHART_ROWS: usize = 200_000;

impl Desk {
    /// The Overview at `now`, its chart read from the logs. A missing or locked logs.db is shown
    /// as a source problem, not an error: the rest of the page still loads.
    pub fn overview(&self, now: Timestamp) -> DeskResult<Overview> {
        self.overview_with(now, None)
    }

    /// The Overview at `now`. With a running monitor's [`Pulse`], the chart and the one-address
    /// warning come from its counters, and nothing is read from the logs but the stat cards'
    /// tables: a refresh costs the same at any traffic. Without one, they are read from the logs.
    pub fn overview_with(&self, now: Timestamp, pulse: Option<&Pulse>) -> DeskResult<Overview> {
        let thresholds = self.thresholds();
        let logs = LogsDb::open(&self.paths.logs_db);
        let proxy = match pulse.and_then(|p| p.windows.clone()) {
            Some(w) => w,
            None => self.proxy_windows().unwrap_or_default(),
        };
        let mut sources = vec![SourceView {
            name: "logs.db".into(),
            path: self.paths.logs_db.display().to_string(),
            health: match &logs {
                Ok(_) => Health::Ok,
                Err(e) => Health::from_error(e),
            },
            detail: None,
        }];
        let openalgo = self.openalgo_settings(&mut sources);
        for (path, format) in &self.paths.access_logs {
            sources.push(access_source(path, format));
        }
        let (status, top) = match &logs {
            Ok(logs) => {
                let (bans, trackers) = (report::bans(logs, now)?, report::trackers(logs, &proxy, &thresholds, now)?);
                let status = report::status_of(&bans, &trackers, self.cfg.near_fraction);
                let protection = self.protection()?;
                let mut top = top_offenders(&trackers, &bans);
                for o in &mut top {
                    o.protected = super::protected_reason(&protection, &o.ip);
                }
                (status, top)
            }
            Err(_) => (Status::default(), Vec::new()),
        };
        let chart = match pulse {
            Some(p) => self.chart_from_pulse(p, now),
            None => self.chart_from_logs(logs.as_ref().ok(), now),
        };
        let warnings = self.warnings(openalgo.as_ref(), chart.one_client.as_ref(), &sources);
        Ok(Overview {
            status,
            sources,
            openalgo,
            warnings,
            per_minute: chart.per_minute,
            per_minute_source: chart.source,
            top,
            not_found_threshold: thresholds.not_found.threshold,
            api_threshold: thresholds.api.threshold,
            near_fraction: self.cfg.near_fraction,
            demo: self.demo.clone(),
            checklist: None,
            allow_only: self.paths.state_db.exists() && self.state()?.allow_only()?,
            sinks: self.sinks()?.into_iter().filter(|s| s.state != crate::enforce::SinkState::Off).collect(),
        })
    }

    /// The chart read from the logs: the access logs' last hour when they have any (nginx sees
    /// every request OpenAlgo logs, and more), else `traffic_logs`'.
    fn chart_from_logs(&self, logs: Option<&LogsDb>, now: Timestamp) -> Chart {
        let since = now - TimeDelta::minutes(60);
        let rows = logs.and_then(|l| l.traffic_since(since, CHART_ROWS).ok()).unwrap_or_default();
        let from_access: Vec<(Timestamp, u16)> =
            self.paths.access_logs.iter().flat_map(|(p, f)| access_since(p, f, since)).collect();
        let (source, points) = if !from_access.is_empty() {
            ("access log", from_access)
        } else if !rows.is_empty() {
            ("logs.db", rows.iter().map(|(at, status, _)| (*at, *status)).collect())
        } else {
            ("none", Vec::new())
        };
        Chart { per_minute: per_minute(&points, now), source, one_client: one_client(&rows) }
    }

    /// The chart from a running monitor's counters.
    fn chart_from_pulse(&self, pulse: &Pulse, now: Timestamp) -> Chart {
        let last = now.timestamp().div_euclid(60);
        let minutes = (last - 59)..=last;
        let bucket = |m: i64, c: Option<StatusCounts>| {
            let c = c.unwrap_or_default();
            MinuteBucket {
                at: Timestamp::from_timestamp(m * 60, 0).unwrap_or(now),
                ok: c.ok,
                not_found: c.not_found,
                denied: c.denied,
                other_4xx: c.other_4xx,
                errors: c.errors,
            }
        };
        let access: Vec<MinuteBucket> = minutes.clone().map(|m| bucket(m, pulse.access_at(m))).collect();
        let db: Vec<MinuteBucket> = minutes.clone().map(|m| bucket(m, pulse.logs_db_at(m))).collect();
        let any = |b: &[MinuteBucket]| b.iter().any(|b| b.ok + b.not_found + b.denied + b.other_4xx + b.errors > 0);
        let (source, per_minute) = if !self.paths.access_logs.is_empty() && any(&access) {
            ("access log", access)
        } else if any(&db) {
            ("logs.db", db)
        } else {
            ("none", access)
        };
        let one_client = pulse
            .logs_db_one_sender(last - 59, last)
            .filter(|(ip, rows)| *rows >= ONE_CLIENT_ROWS && is_proxy_like(ip));
        Chart { per_minute, source, one_client }
    }

    /// Reads the last hour of the access logs and of `traffic_logs` once, into `pulse`'s seed: a
    /// monitor that starts on a saved position (or at the end of `traffic_logs`) counts only what
    /// comes next, and the chart of a restarted app would otherwise start empty. Run it off the
    /// UI's way: it is the one read whose cost grows with traffic.
    pub fn seed_pulse(&self, pulse: &SharedPulse, now: Timestamp) {
        let since = now - TimeDelta::minutes(60);
        let mut access = MinuteRing::default();
        for (path, format) in &self.paths.access_logs {
            for (at, status) in access_since(path, format, since) {
                access.add(at.timestamp(), status);
            }
        }
        let mut db = MinuteRing::default();
        if let Ok(logs) = LogsDb::open(&self.paths.logs_db) {
            for (at, status, ip) in logs.traffic_since(since, CHART_ROWS).unwrap_or_default() {
                db.add_from(at.timestamp(), status, &ip);
            }
        }
        let mut p = pulse.lock().unwrap_or_else(|e| e.into_inner());
        p.seed_access = access;
        p.seed_logs_db = db;
    }

    fn openalgo_settings(&self, sources: &mut Vec<SourceView>) -> Option<OpenAlgoSettings> {
        let path = self.paths.openalgo_db.as_ref()?;
        let read = OpenAlgoDb::open(path).and_then(|db| db.read());
        sources.push(SourceView {
            name: "openalgo.db".into(),
            path: path.display().to_string(),
            health: match &read {
                Ok(_) => Health::Ok,
                Err(e) => Health::from_error(e),
            },
            detail: None,
        });
        let row = read.ok().unwrap_or_default();
        Some(OpenAlgoSettings {
            auto_ban: row.auto_ban_enabled,
            not_found_threshold: row.threshold_404,
            not_found_ban_hours: row.ban_duration_404,
            api_threshold: row.threshold_api,
            api_ban_hours: row.ban_duration_api,
            repeat_offender_limit: row.repeat_offender_limit,
            trust_proxy_headers: trust_proxy_headers(path),
        })
    }

    fn warnings(
        &self,
        oa: Option<&OpenAlgoSettings>,
        one_client: Option<&(String, u64)>,
        sources: &[SourceView],
    ) -> Vec<Warning> {
        let mut out = Vec::new();
        for s in sources.iter().filter(|s| s.health != Health::Ok) {
            out.push(Warning {
                id: "source",
                level: "danger",
                title: format!("{} cannot be read", s.name),
                text: match &s.health {
                    Health::Missing(_) => format!("{} does not exist. Check the path in Settings.", s.path),
                    Health::Locked(_) => format!("{} is locked by another program; Warden keeps retrying.", s.path),
                    Health::NoSchema(_) => format!("{} is not OpenAlgo's logs.db (its tables are missing).", s.path),
                    Health::Failing(m) => m.clone(),
                    Health::Ok => String::new(),
                },
            });
        }
        if let Some(oa) = oa {
            if oa.trust_proxy_headers == Some(false) {
                out.push(Warning {
                    id: "trust_proxy_headers_off",
                    level: "warn",
                    title: "OpenAlgo sees every client as one address".into(),
                    text: "TRUST_PROXY_HEADERS is off, so behind nginx OpenAlgo records the proxy's address for every \
                           request. Its own trackers cannot tell an attacker from you. Warden counts from the nginx \
                           access log instead; set TRUST_PROXY_HEADERS=TRUE in OpenAlgo's .env to fix OpenAlgo's view."
                        .into(),
                });
            }
            if oa.auto_ban == Some(false) {
                let following = self.cfg.thresholds == ThresholdSource::Openalgo;
                out.push(Warning {
                    id: "auto_ban_off",
                    level: "info",
                    title: "OpenAlgo's own auto-ban is off".into(),
                    text: if following {
                        "OpenAlgo only counts 404s and bad API keys; Warden bans for it, with OpenAlgo's numbers."
                    } else {
                        "OpenAlgo only counts 404s and bad API keys; Warden bans for it, with its own numbers."
                    }
                    .into(),
                });
            }
        }
        if let Some((ip, rows)) = one_client.filter(|_| oa.and_then(|o| o.trust_proxy_headers) != Some(false)) {
            out.push(Warning {
                id: "one_client_ip",
                level: "warn",
                title: "All recent requests come from one address".into(),
                text: format!(
                    "OpenAlgo logged {rows} recent requests, all from {}. That is usually the proxy or a Docker gateway, \
                     not the real clients: check TRUST_PROXY_HEADERS, and add the nginx access log in Settings.",
                    crate::ip::display_raw(ip)
                ),
            });
        }
        if self.paths.access_logs.is_empty() {
            out.push(Warning {
                id: "no_access_log",
                level: "info",
                title: "No nginx access log is watched".into(),
                text: "nginx sees every client with its true address, including requests it answers itself. Add its \
                       access log (usually /var/log/nginx/access.log) in Settings."
                    .into(),
            });
        }
        out
    }
}

/// How many `traffic_logs` rows of the last hour, all from one proxy-like address, raise the
/// one-address warning.
const ONE_CLIENT_ROWS: u64 = 50;

/// The chart's part of the Overview.
struct Chart {
    per_minute: Vec<MinuteBucket>,
    source: &'static str,
    /// The one loopback or private address that sent every `traffic_logs` row of the last hour (at
    /// least [`ONE_CLIENT_ROWS`]), with how many there were.
    one_client: Option<(String, u64)>,
}

/// Whether `ip` is loopback, private or otherwise never a real client: what OpenAlgo records for
/// every request when it sees the proxy instead of the clients.
fn is_proxy_like(ip: &str) -> bool {
    canonicalize(ip).is_ok_and(|ip| crate::ip::Protection::default().check(ip).is_some())
}

/// The one loopback or private address that sent all of at least [`ONE_CLIENT_ROWS`] rows.
fn one_client(rows: &[(Timestamp, u16, String)]) -> Option<(String, u64)> {
    let (_, _, first) = rows.first()?;
    (rows.len() as u64 >= ONE_CLIENT_ROWS && rows.iter().all(|r| &r.2 == first) && is_proxy_like(first))
        .then(|| (first.clone(), rows.len() as u64))
}

fn access_source(path: &Path, format: &str) -> SourceView {
    let (health, size) = match std::fs::metadata(path) {
        Ok(m) => match std::fs::File::open(path) {
            Ok(_) => (Health::Ok, Some(m.len())),
            Err(e) => (Health::Failing(format!("cannot read {}: {e}", path.display())), Some(m.len())),
        },
        Err(_) => {
            (Health::Missing(format!("{} does not exist yet; Warden starts when it appears", path.display())), None)
        }
    };
    SourceView {
        name: "access log".into(),
        path: path.display().to_string(),
        health,
        detail: Some(match size {
            Some(n) => format!("{format}, {}", human_bytes(n)),
            None => format.to_string(),
        }),
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// `(time, status)` of an access log's requests since `since`. Reads the end of the file, 1 MiB
/// first and four times more while the oldest line read is still within the hour (up to 64 MiB),
/// so a quiet log costs little on every refresh and a busy one is still counted.
fn access_since(path: &Path, format: &str, since: Timestamp) -> Vec<(Timestamp, u16)> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut max: u64 = 1 << 20;
    loop {
        let lines = traffic::access_tail(path, format, max);
        let reaches_back = lines.first().and_then(|l| l.at).is_some_and(|t| t < since);
        if reaches_back || max >= len || max >= 64 << 20 {
            return lines.into_iter().filter_map(|l| Some((l.at?, l.status))).filter(|(t, _)| *t >= since).collect();
        }
        max *= 4;
    }
}

/// `TRUST_PROXY_HEADERS` from OpenAlgo's `.env`: beside openalgo.db, or one level up (the
/// installers keep the database in `db/`).
pub fn trust_proxy_headers(openalgo_db: &Path) -> Option<bool> {
    let dir = openalgo_db.parent()?;
    let text = [dir.join(".env"), dir.parent()?.join(".env")].iter().find_map(|p| std::fs::read_to_string(p).ok())?;
    let mut value = None;
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("TRUST_PROXY_HEADERS") else { continue };
        let Some(v) = rest.trim_start().strip_prefix('=') else { continue };
        let v = v.split('#').next().unwrap_or("").trim().trim_matches(['\'', '"']).to_ascii_lowercase();
        // OpenAlgo's own test: one of true, 1, yes, t.
        value = Some(matches!(v.as_str(), "true" | "1" | "yes" | "t"));
    }
    Some(value.unwrap_or(false))
}

/// Buckets `points` into the 60 minutes before `now`, oldest first, empty minutes included.
pub fn per_minute(points: &[(Timestamp, u16)], now: Timestamp) -> Vec<MinuteBucket> {
    let end = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
    let start = end - TimeDelta::minutes(59);
    let mut out: Vec<MinuteBucket> = (0..60)
        .map(|i| MinuteBucket {
            at: start + TimeDelta::minutes(i),
            ok: 0,
            not_found: 0,
            denied: 0,
            other_4xx: 0,
            errors: 0,
        })
        .collect();
    for &(at, status) in points {
        if at < start || at >= end + TimeDelta::minutes(1) {
            continue;
        }
        let i = ((at - start).num_seconds() / 60) as usize;
        let b = &mut out[i.min(59)];
        match status {
            404 => b.not_found += 1,
            401 | 403 => b.denied += 1,
            400..=499 => b.other_4xx += 1,
            500..=599 => b.errors += 1,
            _ => b.ok += 1,
        }
    }
    out
}

/// The ten addresses with the most 404s and invalid keys in their live windows.
pub fn top_offenders(trackers: &[crate::report::TrackerView], bans: &[crate::report::BanView]) -> Vec<Offender> {
    let banned: std::collections::HashSet<String> = bans.iter().map(|b| key(&b.ip)).collect();
    let mut by_ip: HashMap<String, (u32, u32)> = HashMap::new();
    for t in trackers {
        let e = by_ip.entry(key(&t.ip)).or_default();
        match t.kind {
            Rule::NotFound => e.0 = e.0.max(t.count),
            Rule::InvalidApiKey => e.1 = e.1.max(t.count),
            _ => {}
        }
    }
    let mut out: Vec<Offender> = by_ip
        .into_iter()
        .map(|(ip, (nf, api))| Offender {
            banned: banned.contains(&ip),
            ip,
            score: nf + api,
            not_found: nf,
            api,
            protected: None,
        })
        .collect();
    out.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.ip.cmp(&b.ip)));
    out.truncate(10);
    out
}
