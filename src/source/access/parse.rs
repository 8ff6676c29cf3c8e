//! Parsing one access-log line with a compiled [`LogFormat`], without allocating.
//!
//! Every field is a slice of the line. A field ends where the next literal of the format begins;
//! inside quotes a `\"` (Apache's escape) does not end it, and nginx never writes a raw quote
//! inside a field (it writes `\x22`). Bytes are not assumed to be UTF-8: TLS handshakes sent to
//! a plain-text port arrive as `\x16\x03…` escapes or raw bytes, and they are data like any
//! other. A line that does not fit the format is an error value, never a panic.

use std::fmt;

use chrono::{DateTime, Utc};
use memchr::memchr;

use super::format::{Field, Item, LogFormat};
use super::time_cache::TimeCache;
use crate::time::Timestamp;

/// One request, borrowed from its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Client address as written (`$remote_addr`).
    pub ip: &'a [u8],
    /// The canonical address as a key, when the parser already knows it (the quick path looks
    /// every address of up to 39 bytes up in its cache); `None` means "not looked up, or not an
    /// address".
    pub addr: Option<crate::ip::IpKey>,
    /// When nginx logged it, in UTC.
    pub at: Timestamp,
    /// The same, as Unix seconds (cheap to compare and bucket).
    pub secs: i64,
    /// HTTP method (empty when the request line was garbage).
    pub method: &'a [u8],
    /// Request target: path and query string, as sent.
    pub target: &'a [u8],
    /// Response status (0 if the format has none).
    pub status: u16,
    /// `Referer` header, `-` when absent.
    pub referer: &'a [u8],
    /// `User-Agent` header, `-` when absent.
    pub user_agent: &'a [u8],
    /// `Host` header or server name, if logged.
    pub host: &'a [u8],
    /// `X-Forwarded-For`, if logged.
    pub forwarded_for: &'a [u8],
}

impl<'a> Request<'a> {
    /// A request with nothing in it yet.
    pub fn empty() -> Self {
        Request {
            ip: b"",
            addr: None,
            at: DateTime::<Utc>::UNIX_EPOCH,
            secs: 0,
            method: b"",
            target: b"",
            status: 0,
            referer: b"-",
            user_agent: b"-",
            host: b"",
            forwarded_for: b"",
        }
    }

    /// The path without its query string (what OpenAlgo matches routes against). Worked out
    /// on demand: most requests never need it (a prefix check can use the target).
    pub fn path(&self) -> &'a [u8] {
        match super::scan::find_byte(b'?', self.target) {
            Some(q) => &self.target[..q],
            None => self.target,
        }
    }

    fn set_target(&mut self, target: &'a [u8]) {
        self.target = target;
    }
}

/// Why a line did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// A literal of the format was not where it should be.
    Layout,
    /// The time field is not a time.
    Time,
    /// The status is not a number from 100 to 999.
    Status,
    /// The line is empty.
    Empty,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::Layout => "the line does not have the configured log format",
            ParseError::Time => "the time field is not a time",
            ParseError::Status => "the status is not an HTTP status",
            ParseError::Empty => "empty line",
        })
    }
}

/// A parser for one format. Keep one per log: it caches the last timestamp.
#[derive(Debug, Clone)]
pub struct Parser {
    format: LogFormat,
    cache: TimeCache,
    addrs: super::addr_cache::AddrCache,
    essential_only: bool,
}

/// Equality of short byte strings without a library call.
pub(crate) fn short_eq(a: Option<&[u8]>, b: &[u8]) -> bool {
    a.is_some_and(|a| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y))
}

/// Whether `hay` starts with `lit` (at most 8 bytes): one masked word compare when `hay` has 8
/// bytes to read, a byte loop otherwise.
#[inline(always)]
fn starts_with_short(hay: &[u8], lit: &[u8]) -> bool {
    match hay.first_chunk::<8>() {
        Some(w) if lit.len() <= 8 => {
            let mut want = [0u8; 8];
            want[..lit.len()].copy_from_slice(lit);
            let mask = if lit.len() == 8 { u64::MAX } else { (1u64 << (lit.len() * 8)) - 1 };
            u64::from_le_bytes(*w) & mask == u64::from_le_bytes(want)
        }
        _ => short_eq(hay.get(..lit.len()), lit),
    }
}

fn find_end(hay: &[u8], lit: &[u8], quoted: bool) -> Option<usize> {
    let first = *lit.first()?;
    let mut from = 0;
    while let Some(i) = memchr(first, &hay[from..]) {
        let at = from + i;
        if short_eq(hay.get(at..at + lit.len()), lit) {
            let escaped =
                quoted && first == b'"' && hay[..at].iter().rev().take_while(|c| **c == b'\\').count() % 2 == 1;
            if !escaped {
                return Some(at);
            }
        }
        from = at + 1;
    }
    None
}

impl Parser {
    /// A parser for `format`.
    pub fn new(format: LogFormat) -> Self {
        Self {
            format,
            cache: TimeCache::default(),
            addrs: super::addr_cache::AddrCache::default(),
            essential_only: false,
        }
    }

    /// Parses only the fields the rules need (address, time, request, status, host,
    /// forwarded-for) and leaves referer and user agent as `-`. For replays, where speed
    /// matters and nothing shows those fields.
    pub fn essential_only(mut self) -> Self {
        self.essential_only = true;
        self
    }

    /// The format.
    pub fn format(&self) -> &LogFormat {
        &self.format
    }

    /// Parses one line (without its newline; a trailing `\r` is ignored).
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Result<Request<'a>, ParseError> {
        let mut req = Request::empty();
        self.parse_into(line, &mut req)?;
        Ok(req)
    }

    /// [`Parser::parse`] into a request the caller owns, so the hot loop moves no structs.
    /// `req` must start as [`Request::empty`].
    pub fn parse_into<'a>(&mut self, line: &'a [u8], req: &mut Request<'a>) -> Result<(), ParseError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Err(ParseError::Empty);
        }
        if self.format.is_combined_like() {
            if self.parse_combined(line, req) {
                return Ok(());
            }
            // Anything unusual (a `[` in the user name, a missing field) takes the general path,
            // which also says what is wrong.
            *req = Request::empty();
        }
        let mut have_time = false;
        let mut pos = 0;
        let all = &self.format.items;
        let items = if self.essential_only { &all[..self.format.essential.min(all.len())] } else { &all[..] };
        for (i, item) in items.iter().enumerate() {
            match item {
                Item::Literal(lit) => {
                    if !line[pos..].starts_with(lit) {
                        return Err(ParseError::Layout);
                    }
                    pos += lit.len();
                }
                Item::Field(field) => {
                    let rest = &line[pos..];
                    let len = match all.get(i + 1) {
                        Some(Item::Literal(next)) => {
                            let quoted = pos > 0 && line[pos - 1] == b'"';
                            find_end(rest, next, quoted).ok_or(ParseError::Layout)?
                        }
                        _ => rest.len(),
                    };
                    let value = &rest[..len];
                    pos += len;
                    match field {
                        Field::RemoteAddr => req.ip = value,
                        Field::TimeLocal | Field::TimeIso8601 | Field::Msec => {
                            (req.at, req.secs) = self.cache.get(*field, value).ok_or(ParseError::Time)?;
                            have_time = true;
                        }
                        Field::Request => split_request(value, req),
                        Field::Method => req.method = value,
                        Field::Uri => req.set_target(value),
                        Field::Path if req.target.is_empty() => req.set_target(value),
                        Field::Status => req.status = status(value)?,
                        Field::Referer => req.referer = value,
                        Field::UserAgent => req.user_agent = value,
                        Field::ForwardedFor => req.forwarded_for = value,
                        Field::Host => req.host = value,
                        Field::Path | Field::RequestTime | Field::Other => {}
                    }
                }
            }
        }
        if !have_time || req.ip.is_empty() {
            return Err(ParseError::Layout);
        }
        Ok(())
    }

    /// The quick path for `combined` and `common`: `addr ident user [time] "request" status …`.
    fn parse_combined<'a>(&mut self, line: &'a [u8], req: &mut Request<'a>) -> bool {
        self.combined(line, req).is_some()
    }

    fn combined<'a>(&mut self, line: &'a [u8], req: &mut Request<'a>) -> Option<()> {
        // The address and its end from the cache when the address is at most 39 bytes (every
        // IPv4, IPv6 written in full); a byte loop over the first bytes otherwise, which beats a
        // vectorised search.
        let sp = match self.addrs.leading(line) {
            Some((len, addr)) => {
                req.addr = addr;
                len
            }
            None => line[..line.len().min(48)].iter().position(|c| *c == b' ')?,
        };
        let ip = &line[..sp];
        let after_ip = &line[sp..];
        // Nearly always ` - - [` (no ident, no user): check that before searching.
        let lb = if starts_with_short(after_ip, b" - - [") {
            sp + 5
        } else {
            sp + after_ip[..after_ip.len().min(64)].iter().position(|c| *c == b'[')?
        };
        let time = line.get(lb + 1..lb + 27)?;
        if !line.get(lb + 27..).is_some_and(|end| starts_with_short(end, b"] \"")) {
            return None;
        }
        let (at, secs) = self.cache.get(Field::TimeLocal, time)?;
        let req_start = lb + 30;
        let rest = match quick_request(&line[req_start..]) {
            Some((method, target, rest)) => {
                req.method = method;
                req.set_target(target);
                rest
            }
            None => {
                let req_len = find_end(&line[req_start..], b"\" ", true)?;
                split_request(&line[req_start..req_start + req_len], req);
                &line[req_start + req_len + 2..]
            }
        };
        let status = status(rest.get(..3)?).ok()?;
        let after = &rest[3..];
        req.ip = ip;
        req.at = at;
        req.secs = secs;
        req.status = status;
        if !(after.is_empty() || after[0] == b' ') {
            return None;
        }
        if self.essential_only || !self.format.has_agent() {
            return Some(());
        }
        // ` bytes "referer" "agent"`
        let q = memchr(b'"', after)?;
        let refer = &after[q + 1..];
        let r_end = find_end(refer, b"\" \"", true)?;
        req.referer = &refer[..r_end];
        let agent = &refer[r_end + 3..];
        let a_end = find_end(agent, b"\"", true)?;
        req.user_agent = &agent[..a_end];
        Some(())
    }
}

/// The usual request field, `METHOD TARGET HTTP/d.d" `, read in one pass: the method, the
/// target, and what follows the closing quote. `None` for anything else (a space in the target,
/// no protocol, a quote where the general path would end the field), which
/// [`split_request`] then reads exactly as before.
#[inline]
fn quick_request(r: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let m = match r.first_chunk::<16>() {
        Some(block) => match super::scan::matches16(block, b' ') {
            0 => return None,
            spaces => spaces.trailing_zeros() as usize,
        },
        None => r.iter().position(|c| *c == b' ')?,
    };
    let t = &r[m + 1..];
    let te = super::scan::find_byte(b' ', t)?;
    let proto = t.get(te + 1..te + 11)?;
    let ok = proto.starts_with(b"HTTP/")
        && proto[5].is_ascii_digit()
        && proto[6] == b'.'
        && proto[7].is_ascii_digit()
        && proto[8..] == *b"\" "
        // A quote before a space would end the field there on the general path.
        && r[m.saturating_sub(1)] != b'"'
        && t[te.saturating_sub(1)] != b'"';
    if ok {
        Some((&r[..m], &t[..te], &t[te + 11..]))
    } else {
        None
    }
}

fn split_request<'a>(value: &'a [u8], req: &mut Request<'a>) {
    // "GET /path?q HTTP/1.1"; garbage (a TLS handshake, a bare "-") keeps an empty method.
    let Some(sp) = value[..value.len().min(16)].iter().position(|c| *c == b' ') else {
        req.set_target(value);
        return;
    };
    req.method = &value[..sp];
    let rest = &value[sp + 1..];
    // The protocol is nearly always 8 bytes ("HTTP/1.1", "HTTP/2.0"): check there first.
    let n = rest.len();
    let target = if n >= 9 && rest[n - 9] == b' ' && rest[n - 8..].starts_with(b"HTTP/") {
        &rest[..n - 9]
    } else {
        match rest.iter().rposition(|c| *c == b' ') {
            Some(last) if rest[last + 1..].starts_with(b"HTTP/") => &rest[..last],
            _ => rest,
        }
    };
    req.set_target(target);
}

fn status(v: &[u8]) -> Result<u16, ParseError> {
    match v {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            Ok(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => Err(ParseError::Status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combined() -> Parser {
        Parser::new(LogFormat::combined())
    }

    #[test]
    fn parses_nginx_combined() {
        let line = br#"2409:40c0:c2ad:4b6e::8d - - [13/Jan/2025:10:21:55 +0530] "GET /dashboard?x=1 HTTP/2.0" 404 39963 "https://algo.example.in/" "Mozilla/5.0 (X11)""#;
        let r = combined().parse(line).expect("parses");
        assert_eq!(r.ip, b"2409:40c0:c2ad:4b6e::8d");
        assert_eq!(crate::time::rfc3339(r.at), "2025-01-13T04:51:55Z");
        assert_eq!(
            (r.method, r.target, r.path(), r.status),
            (&b"GET"[..], &b"/dashboard?x=1"[..], &b"/dashboard"[..], 404)
        );
        assert_eq!(r.user_agent, b"Mozilla/5.0 (X11)");
    }

    #[test]
    fn survives_hostile_lines() {
        let mut p = combined();
        let tls = br#"203.0.113.5 - - [13/Jan/2025:10:21:55 +0000] "\x16\x03\x01\x00\xCA\x01" 400 157 "-" "-""#;
        let r = p.parse(tls).expect("TLS garbage is still a request");
        assert_eq!((r.method, r.status), (&b""[..], 400));
        let quote = br#"203.0.113.5 - - [13/Jan/2025:10:21:55 +0000] "GET /a\"b\" c HTTP/1.1" 404 1 "-" "x\" \"y""#;
        let r = p.parse(quote).expect("escaped quotes stay inside their field");
        assert_eq!(r.user_agent, br#"x\" \"y"#);
        for bad in [
            &b""[..],
            b"garbage",
            b"1.2.3.4 - - [bad time] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
            b"1.2.3.4 - - [13/Jan/2025:10:21:55 +0000] \"GET / HTTP/1.1\" 2000 1 \"-\" \"-\"",
        ] {
            assert!(p.parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = [b'a'; 100_000];
        assert!(p.parse(&long).is_err());
    }

    /// The quick path checks its fixed bytes (` - - [`, `] "`) a word at a time: a line with any
    /// one of them wrong is an error, as the general path says, in the essential-only mode too.
    #[test]
    fn a_wrong_fixed_byte_is_an_error_on_the_quick_path_too() {
        let good = br#"203.0.113.5 - - [13/Jan/2025:10:21:55 +0000] "GET /x HTTP/1.1" 404 1 "-" "-""#;
        // The `[` before the time and the `] "` after it (the dashes and spaces before may
        // differ: another ident or user takes the general path, and is no error).
        let fixed = [16, 43, 44, 45];
        for essential in [false, true] {
            let mut p = if essential { combined().essential_only() } else { combined() };
            assert!(p.parse(good).is_ok());
            for at in fixed {
                for with in [b'X', b' ', b'"', b'['] {
                    let mut bad = good.to_vec();
                    if bad[at] == with {
                        continue;
                    }
                    bad[at] = with;
                    assert!(p.parse(&bad).is_err(), "{:?}", String::from_utf8_lossy(&bad));
                }
            }
        }
    }

    proptest::proptest! {
        /// The word compare of a short prefix agrees with `starts_with`, at every length of
        /// haystack around its 8-byte read.
        #[test]
        fn short_prefix_agrees_with_starts_with(hay in "[ab -]{0,12}", lit in "[ab -]{0,8}") {
            proptest::prop_assert_eq!(starts_with_short(hay.as_bytes(), lit.as_bytes()), hay.as_bytes().starts_with(lit.as_bytes()));
        }
    }

    #[test]
    fn custom_formats_compile_and_parse() {
        let f = LogFormat::nginx(
            r#"$remote_addr [$time_iso8601] $host "$request" $status $request_time "$http_x_forwarded_for""#,
        )
        .expect("compiles");
        let mut p = Parser::new(f);
        let r = p.parse(br#"198.51.100.7 [2025-01-13T10:21:55+05:30] algo.example.in "POST /api/v1/placeorder HTTP/1.1" 403 0.012 "203.0.113.9, 10.0.0.1""#).expect("parses");
        assert_eq!((r.host, r.status, r.forwarded_for), (&b"algo.example.in"[..], 403, &b"203.0.113.9, 10.0.0.1"[..]));
        assert_eq!(crate::time::rfc3339(r.at), "2025-01-13T04:51:55Z");
        assert!(LogFormat::nginx("$remote_addr$status").is_err(), "adjacent variables are ambiguous");
        assert!(LogFormat::nginx("$status [$time_local] $request").is_err(), "no address");
        let mut p =
            Parser::new(LogFormat::nginx("$msec $remote_addr $request_method $request_uri $status").expect("compiles"));
        let r = p.parse(b"1736743915.5 ::1 GET /x?y 200").expect("parses");
        assert_eq!((r.method, r.target, r.at.timestamp_millis()), (&b"GET"[..], &b"/x?y"[..], 1_736_743_915_500));
    }

    #[test]
    fn apache_common() {
        let mut p = Parser::new(LogFormat::named_or_nginx("common").expect("preset"));
        let r = p
            .parse(br#"192.0.2.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#)
            .expect("parses");
        assert_eq!(crate::time::rfc3339(r.at), "2000-10-10T20:55:36Z");
        assert_eq!(r.status, 200);
    }
}
