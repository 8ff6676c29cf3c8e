//! Timestamps: how `logs.db` spells them, and how Warden writes them.
//!
//! `logs.db` holds naive UTC text. OpenAlgo writes two spellings, `YYYY-MM-DD HH:MM:SS` (SQLite's
//! `CURRENT_TIMESTAMP`) and `YYYY-MM-DD HH:MM:SS.ffffff` (Python), and other writers add `T`, `Z`,
//! offsets or a bare date. Warden reads all of them the way OpenAlgo does (an offset is dropped,
//! not applied) and always writes the space-separated microsecond form, because OpenAlgo compares
//! these columns as text and a `T` would sort after a space on the same day.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A point in time. Always UTC.
pub type Timestamp = DateTime<Utc>;

/// The current time, cut to microseconds: the precision `logs.db` and Warden's state keep, so a
/// time written and read back compares equal. Only the monitor's loop and the CLI call this.
pub fn now() -> Timestamp {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// A short form for text tables: `2026-11-21 22:53:35Z`.
pub fn short(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Reads a `logs.db` timestamp. `None` when the text is not a timestamp at all.
pub fn parse_db_time(text: &str) -> Option<Timestamp> {
    let s = text.trim();
    // Every spelling is ASCII; checking first also keeps the byte slicing below on char
    // boundaries for hostile text.
    if s.len() < 10 || s.len() > 40 || !s.is_ascii() {
        return None;
    }
    // A four-digit year, as every writer produces: chrono alone would also take "+262142-…",
    // a date so far out that adding a day to it overflows.
    let b = s.as_bytes();
    if !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    // The spellings OpenAlgo writes, read without chrono's format machinery: the monitor reads
    // every timestamp of `ip_bans` and the trackers whenever they change.
    if let Some(t) = parse_plain(b) {
        return Some(t);
    }
    // NOTE: OpenAlgo drops a timezone suffix instead of converting it (spec §5.2 step d), so a
    // stored "+05:30" is ignored here too; otherwise Warden and OpenAlgo would disagree about
    // whether a ban is still active.
    let body = strip_zone(s);
    let body = body.replacen('T', " ", 1);
    if let Ok(dt) = NaiveDateTime::parse_from_str(&body, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(dt.and_utc());
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(&body, "%Y-%m-%d %H:%M") {
        return Some(dt.and_utc());
    }
    NaiveDate::parse_from_str(&body, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|dt| dt.and_utc())
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.` and 1 to 9 digits, and a space or `T` between
/// date and time: exactly what the general path below reads them as. `None` for anything else
/// (a zone, a leap second, fewer digits), which the general path then reads.
fn parse_plain(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 19 || b.len() == 20 || b.len() > 29 {
        return None;
    }
    let num = |at: usize, len: usize| -> Option<u32> {
        b[at..at + len].iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let shape = b[4] == b'-' && b[7] == b'-' && matches!(b[10], b' ' | b'T') && b[13] == b':' && b[16] == b':';
    if !shape {
        return None;
    }
    let nanos = match b.get(19..) {
        Some([]) => 0,
        Some([b'.', digits @ ..]) => num(20, digits.len())? * 10u32.pow(9 - digits.len() as u32),
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?;
    let (h, m, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    // chrono reads second 60 as a leap second; leave that to it.
    if sec > 59 {
        return None;
    }
    Some(date.and_hms_nano_opt(h, m, sec, nanos)?.and_utc())
}

fn strip_zone(s: &str) -> &str {
    if let Some(stripped) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return stripped;
    }
    // An offset is "+HH:MM", "-HH:MM", "+HHMM" or "+HH" after the time part.
    if s.len() > 10 {
        let time = &s[10..];
        if let Some(pos) = time.rfind(['+', '-']) {
            if pos > 0 {
                return &s[..10 + pos];
            }
        }
    }
    s
}

/// Writes a timestamp the way OpenAlgo's Python code does: `YYYY-MM-DD HH:MM:SS.ffffff`, UTC.
pub fn format_db_time(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Writes a timestamp the way SQLite's `CURRENT_TIMESTAMP` does: `YYYY-MM-DD HH:MM:SS`, UTC.
pub fn format_db_time_secs(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// RFC 3339 in UTC with a `Z`, the form every JSON output of Warden uses.
pub fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Serde helpers that write [`Timestamp`]s as RFC 3339 UTC.
pub mod serde_rfc3339 {
    use super::Timestamp;
    use serde::Serializer;

    /// Serializes a timestamp.
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }

    /// Reads an RFC 3339 timestamp back.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        chrono::DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(serde::de::Error::custom)
    }

    /// Serializes an optional timestamp as a string or `null`.
    pub mod option {
        use super::Timestamp;
        use serde::Serializer;

        /// Serializes `Some` as RFC 3339 and `None` as `null`.
        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::rfc3339(*t)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> String {
        parse_db_time(s).map(format_db_time).unwrap_or_else(|| "NONE".into())
    }

    #[test]
    fn reads_every_spelling_seen_in_logs_db() {
        assert_eq!(t("2026-11-21 22:53:35"), "2026-11-21 22:53:35.000000");
        assert_eq!(t("2026-11-22 22:53:35.713727"), "2026-11-22 22:53:35.713727");
        assert_eq!(t("2026-11-22T22:56:47"), "2026-11-22 22:56:47.000000");
        assert_eq!(t("2026-11-22T22:56:47+00:00"), "2026-11-22 22:56:47.000000");
        assert_eq!(t("2026-11-22T22:56:47+05:30"), "2026-11-22 22:56:47.000000");
        assert_eq!(t("2026-11-22T22:56:47Z"), "2026-11-22 22:56:47.000000");
        assert_eq!(t("2026-11-23"), "2026-11-23 00:00:00.000000");
        assert_eq!(t("2026-11-23 10:00"), "2026-11-23 10:00:00.000000");
        for bad in ["", "yesterday", "2026-13-01", "2026-11-21 25:00:00", "9999999999999"] {
            assert_eq!(t(bad), "NONE", "{bad:?}");
        }
    }

    /// What the general path alone makes of `s`.
    fn general(s: &str) -> Option<Timestamp> {
        let body = strip_zone(s).replacen('T', " ", 1);
        NaiveDateTime::parse_from_str(&body, "%Y-%m-%d %H:%M:%S%.f").ok().map(|dt| dt.and_utc())
    }

    #[test]
    fn the_plain_spellings_read_exactly_as_chrono_reads_them() {
        for s in ["2026-11-21 22:53:35", "2026-11-22 22:53:35.713727", "2026-11-22T22:56:47.5", "0001-01-01 00:00:00"] {
            assert_eq!(parse_plain(s.as_bytes()), general(s), "{s}");
            assert!(parse_plain(s.as_bytes()).is_some(), "{s}");
        }
        for s in ["2026-02-30 10:00:00", "2026-11-21 24:00:00", "2026-11-21 22:53:35.", "2026-11-21 22:53:35Z"] {
            assert_eq!(parse_plain(s.as_bytes()), None, "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_never_disagrees_with_chrono(
            s in proptest::prop_oneof![
                // Anything of the shape, mostly not a date at all.
                "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[ T][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,10})?",
                // Real dates, with every day of the month up to 31 and second 60.
                "(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[ T]([01][0-9]|2[0-4]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?",
            ],
        ) {
            if let Some(fast) = parse_plain(s.as_bytes()) {
                proptest::prop_assert_eq!(Some(fast), general(&s));
            }
            // And the whole function still reads whatever chrono reads.
            if let Some(slow) = general(&s) {
                proptest::prop_assert_eq!(parse_db_time(&s), Some(slow));
            }
        }
    }

    #[test]
    fn writes_space_separated_microseconds() {
        let ts = parse_db_time("2026-11-21 22:53:35.5").expect("parses");
        assert_eq!(format_db_time(ts), "2026-11-21 22:53:35.500000");
        assert_eq!(format_db_time_secs(ts), "2026-11-21 22:53:35");
        assert_eq!(rfc3339(ts), "2026-11-21T22:53:35.500Z");
    }
}
