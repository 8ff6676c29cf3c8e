//! File-system notifications turned into wake-ups for the monitor.
//!
//! Warden watches the *directories* of the files it reads, not the files: SQLite in WAL mode
//! writes `logs.db-wal` far more often than `logs.db`, a file may not exist yet, and an editor or
//! OpenAlgo may replace it. Events for the named files (and their `-wal`) become a
//! [`Wake::Changed`]. The `-shm` file is ignored on purpose: Warden's own reads touch it, and
//! waking on it would make the monitor wake itself forever. Opening or reading a file, and a new
//! owner or mode of a `-wal`, never wake it either.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use notify::{EventKind, RecursiveMode, Watcher};

use crate::error::{Error, Result};

/// Why the monitor loop wakes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A watched file changed.
    Changed,
    /// The owner asked the loop to end.
    Stop,
}

/// Watches the directories of some files; dropping it stops the notifications.
pub struct DirWatcher {
    _inner: notify::RecommendedWatcher,
    dirs: Vec<PathBuf>,
}

impl std::fmt::Debug for DirWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirWatcher").field("dirs", &self.dirs).finish()
    }
}

fn parent(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl DirWatcher {
    /// Starts watching the directories of `files`, sending [`Wake::Changed`] on `tx` when one of
    /// the files or its `-wal` changes. Directories that do not exist are skipped (the fallback
    /// poll covers them); the error names a directory only when none could be watched.
    pub fn new(files: &[PathBuf], tx: Sender<Wake>) -> Result<Self> {
        // A symlinked log is written through its target: watch that too.
        let mut files: Vec<PathBuf> = files.to_vec();
        for f in files.clone() {
            if let Ok(target) = std::fs::canonicalize(&f) {
                if target != f && std::fs::symlink_metadata(&f).is_ok_and(|m| m.file_type().is_symlink()) {
                    files.push(target);
                }
            }
        }
        let files = &files[..];
        let mut names: BTreeSet<OsString> = BTreeSet::new();
        let mut wals: BTreeSet<OsString> = BTreeSet::new();
        for f in files {
            if let Some(name) = f.file_name() {
                names.insert(name.to_os_string());
                let mut wal = name.to_os_string();
                wal.push("-wal");
                names.insert(wal.clone());
                wals.insert(wal);
            }
        }
        let handler = move |res: notify::Result<notify::Event>| {
            let Ok(ev) = res else {
                // Overflow or a watcher error: wake anyway and let the poll re-read everything.
                let _ = tx.send(Wake::Changed);
                return;
            };
            // NOTE: opening and reading change nothing, and neither does a change of a `-wal`'s
            // owner or mode (SQLite running as root gives the -wal it opens the database's owner).
            // A close after writing is kept: a writer that opens a connection per write (OpenAlgo)
            // closes it only once its commit is visible, while its last modify event can come a
            // moment before. Readers close the -wal that way too (SQLite opens it read-write);
            // the round such a close wakes finds nothing new, and the app does not refresh for it
            // (see `Monitor::changed`).
            if matches!(
                ev.kind,
                EventKind::Access(
                    notify::event::AccessKind::Open(_)
                        | notify::event::AccessKind::Read
                        | notify::event::AccessKind::Close(notify::event::AccessMode::Read)
                )
            ) {
                return;
            }
            let metadata = matches!(ev.kind, EventKind::Modify(notify::event::ModifyKind::Metadata(_)));
            let relevant = ev.need_rescan()
                || ev
                    .paths
                    .iter()
                    .any(|p| p.file_name().is_some_and(|n| names.contains(n) && !(metadata && wals.contains(n))));
            if relevant {
                let _ = tx.send(Wake::Changed);
            }
        };
        let mut inner = notify::recommended_watcher(handler)
            .map_err(|e| Error::io("starting file-system notifications", std::io::Error::other(e.to_string())))?;
        let dirs: BTreeSet<PathBuf> = files.iter().map(|f| parent(f)).collect();
        let mut watched = Vec::new();
        let mut last_err = None;
        for dir in dirs {
            match inner.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => watched.push(dir),
                Err(e) => last_err = Some((dir, e)),
            }
        }
        if watched.is_empty() {
            if let Some((dir, e)) = last_err {
                return Err(Error::io(format!("watching {}", dir.display()), std::io::Error::other(e.to_string())));
            }
        }
        Ok(Self { _inner: inner, dirs: watched })
    }

    /// The directories being watched.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}
