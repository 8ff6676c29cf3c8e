//! Following a log file across rotations, with a position that survives restarts.
//!
//! A [`Tailer`] reads what was appended since the last poll and hands over complete lines, each
//! exactly once, whatever rotates the file and however many rotations happen between two polls:
//!
//! - rename and create (logrotate's default): the old file is read to its end (nginx writes to it
//!   until it reopens its logs), the new one from its start;
//! - copytruncate: the rest of the old content is read from the copy, the file from its start;
//! - delete and recreate, a file that does not exist yet, and symlinks (followed at each check);
//! - any mix of these, many times over, before Warden looks again.
//!
//! How: content is known by its first bytes (a fingerprint), not by file name or inode, because a
//! copy has the first bytes of its original under a new inode and a truncated file keeps its
//! inode under new first bytes. A small ledger records, per fingerprint, how many bytes of that
//! content have been handed over. Every file Warden reads (the followed one, the ones it had open
//! before a rename, and every rotated sibling that appears) is read from where the ledger says its
//! content was left, or from its start when the content is new. A read that raced a truncation is
//! put back, not counted.
//!
//! A [`Position`] (device, inode, offset and fingerprint) is what Warden saves to resume with no
//! loss and no double count. When the saved file has been rotated away while Warden was stopped,
//! the rest of it is read from its rotated name (`access.log.1`, `.gz` included) first.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::files::{Handle, Looked};
use super::lines::split_lines;

/// How many leading bytes identify a file.
pub(super) const FINGERPRINT_BYTES: u64 = 256;

/// Contents remembered in the ledger (a few per rotation; a day of rotations is far fewer).
const LEDGER: usize = 512;

/// Files read besides the followed one (rotated away, or copies), at most: a storm of
/// rotations can leave hundreds inside [`ROTATED_GRACE`].
const MAX_OTHERS: usize = 256;

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

/// The fingerprint of up to `len` (at most 256) first bytes of `file`: `(hash, bytes covered)`.
/// Fewer bytes if the file is shorter (or was truncated meanwhile): a short read is a changed
/// file, not an error.
pub(super) fn fingerprint(file: &File, len: u64) -> io::Result<(u64, u64)> {
    let head = read_head(file, len)?;
    Ok((hash(&head), head.len() as u64))
}

/// Up to `len` (at most 256) first bytes of `file`, fewer if it is shorter.
fn read_head(file: &File, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len.min(FINGERPRINT_BYTES) as usize];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// How much of one content (known by its first bytes) has been handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    fp: u64,
    fp_len: u64,
    /// The first bytes themselves when they were read here (not for a saved position, which
    /// keeps only their hash): a shorter file that starts with a prefix of them may be a copy
    /// still being written.
    head: Option<Vec<u8>>,
    consumed: u64,
}

/// What the ledger knows of a file's content.
enum Known {
    /// Content read before, this far; with the fingerprint it was known by.
    Read { consumed: u64, fp: u64, fp_len: u64 },
    /// Perhaps content read before, but too little of the file is there to tell (a copy being
    /// written, or an empty file): look again later.
    Unsure,
    /// Never seen.
    New,
}

/// One open file being read.
#[derive(Debug)]
struct Stream {
    file: Handle,
    dev: u64,
    ino: u64,
    /// Bytes of this file's current content read (lines handed over, plus `partial`).
    offset: u64,
    fp: u64,
    fp_len: u64,
    /// The first bytes as read through this stream (when it read from 0): the fingerprint is
    /// taken from what was handed over, not from the file a moment later.
    head: Vec<u8>,
    partial: Vec<u8>,
    skipping: bool,
    /// A stream other than the followed file stops being read once quiet this long.
    quiet_since: Instant,
}

impl Stream {
    fn open(path: &Path) -> io::Result<Option<Self>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let (fp, fp_len) = fingerprint(&file, meta.len())?;
        Ok(Some(Self {
            file: Handle::new(file),
            dev: meta.dev(),
            ino: meta.ino(),
            offset: 0,
            fp,
            fp_len,
            head: Vec::new(),
            partial: Vec::new(),
            skipping: false,
            quiet_since: Instant::now(),
        }))
    }

    /// Complete lines consumed.
    fn consumed(&self) -> u64 {
        self.offset.saturating_sub(self.partial.len() as u64)
    }

    fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.offset = offset;
        if offset == 0 {
            self.head.clear();
        }
        self.partial.clear();
        self.skipping = false;
        Ok(())
    }
}

/// Follows one log file.
#[derive(Debug)]
pub struct Tailer {
    path: PathBuf,
    /// The file the path names, once opened.
    cur: Option<Stream>,
    /// A saved position not applied yet (the file is opened at the first poll).
    saved: Option<Position>,
    /// Files read besides `cur`: renamed away (nginx may still write to them until it reopens
    /// its logs) or copies; each is dropped once it has been quiet for [`ROTATED_GRACE`].
    others: Vec<Stream>,
    /// How far each content has been read, newest last.
    ledger: VecDeque<Seen>,
    /// Rotated siblings already looked at, by (device, inode), with what tells a file from a
    /// later one under the same number.
    looked_at: HashMap<(u64, u64), Looked>,
    /// Whether the siblings present at the start have been noted (they are history, which the
    /// first-start backfill reads, not the tailer).
    scanned: bool,
    buf: Vec<u8>,
}

/// How long a rotated-away file must stay unchanged before Warden stops reading it.
pub const ROTATED_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl Tailer {
    /// A tailer for `path`, resuming at `saved` if given (otherwise from the start of the file).
    pub fn new(path: &Path, saved: Option<Position>) -> Self {
        let mut ledger = VecDeque::new();
        if let Some(p) = saved.filter(|p| p.fp_len > 0) {
            ledger.push_back(Seen { fp: p.fingerprint, fp_len: p.fp_len, head: None, consumed: p.offset });
        }
        Self {
            path: path.to_path_buf(),
            cur: None,
            saved,
            others: Vec::new(),
            ledger,
            looked_at: HashMap::new(),
            scanned: false,
            buf: vec![0; 1 << 16],
        }
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The position to save: complete lines only, so a restart re-reads a half-written line.
    pub fn position(&self) -> Option<Position> {
        match &self.cur {
            Some(s) => {
                Some(Position { dev: s.dev, ino: s.ino, offset: s.consumed(), fingerprint: s.fp, fp_len: s.fp_len })
            }
            None => self.saved,
        }
    }

    /// Reads everything new and calls `f` for each complete line, following rotations.
    pub fn poll(&mut self, f: &mut dyn FnMut(&[u8])) -> io::Result<TailState> {
        // In the order the lines were written: what is left in the files already open (unless
        // the followed one was truncated), then the siblings that appeared (copies, files rotated
        // through), then the followed file's new content, then a new file at the path.
        self.drain_others(f);
        // Nothing of it read yet (it was empty) counts as replaced: a copy of it may be waiting.
        let replaced = match self.cur.as_ref() {
            Some(c) => c.fp_len == 0 || fingerprint(&c.file, c.fp_len)? != (c.fp, c.fp_len),
            None => false,
        };
        if !replaced {
            self.drain_cur(f)?;
        }
        self.scan_siblings(f)?;
        if replaced {
            self.drain_cur(f)?;
        }
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => Some(m),
            // Deleted or renamed and not recreated yet: keep reading the open file, which nginx
            // may still be writing until it reopens its logs.
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let Some(meta) = meta else {
            return Ok(if self.cur.is_some() { TailState::Reading } else { TailState::Missing });
        };
        let moved = self.cur.as_ref().is_none_or(|c| c.dev != meta.dev() || c.ino != meta.ino());
        if moved {
            let had = self.cur.is_some() || !self.others.is_empty();
            if let Some(old) = self.cur.take() {
                self.keep_reading(old, f);
            }
            // Files rotated through meanwhile are siblings now: read them before the new file.
            self.scan_siblings(f)?;
            let Some(mut cur) = Stream::open(&self.path)? else {
                // Renamed away between the look and the open: a rotation under way, not a
                // missing file, when there was one a moment ago.
                return Ok(if had { TailState::Reading } else { TailState::Missing });
            };
            let start = self.start_of(&cur)?;
            cur.seek_to(start)?;
            self.drain(&mut cur, f)?;
            self.cur = Some(cur);
        }
        Ok(TailState::Reading)
    }

    fn drain_cur(&mut self, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let Some(mut cur) = self.cur.take() else { return Ok(()) };
        let result = self.drain(&mut cur, f);
        self.cur = Some(cur);
        result.map(|_| ())
    }

    /// Where to start reading a newly opened file: where the saved position or the ledger says
    /// its content was left, else at its start.
    fn start_of(&mut self, s: &Stream) -> io::Result<u64> {
        if let Some(saved) = self.saved.take() {
            if saved.dev == s.dev && saved.ino == s.ino {
                let len = s.file.metadata()?.len();
                if saved.offset <= len && fingerprint(&s.file, saved.fp_len)? == (saved.fingerprint, saved.fp_len) {
                    return Ok(saved.offset);
                }
            }
        }
        Ok(match self.known(&s.file)? {
            Known::Read { consumed, .. } => consumed,
            Known::Unsure | Known::New => 0,
        })
    }

    /// What the ledger knows of the content of `file` (the entry read furthest, if several match).
    fn known(&self, file: &File) -> io::Result<Known> {
        let first = read_head(file, FINGERPRINT_BYTES)?;
        if first.is_empty() {
            return Ok(Known::Unsure);
        }
        let mut best: Option<&Seen> = None;
        let mut unsure = false;
        for seen in self.ledger.iter().filter(|s| s.fp_len > 0) {
            let len = seen.fp_len as usize;
            if first.len() >= len {
                if hash(&first[..len]) == seen.fp && best.is_none_or(|b| seen.consumed > b.consumed) {
                    best = Some(seen);
                }
            } else if seen.head.as_ref().is_some_and(|h| h.starts_with(&first)) {
                unsure = true;
            }
        }
        Ok(match (best, unsure) {
            (Some(s), _) => Known::Read { consumed: s.consumed, fp: s.fp, fp_len: s.fp_len },
            (None, true) => Known::Unsure,
            (None, false) => Known::New,
        })
    }

    /// How far the content a stream holds has been read through any file (a copy and its
    /// original share it).
    fn ledger_consumed(&self, s: &Stream) -> Option<u64> {
        self.ledger.iter().find(|e| s.fp_len > 0 && e.fp == s.fp && e.fp_len == s.fp_len).map(|e| e.consumed)
    }

    /// Records how far a stream's content has been read.
    fn record(&mut self, old: Option<(u64, u64)>, s: &Stream) {
        if s.fp_len == 0 {
            return;
        }
        if let Some((fp, fp_len)) = old.filter(|&(_, l)| l > 0 && l < s.fp_len) {
            // The fingerprint grew with the file: the shorter one is the same content.
            self.ledger.retain(|e| !(e.fp == fp && e.fp_len == fp_len));
        }
        let consumed = s.consumed();
        if let Some(e) = self.ledger.iter_mut().find(|e| e.fp == s.fp && e.fp_len == s.fp_len) {
            e.consumed = e.consumed.max(consumed);
            return;
        }
        if self.ledger.len() >= LEDGER {
            self.ledger.pop_front();
        }
        let head = (s.head.len() as u64 == s.fp_len).then(|| s.head.clone());
        self.ledger.push_back(Seen { fp: s.fp, fp_len: s.fp_len, head, consumed });
    }

    /// Reads `s` to its end. When its first bytes change under it (truncated, rewritten), what
    /// was read is put back and the stream starts again at 0: the rest of the old content is
    /// in the copy, which the sibling scan finds by the ledger.
    fn drain(&mut self, s: &mut Stream, f: &mut dyn FnMut(&[u8])) -> io::Result<u64> {
        let mut total = 0;
        if s.fp_len > 0 && fingerprint(&s.file, s.fp_len)? != (s.fp, s.fp_len) {
            restart(s)?;
        }
        if s.offset == 0 && s.fp_len == 0 {
            // Nothing read through this file yet, but its content may have been read through a
            // copy (copytruncate copied it before Warden read any of it, and has not truncated
            // it yet). Taking the fingerprint with the position makes a truncation right after
            // this look show up at the next read.
            if let Known::Read { consumed, fp, fp_len } = self.known(&s.file)? {
                s.seek_to(consumed)?;
                (s.fp, s.fp_len) = (fp, fp_len);
            }
        }
        loop {
            // Another file with this content (a copy, or the original of this copy) may have
            // been read further: those lines are handed over already.
            if let Some(done) = self.ledger_consumed(s).filter(|&d| d > s.consumed()) {
                s.seek_to(done)?;
            }
            let n = read_some(&mut s.file, &mut self.buf)?;
            if n == 0 {
                break;
            }
            if s.fp_len > 0 && fingerprint(&s.file, s.fp_len)? != (s.fp, s.fp_len) {
                // Truncated between the check and the read: these bytes may be the new content.
                restart(s)?;
                continue;
            }
            split_lines(&self.buf[..n], &mut s.partial, &mut s.skipping, f);
            let at = s.offset;
            s.offset += n as u64;
            total += n as u64;
            let old = (s.fp, s.fp_len);
            if at < FINGERPRINT_BYTES && at == s.head.len() as u64 {
                let take = (FINGERPRINT_BYTES - at).min(n as u64) as usize;
                s.head.extend_from_slice(&self.buf[..take]);
                (s.fp, s.fp_len) = (hash(&s.head), s.head.len() as u64);
            } else if s.fp_len < FINGERPRINT_BYTES {
                (s.fp, s.fp_len) = fingerprint(&s.file, s.offset)?;
            }
            self.record(Some(old), s);
        }
        if total > 0 {
            s.quiet_since = Instant::now();
        }
        Ok(total)
    }

    /// Keeps a file that is no longer at the path, to read what is still written to it. Past
    /// [`MAX_OTHERS`] the oldest is read one last time and let go (hundreds of rotations ago,
    /// nothing writes to it any more).
    fn keep_reading(&mut self, s: Stream, f: &mut dyn FnMut(&[u8])) {
        if self.others.len() >= MAX_OTHERS {
            let mut oldest = self.others.remove(0);
            let _ = self.drain(&mut oldest, f);
        }
        self.others.push(s);
    }

    /// Reads every other open file; lets go of those quiet for [`ROTATED_GRACE`].
    fn drain_others(&mut self, f: &mut dyn FnMut(&[u8])) {
        let mut others = std::mem::take(&mut self.others);
        others.retain_mut(|s| {
            let got = self.drain(s, f).unwrap_or(0);
            if got == 0 && s.quiet_since.elapsed() >= ROTATED_GRACE {
                // A rotated file that ends without a newline: its last line is complete.
                if !s.partial.is_empty() && !s.skipping {
                    f(&s.partial);
                }
                false
            } else {
                true
            }
        });
        others.append(&mut self.others);
        self.others = others;
    }

    /// Looks at the rotated siblings that appeared since the last look. Each is the followed
    /// file renamed (already open: skipped), a copy or a compressed copy of content read before
    /// (read from where that content was left), or content never seen (a file created and
    /// rotated between two polls, or a copy of a file rotated before it was read: read whole).
    /// The siblings there at the first look are history and left to the first-start backfill,
    /// except the rest of the content of a saved position.
    fn scan_siblings(&mut self, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let first = !self.scanned;
        self.scanned = true;
        let mut present = HashSet::new();
        for path in rotated_candidates(&self.path).into_iter().rev() {
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            let id = (meta.dev(), meta.ino());
            present.insert(id);
            if self.looked_at.get(&id).is_some_and(|l| l.is(&path, &meta)) {
                continue;
            }
            let open = self.cur.iter().chain(&self.others).any(|s| (s.dev, s.ino) == id);
            if open {
                self.looked_at.insert(id, Looked::of(&path, &meta));
                continue;
            }
            let gz = path.extension().is_some_and(|e| e == "gz");
            if gz {
                self.looked_at.insert(id, Looked::of(&path, &meta));
                self.read_gz(&path, f)?;
                continue;
            }
            let Some(mut s) = Stream::open(&path)? else { continue };
            match self.known(&s.file)? {
                Known::Read { consumed, .. } => {
                    self.looked_at.insert(id, Looked::of(&path, &meta));
                    s.seek_to(consumed)?;
                    self.drain(&mut s, f)?;
                    self.keep_reading(s, f);
                }
                // History, there before Warden looked.
                _ if first => {
                    self.looked_at.insert(id, Looked::of(&path, &meta));
                }
                // A copy still being written, perhaps: look again at the next poll.
                Known::Unsure => {}
                Known::New => {
                    self.looked_at.insert(id, Looked::of(&path, &meta));
                    self.drain(&mut s, f)?;
                    self.keep_reading(s, f);
                }
            }
        }
        self.looked_at.retain(|id, _| present.contains(id));
        Ok(())
    }

    /// A compressed sibling: read only the part of a content already read from that was not
    /// handed over yet (the rest of a saved position's file, compressed while Warden was
    /// stopped, or a copy compressed before Warden got to it). Unknown compressed content is
    /// history.
    fn read_gz(&mut self, path: &Path, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let Ok(mut stream) = super::input::Input::File(path.to_path_buf()).open() else { return Ok(()) };
        let mut head = Vec::with_capacity(FINGERPRINT_BYTES as usize);
        (&mut stream).take(FINGERPRINT_BYTES).read_to_end(&mut head)?;
        let seen = self
            .ledger
            .iter()
            .filter(|s| s.fp_len > 0 && s.fp_len <= head.len() as u64)
            .filter(|s| hash(&head[..s.fp_len as usize]) == s.fp)
            .max_by_key(|s| (s.fp_len, s.consumed))
            .cloned();
        let Some(seen) = seen else { return Ok(()) };
        let skip_in_head = (seen.consumed as usize).min(head.len());
        let mut rest = io::Read::chain(io::Cursor::new(head.split_off(skip_in_head)), stream);
        let beyond = seen.consumed.saturating_sub(skip_in_head as u64);
        io::copy(&mut (&mut rest).take(beyond), &mut io::sink())?;
        let mut read = 0u64;
        super::lines::for_each_line(rest, |line| {
            read += line.len() as u64 + 1;
            f(line)
        })?;
        if let Some(e) = self.ledger.iter_mut().find(|e| e.fp == seen.fp && e.fp_len == seen.fp_len) {
            e.consumed = e.consumed.max(seen.consumed + read);
        }
        Ok(())
    }
}

/// The stream's content was replaced: start again at 0; the fingerprint is taken afresh as the
/// new content is read.
fn restart(s: &mut Stream) -> io::Result<()> {
    s.seek_to(0)?;
    s.fp = 0;
    s.fp_len = 0;
    Ok(())
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
