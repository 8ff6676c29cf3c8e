//! Go's duration syntax, as CrowdSec's Local API speaks it: `"24h"`, `"1h30m"`, `"86400s"`, and in
//! its answers the time left with nanoseconds, `"23h59m59.11676072s"`, or negative once a decision
//! is over, `"-30.014043ms"`.
//!
//! [`parse`] follows Go's `time.ParseDuration`: an optional sign, then one or more numbers (with an
//! optional fraction), each with a unit among `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m`, `h`; `"0"`
//! alone is zero. Anything else, and anything beyond Go's range (about 292 years), is an error in
//! words. [`format()`] writes what Go's `Duration.String` writes, so the two round-trip.

/// Nanoseconds per unit.
const UNITS: [(&str, u128); 9] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 0),
];

/// The largest magnitude Go allows: `i64::MAX` nanoseconds (and one more when negative).
const MAX: u128 = i64::MAX as u128;

/// Parses a Go duration into nanoseconds.
pub fn parse(s: &str) -> Result<i64, String> {
    let shown = || crate::ip::display_raw(&s.chars().take(40).collect::<String>());
    let bad = |why: &str| format!("'{}' is not a duration ({why})", shown());
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                (&a[..n], &a[n..])
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad("a number is missing"));
        }
        let unit_len =
            after.char_indices().find(|(_, c)| c.is_ascii_digit() || *c == '.').map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(bad("a unit is missing"));
        }
        let per = match UNITS.iter().find(|(u, _)| *u == unit) {
            Some((_, 0)) => return Err(bad("Go has no unit 'd'; use hours, such as 24h")),
            Some((_, n)) => *n,
            None => return Err(bad(&format!("unknown unit '{}'", crate::ip::display_raw(unit)))),
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse::<u128>().ok().filter(|v| *v <= MAX).ok_or_else(|| bad("out of range"))?
        };
        let mut value = whole.checked_mul(per).filter(|v| *v <= MAX + 1).ok_or_else(|| bad("out of range"))?;
        // The fraction, to the nanosecond (Go keeps at most what fits; so does this).
        let mut scale = per;
        for d in frac.bytes().take(30) {
            scale /= 10;
            if scale == 0 {
                break;
            }
            value += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(value).filter(|v| *v <= MAX + 1).ok_or_else(|| bad("out of range"))?;
        rest = next;
    }
    if neg {
        Ok(i64::try_from(total).map(|v| -v).unwrap_or(i64::MIN))
    } else {
        i64::try_from(total).map_err(|_| bad("out of range"))
    }
}

/// Writes nanoseconds as Go's `Duration.String` does: `"0s"`, `"1.5µs"`, `"300ms"`, `"1h2m3.5s"`.
pub fn format(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let frac = |v: u64, digits: u32| -> String {
        let p = 10u64.pow(digits);
        let (i, f) = (v / p, v % p);
        if f == 0 {
            i.to_string()
        } else {
            let s = format!("{f:0width$}", width = digits as usize);
            format!("{i}.{}", s.trim_end_matches('0'))
        }
    };
    let body = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}\u{b5}s", frac(u, 3))
    } else if u < 1_000_000_000 {
        format!("{}ms", frac(u, 6))
    } else {
        let (h, rem) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
        let (m, s) = (rem / 60_000_000_000, rem % 60_000_000_000);
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{}s", frac(s, 9)));
        out
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_spellings_the_lapi_uses_parse() {
        assert_eq!(parse("24h"), Ok(86_400_000_000_000));
        assert_eq!(parse("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse("86400s"), Ok(86_400_000_000_000));
        assert_eq!(parse("23h59m59.11676072s"), Ok(86_399_116_760_720));
        assert_eq!(parse("-30.014043ms"), Ok(-30_014_043));
        assert_eq!(parse("2.784554629s"), Ok(2_784_554_629));
        assert_eq!(parse("-21.10545ms"), Ok(-21_105_450));
        assert_eq!(parse("1.5\u{b5}s"), Ok(1_500));
        assert_eq!(parse("1.5\u{3bc}s"), Ok(1_500));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse(".5s"), Ok(500_000_000));
        assert_eq!(parse("1.s"), Ok(1_000_000_000));
        assert_eq!(parse("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert_eq!(parse("-2562047h47m16.854775808s"), Ok(i64::MIN));
    }

    #[test]
    fn malformed_durations_say_why() {
        for (s, why) in [
            ("", "empty"),
            ("1d", "no unit 'd'"),
            ("24", "unit is missing"),
            ("h", "number is missing"),
            ("1x", "unknown unit"),
            ("1h-2m", "unknown unit"),
            ("2562048h", "out of range"),
            ("99999999999999999999999999s", "out of range"),
            ("..s", "number is missing"),
            ("-", "empty"),
        ] {
            let e = parse(s).unwrap_err();
            assert!(e.contains(why), "{s:?}: {e}");
        }
    }

    proptest! {
        #[test]
        fn what_go_writes_parses_back(ns in any::<i64>()) {
            prop_assert_eq!(parse(&format(ns)), Ok(ns));
        }

        #[test]
        fn parts_add_up(h in 0u64..1_000, m in 0u64..1_000, s in 0u64..100_000, ms in 0u64..1_000_000) {
            let want = ((h * 3600 + m * 60 + s) * 1_000_000_000 + ms * 1_000_000) as i64;
            prop_assert_eq!(parse(&format!("{h}h{m}m{s}s{ms}ms")), Ok(want));
        }

        #[test]
        fn any_text_gives_a_value_or_an_error_never_a_panic(s in "\\PC{0,30}") {
            let _ = parse(&s);
        }

        #[test]
        fn near_duration_text_never_panics(s in "[-+]?[0-9.]{0,25}(ns|us|µs|ms|s|m|h|d|x)?([0-9.]{0,5}(s|m|h))?") {
            if let Ok(v) = parse(&s) {
                prop_assert_eq!(parse(&format(v)), Ok(v));
            }
        }
    }
}
