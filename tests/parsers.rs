//! Property tests of every access-log parser: what is written in a format is read back field by
//! field, and no input at all makes a parser panic.

use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use warden::source::access::format::LogFormat;
use warden::source::access::parse::Parser;
use warden::source::access::pipeline::LineParser;

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u32>().prop_map(|v| Ipv4Addr::from(v).to_string()),
        any::<u128>().prop_map(|v| Ipv6Addr::from(v).to_string()),
    ]
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 2000-01-01 to 2099-12-31, whole seconds (time_local has no fraction).
    (946_684_800i64..4_102_444_799).prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range"))
}

/// Text nginx can write inside a quoted field: printable ASCII, with `"` and `\` escaped the way
/// nginx does (`\x22`, `\x5C`).
fn quoted_text() -> impl Strategy<Value = String> {
    "[ -~]{0,60}".prop_map(|s| s.replace('\\', "\\x5C").replace('"', "\\x22"))
}

fn path() -> impl Strategy<Value = String> {
    "/[!#-\\[\\]-~]{0,40}".prop_map(|s| s.replace('"', ""))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn combined_lines_read_back_field_by_field(
        ip in ip(), at in time(), offset_min in -720i32..=840, method in "[A-Z]{1,7}", target in path(),
        status in 100u16..600, bytes in any::<u32>(), referer in quoted_text(), agent in quoted_text(),
    ) {
        let offset = chrono::FixedOffset::east_opt(offset_min * 60).expect("offset");
        let local = at.with_timezone(&offset).format("%d/%b/%Y:%H:%M:%S %z");
        let line = format!("{ip} - - [{local}] \"{method} {target} HTTP/1.1\" {status} {bytes} \"{referer}\" \"{agent}\"");
        let mut p = Parser::new(LogFormat::combined());
        let r = p.parse(line.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!(r.ip, ip.as_bytes());
        prop_assert_eq!(r.at, at);
        prop_assert_eq!(r.method, method.as_bytes());
        prop_assert_eq!(r.target, target.as_bytes());
        prop_assert_eq!(r.status, status);
        prop_assert_eq!(r.referer, referer.as_bytes());
        prop_assert_eq!(r.user_agent, agent.as_bytes());
        // The general path (any log_format) agrees with the quick one.
        let mut general = Parser::new(LogFormat::nginx("$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" ").expect("format"));
        let spaced = format!("{line} ");
        let g = general.parse(spaced.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {spaced}")))?;
        prop_assert_eq!((g.ip, g.at, g.target, g.status, g.user_agent), (r.ip, r.at, r.target, r.status, r.user_agent));
    }

    /// The quick path reads the request field in one pass; on requests built from what could
    /// confuse it (spaces, quotes, backslashes, protocol look-alikes) it must read what the
    /// general path reads, or fail where it fails.
    #[test]
    fn quick_and_general_paths_agree_on_awkward_requests(
        request in "(GET|POST| |\"|\\\\|HTTP/1\\.1|HTTP/2\\.0|HTTP/|\" |/a|x|\\?|1\\.){0,9}",
    ) {
        let line = format!("203.0.113.5 - - [13/Jan/2025:10:21:55 +0530] \"{request}\" 404 1 \"-\" \"ua\"");
        let fields = |r: warden::source::access::parse::Request<'_>| {
            (r.method.to_vec(), r.target.to_vec(), r.status, r.user_agent.to_vec())
        };
        // Which error each gives may differ (the formats differ by a trailing space); whether
        // one is given may not.
        let quick = Parser::new(LogFormat::combined()).parse(line.as_bytes()).map(fields).ok();
        let mut general = Parser::new(LogFormat::nginx("$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" ").expect("format"));
        let spaced = format!("{line} ");
        let slow = general.parse(spaced.as_bytes()).map(fields).ok();
        prop_assert_eq!(quick, slow, "{}", line);
    }

    #[test]
    fn custom_formats_read_back_field_by_field(
        ip in ip(), at in time(), host in "[a-z0-9.-]{1,30}", target in path(), status in 100u16..600,
        secs in 0u32..100, millis in 0u32..1000, xff in "[0-9a-f.:, ]{0,40}",
    ) {
        let fmt = r#"$remote_addr [$time_iso8601] $host "$request" $status $request_time "$http_x_forwarded_for""#;
        let line = format!("{ip} [{}] {host} \"POST {target} HTTP/2.0\" {status} {secs}.{millis:03} \"{xff}\"", at.format("%Y-%m-%dT%H:%M:%S+00:00"));
        let mut p = Parser::new(LogFormat::nginx(fmt).expect("format"));
        let r = p.parse(line.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!((r.ip, r.at, r.host, r.target, r.status, r.forwarded_for), (ip.as_bytes(), at, host.as_bytes(), target.as_bytes(), status, xff.as_bytes()));
    }

    #[test]
    fn caddy_lines_read_back_field_by_field(
        ip in ip(), secs in 946_684_800u32..4_102_444_799, uri in "\\PC{0,40}", status in 100u16..600, agent in "\\PC{0,40}",
    ) {
        let line = serde_json::json!({
            "level": "info", "ts": f64::from(secs), "logger": "http.log.access", "msg": "handled request",
            "request": {"remote_ip": "10.0.0.1", "client_ip": ip, "method": "GET", "host": "h", "uri": uri,
                        "headers": {"User-Agent": [agent]}},
            "status": status,
        }).to_string();
        let got = warden::source::access::caddy::parse_with(line.as_bytes(), |r| {
            (r.ip.to_vec(), r.at.timestamp(), r.target.to_vec(), r.status, r.user_agent.to_vec())
        }).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!(got, (ip.into_bytes(), i64::from(secs), uri.into_bytes(), status, agent.into_bytes()));
    }

    #[test]
    fn no_bytes_make_a_parser_panic(line in proptest::collection::vec(any::<u8>(), 0..300), cut in any::<usize>()) {
        let good = br#"203.0.113.5 - - [13/Jan/2025:10:21:55 +0530] "GET /x HTTP/1.1" 404 1 "-" "ua""#;
        // Random bytes, and a valid line with random bytes spliced in.
        let at = cut % good.len();
        let spliced = [&good[..at], &line[..], &good[at..]].concat();
        for format in ["combined", "common", "caddy", r#"$remote_addr [$time_iso8601] "$request" $status"#, "$msec $remote_addr $request_method $request_uri $status"] {
            let mut p = LineParser::new(format).expect("format");
            let _ = p.parse_with(&line, |r| (r.path().len(), r.ip.len()));
            let _ = p.parse_with(&spliced, |r| (r.path().len(), r.ip.len()));
        }
    }
}
