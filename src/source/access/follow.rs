//! One followed access log: tailing, parsing and classification together, with its health and
//! the first-start backfill of recent history (including `.1` and `.gz` rotations).

use std::path::Path;

use chrono::Duration;

use super::classify::Classify;
use super::input::Input;
use super::pipeline::{LineParser, LineReader};
use super::tail::{rotated_candidates, Position, TailState, Tailer};
use crate::engine::{Engine, Verdict};
use crate::error::Result;
use crate::source::openalgo::Health;
use crate::time::Timestamp;

/// A followed access log.
#[derive(Debug)]
pub struct AccessSource {
    tailer: Tailer,
    reader: LineReader,
    key: String,
    backfill: Option<Duration>,
    health: Option<Health>,
}

impl AccessSource {
    /// Follows `path` in `format`. Without a saved position this is a first start: the next poll
    /// first reads back `history` worth of lines, rotated files included.
    pub fn new(
        path: &Path,
        format: &str,
        classify: &Classify,
        saved: Option<Position>,
        history: Duration,
    ) -> Result<Self> {
        Ok(Self {
            tailer: Tailer::new(path, saved),
            reader: LineReader::new(LineParser::new(format)?, classify.clone()).with_minutes(),
            key: Self::key_for(path),
            backfill: saved.is_none().then_some(history),
            health: None,
        })
    }

    /// The key of this log's position in Warden's state.
    pub fn key_for(path: &Path) -> String {
        format!("access:{}", path.display())
    }

    /// The key of this log's position in Warden's state.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        self.tailer.path()
    }

    /// The position to save.
    pub fn position(&self) -> Option<Position> {
        self.tailer.position()
    }

    /// Line counts so far.
    pub fn stats(&self) -> &super::pipeline::LineStats {
        &self.reader.stats
    }

    /// Requests per minute of the last hour or so, as read.
    pub fn minutes(&self) -> Option<&crate::source::minutes::MinuteRing> {
        self.reader.minutes.as_deref()
    }

    /// Reads what is new into `engine` and returns the health when it changed. Bans start at the
    /// time of the request that earned them, so re-reading lines after a crash gives the same
    /// orders (and the same offence keys) instead of new ones.
    pub fn poll(&mut self, engine: &mut Engine, now: Timestamp, out: &mut Vec<Verdict>) -> Option<Health> {
        if let Some(history) = self.backfill.take() {
            let since = now - history;
            self.reader.not_before = Some(since);
            for old in rotated_candidates(self.tailer.path()).into_iter().rev() {
                let reader = &mut self.reader;
                if let Ok(stream) = Input::File(old).open() {
                    let _ = super::lines::for_each_line(stream, |line| reader.feed(line, engine, None, out));
                }
            }
        }
        let reader = &mut self.reader;
        let result = self.tailer.poll(&mut |line| reader.feed(line, engine, None, out));
        self.reader.not_before = None;
        let health = match result {
            Ok(TailState::Reading) => Health::Ok,
            Ok(TailState::Missing) => Health::Missing(format!(
                "{} does not exist yet; Warden starts reading it as soon as it appears",
                self.tailer.path().display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Health::Failing(format!(
                "Warden may not read {}: add its user to the group that owns the logs (adm on Debian), or run it as root",
                self.tailer.path().display()
            )),
            Err(e) => Health::Failing(format!("reading {}: {e}", self.tailer.path().display())),
        };
        let changed = (self.health.as_ref() != Some(&health)).then(|| health.clone());
        self.health = Some(health);
        changed
    }
}
