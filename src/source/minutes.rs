//! Requests per minute by status class, counted as the sources read them: the overview's chart
//! reads these counters instead of reading the logs again, so its cost does not grow with traffic.

use std::hash::BuildHasher;

/// How many minutes a [`MinuteRing`] keeps: the chart's hour, and a few to spare.
pub const MINUTES: usize = 64;

/// Requests in one minute, by status class (the chart's classes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// 1xx to 3xx (and anything unreadable).
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

impl StatusCounts {
    /// Counts one request answered `status`.
    #[inline]
    pub fn add(&mut self, status: u16) {
        let c = match status {
            404 => &mut self.not_found,
            401 | 403 => &mut self.denied,
            400..=499 => &mut self.other_4xx,
            500..=599 => &mut self.errors,
            _ => &mut self.ok,
        };
        *c = c.saturating_add(1);
    }

    /// Adds another minute's counts.
    pub fn merge(&mut self, o: &StatusCounts) {
        self.ok = self.ok.saturating_add(o.ok);
        self.not_found = self.not_found.saturating_add(o.not_found);
        self.denied = self.denied.saturating_add(o.denied);
        self.other_4xx = self.other_4xx.saturating_add(o.other_4xx);
        self.errors = self.errors.saturating_add(o.errors);
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        [self.ok, self.not_found, self.denied, self.other_4xx, self.errors].iter().map(|&n| u64::from(n)).sum()
    }
}

/// Who sent a minute's requests: nobody yet, one address (by hash), or several.
const NOBODY: u64 = 0;
const SEVERAL: u64 = u64::MAX;

/// The last [`MINUTES`] minutes of event time, one slot per minute: adding a request is an index
/// and an increment. A request older than what its slot holds is dropped, since it is outside the
/// window by then.
#[derive(Debug, Clone)]
pub struct MinuteRing {
    minute: [i64; MINUTES],
    counts: [StatusCounts; MINUTES],
    /// Per minute, who sent the requests (only through [`MinuteRing::add_from`]).
    senders: [u64; MINUTES],
    /// The last address given to [`MinuteRing::add_from`], as stored.
    last_sender: String,
    /// The earliest minute ever counted.
    first: i64,
    /// The start (Unix seconds) of the minute last counted, and its slot: lines come in time
    /// order, so most find their slot without a division.
    current: (i64, usize),
}

impl Default for MinuteRing {
    fn default() -> Self {
        Self {
            minute: [i64::MIN; MINUTES],
            counts: [StatusCounts::default(); MINUTES],
            senders: [NOBODY; MINUTES],
            last_sender: String::new(),
            first: i64::MAX,
            current: (i64::MIN, 0),
        }
    }
}

impl PartialEq for MinuteRing {
    /// Equal counts, senders and first minute; which slot was used last does not matter.
    fn eq(&self, o: &Self) -> bool {
        (self.minute, self.counts, self.senders, &self.last_sender, self.first)
            == (o.minute, o.counts, o.senders, &o.last_sender, o.first)
    }
}

impl Eq for MinuteRing {}

impl MinuteRing {
    #[inline]
    fn slot(&mut self, secs: i64) -> Option<usize> {
        if (secs.wrapping_sub(self.current.0) as u64) < 60 {
            return Some(self.current.1);
        }
        let m = secs.div_euclid(60);
        let i = m.rem_euclid(MINUTES as i64) as usize;
        if self.minute[i] != m {
            if m < self.minute[i] {
                return None;
            }
            self.minute[i] = m;
            self.counts[i] = StatusCounts::default();
            self.senders[i] = NOBODY;
        }
        self.first = self.first.min(m);
        self.current = (m * 60, i);
        Some(i)
    }

    /// Counts a request at `secs` (Unix seconds) answered `status`.
    #[inline]
    pub fn add(&mut self, secs: i64, status: u16) {
        if let Some(i) = self.slot(secs) {
            self.counts[i].add(status);
        }
    }

    /// Counts a request and remembers who sent it, for [`MinuteRing::senders`].
    pub fn add_from(&mut self, secs: i64, status: u16, sender: &str) {
        let Some(i) = self.slot(secs) else { return };
        self.counts[i].add(status);
        // A fixed hasher: equal addresses must hash alike in every slot.
        let h = foldhash::fast::FixedState::with_seed(0x0057_5244_454e).hash_one(sender).clamp(1, SEVERAL - 1);
        self.senders[i] = match self.senders[i] {
            NOBODY => h,
            same if same == h => h,
            _ => SEVERAL,
        };
        if self.last_sender != sender {
            sender.clone_into(&mut self.last_sender);
        }
    }

    /// The counts of the minute starting at `minute` (Unix minutes), if this ring holds it.
    pub fn get(&self, minute: i64) -> Option<StatusCounts> {
        let i = minute.rem_euclid(MINUTES as i64) as usize;
        (self.minute[i] == minute).then_some(self.counts[i])
    }

    /// The earliest minute ever counted (Unix minutes), or `None` before the first request.
    pub fn first_minute(&self) -> Option<i64> {
        (self.first != i64::MAX).then_some(self.first)
    }

    /// Adds every minute of `other` into this ring (several logs into one chart).
    pub fn merge(&mut self, other: &MinuteRing) {
        for i in 0..MINUTES {
            let m = other.minute[i];
            if m == i64::MIN {
                continue;
            }
            if let Some(j) = self.slot(m * 60) {
                self.counts[j].merge(&other.counts[i]);
                self.senders[j] = match (self.senders[j], other.senders[i]) {
                    (a, NOBODY) => a,
                    (NOBODY, b) => b,
                    (a, b) if a == b => a,
                    _ => SEVERAL,
                };
            }
        }
        self.first = self.first.min(other.first);
        if !other.last_sender.is_empty() {
            other.last_sender.clone_into(&mut self.last_sender);
        }
    }

    /// Who sent the requests of the minutes `from..=to` (counted through [`MinuteRing::add_from`]).
    pub fn senders(&self, from: i64, to: i64) -> Senders<'_> {
        let mut who = NOBODY;
        for m in from..=to {
            let i = m.rem_euclid(MINUTES as i64) as usize;
            if self.minute[i] != m || self.counts[i].total() == 0 {
                continue;
            }
            match (who, self.senders[i]) {
                (_, SEVERAL) | (_, NOBODY) => return Senders::Several,
                (NOBODY, s) => who = s,
                (w, s) if w != s => return Senders::Several,
                _ => {}
            }
        }
        if who == NOBODY {
            Senders::Nobody
        } else {
            Senders::One(&self.last_sender)
        }
    }
}

/// Who sent a span of minutes' requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Senders<'a> {
    /// No request was counted.
    Nobody,
    /// Every request came from this one address, as stored.
    One(&'a str),
    /// Several addresses (or requests counted without one).
    Several,
}

impl<'a> Senders<'a> {
    /// Who sent both spans' requests together.
    pub fn and(self, other: Senders<'a>) -> Senders<'a> {
        match (self, other) {
            (Senders::Nobody, x) | (x, Senders::Nobody) => x,
            (Senders::One(a), Senders::One(b)) if a == b => Senders::One(a),
            _ => Senders::Several,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_minute_and_class_and_drops_what_is_older_than_its_slot() {
        let mut r = MinuteRing::default();
        let base = 1_800_000_000 / 60 * 60;
        r.add(base, 200);
        r.add(base + 59, 404);
        r.add(base + 60, 403);
        r.add(base + 61, 502);
        assert_eq!(r.get(base / 60), Some(StatusCounts { ok: 1, not_found: 1, ..Default::default() }));
        assert_eq!(r.get(base / 60 + 1), Some(StatusCounts { denied: 1, errors: 1, ..Default::default() }));
        // 64 minutes later the first slot is reused; a late line for the old minute is dropped.
        r.add(base + 64 * 60, 200);
        assert_eq!(r.get(base / 60), None);
        r.add(base + 1, 200);
        assert_eq!(r.get(base / 60 + 64).map(|c| c.total()), Some(1));
        assert_eq!(r.first_minute(), Some(base / 60));
    }

    #[test]
    fn one_sender_is_named_only_when_every_minute_had_the_same_single_address() {
        let mut r = MinuteRing::default();
        let base = 1_800_000_000 / 60 * 60;
        for i in 0..10 {
            r.add_from(base + i * 60, 200, "172.17.0.1");
        }
        let (from, to) = (base / 60 - 5, base / 60 + 20);
        assert_eq!(r.senders(from, to), Senders::One("172.17.0.1"));
        r.add_from(base + 5 * 60, 200, "203.0.113.9");
        assert_eq!(r.senders(from, to), Senders::Several);
        assert_eq!(r.senders(base / 60 + 30, base / 60 + 40), Senders::Nobody);
        let mut other = MinuteRing::default();
        other.add_from(base + 30 * 60, 404, "172.17.0.1");
        let mut merged = MinuteRing::default();
        merged.merge(&other);
        assert_eq!(merged.senders(base / 60, base / 60 + 40), Senders::One("172.17.0.1"));
        assert_eq!(merged.get(base / 60 + 30).map(|c| c.not_found), Some(1));
    }
}
