//! OpenAlgo's fixed 24-hour counting window.

use chrono::Duration;

use crate::time::Timestamp;

/// The window length. Fixed, like OpenAlgo's: the reason texts say "in 24 hours".
pub const WINDOW: Duration = Duration::hours(24);

/// Most distinct paths or key hashes kept per window, as OpenAlgo keeps (50 paths, 20 hashes).
pub const MAX_ITEMS: usize = 50;

/// A counter for one address and one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Events counted in this window.
    pub count: u32,
    /// When the window started (the first event).
    pub first_at: Timestamp,
    /// The latest event.
    pub last_at: Timestamp,
    /// Distinct paths or key hashes, oldest first, at most [`MAX_ITEMS`].
    pub items: Vec<String>,
}

impl Window {
    /// A new window holding one event.
    pub fn start(at: Timestamp, item: Option<&str>) -> Self {
        let mut w = Self { count: 1, first_at: at, last_at: at, items: Vec::new() };
        w.push_item(item);
        w
    }

    /// Whether the window has run its course at `at`. OpenAlgo's test is
    /// `(now - first).days >= 1`, so the reset happens at exactly 24 hours.
    pub fn is_over(&self, at: Timestamp) -> bool {
        at - self.first_at >= WINDOW
    }

    /// Counts one more event: restarts the window when it is over, otherwise adds to it.
    pub fn record(&mut self, at: Timestamp, item: Option<&str>) {
        if self.is_over(at) {
            *self = Self::start(at, item);
        } else {
            self.count = self.count.saturating_add(1);
            self.last_at = self.last_at.max(at);
            self.push_item(item);
        }
    }

    fn push_item(&mut self, item: Option<&str>) {
        let Some(item) = item else { return };
        if self.items.iter().any(|i| i == item) {
            return;
        }
        if self.items.len() == MAX_ITEMS {
            self.items.remove(0);
        }
        self.items.push(item.to_string());
    }
}
