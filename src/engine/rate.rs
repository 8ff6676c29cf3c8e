//! Rate and burst detection: requests per minute per address, overall and per path.
//!
//! Buckets are fixed calendar minutes in event time. Access logs are written in time order, so
//! when a line from a later minute arrives the previous minute's counts are dropped; memory is
//! bounded by the addresses seen in one minute. A burst is reported once per address, scope and
//! minute: on the request that goes one over the limit.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::thresholds::RateLimits;
use crate::event::has_prefix;
use crate::ip::IpKey;

/// An address that went over a per-minute limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Burst {
    /// The path prefix of the limit, or `None` for the overall limit.
    pub scope: Option<String>,
    /// Requests in the minute so far.
    pub count: u32,
    /// The limit.
    pub limit: u32,
    /// The minute (its first second, Unix time).
    pub minute: i64,
}

/// Per-minute counters. Seeded hashing (foldhash with a random seed), because the keys are
/// addresses an attacker chooses, and an IPv6 attacker has 2^64 of them.
#[derive(Debug, Default)]
pub struct RateCounter {
    minute: i64,
    /// The first second of `minute` (Unix time), to tell a second of the same minute with two
    /// compares instead of a division.
    start: i64,
    all: HashMap<u128, u32, RandomState>,
    paths: HashMap<(u128, u16), u32, RandomState>,
}

fn reset<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32, RandomState>) {
    let used = map.len();
    map.clear();
    // Give memory back after a flood, but keep it for a steady load.
    if map.capacity() > 1 << 16 && used < map.capacity() / 8 {
        map.shrink_to(used * 2);
    }
}

impl RateCounter {
    /// Counts one request from `client` for `path` at `secs` (Unix seconds); returns a burst when
    /// this request is the first one over a limit in its minute.
    #[inline(always)]
    pub fn hit(&mut self, limits: &RateLimits, client: IpKey, path: &[u8], secs: i64) -> Option<Burst> {
        // One integer per address hashes faster than the enum.
        let ip = client.bits();
        if !(self.start..self.start + 60).contains(&secs) {
            let minute = secs.div_euclid(60);
            if minute < self.minute {
                // A line from an earlier minute (out of order, or an older file): counting it in
                // the current bucket would invent a burst, so it is not counted.
                return None;
            }
            if minute > self.minute {
                reset(&mut self.all);
                reset(&mut self.paths);
                self.minute = minute;
                self.start = minute * 60;
            }
        }
        let mut burst = None;
        if limits.per_minute > 0 {
            let c = self.all.entry(ip).or_insert(0);
            *c = c.saturating_add(1);
            if *c == limits.per_minute.saturating_add(1) {
                burst = Some(Burst { scope: None, count: *c, limit: limits.per_minute, minute: self.minute * 60 });
            }
        }
        for (i, limit) in limits.paths.iter().enumerate() {
            let prefix = limit.prefix.as_bytes();
            if !has_prefix(path, prefix) {
                continue;
            }
            let c = self.paths.entry((ip, i as u16)).or_insert(0);
            *c = c.saturating_add(1);
            if *c == limit.per_minute.saturating_add(1) && burst.is_none() {
                burst = Some(Burst {
                    scope: Some(limit.prefix.clone()),
                    count: *c,
                    limit: limit.per_minute,
                    minute: self.minute * 60,
                });
            }
        }
        burst
    }

    /// Addresses counted in the current minute (for memory checks).
    pub fn tracked(&self) -> usize {
        self.all.len()
    }
}
