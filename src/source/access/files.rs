//! The tailer's files: handles closed off the reading thread, and how a rotated sibling is told
//! from a later file under the same inode number.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;
use std::time::SystemTime;

use super::tail::{fingerprint, FINGERPRINT_BYTES};

/// An open file that is closed on a thread of its own when dropped (see [`close_later`]).
#[derive(Debug)]
pub(super) struct Handle(Option<File>);

impl Handle {
    /// Wraps an open file.
    pub(super) fn new(file: File) -> Self {
        Self(Some(file))
    }
}

impl std::ops::Deref for Handle {
    type Target = File;
    fn deref(&self) -> &File {
        // Some until dropped.
        self.0.as_ref().unwrap_or_else(|| unreachable!("a handle is only emptied when dropped"))
    }
}

impl std::ops::DerefMut for Handle {
    fn deref_mut(&mut self) -> &mut File {
        self.0.as_mut().unwrap_or_else(|| unreachable!("a handle is only emptied when dropped"))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(file) = self.0.take() {
            close_later(file);
        }
    }
}

/// Closes `file` on a thread of its own. Closing the last handle of a deleted file frees it, and
/// on ext4 that waits for the journal: up to 2.9 s measured with a bulk write beside Warden.
/// Rotated files are deleted while Warden still reads them, so the tailer would stand still
/// while a storm of rotations deletes files it has not read. Closed in place if the thread
/// cannot start.
fn close_later(file: File) {
    static CLOSER: OnceLock<Option<Sender<File>>> = OnceLock::new();
    let closer = CLOSER.get_or_init(|| {
        let (tx, rx) = channel::<File>();
        std::thread::Builder::new().name("warden-close".into()).spawn(move || rx.into_iter().for_each(drop)).ok()?;
        Some(tx)
    });
    if let Some(tx) = closer {
        // A send fails only when the thread has gone; the file is then closed here.
        let _ = tx.send(file);
    }
}

/// A rotated sibling as it was when Warden looked at it. Its device and inode number alone do not
/// name it: a filesystem gives a deleted file's number to the next file created (ext4 at once),
/// and logrotate deletes the oldest file and creates a new one in the same moment. Between two
/// looks, a file Warden never read can then sit under a number it has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Looked {
    /// Birth time, where the filesystem keeps one (ext4 does): a new file under the same number
    /// was born later. Its clock ticks every few milliseconds, far finer than the time between
    /// two rotations.
    born: Option<SystemTime>,
    /// Otherwise the fingerprint of the first bytes, `(hash, bytes covered)`, checked again at
    /// each look; none covered (an empty file) never matches, so it is looked at again.
    head: (u64, u64),
}

impl Looked {
    /// What identifies the file at `path` now.
    pub(super) fn of(path: &Path, meta: &std::fs::Metadata) -> Self {
        match meta.created() {
            Ok(born) => Self { born: Some(born), head: (0, 0) },
            Err(_) => Self { born: None, head: head_of(path, FINGERPRINT_BYTES).unwrap_or((0, 0)) },
        }
    }

    /// Whether the file at `path` is still the one looked at.
    pub(super) fn is(&self, path: &Path, meta: &std::fs::Metadata) -> bool {
        match self.born {
            Some(born) => meta.created().ok() == Some(born),
            None => self.head.1 > 0 && head_of(path, self.head.1).ok() == Some(self.head),
        }
    }
}

/// The fingerprint of up to `len` first bytes of the file at `path`.
fn head_of(path: &Path, len: u64) -> io::Result<(u64, u64)> {
    fingerprint(&File::open(path)?, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_birth_time_a_sibling_is_known_by_its_first_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("access.log.1");
        std::fs::write(&path, "first\n").expect("write");
        let looked = Looked { born: None, head: head_of(&path, FINGERPRINT_BYTES).expect("head") };
        let meta = || std::fs::metadata(&path).expect("stat");
        assert!(looked.is(&path, &meta()));
        std::fs::write(&path, "first\nmore\n").expect("append");
        assert!(looked.is(&path, &meta()), "still the same file, grown");
        std::fs::remove_file(&path).expect("rm");
        std::fs::write(&path, "other\n").expect("new file");
        assert!(!looked.is(&path, &meta()), "a new file under the name");
        std::fs::write(&path, "").expect("empty");
        let empty = Looked { born: None, head: head_of(&path, FINGERPRINT_BYTES).expect("head") };
        assert!(!empty.is(&path, &meta()), "an empty file tells nothing: look again");
    }

    #[test]
    fn a_deleted_file_let_go_is_closed_on_the_closing_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("access.log.20");
        std::fs::write(&path, "old\n").expect("write");
        let handle = Handle::new(File::open(&path).expect("open"));
        std::fs::remove_file(&path).expect("logrotate deletes the oldest");
        let held = || {
            std::fs::read_dir("/proc/self/fd")
                .expect("fds")
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .any(|target| target.to_string_lossy().starts_with(&*path.to_string_lossy()))
        };
        assert!(held(), "the deleted file is open");
        drop(handle);
        let since = std::time::Instant::now();
        while held() && since.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!held(), "the deleted file was never closed");
    }
}
