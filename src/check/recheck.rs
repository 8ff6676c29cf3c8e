//! Running the checklist again by itself when what it reads changes.
//!
//! A [`Rechecker`] remembers the files the last check read: OpenAlgo's `.env` (its content's
//! stamp: inode, size, change and modification times), the modes and owners of `db/`, its
//! databases and `keys/` (only those: a database's times change with every write), and every
//! nginx configuration file with its folder (a file added to `sites-enabled/` changes the
//! folder). Looking costs a few `stat` calls, at most every [`LOOK_EVERY`]; the checklist runs
//! again only when one of them changed, and in any case every [`FULL_EVERY`], for what no file
//! says (the listening sockets, OpenAlgo's settings row).

use chrono::TimeDelta;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::time::Timestamp;

use serde::Serialize;

use super::facts::{gather, Facts, Where};
use super::{judge, Finding, Report, Status, Summary};

/// How often the watched files are looked at, at most.
pub const LOOK_EVERY: TimeDelta = TimeDelta::seconds(5);
/// How often the checklist runs even when no watched file changed.
pub const FULL_EVERY: TimeDelta = TimeDelta::seconds(600);

/// What a watched path looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stamp {
    Missing,
    /// Content and metadata: inode, size, modification and change times (a `chmod` changes the
    /// change time).
    Content(u64, u64, i64, i64, i64, i64),
    /// Only the mode and owner.
    Mode(u32, u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watch {
    Content,
    Mode,
}

fn stamp(path: &Path, how: Watch) -> Stamp {
    match (std::fs::metadata(path), how) {
        (Err(_), _) => Stamp::Missing,
        (Ok(m), Watch::Content) => {
            Stamp::Content(m.ino(), m.len(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec())
        }
        (Ok(m), Watch::Mode) => Stamp::Mode(m.mode(), m.uid(), m.gid()),
    }
}

/// The files whose change makes the checklist run again, and how each is watched.
fn watched(facts: &Facts, at: &Where) -> Vec<(PathBuf, Watch)> {
    let mut out: Vec<(PathBuf, Watch)> = Vec::new();
    let mut add = |p: PathBuf, how: Watch| {
        if !out.iter().any(|(q, _)| *q == p) {
            out.push((p, how));
        }
    };
    if let Some(dir) = &facts.openalgo_dir {
        add(dir.join(".env"), Watch::Content);
        add(dir.join("db"), Watch::Mode);
        add(dir.join("keys"), Watch::Mode);
    }
    if let Ok(files) = &facts.db_files {
        for f in files {
            add(f.path.clone(), Watch::Mode);
        }
    }
    let mut nginx_files: Vec<PathBuf> = at.nginx_config.clone();
    if let Ok((conf, _)) = &facts.nginx {
        for d in &conf.top {
            nginx_files.push(PathBuf::from(&d.file));
            for inner in d.block.iter().flatten() {
                nginx_files.push(PathBuf::from(&inner.file));
            }
        }
    }
    if at.nginx_config.is_empty() {
        // Where Debian's nginx reads from, so that a configuration that appears later (or one
        // that `nginx -T` could not read) is noticed too.
        for p in ["/etc/nginx/nginx.conf", "/etc/nginx/sites-enabled", "/etc/nginx/conf.d"] {
            nginx_files.push(PathBuf::from(p));
        }
    }
    for f in nginx_files.into_iter().filter(|f| f.is_absolute()) {
        if let Some(dir) = f.parent() {
            add(dir.to_path_buf(), Watch::Content);
        }
        add(f, Watch::Content);
    }
    out
}

/// A checklist that came out differently from the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recheck {
    /// How many came out each way now.
    pub summary: Summary,
    /// Checks that fail now and did not before (the ones worth an alert).
    pub newly_failing: Vec<Finding>,
    /// Checks that failed before and do not now.
    pub fixed: Vec<Finding>,
}

/// Runs the checklist again when what it reads changes; see the module's documentation.
#[derive(Debug)]
pub struct Rechecker {
    at: Where,
    watched: Vec<(PathBuf, Watch, Stamp)>,
    last: Report,
    looked: Timestamp,
    ran: Timestamp,
}

impl Rechecker {
    /// Runs the checklist once (the baseline, see [`Rechecker::last`]) and remembers what it read.
    pub fn new(at: Where, now: Timestamp) -> Self {
        let (last, watched) = run(&at);
        Self { at, watched, last, looked: now, ran: now }
    }

    /// The latest checklist.
    pub fn last(&self) -> &Report {
        &self.last
    }

    /// Looks at the watched files (at most every [`LOOK_EVERY`]) and runs the checklist again when
    /// one changed or [`FULL_EVERY`] has passed. Returns what changed, if the outcome did.
    pub fn poll(&mut self, now: Timestamp) -> Option<Recheck> {
        // A clock set back counts as time passed: the look is cheap.
        if now >= self.looked && now - self.looked < LOOK_EVERY {
            return None;
        }
        self.looked = now;
        let moved = self.watched.iter().any(|(p, how, s)| stamp(p, *how) != *s);
        if !moved && now >= self.ran && now - self.ran < FULL_EVERY {
            return None;
        }
        self.run_now(now)
    }

    /// Runs the checklist now. Returns what changed, if the outcome did.
    pub fn run_now(&mut self, now: Timestamp) -> Option<Recheck> {
        self.ran = now;
        self.looked = now;
        let (report, watched) = run(&self.at);
        self.watched = watched;
        let change = compare(&self.last, &report);
        self.last = report;
        change
    }
}

fn run(at: &Where) -> (Report, Vec<(PathBuf, Watch, Stamp)>) {
    let facts = gather(at);
    // Stamped before judging: a change while the check runs is seen at the next look.
    let files = watched(&facts, at).into_iter().map(|(p, how)| {
        let s = stamp(&p, how);
        (p, how, s)
    });
    let files = files.collect();
    (judge::judge(&facts), files)
}

/// What changed from `before` to `after`, if anything did.
pub fn compare(before: &Report, after: &Report) -> Option<Recheck> {
    if before == after {
        return None;
    }
    let was = |id: &str| before.get(id).map(|f| f.status);
    let newly_failing = after
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail && was(f.id) != Some(Status::Fail))
        .cloned()
        .collect();
    let fixed = before
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail && after.get(f.id).map(|g| g.status) != Some(Status::Fail))
        .map(|f| after.get(f.id).cloned().unwrap_or_else(|| f.clone()))
        .collect();
    Some(Recheck { summary: after.summary, newly_failing, fixed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn finding(id: &'static str, status: Status) -> Finding {
        Finding { id, title: "t", status, why: String::new(), fix: format!("fix {id}"), evidence: None, reason: None }
    }

    #[test]
    fn only_checks_that_start_failing_are_newly_failing() {
        let before = Report::new(vec![
            finding("a", Status::Pass),
            finding("b", Status::Fail),
            finding("c", Status::Warn),
            finding("d", Status::Fail),
        ]);
        let after = Report::new(vec![
            finding("a", Status::Fail),
            finding("b", Status::Fail),
            finding("c", Status::Fail),
            finding("d", Status::Pass),
            finding("e", Status::Fail),
        ]);
        let c = compare(&before, &after).expect("changed");
        let ids: Vec<&str> = c.newly_failing.iter().map(|f| f.id).collect();
        assert_eq!(ids, ["a", "c", "e"]);
        let fixed: Vec<(&str, Status)> = c.fixed.iter().map(|f| (f.id, f.status)).collect();
        assert_eq!(fixed, [("d", Status::Pass)]);
        assert_eq!(c.summary.fail, 4);
        assert!(compare(&after, &after.clone()).is_none());
    }

    #[test]
    fn a_changed_env_is_seen_at_the_next_look_and_not_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("db")).expect("db");
        std::fs::write(dir.path().join(".env"), "FLASK_DEBUG='False'\n").expect("env");
        std::fs::set_permissions(dir.path().join(".env"), PermissionsExt::from_mode(0o600)).expect("chmod");
        let at = Where {
            openalgo_dir: Some(dir.path().to_path_buf()),
            nginx_config: vec![dir.path().join("missing-nginx.conf")],
            proc_net: Some(dir.path().join("no-proc")),
            ..Default::default()
        };
        let t0 = crate::time::now();
        let mut r = Rechecker::new(at, t0);
        assert_eq!(r.last().get("env.flask_debug").map(|f| f.status), Some(Status::Pass));
        std::fs::write(dir.path().join(".env"), "FLASK_DEBUG='True'\n").expect("env");
        assert!(r.poll(t0).is_none(), "looks at most every LOOK_EVERY");
        let c = r.poll(t0 + LOOK_EVERY).expect("re-checked");
        assert!(c.newly_failing.iter().any(|f| f.id == "env.flask_debug"), "{c:?}");
        assert_eq!(r.last().get("env.flask_debug").map(|f| f.status), Some(Status::Fail));
        // Nothing moved: no run, no change.
        assert!(r.poll(t0 + LOOK_EVERY * 3).is_none());
        // A chmod alone changes the file's change time.
        assert_eq!(r.last().get("files.env_mode").map(|f| f.status), Some(Status::Pass));
        std::fs::set_permissions(dir.path().join(".env"), PermissionsExt::from_mode(0o644)).expect("chmod");
        let c = r.poll(t0 + LOOK_EVERY * 5).expect("re-checked after a chmod");
        assert!(c.newly_failing.iter().any(|f| f.id == "files.env_mode"), "{c:?}");
    }
}
