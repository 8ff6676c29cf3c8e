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

/// logrotate's numbered shift: `.N` → `.N+1`, newest last.
fn shift(log: &Path, keep: u32) {
    for i in (1..keep).rev() {
        let from = log.with_extension(format!("log.{i}"));
        if from.exists() {
            fs::rename(&from, log.with_extension(format!("log.{}", i + 1))).expect("shift");
        }
    }
}

#[test]
fn two_rotations_between_polls_read_the_file_rotated_through_as_well() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["a1"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t), ["a1"]);
    // Rename rotation, then the new file is written and rotated again before Warden looks.
    append(&log, &["a2"]);
    shift(&log, 5);
    fs::rename(&log, log.with_extension("log.1")).expect("rename");
    append(&log, &["b1", "b2"]);
    shift(&log, 5);
    fs::rename(&log, log.with_extension("log.1")).expect("rename");
    append(&log, &["c1"]);
    assert_eq!(poll(&mut t), ["a2", "b1", "b2", "c1"], "A's rest, all of B, then C");
    // A rename then a copytruncate of the new file, both before the next look.
    shift(&log, 5);
    fs::rename(&log, log.with_extension("log.1")).expect("rename");
    append(&log, &["d1", "d2"]);
    shift(&log, 5);
    fs::copy(&log, log.with_extension("log.1")).expect("copy");
    fs::File::create(&log).expect("truncate");
    append(&log, &["d3"]);
    assert_eq!(poll(&mut t), ["d1", "d2", "d3"], "the copy of D, then what D holds now");
}

#[test]
fn copytruncate_of_a_file_opened_empty_and_never_read_reads_the_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    append(&log, &["old"]);
    fs::rename(&log, log.with_extension("log.1")).expect("history");
    fs::File::create(&log).expect("create");
    let mut t = Tailer::new(&log, None);
    assert!(poll(&mut t).is_empty(), "opened empty: nothing to fingerprint yet");
    // Written, copied and truncated, and written again, all before Warden's next look.
    append(&log, &["x1", "x2"]);
    shift(&log, 5);
    fs::copy(&log, log.with_extension("log.1")).expect("copy");
    fs::File::create(&log).expect("truncate");
    append(&log, &["y1"]);
    assert_eq!(poll(&mut t), ["x1", "x2", "y1"]);
    // The copy compressed afterwards (`compress` without `delaycompress`) is not read again.
    let copy = log.with_extension("log.1");
    let gz = log.with_extension("log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(fs::File::create(&gz).expect("gz"), flate2::Compression::fast());
    enc.write_all(&fs::read(&copy).expect("read")).expect("compress");
    enc.finish().expect("finish");
    fs::remove_file(&copy).expect("rm");
    append(&log, &["y2"]);
    assert_eq!(poll(&mut t), ["y2"]);
}

/// logrotate's `rotate N`: the oldest kept file is deleted, the others shift up.
fn rotate_out(log: &Path, keep: u32) {
    let oldest = log.with_extension(format!("log.{keep}"));
    if oldest.exists() {
        fs::remove_file(&oldest).expect("delete the oldest");
    }
    shift(log, keep);
}

#[test]
fn a_file_that_takes_the_inode_number_of_a_deleted_one_is_still_read() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    for i in 1..=3 {
        append(&log.with_extension(format!("log.{i}")), &["history"]);
    }
    append(&log, &["a1"]);
    let mut t = Tailer::new(&log, None);
    assert_eq!(poll(&mut t), ["a1"]);
    let seen: Vec<u64> =
        (1..=3).map(|i| fs::metadata(log.with_extension(format!("log.{i}"))).expect("stat").ino()).collect();
    // Files made in the same clock tick share a birth time; logrotate's are seconds apart.
    std::thread::sleep(std::time::Duration::from_millis(50));
    // `rotate 3`: the oldest is deleted and a new file created at once, so ext4 gives the new
    // file a number Warden saw a moment ago. The new files are written and rotated again before
    // Warden looks: siblings Warden has never read, under numbers it has seen.
    let mut made = Vec::new();
    rotate_out(&log, 3);
    fs::rename(&log, log.with_extension("log.1")).expect("rename");
    append(&log, &["b1", "b2"]);
    made.push(fs::metadata(&log).expect("stat").ino());
    rotate_out(&log, 3);
    fs::rename(&log, log.with_extension("log.1")).expect("rename");
    append(&log, &["c1"]);
    made.push(fs::metadata(&log).expect("stat").ino());
    // The same again with copytruncate: the copy takes the number of the file deleted before it.
    rotate_out(&log, 3);
    fs::copy(&log, log.with_extension("log.1")).expect("copy");
    made.push(fs::metadata(log.with_extension("log.1")).expect("stat").ino());
    fs::File::create(&log).expect("truncate");
    append(&log, &["c2"]);
    let reused: Vec<u64> = made.iter().copied().filter(|i| seen.contains(i)).collect();
    assert_eq!(poll(&mut t), ["b1", "b2", "c1", "c2"], "numbers seen before and given to new files: {reused:?}");
}
