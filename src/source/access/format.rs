//! Access-log formats: nginx `log_format` strings compiled once, and the usual presets.
//!
//! A format is a list of literals and fields. nginx's `combined`, the default that OpenAlgo's
//! installers rely on, is
//! `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`.
//! Apache's `common` and `combined` have the same shape with `%h %l %u %t "%r" %>s %b …`; Caddy
//! writes JSON and has its own parser ([`super::caddy`]).

use std::fmt;

use crate::error::{Error, Result};

/// A field of a log line that Warden understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `$remote_addr`, `%h`, `%a`: the client (TCP peer) address.
    RemoteAddr,
    /// `$time_local`, `%t`: `13/Jan/2025:10:21:55 +0530` (brackets are literals around it).
    TimeLocal,
    /// `$time_iso8601`: `2025-01-13T10:21:55+05:30`.
    TimeIso8601,
    /// `$msec`: seconds since the epoch with milliseconds.
    Msec,
    /// `$request`, `%r`: `GET /path?q HTTP/1.1`.
    Request,
    /// `$request_method`, `%m`.
    Method,
    /// `$request_uri`, `%U%q`: path with query string.
    Uri,
    /// `$uri`: path without the query string.
    Path,
    /// `$status`, `%>s`, `%s`.
    Status,
    /// `$http_referer`, `%{Referer}i`.
    Referer,
    /// `$http_user_agent`, `%{User-agent}i`.
    UserAgent,
    /// `$http_x_forwarded_for`.
    ForwardedFor,
    /// `$host`, `$http_host`, `$server_name`, `%v`.
    Host,
    /// `$request_time`: seconds.
    RequestTime,
    /// Anything else (`$remote_user`, `$body_bytes_sent`, `$upstream_response_time`, …): skipped.
    Other,
}

impl Field {
    fn from_nginx(name: &str) -> Self {
        match name {
            "remote_addr" | "binary_remote_addr" | "realip_remote_addr" => Field::RemoteAddr,
            "time_local" => Field::TimeLocal,
            "time_iso8601" => Field::TimeIso8601,
            "msec" => Field::Msec,
            "request" => Field::Request,
            "request_method" => Field::Method,
            "request_uri" => Field::Uri,
            "uri" | "document_uri" => Field::Path,
            "status" => Field::Status,
            "http_referer" => Field::Referer,
            "http_user_agent" => Field::UserAgent,
            "http_x_forwarded_for" | "proxy_add_x_forwarded_for" => Field::ForwardedFor,
            "host" | "http_host" | "server_name" => Field::Host,
            "request_time" => Field::RequestTime,
            _ => Field::Other,
        }
    }
}

/// One piece of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Text that must appear as is.
    Literal(Vec<u8>),
    /// A field, ending where the next literal begins.
    Field(Field),
}

/// A compiled line format.
#[derive(Clone, PartialEq, Eq)]
pub struct LogFormat {
    pub(super) items: Vec<Item>,
    /// How many items to parse when only the fields the rules need are wanted: everything up to
    /// the last needed field and the literal that ends it. For `combined` this stops after the
    /// status, skipping the long referer and user-agent.
    pub(super) essential: usize,
    /// One of the `combined`/`common` layouts, read by the parser's quick path.
    combined_like: bool,
    /// Whether `"referer" "user agent"` follow the status in that layout.
    has_agent: bool,
    name: String,
}

impl fmt::Debug for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogFormat({})", self.name)
    }
}

/// nginx's predefined `combined` format.
pub const NGINX_COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// Apache's `common` format (`%h %l %u %t "%r" %>s %b`) in nginx notation.
pub const APACHE_COMMON: &str = r#"$remote_addr $ident $remote_user [$time_local] "$request" $status $body_bytes_sent"#;

/// Apache's `combined` format in nginx notation.
pub const APACHE_COMBINED: &str = r#"$remote_addr $ident $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

impl LogFormat {
    /// nginx `combined`, the distro default.
    pub fn combined() -> Self {
        Self::nginx(NGINX_COMBINED).unwrap_or_else(|_| unreachable!("the built-in format compiles"))
    }

    /// A preset by name (`combined`, `common`, `apache-combined`), or an nginx `log_format`
    /// string. `caddy` is not a line format; see [`super::caddy`].
    pub fn named_or_nginx(spec: &str) -> Result<Self> {
        match spec.trim() {
            "combined" | "nginx" | "nginx-combined" => Self::nginx(NGINX_COMBINED),
            "common" | "apache-common" => Self::nginx(APACHE_COMMON),
            "apache-combined" | "apache" => Self::nginx(APACHE_COMBINED),
            other => Self::nginx(other),
        }
    }

    /// Compiles an nginx `log_format` string (`$var` and `${var}`; everything else is literal).
    /// Refuses formats Warden could not use: no `$remote_addr`, no time, no status, or two
    /// fields with nothing between them.
    pub fn nginx(spec: &str) -> Result<Self> {
        let bad = |message: String| Error::Config { path: "log_format".into(), message };
        let mut items = Vec::new();
        let mut lit = Vec::new();
        let b = spec.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'$' {
                let (name, next) = if b.get(i + 1) == Some(&b'{') {
                    let end = spec[i + 2..]
                        .find('}')
                        .map(|e| i + 2 + e)
                        .ok_or_else(|| bad(format!("unclosed ${{ in '{spec}'")))?;
                    (&spec[i + 2..end], end + 1)
                } else {
                    let len = b[i + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
                    (&spec[i + 1..i + 1 + len], i + 1 + len)
                };
                if name.is_empty() {
                    lit.push(b'$');
                    i += 1;
                    continue;
                }
                if !lit.is_empty() {
                    items.push(Item::Literal(std::mem::take(&mut lit)));
                } else if matches!(items.last(), Some(Item::Field(_))) {
                    return Err(bad(format!("'{spec}' has two variables with nothing between them before ${name}; Warden cannot tell where one ends")));
                }
                items.push(Item::Field(Field::from_nginx(name)));
                i = next;
            } else {
                lit.push(b[i]);
                i += 1;
            }
        }
        if !lit.is_empty() {
            items.push(Item::Literal(lit));
        }
        let has = |f: Field| items.contains(&Item::Field(f));
        if !has(Field::RemoteAddr) {
            return Err(bad(format!("'{spec}' has no $remote_addr: Warden needs the client address")));
        }
        if !(has(Field::TimeLocal) || has(Field::TimeIso8601) || has(Field::Msec)) {
            return Err(bad(format!("'{spec}' has no $time_local, $time_iso8601 or $msec")));
        }
        if !has(Field::Status) {
            return Err(bad(format!("'{spec}' has no $status")));
        }
        if !(has(Field::Request) || has(Field::Uri) || has(Field::Path)) {
            return Err(bad(format!("'{spec}' has no $request, $request_uri or $uri")));
        }
        let needed = |f: &Field| {
            matches!(
                f,
                Field::RemoteAddr
                    | Field::TimeLocal
                    | Field::TimeIso8601
                    | Field::Msec
                    | Field::Request
                    | Field::Method
                    | Field::Uri
                    | Field::Path
                    | Field::Status
                    | Field::Host
                    | Field::ForwardedFor
            )
        };
        let last = items.iter().rposition(|i| matches!(i, Item::Field(f) if needed(f))).unwrap_or(0);
        let essential = match items.get(last + 1) {
            Some(Item::Literal(_)) => last + 2,
            _ => last + 1,
        };
        let combined_like = matches!(spec, NGINX_COMBINED | APACHE_COMBINED | APACHE_COMMON);
        let has_agent = matches!(spec, NGINX_COMBINED | APACHE_COMBINED);
        Ok(Self { items, essential, combined_like, has_agent, name: spec.to_string() })
    }

    /// Whether this is one of the `combined`/`common` layouts (address, anything, `[time_local]`,
    /// `"request"`, status, …), which the parser reads with a hand-written quick path.
    pub fn is_combined_like(&self) -> bool {
        self.combined_like
    }

    /// Whether the layout carries `"referer" "user agent"` after the status.
    pub(super) fn has_agent(&self) -> bool {
        self.has_agent
    }

    /// The format as given.
    pub fn name(&self) -> &str {
        &self.name
    }
}
