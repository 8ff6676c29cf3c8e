//! Caddy's JSON access log (`log { format json }`), one object per line.
//!
//! ```json
//! {"level":"info","ts":1646861401.52,"logger":"http.log.access","msg":"handled request",
//!  "request":{"remote_ip":"203.0.113.7","client_ip":"203.0.113.7","method":"GET","host":"algo.example.in",
//!  "uri":"/wp-login.php","headers":{"User-Agent":["curl/8"]}},"status":404}
//! ```
//! `client_ip` (Caddy 2.7+, honours trusted proxies) wins over `remote_ip`. `ts` is a number of
//! seconds, or an RFC 3339 string when Caddy's `time_format` says so.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::parse::{ParseError, Request};
use crate::time::Timestamp;

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    ts: Ts<'a>,
    #[serde(borrow)]
    request: Req<'a>,
    #[serde(default)]
    status: u16,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Ts<'a> {
    Integer(u64),
    Number(f64),
    #[serde(borrow)]
    Text(Cow<'a, str>),
}

#[derive(Deserialize)]
struct Req<'a> {
    #[serde(borrow, default)]
    remote_ip: Cow<'a, str>,
    #[serde(borrow, default)]
    client_ip: Cow<'a, str>,
    #[serde(borrow, default)]
    method: Cow<'a, str>,
    #[serde(borrow, default)]
    host: Cow<'a, str>,
    #[serde(borrow, default)]
    uri: Cow<'a, str>,
    #[serde(borrow, default)]
    headers: HashMap<Cow<'a, str>, Vec<Cow<'a, str>>>,
}

fn time(ts: &Ts<'_>) -> Option<Timestamp> {
    match ts {
        // Integers are scaled exactly (unix_nano would lose its last digits as a float).
        Ts::Integer(n) => {
            let nanos: u128 = if *n >= 100_000_000_000_000_000 {
                u128::from(*n)
            } else if *n >= 100_000_000_000_000 {
                u128::from(*n) * 1_000
            } else if *n >= 100_000_000_000 {
                u128::from(*n) * 1_000_000
            } else {
                u128::from(*n) * 1_000_000_000
            };
            DateTime::from_timestamp(i64::try_from(nanos / 1_000_000_000).ok()?, (nanos % 1_000_000_000) as u32)
        }
        Ts::Number(n) if n.is_finite() && *n >= 0.0 => {
            // Caddy's time_format: unix_seconds_float (default), unix_milli_float or unix_nano.
            let secs = if *n >= 1e17 {
                n / 1e9
            } else if *n >= 1e14 {
                n / 1e6
            } else if *n >= 1e11 {
                n / 1e3
            } else {
                *n
            };
            let whole = secs.trunc() as i64;
            let nanos = ((secs - secs.trunc()) * 1e9) as u32;
            DateTime::from_timestamp(whole, nanos.min(999_999_999))
        }
        Ts::Number(_) => None,
        // rfc3339 / iso8601 (with or without a colon in the offset) / common_log.
        Ts::Text(s) => DateTime::parse_from_rfc3339(s)
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .or_else(|_| DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z"))
            .ok()
            .map(|t| t.with_timezone(&Utc)),
    }
}

fn header<'b>(headers: &'b HashMap<Cow<'_, str>, Vec<Cow<'_, str>>>, name: &str) -> &'b [u8] {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map_or(b"-", |v| v.as_bytes())
}

/// Parses one Caddy line and hands the request to `f` (its fields borrow from the decoded JSON).
pub fn parse_with<R>(line: &[u8], f: impl FnOnce(&Request<'_>) -> R) -> Result<R, ParseError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    let parsed: Line<'_> = serde_json::from_slice(line).map_err(|_| ParseError::Layout)?;
    let at = time(&parsed.ts).ok_or(ParseError::Time)?;
    if !(100..=999).contains(&parsed.status) {
        return Err(ParseError::Status);
    }
    let r = &parsed.request;
    let ip = if r.client_ip.is_empty() { &r.remote_ip } else { &r.client_ip };
    if ip.is_empty() {
        return Err(ParseError::Layout);
    }
    let req = Request {
        ip: ip.as_bytes(),
        addr: None,
        at,
        secs: at.timestamp(),
        method: r.method.as_bytes(),
        target: r.uri.as_bytes(),
        status: parsed.status,
        referer: header(&r.headers, "Referer"),
        user_agent: header(&r.headers, "User-Agent"),
        host: r.host.as_bytes(),
        forwarded_for: match header(&r.headers, "X-Forwarded-For") {
            b"-" => b"",
            v => v,
        },
    };
    Ok(f(&req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_caddy_json() {
        let line = br#"{"level":"info","ts":1736743915.25,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"10.0.0.2","remote_port":"41342","client_ip":"203.0.113.7","proto":"HTTP/2.0","method":"GET","host":"algo.example.in","uri":"/wp-login.php?x=\"1\"","headers":{"User-Agent":["Mozilla/5.0 \"evil\""]}},"bytes_read":0,"duration":0.0009,"size":10,"status":404}"#;
        let (ip, path, ua, status, ms) = parse_with(line, |r| {
            (r.ip.to_vec(), r.path().to_vec(), r.user_agent.to_vec(), r.status, r.at.timestamp_millis())
        })
        .expect("parses");
        assert_eq!(
            (ip.as_slice(), path.as_slice(), status, ms),
            (&b"203.0.113.7"[..], &b"/wp-login.php"[..], 404, 1_736_743_915_250)
        );
        assert_eq!(ua, br#"Mozilla/5.0 "evil""#);
        for (ts, want) in [
            ("1736743915250.0", 1_736_743_915_250i64),
            ("1736743915250000000", 1_736_743_915_250),
            ("\"2025-01-13T10:21:55.25+0530\"", 1_736_743_915_250),
            ("\"13/Jan/2025:10:21:55 +0530\"", 1_736_743_915_000),
        ] {
            let line = format!(r#"{{"ts":{ts},"request":{{"remote_ip":"203.0.113.7","uri":"/"}},"status":200}}"#);
            let got = parse_with(line.as_bytes(), |r| r.at.timestamp_millis()).expect("parses");
            assert_eq!(got, want, "{ts}");
        }
        for bad in [
            &b"{}"[..],
            b"not json",
            br#"{"ts":"yesterday","request":{"remote_ip":"1.2.3.4"},"status":200}"#,
            br#"{"ts":1e300,"request":{"remote_ip":"1.2.3.4"},"status":200}"#,
        ] {
            assert!(parse_with(bad, |_| ()).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
