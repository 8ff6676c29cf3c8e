//! Following a log file across rotations, with a position that survives restarts.
//!
//! A [`Tailer`] reads what was appended since the last poll and hands over complete lines. It
//! survives every way logs are rotated:
//!
//! - rename and create (logrotate's default): the old file is read to its end, then the new one
//!   from its start;
//! - copytruncate: the file shrinks under the same inode, so reading restarts at 0;
//! - delete and recreate, a file that does not exist yet, and symlinks (followed at each check);
//! - truncated and written again past the old offset between two polls: caught by the
//!   fingerprint of the file's first bytes.
//!
//! A [`Position`] (device, inode, offset and fingerprint) is what Warden saves to resume with no
//! loss and no double count. When the saved inode has been rotated away while Warden was
//! stopped, the rest of it is read from its rotated name (`access.log.1`) first.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::lines::MAX_LINE;

/// How many leading bytes identify a file.
const FINGERPRINT_BYTES: u64 = 256;

/// Where reading stopped in which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Device of the file.
    pub dev: u64,
    /// Inode of the file.
    pub ino: u64,
    /// Bytes consumed (complete lines only).
    pub offset: u64,
    /// Hash of the first `fp_len` bytes.
    pub fingerprint: u64,
    /// How many bytes the fingerprint covers (fewer while the file is shorter than 256 bytes).
    pub fp_len: u64,
}

/// What a poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailState {
    /// Reading.
    Reading,
    /// The file does not exist (yet).
    Missing,
}

fn hash(bytes: &[u8]) -> u64 {
    // FNV-1a: stable across runs and versions, which a saved fingerprint needs.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn fingerprint(file: &File, len: u64) -> io::Result<(u64, u64)> {
    let n = len.min(FINGERPRINT_BYTES);
    let mut buf = vec![0u8; n as usize];
    file.read_exact_at(&mut buf, 0)?;
    Ok((hash(&buf), n))
}

/// Follows one log file.
#[derive(Debug)]
pub struct Tailer {
    path: PathBuf,
    file: Option<File>,
    pos: Option<Position>,
    partial: Vec<u8>,
    skipping: bool,
    buf: Vec<u8>,
}

impl Tailer {
    /// A tailer for `path`, resuming at `saved` if given (otherwise from the start of the file).
    pub fn new(path: &Path, saved: Option<Position>) -> Self {
        Self {
            path: path.to_path_buf(),
            file: None,
            pos: saved,
            partial: Vec::new(),
            skipping: false,
            buf: vec![0; 1 << 16],
        }
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The position to save: complete lines only, so a restart re-reads a half-written line.
    pub fn position(&self) -> Option<Position> {
        self.pos.map(|p| Position { offset: p.offset.saturating_sub(self.partial.len() as u64), ..p })
    }

    /// Reads everything new and calls `f` for each complete line, following rotations.
    pub fn poll(&mut self, f: &mut dyn FnMut(&[u8])) -> io::Result<TailState> {
        if self.file.is_none() && !self.open(f)? {
            return Ok(TailState::Missing);
        }
        // Has the open file shrunk (copytruncate), or been rewritten from the start?
        if let (Some(file), Some(pos)) = (self.file.as_ref(), self.pos) {
            let meta = file.metadata()?;
            if meta.len() < pos.offset || self.rewritten(&meta)? {
                self.partial.clear();
                self.skipping = false;
                if let Some(file) = self.file.as_mut() {
                    file.seek(SeekFrom::Start(0))?;
                }
                self.pos = Some(Position { offset: 0, fingerprint: 0, fp_len: 0, ..pos });
            }
        }
        self.drain(f)?;
        // Has the path moved on to another file?
        match std::fs::metadata(&self.path) {
            Ok(meta) => {
                let moved = self.pos.is_none_or(|pos| meta.dev() != pos.dev || meta.ino() != pos.ino);
                if moved {
                    // Rotated: the old file was read to its end just now; the new one from 0.
                    self.flush_partial(f);
                    self.file = None;
                    self.pos = None;
                    if self.open(f)? {
                        self.drain(f)?;
                    }
                }
            }
            // Deleted or renamed and not recreated yet: keep reading the open file, which
            // nginx may still be writing until it reopens its logs.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(TailState::Reading)
    }

    /// Opens the path; resumes at the saved position when it names this very file. Returns
    /// false when the file does not exist.
    fn open(&mut self, f: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let mut start = 0;
        if let Some(saved) = self.pos {
            if saved.dev == meta.dev() && saved.ino == meta.ino() {
                let same = saved.offset <= meta.len()
                    && fingerprint(&file, saved.fp_len.min(meta.len()))?.0 == saved.fingerprint;
                if same {
                    start = saved.offset;
                }
            } else {
                // The saved file was rotated away while Warden was stopped: finish it first.
                self.finish_rotated(saved, f)?;
            }
        }
        let mut file = file;
        file.seek(SeekFrom::Start(start))?;
        let (fp, fp_len) = fingerprint(&file, meta.len())?;
        self.pos = Some(Position { dev: meta.dev(), ino: meta.ino(), offset: start, fingerprint: fp, fp_len });
        self.file = Some(file);
        self.partial.clear();
        self.skipping = false;
        Ok(true)
    }

    /// Reads the rest of the file a saved position names, found under a rotated name.
    fn finish_rotated(&mut self, saved: Position, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let Some(old) = rotated_candidates(&self.path).into_iter().find_map(|p| {
            let file = File::open(&p).ok()?;
            let meta = file.metadata().ok()?;
            (meta.dev() == saved.dev && meta.ino() == saved.ino && meta.len() >= saved.offset).then_some(file)
        }) else {
            return Ok(());
        };
        let mut old = old;
        old.seek(SeekFrom::Start(saved.offset))?;
        let mut rest = Vec::new();
        old.take(u64::MAX).read_to_end(&mut rest)?;
        super::lines::for_each_line(&rest[..], |line| f(line))?;
        Ok(())
    }

    fn rewritten(&self, meta: &Metadata) -> io::Result<bool> {
        let (Some(file), Some(pos)) = (self.file.as_ref(), self.pos) else { return Ok(false) };
        if pos.fp_len == 0 || meta.len() < pos.fp_len {
            return Ok(meta.len() < pos.fp_len);
        }
        Ok(fingerprint(file, pos.fp_len)?.0 != pos.fingerprint)
    }

    /// Reads from the open file to its current end.
    fn drain(&mut self, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else { return Ok(()) };
        loop {
            let n = match file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let chunk = &self.buf[..n];
            let mut start = 0;
            while let Some(i) = memchr::memchr(b'\n', &chunk[start..]) {
                let end = start + i;
                if self.skipping {
                    self.skipping = false;
                } else if self.partial.is_empty() {
                    f(&chunk[start..end.min(start + MAX_LINE)]);
                } else {
                    let room = MAX_LINE.saturating_sub(self.partial.len());
                    self.partial.extend_from_slice(&chunk[start..end.min(start + room)]);
                    f(&self.partial);
                    self.partial.clear();
                }
                start = end + 1;
            }
            if start < n && !self.skipping {
                let room = MAX_LINE.saturating_sub(self.partial.len());
                self.partial.extend_from_slice(&chunk[start..n.min(start + room)]);
                if self.partial.len() >= MAX_LINE {
                    f(&self.partial);
                    self.partial.clear();
                    self.skipping = true;
                }
            }
            if let Some(pos) = self.pos.as_mut() {
                // Complete lines only: the partial tail is read again after a restart.
                pos.offset += n as u64;
                if pos.fp_len < FINGERPRINT_BYTES {
                    let len = file.metadata()?.len();
                    let (fp, fp_len) = fingerprint(file, len)?;
                    pos.fingerprint = fp;
                    pos.fp_len = fp_len;
                }
            }
        }
        Ok(())
    }

    fn flush_partial(&mut self, f: &mut dyn FnMut(&[u8])) {
        // A rotated file that ends without a newline: its last line is complete.
        if !self.partial.is_empty() && !self.skipping {
            f(&self.partial);
        }
        self.partial.clear();
        self.skipping = false;
    }
}

/// Rotated siblings of a log, newest first: `access.log.1`, `access.log.2.gz`, … up to `.20`,
/// and `access.log-YYYYMMDD[.gz]` (logrotate's `dateext`).
pub fn rotated_candidates(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return out };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    for i in 1..=20 {
        for ext in ["", ".gz"] {
            let p = dir.join(format!("{name}.{i}{ext}"));
            if p.exists() {
                out.push(p);
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut dated: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix('-'))
                        .is_some_and(|d| d.as_bytes().first().is_some_and(u8::is_ascii_digit))
                })
            })
            .collect();
        dated.sort();
        dated.reverse();
        out.extend(dated);
    }
    out
}
