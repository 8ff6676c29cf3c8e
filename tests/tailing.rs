//! Following access logs on disk: every rotation style, restarts mid-file and after a rotation.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use warden::source::access::tail::{Position, TailState, Tailer};

fn append(path: &Path, lines: &[&str]) {
    let mut f = OpenOptions::new().create(true).append(true).open(path).expect("open for append");
    for l in lines {
        writeln!(f, "{l}").expect("write");
    }
}

fn poll(t: &mut Tailer) -> Vec<String> {
    let mut got = Vec::new();
    t.poll(&mut |l| got.push(String::from_utf8_lossy(l).into_owned())).expect("poll");
    got
}

#[test]
fn follows_appends_and_holds_back_a_half_written_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["a", "b"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t), ["a", "b"]);
    let mut f = OpenOptions::new().append(true).open(&log).expect("open");
    f.write_all(b"c\nhal").expect("write");
    assert_eq!(poll(&mut t), ["c"], "a line without its newline is not handed over yet");
    assert_eq!(t.position().map(|p| p.offset), Some(6), "the position stops before the half line");
    f.write_all(b"f\n").expect("write");
    assert_eq!(poll(&mut t), ["half"]);
    assert!(poll(&mut t).is_empty());
}

#[test]
fn rename_and_create_rotation_reads_the_rest_of_the_old_file_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["1", "2"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t), ["1", "2"]);
    // nginx keeps writing the renamed file until it reopens its logs.
    fs::rename(&log, dir.path().join("access.log.1")).expect("rename");
    append(&dir.path().join("access.log.1"), &["3"]);
    append(&log, &["4"]);
    assert_eq!(poll(&mut t), ["3", "4"], "the old file to its end, then the new one");
    append(&log, &["5"]);
    assert_eq!(poll(&mut t), ["5"]);
}

#[test]
fn copytruncate_reads_the_unread_tail_from_the_copy_then_restarts_at_the_beginning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["one", "two", "three"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t).len(), 3);
    // Written after Warden's last read, just before logrotate copies and truncates.
    append(&log, &["late-1", "late-2"]);
    fs::copy(&log, dir.path().join("access.log.1")).expect("copy");
    OpenOptions::new().write(true).open(&log).expect("open").set_len(0).expect("truncate");
    append(&log, &["four"]);
    assert_eq!(poll(&mut t), ["late-1", "late-2", "four"]);
}

#[test]
fn lines_nginx_writes_to_the_renamed_file_after_the_switch_are_still_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    let old = dir.path().join("access.log.1");
    append(&log, &["1"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t), ["1"]);
    fs::rename(&log, &old).expect("rename");
    append(&log, &["new-1"]);
    assert_eq!(poll(&mut t), ["new-1"], "switched to the new file");
    // nginx has not reopened its logs yet, and flushes its buffer into the old file.
    append(&old, &["old-late"]);
    append(&log, &["new-2"]);
    assert_eq!(poll(&mut t), ["old-late", "new-2"]);
}

#[test]
fn a_restart_across_copytruncate_reads_the_rest_from_the_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["a-first-line-long-enough", "b"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t).len(), 2);
    let saved = t.position();
    drop(t);
    append(&log, &["c", "d"]);
    fs::copy(&log, dir.path().join("access.log.1")).expect("copy");
    OpenOptions::new().write(true).open(&log).expect("open").set_len(0).expect("truncate");
    append(&log, &["e"]);
    let mut t = Tailer::new(&log, saved);
    assert_eq!(poll(&mut t), ["c", "d", "e"]);
}

#[test]
fn a_restart_across_rotation_and_compression_reads_the_rest_from_the_gz() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["first", "second"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t).len(), 2);
    let saved = t.position();
    drop(t);
    append(&log, &["third"]);
    // logrotate with `compress` and no `delaycompress`: access.log.1.gz, a new inode.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&fs::read(&log).expect("read")).expect("gzip");
    fs::write(dir.path().join("access.log.1.gz"), gz.finish().expect("gzip")).expect("write");
    fs::remove_file(&log).expect("remove");
    append(&log, &["fourth"]);
    let mut t = Tailer::new(&log, saved);
    assert_eq!(poll(&mut t), ["third", "fourth"]);
}

#[test]
fn truncated_and_regrown_past_the_old_offset_is_caught_by_the_fingerprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["first line"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t), ["first line"]);
    OpenOptions::new().write(true).open(&log).expect("open").set_len(0).expect("truncate");
    append(&log, &["new first", "new second line that is longer"]);
    assert_eq!(poll(&mut t), ["new first", "new second line that is longer"]);
}

#[test]
fn delete_and_recreate_and_a_file_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    let mut t = Tailer::new(&log, None);
    assert_eq!(t.poll(&mut |_| {}).expect("poll"), TailState::Missing);
    append(&log, &["x"]);
    assert_eq!(poll(&mut t), ["x"]);
    fs::remove_file(&log).expect("delete");
    assert!(poll(&mut t).is_empty());
    append(&log, &["y"]);
    assert_eq!(poll(&mut t), ["y"]);
}

#[test]
fn follows_a_symlink_and_its_retargeting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    let link = dir.path().join("access.log");
    append(&a, &["from a"]);
    std::os::unix::fs::symlink(&a, &link).expect("symlink");
    let mut t = Tailer::new(&link, None);
    assert_eq!(poll(&mut t), ["from a"]);
    append(&b, &["from b"]);
    fs::remove_file(&link).expect("unlink");
    std::os::unix::fs::symlink(&b, &link).expect("symlink");
    assert_eq!(poll(&mut t), ["from b"]);
}

#[test]
fn a_restart_resumes_where_it_stopped_with_no_loss_and_no_double_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["1", "2", "3"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t), ["1", "2", "3"]);
    let saved: Position = serde_json::from_str(&serde_json::to_string(&t.position()).expect("json")).expect("json");
    drop(t);
    append(&log, &["4"]);
    let mut t = Tailer::new(&log, Some(saved));
    assert_eq!(poll(&mut t), ["4"]);
}

#[test]
fn a_restart_after_a_rotation_finishes_the_rotated_file_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["1", "2"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t), ["1", "2"]);
    let saved = t.position();
    drop(t);
    // While Warden is stopped: two more lines, a rotation, and new lines.
    append(&log, &["3", "4"]);
    fs::rename(&log, dir.path().join("access.log.1")).expect("rename");
    append(&log, &["5"]);
    let mut t = Tailer::new(&log, saved);
    assert_eq!(poll(&mut t), ["3", "4", "5"]);
}

#[test]
fn a_replaced_file_with_the_same_size_is_not_mistaken_for_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["aaaa"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t), ["aaaa"]);
    let saved = t.position().expect("position");
    drop(t);
    // Same inode reused (truncate and rewrite) with different content while stopped.
    fs::write(&log, "bbbb\ncccc\n").expect("rewrite");
    let mut t = Tailer::new(&log, Some(saved));
    assert_eq!(poll(&mut t), ["bbbb", "cccc"]);
}
