//! Following OpenAlgo's sign-ins: a successful one becomes a [`Notice::SignIn`] (flagged when the
//! address is new for that user), and failed ones count for the login rule.
//!
//! On the first start the history already in `login_attempts` is learned without a notice, so
//! the trader is not told about last month. The position (the last row id read) is kept in the
//! state database, so a restart neither repeats nor skips a sign-in.

use std::path::PathBuf;
use std::time::SystemTime;

use super::{Monitor, Notice};
use crate::event::{Event, Source, What};
use crate::source::openalgo::Health;
use crate::source::signins::{self, Attempt, Recent};
use crate::time::Timestamp;

/// The state database's cursor for `login_attempts`.
const CURSOR: &str = "openalgo.login_attempts";

/// How soon a read that failed (a lock, a missing file) is tried again. Every round otherwise
/// looks, which costs two `stat`s when nothing changed.
const RETRY_EVERY: chrono::Duration = chrono::Duration::seconds(1);

/// After `openalgo.db` changed, it is read again for this long: a commit's last frame reaches
/// the `-wal` (which is what is looked at) a moment before the commit is visible to readers
/// (through the `-shm` index, written through memory), so the first read may find nothing.
const SETTLE: chrono::Duration = chrono::Duration::seconds(1);

/// How often it is read while settling.
const SETTLE_STEP: chrono::Duration = chrono::Duration::milliseconds(50);

/// Rows read per round.
const BATCH: usize = 2000;

/// What the monitor keeps about `openalgo.db`'s sign-ins.
#[derive(Debug)]
pub(super) struct SignInWatch {
    path: PathBuf,
    /// Size and change time of the database and its WAL at the last read.
    stamp: Option<[(u64, Option<SystemTime>); 2]>,
    /// When a failed read is tried again.
    retry_at: Option<Timestamp>,
    /// Until when the database is read again after a change (see [`SETTLE`]).
    settle_until: Option<Timestamp>,
    /// When it was last read.
    last_read: Option<Timestamp>,
    health: Option<Health>,
    open: Recent,
    /// Whether failed rows count for the login rule. With an access log, nginx's 401s on
    /// `/auth/login` already count every wrong password (with the real address), so only TOTP
    /// failures, which are on another path, come from here.
    count_password_failures: bool,
}

impl SignInWatch {
    pub(super) fn new(path: PathBuf, has_access_log: bool) -> Self {
        Self {
            path,
            stamp: None,
            retry_at: None,
            settle_until: None,
            last_read: None,
            health: None,
            open: Recent::default(),
            count_password_failures: !has_access_log,
        }
    }

    pub(super) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// When the next round must come even if no file changes: a failed read's retry, or the
    /// next read while a change settles.
    pub(super) fn due(&self) -> Option<Timestamp> {
        let settle = match (self.settle_until, self.last_read) {
            (Some(until), Some(read)) if read + SETTLE_STEP <= until => Some(read + SETTLE_STEP),
            _ => None,
        };
        [self.retry_at, settle].into_iter().flatten().min()
    }

    fn stamp_now(&self) -> [(u64, Option<SystemTime>); 2] {
        let wal = PathBuf::from(format!("{}-wal", self.path.display()));
        [&self.path, &wal].map(|p| match std::fs::metadata(p) {
            Ok(m) => (m.len(), m.modified().ok()),
            Err(_) => (0, None),
        })
    }
}

impl Monitor {
    /// Reads new `login_attempts` rows when the database changed; a failed read is tried again
    /// after [`RETRY_EVERY`].
    pub(super) fn follow_signins(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        let Some(w) = self.signins.as_mut() else { return };
        if w.retry_at.is_some_and(|t| now < t) {
            return;
        }
        let stamp = w.stamp_now();
        if w.stamp != Some(stamp) {
            w.settle_until = Some(now + SETTLE);
        }
        let settling = w.settle_until.is_some_and(|t| now <= t);
        if !settling {
            w.settle_until = None;
        }
        let read_lately = w.last_read.is_some_and(|t| now >= t && now - t < SETTLE_STEP);
        let due_again = settling && !read_lately;
        if w.stamp == Some(stamp) && w.retry_at.is_none() && !due_again {
            return;
        }
        w.last_read = Some(now);
        let result = self.read_signins();
        let health = match result {
            Ok(attempts) => {
                if let Some(w) = self.signins.as_mut() {
                    w.stamp = Some(stamp);
                }
                self.take_attempts(&attempts, now, out);
                Health::Ok
            }
            Err(h) => h,
        };
        let Some(w) = self.signins.as_mut() else { return };
        // A missing file wakes the monitor when it appears (it is watched); a lock does not.
        w.retry_at = matches!(health, Health::Locked(_) | Health::Failing(_)).then(|| now + RETRY_EVERY);
        if !matches!(health, Health::Ok) {
            w.stamp = None;
        }
        if w.health.as_ref() != Some(&health) {
            // A missing openalgo.db at start is not news; every other change is.
            let quiet = w.health.is_none() && matches!(health, Health::Ok | Health::Missing(_));
            if !quiet {
                out.push(Notice::Source {
                    name: "openalgo.db sign-ins".into(),
                    path: w.path.display().to_string(),
                    health: health.clone(),
                });
            }
            w.health = Some(health);
        }
    }

    /// The rows after the saved position; on the first start, learns the history and returns
    /// nothing.
    fn read_signins(&mut self) -> Result<Vec<Attempt>, Health> {
        let Some(w) = self.signins.as_ref() else { return Ok(Vec::new()) };
        let path = w.path.clone();
        let conn = signins::open(&path)?;
        let saved: Option<i64> = self.state.cursor(CURSOR).ok().flatten().and_then(|c| c.parse().ok());
        let last = signins::last_id(&conn, &path)?;
        match saved {
            Some(after) if after <= last => {
                let rows = signins::read_attempts(&conn, &path, after, BATCH)?;
                if let Some(end) = rows.last().map(|r| r.id) {
                    let _ = self.state.set_cursor(CURSOR, &end.to_string());
                }
                Ok(rows)
            }
            // First start, or the table was emptied and filled again: learn, say nothing.
            _ => {
                let mut after = 0;
                loop {
                    let rows = signins::read_attempts(&conn, &path, after, BATCH)?;
                    let Some(end) = rows.last().map(|r| r.id) else { break };
                    let mut learn = |user: &str, key: &str| {
                        let at = crate::time::now();
                        self.state.learn_signin_address(user, key, at).unwrap_or(false)
                    };
                    let mut open = Recent::default();
                    signins::fold(&rows, &mut learn, &mut open);
                    after = end;
                }
                let _ = self.state.set_cursor(CURSOR, &last.to_string());
                Ok(Vec::new())
            }
        }
    }

    fn take_attempts(&mut self, rows: &[Attempt], now: Timestamp, out: &mut Vec<Notice>) {
        if rows.is_empty() {
            return;
        }
        let state = &self.state;
        let mut learn = |user: &str, key: &str| state.learn_signin_address(user, key, now).unwrap_or(false);
        let Some(w) = self.signins.as_mut() else { return };
        let signed_in = signins::fold(rows, &mut learn, &mut w.open);
        let count_all = w.count_password_failures;
        out.extend(signed_in.into_iter().map(Notice::SignIn));
        for row in rows.iter().filter(|r| !r.success) {
            if !(count_all || row.login_type == "totp") {
                continue;
            }
            let (Some(ip), Some(at)) = (row.ip.clone(), row.at) else { continue };
            let ev = Event { at, ip, what: What::FailedLogin, source: Source::Openalgo };
            for verdict in self.engine.observe(&ev, now) {
                self.act(verdict, now, out);
            }
        }
    }
}
