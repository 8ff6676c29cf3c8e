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
//!   fingerprint of the file's first bytes, which is checked again after every read, so a read
//!   that raced a truncation is thrown away rather than counted;
//! - several rotations between two polls: the files rotated through meanwhile (`access.log.1` when
//!   the file Warden had open is now `access.log.2`) are read too, oldest first.
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
    // Up to `len` bytes, fewer if the file was truncated meanwhile: a copytruncate can race any
    // read, and a short read is a changed file, not an error.
    let n = len.min(FINGERPRINT_BYTES) as usize;
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((hash(&buf[..got]), got as u64))
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
    /// The files the path named before the last rotations. nginx keeps writing one until it
    /// reopens its logs (logrotate's postrotate), and flushes its buffer into it then; each is
    /// read on every poll until it has been quiet for [`ROTATED_GRACE`].
    old: Vec<Rotated>,
    /// Set while nothing of the open file has been read because it was empty: the first bytes of
    /// the newest rotated sibling at that moment (`None` inside when there was none). A
    /// copytruncate before the first read leaves no fingerprint to find the copy by, but it does
    /// leave a new sibling.
    empty_since: Option<Option<u64>>,
}

/// A rotated-away file still being drained.
#[derive(Debug)]
struct Rotated {
    file: File,
    partial: Vec<u8>,
    skipping: bool,
    quiet_since: std::time::Instant,
}

/// How long a rotated-away file must stay unchanged before Warden stops reading it.
pub const ROTATED_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

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
            old: Vec::new(),
            empty_since: None,
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
        self.drain_rotated(f);
        if self.file.is_none() && !self.open(f)? {
            return Ok(TailState::Missing);
        }
        self.copied_while_empty(f)?;
        // Has the open file shrunk (copytruncate), or been rewritten from the start? Checked
        // again whenever a read found it rewritten under it.
        for _ in 0..100 {
            if let (Some(file), Some(pos)) = (self.file.as_ref(), self.pos) {
                let meta = file.metadata()?;
                if meta.len() < pos.offset || self.rewritten(&meta)? {
                    // copytruncate: what was written after the last read is in the copy.
                    if let Some(read_to) = self.position() {
                        self.finish_rotated(read_to, f)?;
                    }
                    self.partial.clear();
                    self.skipping = false;
                    if let Some(file) = self.file.as_mut() {
                        file.seek(SeekFrom::Start(0))?;
                    }
                    self.pos = Some(Position { offset: 0, fingerprint: 0, fp_len: 0, ..pos });
                    self.empty_since = Some(newest_sibling(&self.path));
                }
            }
            if !self.drain(f)? {
                break;
            }
        }
        // Has the path moved on to another file?
        match std::fs::metadata(&self.path) {
            Ok(meta) => {
                let moved = self.pos.is_none_or(|pos| meta.dev() != pos.dev || meta.ino() != pos.ino);
                if moved {
                    // Rotated: the old file was read to its end just now, and is kept open for
                    // what nginx still writes to it; the new one is read from 0.
                    if let Some(file) = self.file.take() {
                        let between = rotated_since(&self.path, &file);
                        self.old.push(Rotated {
                            file,
                            partial: std::mem::take(&mut self.partial),
                            skipping: std::mem::take(&mut self.skipping),
                            quiet_since: std::time::Instant::now(),
                        });
                        // Files rotated through while Warden was not looking: read them
                        // whole, oldest first, and keep them open like the one above.
                        for path in between.into_iter().rev() {
                            self.take_over_rotated(&path, f)?;
                        }
                    }
                    self.pos = None;
                    if self.open(f)? {
                        // A rewrite under this first read is caught at the next poll.
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
            let intact = saved.dev == meta.dev()
                && saved.ino == meta.ino()
                && saved.offset <= meta.len()
                && saved.fp_len <= meta.len()
                && fingerprint(&file, saved.fp_len)? == (saved.fingerprint, saved.fp_len);
            if intact {
                start = saved.offset;
            } else {
                // The saved file was rotated away (renamed, copied and truncated, or compressed)
                // while Warden was stopped: finish it first, from wherever it is now.
                self.finish_rotated(saved, f)?;
            }
        }
        let mut file = file;
        file.seek(SeekFrom::Start(start))?;
        let (fp, fp_len) = fingerprint(&file, meta.len())?;
        self.pos = Some(Position { dev: meta.dev(), ino: meta.ino(), offset: start, fingerprint: fp, fp_len });
        self.empty_since = (fp_len == 0).then(|| newest_sibling(&self.path));
        self.file = Some(file);
        self.partial.clear();
        self.skipping = false;
        Ok(true)
    }

    /// Reads the rest of the file a saved position names, found under a rotated name: the same
    /// inode (renamed), or the same first bytes (copied by copytruncate, or compressed). Streams,
    /// so a large remainder costs no memory.
    fn finish_rotated(&mut self, saved: Position, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        for candidate in rotated_candidates(&self.path) {
            let Ok(mut stream) = crate::replay::Input::File(candidate).open() else { continue };
            let mut head = vec![0u8; saved.fp_len as usize];
            // The first bytes must match, whatever the inode: a file truncated in place and then
            // renamed has the saved inode but no longer the content.
            if stream.read_exact(&mut head).is_err() || hash(&head) != saved.fingerprint {
                continue;
            }
            // `head` holds the first fp_len bytes; the lines to hand over start at `offset`.
            let skip_in_head = (saved.offset as usize).min(head.len());
            let mut rest = io::Read::chain(io::Cursor::new(head.split_off(skip_in_head)), stream);
            let beyond = saved.offset.saturating_sub(saved.fp_len);
            io::copy(&mut (&mut rest).take(beyond), &mut io::sink())?;
            super::lines::for_each_line(rest, |line| f(line))?;
            return Ok(());
        }
        Ok(())
    }

    fn rewritten(&self, meta: &Metadata) -> io::Result<bool> {
        let (Some(file), Some(pos)) = (self.file.as_ref(), self.pos) else { return Ok(false) };
        if pos.fp_len == 0 || meta.len() < pos.fp_len {
            return Ok(meta.len() < pos.fp_len);
        }
        Ok(fingerprint(file, pos.fp_len)? != (pos.fingerprint, pos.fp_len))
    }

    /// Reads from the open file to its current end.
    ///
    /// Each chunk is handed over only once the file's first bytes are checked to be unchanged
    /// after the read: when copytruncate truncates the file between the check in
    /// [`Tailer::poll`] and the read, the chunk may come from the new content, so it is put back
    /// and `true` is returned for the caller to treat the file as rewritten.
    fn drain(&mut self, f: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
        let Some(file) = self.file.as_mut() else { return Ok(false) };
        loop {
            let n = read_some(file, &mut self.buf)?;
            if n == 0 {
                break;
            }
            if let Some(pos) = self.pos.filter(|p| p.fp_len > 0) {
                let len = file.metadata()?.len();
                if len < pos.fp_len || fingerprint(file, pos.fp_len)? != (pos.fingerprint, pos.fp_len) {
                    file.seek(SeekFrom::Current(-(n as i64)))?;
                    return Ok(true);
                }
            }
            split_lines(&self.buf[..n], &mut self.partial, &mut self.skipping, f);
            if let Some(pos) = self.pos.as_mut() {
                // Complete lines only: `position()` subtracts the partial tail.
                pos.offset += n as u64;
                if pos.fp_len < FINGERPRINT_BYTES {
                    let len = file.metadata()?.len();
                    let (fp, fp_len) = fingerprint(file, len)?;
                    pos.fingerprint = fp;
                    pos.fp_len = fp_len;
                    self.empty_since = None;
                }
            }
        }
        Ok(false)
    }

    /// The open file was empty when last looked at, and is still the one at the path: if a new
    /// rotated sibling appeared meanwhile, it can only be a copy of this file (copytruncate)
    /// taken before Warden read any of it, so it is read whole, oldest copy first.
    fn copied_while_empty(&mut self, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let Some(before) = self.empty_since else { return Ok(()) };
        let Some(pos) = self.pos.filter(|p| p.fp_len == 0 && p.offset == 0) else { return Ok(()) };
        let still_here = std::fs::metadata(&self.path).is_ok_and(|m| m.dev() == pos.dev && m.ino() == pos.ino);
        let newest = newest_sibling(&self.path);
        if !still_here || newest == before {
            return Ok(());
        }
        let mut copies = Vec::new();
        for candidate in rotated_candidates(&self.path) {
            if before.is_some() && head_id(&candidate) == before {
                break;
            }
            copies.push(candidate);
        }
        if before.is_some() && copies.len() == rotated_candidates(&self.path).len() {
            // The sibling seen before is gone (compressed, or rotated out): which ones are new
            // cannot be told, and reading them all could count old lines twice.
            copies.clear();
        }
        for copy in copies.into_iter().rev() {
            if let Ok(stream) = crate::replay::Input::File(copy).open() {
                super::lines::for_each_line(stream, |line| f(line))?;
            }
        }
        self.empty_since = Some(newest);
        Ok(())
    }

    /// Reads what nginx still wrote to the rotated-away file; lets it go once it stayed quiet.
    fn drain_rotated(&mut self, f: &mut dyn FnMut(&[u8])) {
        let buf = &mut self.buf;
        self.old.retain_mut(|old| {
            let mut got = 0;
            while let Ok(n) = pump(&mut old.file, buf, &mut old.partial, &mut old.skipping, f) {
                if n == 0 {
                    break;
                }
                got += n;
            }
            if got > 0 {
                old.quiet_since = std::time::Instant::now();
                true
            } else if old.quiet_since.elapsed() >= ROTATED_GRACE {
                // A rotated file that ends without a newline: its last line is complete.
                if !old.partial.is_empty() && !old.skipping {
                    f(&old.partial);
                }
                false
            } else {
                true
            }
        });
    }

    /// Starts reading a file that was rotated through between two polls, from its start; a
    /// compressed one is read whole at once (nothing writes to it any more).
    fn take_over_rotated(&mut self, path: &Path, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        if path.extension().is_some_and(|e| e == "gz") {
            if let Ok(stream) = crate::replay::Input::File(path.to_path_buf()).open() {
                super::lines::for_each_line(stream, |line| f(line))?;
            }
            return Ok(());
        }
        let Ok(file) = File::open(path) else { return Ok(()) };
        self.old.push(Rotated { file, partial: Vec::new(), skipping: false, quiet_since: std::time::Instant::now() });
        self.drain_rotated(f);
        Ok(())
    }
}

/// Reads once from `file` and hands over the complete lines (see [`split_lines`]). Returns the
/// bytes read (0 at the end of the file).
fn pump(
    file: &mut File,
    buf: &mut [u8],
    partial: &mut Vec<u8>,
    skipping: &mut bool,
    f: &mut dyn FnMut(&[u8]),
) -> io::Result<usize> {
    let n = read_some(file, buf)?;
    split_lines(&buf[..n], partial, skipping, f);
    Ok(n)
}

/// One `read`, retried when interrupted by a signal.
fn read_some(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Hands over the complete lines of `chunk`, keeping a partial tail (capped at [`MAX_LINE`]) in
/// `partial` for the next chunk; a line over the cap is cut, and the rest of it skipped.
fn split_lines(chunk: &[u8], partial: &mut Vec<u8>, skipping: &mut bool, f: &mut dyn FnMut(&[u8])) {
    let n = chunk.len();
    let mut start = 0;
    while let Some(i) = memchr::memchr(b'\n', &chunk[start..]) {
        let end = start + i;
        if *skipping {
            *skipping = false;
        } else if partial.is_empty() {
            f(&chunk[start..end.min(start + MAX_LINE)]);
        } else {
            let room = MAX_LINE.saturating_sub(partial.len());
            partial.extend_from_slice(&chunk[start..end.min(start + room)]);
            f(partial);
            partial.clear();
        }
        start = end + 1;
    }
    if start < n && !*skipping {
        let room = MAX_LINE.saturating_sub(partial.len());
        partial.extend_from_slice(&chunk[start..n.min(start + room)]);
        if partial.len() >= MAX_LINE {
            f(partial);
            partial.clear();
            *skipping = true;
        }
    }
}

/// The first bytes (decompressed) of a file, as an identity that survives compression.
fn head_id(path: &Path) -> Option<u64> {
    let mut stream = crate::replay::Input::File(path.to_path_buf()).open().ok()?;
    let mut head = Vec::with_capacity(FINGERPRINT_BYTES as usize);
    (&mut stream).take(FINGERPRINT_BYTES).read_to_end(&mut head).ok()?;
    Some(hash(&head))
}

/// The identity ([`head_id`]) of the newest rotated sibling of `path`, if there is one.
fn newest_sibling(path: &Path) -> Option<u64> {
    rotated_candidates(path).first().and_then(|p| head_id(p))
}

/// The rotated siblings newer than `file` (which Warden had open at `path`): the files the path
/// named after `file` and before what it names now, newest first. Empty when `file` is not found
/// among the siblings (deleted, or renamed out of the pattern), since then which ones are newer
/// cannot be told.
fn rotated_since(path: &Path, file: &File) -> Vec<PathBuf> {
    let Ok(meta) = file.metadata() else { return Vec::new() };
    let candidates = rotated_candidates(path);
    let Some(at) = candidates
        .iter()
        .position(|c| std::fs::metadata(c).is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino()))
    else {
        return Vec::new();
    };
    let mut newer = candidates;
    newer.truncate(at);
    newer
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
