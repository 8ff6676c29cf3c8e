//! OpenAlgo's fixed 24-hour counting window.

use chrono::Duration;

use crate::event::Rule;
use crate::time::Timestamp;

/// The window length. Fixed, like OpenAlgo's: the reason texts say "in 24 hours".
pub const WINDOW: Duration = Duration::hours(24);

/// OpenAlgo counts the same invalid key once per five minutes (its negative-key cache, §5.7).
pub const SAME_KEY_GAP: Duration = Duration::minutes(5);

/// Most distinct items kept per window, as OpenAlgo keeps them: 50 paths, 20 key hashes.
pub fn max_items(rule: Rule) -> usize {
    match rule {
        Rule::NotFound => 50,
        Rule::InvalidApiKey => 20,
        Rule::FailedLogin | Rule::Rate => 0,
    }
}

/// `t + d`, saturating instead of overflowing on absurd times read from a file.
pub fn later(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add_signed(d).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// A counter for one address and one rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Events counted in this window.
    pub count: u32,
    /// When the window started (the first event).
    pub first_at: Timestamp,
    /// The latest event.
    pub last_at: Timestamp,
    /// Distinct paths or key hashes, oldest first.
    pub items: Vec<String>,
    /// When each item was last seen (parallel to `items`).
    #[serde(default)]
    seen: Vec<Timestamp>,
}

impl Window {
    /// A new window holding one event.
    pub fn start(rule: Rule, at: Timestamp, item: Option<&str>) -> Self {
        let mut w = Self { count: 1, first_at: at, last_at: at, items: Vec::new(), seen: Vec::new() };
        w.push_item(rule, at, item);
        w
    }

    /// Whether the window has run its course at `at`. OpenAlgo's test is
    /// `(now - first).days >= 1`, so the reset happens at exactly 24 hours.
    pub fn is_over(&self, at: Timestamp) -> bool {
        at >= later(self.first_at, WINDOW)
    }

    /// Counts one more event: restarts the window when it is over, otherwise adds to it. An
    /// invalid key already seen within [`SAME_KEY_GAP`] is not counted again. Returns whether
    /// the event was counted.
    pub fn record(&mut self, rule: Rule, at: Timestamp, item: Option<&str>) -> bool {
        if self.is_over(at) {
            *self = Self::start(rule, at, item);
            return true;
        }
        if rule == Rule::InvalidApiKey {
            if let Some(pos) = item.and_then(|i| self.items.iter().position(|x| x == i)) {
                if at < later(self.seen[pos], SAME_KEY_GAP) {
                    return false;
                }
            }
        }
        self.count = self.count.saturating_add(1);
        self.last_at = self.last_at.max(at);
        self.push_item(rule, at, item);
        true
    }

    fn push_item(&mut self, rule: Rule, at: Timestamp, item: Option<&str>) {
        let Some(item) = item else { return };
        if let Some(pos) = self.items.iter().position(|i| i == item) {
            self.seen[pos] = at;
            return;
        }
        if self.items.len() == max_items(rule) {
            self.items.remove(0);
            self.seen.remove(0);
        }
        self.items.push(item.to_string());
        self.seen.push(at);
    }
}
