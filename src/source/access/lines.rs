//! Splitting a byte stream into lines with large reads and no per-line allocation.

use std::io::{self, BufRead, BufReader, Read};

use super::scan::find_byte;

/// Longest line kept whole; longer ones are cut there (the rest is skipped) so a hostile or broken
/// log cannot grow memory without bound.
pub const MAX_LINE: usize = 64 * 1024;

/// Calls `f` for every line of `input` (without the newline). A last line without a newline is
/// passed too. Returns the number of bytes read.
pub fn for_each_line(input: impl Read, mut f: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut carry: Vec<u8> = Vec::new();
    let mut skipping = false;
    let mut total = 0u64;
    loop {
        let buf = match reader.fill_buf() {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let len = buf.len();
        let mut start = 0;
        while let Some(i) = find_byte(b'\n', &buf[start..]) {
            let end = start + i;
            if skipping {
                skipping = false;
            } else if carry.is_empty() {
                f(&buf[start..end.min(start + MAX_LINE)]);
            } else {
                let room = MAX_LINE.saturating_sub(carry.len());
                carry.extend_from_slice(&buf[start..end.min(start + room)]);
                f(&carry);
                carry.clear();
            }
            start = end + 1;
        }
        if start < len && !skipping {
            let room = MAX_LINE.saturating_sub(carry.len());
            let take = (len - start).min(room);
            carry.extend_from_slice(&buf[start..start + take]);
            if carry.len() >= MAX_LINE {
                f(&carry);
                carry.clear();
                skipping = true;
            }
        }
        total += len as u64;
        reader.consume(len);
    }
    if !carry.is_empty() && !skipping {
        f(&carry);
    }
    Ok(total)
}

/// Hands over the complete lines of `chunk`, keeping a partial tail (capped at [`MAX_LINE`]) in
/// `partial` for the next chunk; a line over the cap is cut, and the rest of it skipped.
pub fn split_lines(chunk: &[u8], partial: &mut Vec<u8>, skipping: &mut bool, f: &mut dyn FnMut(&[u8])) {
    let n = chunk.len();
    let mut start = 0;
    while let Some(i) = find_byte(b'\n', &chunk[start..]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for_each_line(input, |l| out.push(l.to_vec())).expect("read");
        out
    }

    #[test]
    fn splits_and_caps() {
        assert_eq!(lines(b"a\nbb\n\nc"), vec![b"a".to_vec(), b"bb".to_vec(), b"".to_vec(), b"c".to_vec()]);
        let mut long = vec![b'x'; MAX_LINE * 3];
        long.extend_from_slice(b"\nok\n");
        let got = lines(&long);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], b"ok");
    }
}
