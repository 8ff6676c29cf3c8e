//! The rules Warden enforces, and the one input shape that every source produces.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// A rule. The first three count events in OpenAlgo's 24 h window; `Rate` counts requests
/// per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rule {
    /// Requests answered 404 outside OpenAlgo's safe prefixes (scanners, probes).
    #[serde(rename = "404")]
    NotFound,
    /// Requests with an invalid OpenAlgo API key (key spraying, brute force).
    #[serde(rename = "api")]
    InvalidApiKey,
    /// Failed logins (a 401 on `/auth/login`).
    #[serde(rename = "login")]
    FailedLogin,
    /// Too many requests in one minute (overall, or to one path).
    #[serde(rename = "rate")]
    Rate,
}

/// OpenAlgo's two trackers in `logs.db`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Tracker {
    /// `error_404_tracker`.
    NotFound,
    /// `invalid_api_key_tracker`.
    InvalidApiKey,
}

impl Tracker {
    /// Both trackers.
    pub const ALL: [Tracker; 2] = [Tracker::NotFound, Tracker::InvalidApiKey];

    /// The rule it counts for.
    pub fn rule(self) -> Rule {
        match self {
            Tracker::NotFound => Rule::NotFound,
            Tracker::InvalidApiKey => Rule::InvalidApiKey,
        }
    }

    /// The tracker of a rule, if OpenAlgo has one.
    pub fn of(rule: Rule) -> Option<Self> {
        match rule {
            Rule::NotFound => Some(Tracker::NotFound),
            Rule::InvalidApiKey => Some(Tracker::InvalidApiKey),
            Rule::FailedLogin | Rule::Rate => None,
        }
    }

    /// OpenAlgo's table.
    pub fn table(self) -> &'static str {
        match self {
            Tracker::NotFound => "error_404_tracker",
            Tracker::InvalidApiKey => "invalid_api_key_tracker",
        }
    }
}

impl Rule {
    /// The short name used in JSON and on the command line: `404`, `api`, `login` or `rate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NotFound => "404",
            Rule::InvalidApiKey => "api",
            Rule::FailedLogin => "login",
            Rule::Rate => "rate",
        }
    }

    /// The `created_by` value of a ban that Warden writes for this rule. It starts with `warden:`,
    /// so Warden's bans are told apart from OpenAlgo's (`404_detector`, `manual`, …).
    pub fn created_by(self) -> &'static str {
        match self {
            Rule::NotFound => "warden:404",
            Rule::InvalidApiKey => "warden:api-key",
            Rule::FailedLogin => "warden:login",
            Rule::Rate => "warden:rate",
        }
    }

    /// The ban reason, in OpenAlgo's exact wording so its dashboard reads the same.
    pub fn reason(self, count: u32) -> String {
        match self {
            Rule::NotFound => format!("Exceeded 404 threshold: {count} errors in 24 hours"),
            Rule::InvalidApiKey => {
                format!("Exceeded invalid API key threshold: {count} attempts in 24 hours")
            }
            Rule::FailedLogin => format!("Exceeded failed login threshold: {count} attempts in 24 hours"),
            Rule::Rate => format!("Exceeded rate limit: {count} requests in one minute"),
        }
    }

    /// What is being counted, in plain words ("404s", "invalid API keys").
    pub fn noun(self) -> &'static str {
        match self {
            Rule::NotFound => "404s",
            Rule::InvalidApiKey => "invalid API keys",
            Rule::FailedLogin => "failed logins",
            Rule::Rate => "requests in a minute",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an observation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// OpenAlgo's own `logs.db` trackers.
    Openalgo,
    /// The reverse proxy's access log.
    Proxy,
}

/// What one request did that a rule counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// A 404 for this path.
    NotFound {
        /// The request path, as sent (attacker-controlled).
        path: String,
    },
    /// An invalid API key, identified only by OpenAlgo's hash: hex(SHA-256(key))[..16].
    InvalidApiKey {
        /// The key hash, if a key was sent at all.
        key_hash: Option<String>,
    },
    /// A failed login.
    FailedLogin,
}

impl What {
    /// The rule that counts this.
    pub fn rule(&self) -> Rule {
        match self {
            What::NotFound { .. } => Rule::NotFound,
            What::InvalidApiKey { .. } => Rule::InvalidApiKey,
            What::FailedLogin => Rule::FailedLogin,
        }
    }
}

/// One request, from any source, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When it happened (event time, not the time it was read).
    pub at: Timestamp,
    /// The client address exactly as the source wrote it (canonicalized by the engine).
    pub ip: String,
    /// What happened.
    pub what: What,
    /// Where it was seen.
    pub source: Source,
}

/// OpenAlgo's 404 paths that are never counted (`app.py`'s 404 handler).
pub const SAFE_404_PREFIXES: [&str; 9] = [
    "/favicon",
    "/robots.txt",
    "/sitemap",
    "/manifest",
    "/sw.js",
    "/.well-known",
    "/apple-touch-icon",
    "/service-worker",
    "/workbox",
];

/// Whether OpenAlgo would ignore a 404 for this path.
pub fn is_safe_404(path: &str) -> bool {
    SAFE_404_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Whether the raw path `hay` starts with `prefix`, as the path rules compare them (safe 404
/// prefixes, the API prefix, per-path rate limits). Paths share their first bytes (`/api/v1/…`),
/// so the last byte of the prefix is compared first: most candidates fail on that one load.
#[inline]
pub fn has_prefix(hay: &[u8], prefix: &[u8]) -> bool {
    match prefix.last() {
        None => true,
        Some(last) => hay.get(prefix.len() - 1) == Some(last) && hay[..prefix.len()] == *prefix,
    }
}

/// OpenAlgo's API-key hash: the first 16 hex digits of SHA-256 of the raw key (UTF-8, no salt).
/// Warden never stores or prints a raw key, only this.
pub fn api_key_hash(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_use_openalgo_wording() {
        assert_eq!(Rule::NotFound.reason(20), "Exceeded 404 threshold: 20 errors in 24 hours");
        assert_eq!(Rule::InvalidApiKey.reason(10), "Exceeded invalid API key threshold: 10 attempts in 24 hours");
    }

    #[test]
    fn key_hash_matches_openalgo() {
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223...
        assert_eq!(api_key_hash("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn safe_prefixes() {
        assert!(is_safe_404("/favicon.ico"));
        assert!(is_safe_404("/.well-known/acme-challenge/x"));
        assert!(!is_safe_404("/wp-login.php"));
        assert!(!is_safe_404("/favico"));
    }
}
