//! What the engine knows of bans: which clients are banned, from when to when, under which
//! spellings, and the bans it ordered that are not written yet.

use std::net::IpAddr;

use super::{BanOrder, Engine};
use crate::ip::{canonicalize, IpKey};
use crate::time::Timestamp;

impl Engine {
    /// Replaces the known bans with what `logs.db` holds now: `(raw ip, banned_at, until)` where
    /// `until` is `None` for permanent. Rows whose address is not an IP still count for their
    /// exact string.
    pub fn sync_bans<'a>(&mut self, rows: impl IntoIterator<Item = (&'a str, Option<Timestamp>, Option<Timestamp>)>) {
        self.version += 1;
        self.bans.clear();
        self.banned_raw.clear();
        self.ban_filter.clear();
        for (raw, since, until) in rows {
            merge(self.banned_raw.entry(raw.to_string()).or_insert(until), until);
            if let Ok(ip) = canonicalize(raw) {
                self.ban_filter.insert(ip_key(ip));
                let span = self.bans.entry(ip_key(ip)).or_insert(Span { until, since });
                merge(&mut span.until, until);
                span.since = match (span.since, since) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        for (ip, until) in &self.held {
            self.ban_filter.insert(ip_key(*ip));
            let span = self.bans.entry(ip_key(*ip)).or_insert(Span { until: *until, since: None });
            merge(&mut span.until, *until);
        }
    }

    /// Keeps an ordered ban in force in the engine until [`Engine::release`] (its write failed
    /// and will be retried).
    pub fn hold(&mut self, ip: IpAddr, until: Option<Timestamp>) {
        self.held.insert(ip, until);
    }

    /// Forgets a held ban (it was written, or given up).
    pub fn release(&mut self, ip: IpAddr) {
        self.held.remove(&ip);
    }

    /// Whether `ip` is banned at `at`.
    #[inline]
    pub fn is_banned(&self, ip: IpAddr, at: Timestamp) -> bool {
        self.is_banned_client(IpKey::of(ip), at)
    }

    /// [`Engine::is_banned`] for an address already in key form (the access-log loop keeps its
    /// clients as keys).
    #[inline]
    pub fn is_banned_client(&self, client: IpKey, at: Timestamp) -> bool {
        let key = client.bits();
        // Most addresses are not banned: a bit in a small filter says so without a map lookup.
        if self.bans.is_empty() || !self.ban_filter.contains(key) {
            return false;
        }
        self.is_banned_key(key, at)
    }

    /// [`Engine::is_banned`] past the filter: the map lookup.
    #[inline(never)]
    fn is_banned_key(&self, key: u128, at: Timestamp) -> bool {
        self.bans.get(&key).is_some_and(|span| {
            active(Some(&span.until), at)
                && span
                    .since
                    .is_none_or(|since| at > since || (at == since && self.ordered_here.get(&key) == Some(&since)))
        })
    }

    /// Whether OpenAlgo enforces a ban on exactly this stored string at `at`.
    pub fn is_banned_raw(&self, raw: &str, at: Timestamp) -> bool {
        active(self.banned_raw.get(raw), at) || canonicalize(raw).is_ok_and(|ip| active(self.held.get(&ip), at))
    }

    /// Takes back a ban that was ordered but will not be written because it has already run out
    /// (from a backfill of old lines): it was no offence Warden acted on.
    pub fn forget_ban(&mut self, order: &BanOrder) {
        if !order.alias {
            if let Some(n) = self.offences.get_mut(&order.ip) {
                *n = n.saturating_sub(1);
            }
        }
        self.bans.remove(&ip_key(order.ip));
        self.version += 1;
    }
}

pub(super) fn active(ban: Option<&Option<Timestamp>>, at: Timestamp) -> bool {
    match ban {
        Some(None) => true,
        Some(Some(until)) => at < *until,
        None => false,
    }
}

/// A client's ban as the engine knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// When it ends; `None` for permanent.
    pub(super) until: Option<Timestamp>,
    /// When it began: a request logged before that (a line re-read after a crash, a backfill)
    /// is judged as the unbanned request it was.
    pub(super) since: Option<Timestamp>,
}

/// Two bans of one client: the longer wins.
pub(super) fn merge(entry: &mut Option<Timestamp>, until: Option<Timestamp>) {
    *entry = match (*entry, until) {
        (None, _) | (_, None) => None,
        (Some(a), Some(b)) => Some(a.max(b)),
    };
}

/// One integer per address, cheaper to hash than the enum; IPv4 takes its mapped form, which no
/// canonical IPv6 address has.
pub(super) fn ip_key(ip: IpAddr) -> u128 {
    IpKey::of(ip).bits()
}

/// A 64 Ki-bit filter of banned addresses (8 KiB, stays in the CPU cache): a clear bit proves an
/// address is not banned; a set bit means "look in the map". Bits are only cleared all at once.
#[derive(Debug, Clone)]
pub(super) struct BanFilter(Vec<u64>);

impl Default for BanFilter {
    fn default() -> Self {
        Self(vec![0; 1024])
    }
}

impl BanFilter {
    fn bit(key: u128) -> usize {
        let folded = (key as u64) ^ ((key >> 64) as u64);
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
    }

    pub(super) fn insert(&mut self, key: u128) {
        let b = Self::bit(key);
        self.0[b / 64] |= 1 << (b % 64);
    }

    pub(super) fn contains(&self, key: u128) -> bool {
        let b = Self::bit(key);
        self.0[b / 64] & (1 << (b % 64)) != 0
    }

    pub(super) fn clear(&mut self) {
        self.0.iter_mut().for_each(|w| *w = 0);
    }
}
