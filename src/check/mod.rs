//! `warden check`: a security checklist of the trader's own server.
//!
//! Facts are gathered at the edges ([`facts`]: OpenAlgo's `.env`, file modes, nginx's
//! configuration, the listening sockets, OpenAlgo's `settings` row) and judged by pure functions
//! ([`judge`]: facts in, findings out), so every judgement is tested without a file. A fact that
//! could not be read makes its findings `unknown`, with the reason, never a false `pass`.
//!
//! - [`env`](mod@env): `.env` read as python-dotenv reads it.
//! - [`nginx`]: nginx's configuration as a tree of directives.
//! - [`net`]: the listening TCP sockets.

pub mod env;
pub mod facts;
pub mod judge;
pub mod net;
pub mod nginx;
pub mod recheck;

use serde::Serialize;

pub use facts::{gather, Facts, FileFacts};

/// How a check came out. The order is the order findings are listed in: failures first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Something is wrong and can hurt the trader.
    Fail,
    /// Worth fixing, or deliberate.
    Warn,
    /// A fact the check needs could not be read; `reason` says why.
    Unknown,
    /// Fine.
    Pass,
}

impl Status {
    /// How the CLI prints it.
    pub fn word(self) -> &'static str {
        match self {
            Status::Fail => "FAIL",
            Status::Warn => "WARN",
            Status::Unknown => "????",
            Status::Pass => "ok",
        }
    }
}

/// One finding of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable id, e.g. `env.flask_debug`.
    pub id: &'static str,
    /// What is checked, in a few words.
    pub title: &'static str,
    /// How it came out.
    pub status: Status,
    /// Why it matters, in plain words for a trader.
    pub why: String,
    /// The exact line or command that fixes it (empty when it passes).
    pub fix: String,
    /// What was seen: the line or mode, secrets masked.
    pub evidence: Option<String>,
    /// For `unknown`: why the fact could not be read.
    pub reason: Option<String>,
}

/// The whole checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Failures first, then warnings, unknowns and passes; by id within each.
    pub findings: Vec<Finding>,
    /// How many of each.
    pub summary: Summary,
}

/// How many findings came out each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Failures.
    pub fail: usize,
    /// Warnings.
    pub warn: usize,
    /// Facts that could not be read.
    pub unknown: usize,
    /// Passes.
    pub pass: usize,
}

impl Report {
    /// Sorts `findings` (failures first) and counts them.
    pub fn new(mut findings: Vec<Finding>) -> Self {
        findings.sort_by(|a, b| a.status.cmp(&b.status).then_with(|| a.id.cmp(b.id)));
        let mut summary = Summary::default();
        for f in &findings {
            match f.status {
                Status::Fail => summary.fail += 1,
                Status::Warn => summary.warn += 1,
                Status::Unknown => summary.unknown += 1,
                Status::Pass => summary.pass += 1,
            }
        }
        Self { findings, summary }
    }

    /// The finding with `id`.
    pub fn get(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }

    /// `warden check`'s exit code: 0 when nothing fails, 3 when something does.
    pub fn exit_code(&self) -> u8 {
        if self.summary.fail > 0 {
            3
        } else {
            0
        }
    }

    /// One line for `warden status` and the monitor's start-up output.
    pub fn one_line(&self) -> String {
        let s = self.summary;
        let mut parts = vec![format!("{} failing", s.fail), format!("{} to look at", s.warn)];
        if s.unknown > 0 {
            parts.push(format!("{} not readable", s.unknown));
        }
        parts.push(format!("{} fine", s.pass));
        format!("server checklist: {} (details: warden check)", parts.join(", "))
    }
}

/// `s` on one line, at most `max` characters: control characters escaped, the rest cut with `…`.
/// What Warden shows of a configuration line can never break a table or a log line.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A secret, masked: its first four characters and its length.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n <= 8 {
        return format!("… ({n} characters)");
    }
    let head: String = secret.chars().take(4).collect();
    format!("{}… ({n} characters)", one_line(&head, 4))
}
