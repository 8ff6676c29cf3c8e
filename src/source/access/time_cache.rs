//! The access-log parser's times: `$time_local`, `$time_iso8601` and `$msec` read into UTC, with
//! a cache of the last one.
//!
//! Consecutive lines of a log mostly share their second, and nearly always their minute, so the
//! parser keeps the last time it read: the same `time_local` costs four word compares, a new
//! second in the same minute an addition, and only a new minute is parsed.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};

use super::format::Field;
use crate::time::Timestamp;

/// Remembers the last time string and its value: consecutive lines mostly share the second,
/// and nearly always the minute, so a `time_local` in the same minute is the cached minute plus
/// its seconds.
#[derive(Debug, Default, Clone)]
pub(super) struct TimeCache {
    raw: [u8; 32],
    len: usize,
    /// `raw` as words, when it is a 26-byte `time_local` (see [`words26`]).
    words: [u64; 4],
    value: Option<(Timestamp, i64)>,
    /// The minute of the last `time_local`, to add seconds to.
    minute: Option<Minute>,
}

/// A 26-byte `time_local` as four little-endian words (the last holds two bytes), so that two
/// times compare in four integer compares.
#[inline]
fn words26(a: &[u8; 26]) -> [u64; 4] {
    let word =
        |i: usize| u64::from_le_bytes([a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5], a[i + 6], a[i + 7]]);
    [word(0), word(8), word(16), u64::from(u16::from_le_bytes([a[24], a[25]]))]
}

/// Four words equal, as four compares (an array `==` may become a library call).
#[inline]
fn same4(a: [u64; 4], b: [u64; 4]) -> bool {
    (a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) == 0
}

/// Clears bytes 18 and 19 (the seconds of `time_local`) in the third word of [`words26`].
const NO_SECONDS: u64 = !0xffff_0000;

/// A `time_local` minute: its text (the seconds are ignored) and when it starts, in UTC.
#[derive(Debug, Clone)]
struct Minute {
    /// The text as words, with the seconds (bytes 18 and 19) zeroed.
    key: [u64; 4],
    date: NaiveDate,
    second_of_day: u32,
    secs: i64,
}

impl TimeCache {
    /// The time in `raw`: the cached value when it repeats the last one (most lines), the
    /// cached minute plus its seconds when only those differ (nearly all the others); `None`
    /// if it is not a time.
    #[inline(always)]
    pub(super) fn get(&mut self, field: Field, raw: &[u8]) -> Option<(Timestamp, i64)> {
        // `time_local` is always 26 bytes: compared as four words, not by a library call.
        if let Ok(a) = <&[u8; 26]>::try_from(raw) {
            let w = words26(a);
            if self.len == 26 && same4(w, self.words) {
                return self.value;
            }
            if let (Field::TimeLocal, Some(m)) = (field, &self.minute) {
                if same4([w[0], w[1], w[2] & NO_SECONDS, w[3]], m.key) {
                    let (tens, ones) = (a[18].wrapping_sub(b'0'), a[19].wrapping_sub(b'0'));
                    if tens < 6 && ones <= 9 {
                        let s = u32::from(tens) * 10 + u32::from(ones);
                        // The minute starts at second 0 in UTC too (offsets are whole minutes),
                        // so adding up to 59 seconds stays within its day.
                        if let Some(time) = NaiveTime::from_num_seconds_from_midnight_opt(m.second_of_day + s, 0) {
                            let value = (m.date.and_time(time).and_utc(), m.secs + i64::from(s));
                            // A 26-byte time is compared by `words` only: `raw` is not needed.
                            self.len = 26;
                            self.words = w;
                            self.value = Some(value);
                            return Some(value);
                        }
                    }
                }
            }
        } else if raw.len() == self.len && raw == &self.raw[..self.len] {
            return self.value;
        }
        self.parse(field, raw)
    }

    /// A time that is not in the cached second or minute: parsed in full, and cached.
    #[inline(never)]
    fn parse(&mut self, field: Field, raw: &[u8]) -> Option<(Timestamp, i64)> {
        let value = match field {
            Field::TimeLocal => time_local(raw),
            Field::TimeIso8601 => std::str::from_utf8(raw)
                .ok()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc)),
            _ => msec(raw),
        };
        self.minute = None;
        if let (Field::TimeLocal, Some(t), Ok(key)) = (field, value, <[u8; 26]>::try_from(raw)) {
            let start = t - chrono::Duration::seconds(i64::from(digits(&raw[18..20]).unwrap_or(0)));
            if start.second() == 0 {
                let w = words26(&key);
                self.minute = Some(Minute {
                    key: [w[0], w[1], w[2] & NO_SECONDS, w[3]],
                    date: start.date_naive(),
                    second_of_day: start.num_seconds_from_midnight(),
                    secs: start.timestamp(),
                });
            }
        }
        let value = value.map(|t| (t, t.timestamp()));
        self.remember(raw, value);
        value
    }

    fn remember(&mut self, raw: &[u8], value: Option<(Timestamp, i64)>) {
        if let Ok(a) = <&[u8; 26]>::try_from(raw) {
            self.words = words26(a);
        }
        if raw.len() <= self.raw.len() {
            self.raw[..raw.len()].copy_from_slice(raw);
            self.len = raw.len();
        } else {
            self.len = usize::MAX; // too long to remember: never matches
        }
        self.value = value;
    }
}

fn digits(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 {
        return None;
    }
    v.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

/// `13/Jan/2025:10:21:55 +0530` → UTC.
fn time_local(v: &[u8]) -> Option<Timestamp> {
    if v.len() != 26 || v[2] != b'/' || v[6] != b'/' || v[11] != b':' || v[20] != b' ' {
        return None;
    }
    let month = match &v[3..6] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let day = digits(&v[0..2])?;
    let year = i32::try_from(digits(&v[7..11])?).ok()?;
    let (h, m, s) = (digits(&v[12..14])?, digits(&v[15..17])?, digits(&v[18..20])?);
    let sign = match v[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let off = i64::from(digits(&v[22..24])?) * 3600 + i64::from(digits(&v[24..26])?) * 60;
    let naive = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(h, m, s)?;
    let utc = Utc.from_utc_datetime(&naive);
    utc.checked_sub_signed(chrono::Duration::seconds(sign * off))
}

/// `1736743915.123` → UTC.
fn msec(v: &[u8]) -> Option<Timestamp> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
    let secs: i64 = secs.parse().ok()?;
    let millis: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    DateTime::from_timestamp(secs, u32::try_from(millis * 1_000_000).ok()?)
}
