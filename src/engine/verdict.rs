//! What the engine decides: ban orders, notices, and the shapes they carry.

use std::net::IpAddr;

use serde::Serialize;

use super::BanLength;
use crate::event::{Rule, Source};
use crate::ip::ProtectedKind;
use crate::time::Timestamp;

/// OpenAlgo's counter for one address, as read from `error_404_tracker` or
/// `invalid_api_key_tracker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerReading {
    /// The address exactly as OpenAlgo stored it.
    pub raw_ip: String,
    /// Which tracker.
    pub rule: Rule,
    /// OpenAlgo's count in the current window.
    pub count: u32,
    /// When OpenAlgo's window started.
    pub first_at: Timestamp,
}

/// An order to ban, with everything needed to write the row and explain it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BanOrder {
    /// The canonical address.
    pub ip: IpAddr,
    /// The address as the source spelled it (OpenAlgo matches ban rows by exact string, so a
    /// differently spelled form gets its own row).
    pub raw: String,
    /// The rule that fired.
    pub rule: Rule,
    /// The count that reached the threshold.
    pub count: u32,
    /// The threshold.
    pub threshold: u32,
    /// The reason, in OpenAlgo's wording.
    pub reason: String,
    /// Which offence of this address this is (1 for the first ban).
    pub offence: u32,
    /// How long: the rule's length, or permanent from the repeat-offender limit on.
    pub length: BanLength,
    /// When the ban starts.
    #[serde(with = "crate::time::serde_rfc3339")]
    pub at: Timestamp,
    /// Where the offending requests were seen.
    pub source: Source,
    /// An existing ban extended to another spelling of the same client: not a new offence.
    pub alias: bool,
}

impl BanOrder {
    /// When the ban ends; `None` for permanent.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.length.expires_at(self.at)
    }
}

/// An address that has reached the near-threshold fraction, reported once per window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NearThreshold {
    /// The canonical address.
    pub ip: IpAddr,
    /// The rule.
    pub rule: Rule,
    /// The count now.
    pub count: u32,
    /// The threshold it is nearing.
    pub threshold: u32,
    /// When its window started (the notice fires once per window).
    #[serde(with = "crate::time::serde_rfc3339")]
    pub window_start: Timestamp,
    /// Where the requests were seen.
    pub source: Source,
}

/// What the engine decided about one observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Ban this address.
    Ban(BanOrder),
    /// This address nears a threshold.
    Near(NearThreshold),
    /// This address reached a threshold but is never banned.
    Protected {
        /// The canonical address.
        ip: IpAddr,
        /// The rule.
        rule: Rule,
        /// The count.
        count: u32,
        /// Why it is protected.
        why: ProtectedKind,
    },
    /// OpenAlgo's own auto-ban is on and will ban this address itself; Warden does not ban twice.
    LeftToOpenAlgo {
        /// The canonical address.
        ip: IpAddr,
        /// The rule.
        rule: Rule,
        /// The count.
        count: u32,
    },
    /// A rule whose action is a notice reached its threshold (failed logins, by default).
    Reached {
        /// The canonical address.
        ip: IpAddr,
        /// The rule.
        rule: Rule,
        /// The count.
        count: u32,
        /// The threshold.
        threshold: u32,
    },
    /// An address went over a per-minute limit, and the configured action is a notice.
    Burst {
        /// The canonical address.
        ip: IpAddr,
        /// The path prefix of the limit, or `None` for all requests.
        scope: Option<String>,
        /// Requests in the minute.
        count: u32,
        /// The limit.
        limit: u32,
    },
    /// An address reached the invalid-key threshold but also made successful API calls in the
    /// last 24 h: a client of the trader's using an old key, reported instead of banned (see
    /// [`super::Engine::set_spare_working_keys`]).
    StaleKey {
        /// The canonical address.
        ip: IpAddr,
        /// Invalid keys counted.
        count: u32,
        /// The threshold.
        threshold: u32,
        /// Its last successful API call.
        last_ok: Timestamp,
    },
    /// A source reported a client "address" that is not an IP; it is never banned.
    NotAnIp {
        /// The string, escaped and shortened for display.
        raw: String,
        /// The rule it was counted under.
        rule: Rule,
        /// Where it was seen.
        source: Source,
    },
}
