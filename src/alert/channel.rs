//! The exact request each service expects ([`request`], pure, so tests assert it byte for byte),
//! what its answer means ([`judge`]), and the one HTTP client that sends them ([`Sender`]).
//!
//! Every message goes out as plain text: no Markdown or HTML mode, so an attacker's string in an
//! alert (a user agent, a user name) is shown as typed and cannot format, link or mention.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{scrub, AlertConfig, Event, Kind, Secret};
use crate::time::{rfc3339, Timestamp};

/// How long one request may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Telegram's limit on a message's text.
pub const TELEGRAM_MAX: usize = 4096;
/// Discord's limit on a message's content.
pub const DISCORD_MAX: usize = 2000;
/// The most of an answer's body Warden reads.
const ANSWER_MAX: u64 = 64 * 1024;
/// The longest wait a service's `Retry-After` is taken at its word for.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

/// The header that carries the webhook's signature, as GitHub's `X-Hub-Signature-256`.
pub const SIGNATURE_HEADER: &str = "X-Warden-Signature-256";

/// One alert to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What it is about.
    pub event: Event,
    /// The headline.
    pub title: String,
    /// The text.
    pub body: String,
    /// When Warden made it.
    pub at: Timestamp,
}

/// An HTTP `POST`, as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Where (it may hold the secret: never show it).
    pub url: String,
    /// Headers beyond those the client adds itself.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The service took it.
    Delivered,
    /// Try again later: after `after` when the service said so (429 with `Retry-After`).
    Retry {
        /// The service's own wait, if it gave one.
        after: Option<Duration>,
        /// Why, in words.
        why: String,
    },
    /// The service refused it for good (a 4xx other than 429): trying again cannot help.
    Refused(String),
}

/// The text of a message, cut to `max` characters.
fn text(msg: &Message, max: usize) -> String {
    let full = format!("Warden: {}\n{}", msg.title, msg.body);
    cut(&full, max)
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn join(base: &str, tail: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), tail.trim_start_matches('/'))
}

/// The HMAC-SHA256 of `body` under `key`, as the webhook's signature header carries it:
/// `sha256=` and lowercase hex.
pub fn signature(key: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this arm cannot be reached.
        <Hmac<Sha256> as Mac>::new_from_slice(b"").expect("an empty HMAC key is valid")
    });
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The request that delivers `msg` through `cfg`. `secret` is the channel's
/// ([`AlertConfig::secret`]).
pub fn request(cfg: &AlertConfig, secret: Option<&Secret>, msg: &Message) -> Request {
    let base = cfg.base_url().unwrap_or_default();
    let key = secret.map(Secret::expose).unwrap_or_default();
    let json_header = vec![("Content-Type".to_string(), "application/json".to_string())];
    match cfg.kind {
        Kind::Telegram => Request {
            url: join(base, &format!("bot{key}/sendMessage")),
            headers: json_header,
            body: json!({
                "chat_id": cfg.chat_id.clone().unwrap_or_default(),
                "text": text(msg, TELEGRAM_MAX),
                "disable_web_page_preview": true,
            })
            .to_string()
            .into_bytes(),
        },
        Kind::OpenalgoTelegram => Request {
            url: join(base, "api/v1/telegram/notify"),
            headers: json_header,
            body: json!({
                "apikey": key,
                "username": cfg.username.clone().unwrap_or_default(),
                "message": text(msg, TELEGRAM_MAX),
                "priority": if msg.event == Event::Test { 5 } else { 8 },
            })
            .to_string()
            .into_bytes(),
        },
        Kind::Discord => {
            // The whole webhook URL pasted as the token works too.
            let url = if key.starts_with("https://") || key.starts_with("http://") {
                key.to_string()
            } else {
                join(base, key)
            };
            Request {
                url: format!("{url}?wait=true"),
                headers: json_header,
                body: json!({
                    "content": text(msg, DISCORD_MAX),
                    "username": "Warden",
                    "allowed_mentions": { "parse": [] },
                })
                .to_string()
                .into_bytes(),
            }
        }
        Kind::Ntfy => {
            let mut headers = json_header;
            if !key.is_empty() {
                headers.push(("Authorization".into(), format!("Bearer {key}")));
            }
            let priority = cfg.priority.unwrap_or(if msg.event == Event::Test { 3 } else { 4 });
            let mut body = json!({
                "topic": cfg.topic.clone().unwrap_or_default(),
                "title": cut(&format!("Warden: {}", msg.title), 250),
                "message": cut(&msg.body, 4000),
                "priority": priority,
            });
            if !cfg.tags.is_empty() {
                body["tags"] = json!(cfg.tags);
            }
            // JSON publishing goes to the server's root, so no header has to carry a title.
            Request { url: base.trim_end_matches('/').to_string(), headers, body: body.to_string().into_bytes() }
        }
        // E-mail does not go over HTTP (see `super::email`); this request is never sent.
        Kind::Email => Request { url: String::new(), headers: Vec::new(), body: Vec::new() },
        Kind::Webhook => {
            let body = json!({
                "source": "warden",
                "event": msg.event.as_str(),
                "title": msg.title,
                "text": msg.body,
                "at": rfc3339(msg.at),
            })
            .to_string()
            .into_bytes();
            let mut headers = json_header;
            headers.push(("X-Warden-Event".into(), msg.event.as_str().into()));
            headers.push((SIGNATURE_HEADER.into(), signature(key, &body)));
            Request { url: base.to_string(), headers, body }
        }
    }
}

/// A wait in seconds, as `Retry-After` or a JSON `retry_after` gives it (an integer, or Discord's
/// fractions). Negative, absurd or unreadable values give `None`.
pub fn parse_wait(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(RETRY_AFTER_MAX.as_secs_f64())))
}

/// What the service said, in its own words: Telegram's `description`, Discord's `message`,
/// ntfy's `error`, OpenAlgo's `message`; otherwise the start of the body.
fn said(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| {
        ["description", "message", "error"].iter().find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(String::from))
    });
    let s = from_json.unwrap_or_else(|| body.trim().to_string());
    crate::ip::display_raw(&cut(&s, 200))
}

/// What an answer means. `retry_after` is the `Retry-After` header, if any.
pub fn judge(kind: Kind, status: u16, retry_after: Option<&str>, body: &str) -> Outcome {
    let who = kind.label();
    if (200..300).contains(&status) {
        // OpenAlgo answers 200 even when it only queued the message; that is its delivery now.
        return Outcome::Delivered;
    }
    let words = said(body);
    let why = if words.is_empty() {
        format!("{who} answered HTTP {status}")
    } else {
        format!("{who} said: {words} (HTTP {status})")
    };
    if status == 429 {
        let from_body = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| {
            let n = v.pointer("/parameters/retry_after").or_else(|| v.get("retry_after")).cloned()?;
            parse_wait(&n.to_string())
        });
        let after = retry_after.and_then(parse_wait).or(from_body);
        return Outcome::Retry { after, why };
    }
    if status == 408 || status >= 500 {
        return Outcome::Retry { after: None, why };
    }
    let hint = match status {
        401 | 403 => " Check the token.",
        404 => " Check the URL, chat id or user name.",
        _ => "",
    };
    Outcome::Refused(format!("{why}.{hint}"))
}

/// Warden's HTTP client (rustls; no redirects; statuses are answers, not errors), with `timeout`
/// for each whole request. Alert channels and CrowdSec's LAPI share it.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Sends requests: one HTTP client (rustls, no cookies, no redirects) shared by every channel.
#[derive(Debug, Clone)]
pub struct Sender {
    agent: ureq::Agent,
}

impl Default for Sender {
    fn default() -> Self {
        Self::new()
    }
}

impl Sender {
    /// A client with Warden's timeout.
    pub fn new() -> Self {
        Self { agent: agent(TIMEOUT) }
    }

    /// Delivers `msg` through `cfg` once. Any error text is scrubbed of the secret and never
    /// holds the URL.
    pub fn send(&self, cfg: &AlertConfig, msg: &Message) -> Outcome {
        let secret = match cfg.secret() {
            Ok(s) => s,
            Err(e) => return Outcome::Refused(e),
        };
        if cfg.kind == Kind::Email {
            return super::email::send(cfg, secret, msg);
        }
        let req = request(cfg, secret.as_ref(), msg);
        let secrets: Vec<&Secret> = secret.iter().collect();
        let mut call = self.agent.post(&req.url);
        for (k, v) in &req.headers {
            call = call.header(k, v);
        }
        match call.send(&req.body[..]) {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
                let body = resp.body_mut().with_config().limit(ANSWER_MAX).read_to_string().unwrap_or_default();
                match judge(cfg.kind, status, retry_after.as_deref(), &body) {
                    Outcome::Refused(why) => Outcome::Refused(scrub(&why, &secrets)),
                    Outcome::Retry { after, why } => Outcome::Retry { after, why: scrub(&why, &secrets) },
                    Outcome::Delivered => Outcome::Delivered,
                }
            }
            Err(e) => {
                let why = transport_error(cfg.kind, &e);
                Outcome::Retry { after: None, why: scrub(&why, &secrets) }
            }
        }
    }
}

/// A transport failure in words, without the URL (which may hold the token).
fn transport_error(kind: Kind, e: &ureq::Error) -> String {
    let who = kind.label();
    match e {
        ureq::Error::Timeout(_) => format!("{who} did not answer within {} s", TIMEOUT.as_secs()),
        ureq::Error::HostNotFound => format!("{who}'s host name was not found (check the URL and this machine's DNS)"),
        ureq::Error::ConnectionFailed => format!("could not connect to {who}"),
        ureq::Error::Io(io) => format!("could not reach {who}: {}", io.kind()),
        ureq::Error::Tls(m) => format!("TLS with {who} failed: {m}"),
        ureq::Error::Rustls(r) => format!("TLS with {who} failed: {r}"),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => format!("the URL for {who} is not valid"),
        _ => format!("the request to {who} failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Message {
        Message {
            event: Event::Banned,
            title: "Banned 203.0.113.9".into(),
            body: "20 of 20 404s in 24 h; banned for 24 h".into(),
            at: crate::time::parse_db_time("2026-12-04 10:00:00").unwrap_or_default(),
        }
    }

    #[test]
    fn answers_are_judged_as_each_service_means_them() {
        assert_eq!(judge(Kind::Telegram, 200, None, "{\"ok\":true}"), Outcome::Delivered);
        let tg = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#;
        assert!(
            matches!(judge(Kind::Telegram, 429, None, tg), Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7))
        );
        let dc = r#"{"message":"You are being rate limited.","retry_after":0.5,"global":false}"#;
        assert!(
            matches!(judge(Kind::Discord, 429, Some("2"), dc), Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(2))
        );
        assert!(
            matches!(judge(Kind::Discord, 429, None, dc), Outcome::Retry { after: Some(d), .. } if d == Duration::from_millis(500))
        );
        assert!(matches!(judge(Kind::Ntfy, 503, None, ""), Outcome::Retry { after: None, .. }));
        let refused = judge(Kind::Telegram, 401, None, r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#);
        assert_eq!(refused, Outcome::Refused("Telegram said: Unauthorized (HTTP 401). Check the token.".into()));
        assert!(
            matches!(judge(Kind::Webhook, 400, None, "<html>\u{1b}[31m</html>"), Outcome::Refused(s) if !s.contains('\u{1b}'))
        );
        assert_eq!(parse_wait("-3"), None);
        assert_eq!(parse_wait("NaN"), None);
        assert_eq!(parse_wait("99999999"), Some(RETRY_AFTER_MAX));
    }

    #[test]
    fn the_webhook_signature_is_githubs() {
        // RFC 4231 test case 2.
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let mut w = AlertConfig::new("hook", Kind::Webhook);
        w.url = Some("http://127.0.0.1:9/hook".into());
        let key = Secret::new("Jefe");
        let r = request(&w, Some(&key), &msg());
        let header = r.headers.iter().find(|(k, _)| k == SIGNATURE_HEADER).map(|(_, v)| v.clone());
        assert_eq!(header, Some(signature("Jefe", &r.body)));
    }

    #[test]
    fn long_texts_are_cut_to_the_services_limit() {
        let mut m = msg();
        m.body = "x".repeat(10_000);
        let mut d = AlertConfig::new("d", Kind::Discord);
        d.token = Some("1/abc".into());
        let r = request(&d, Some(&Secret::new("1/abc")), &m);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(v["content"].as_str().map(|s| s.chars().count()), Some(DISCORD_MAX));
        assert_eq!(v["allowed_mentions"], json!({ "parse": [] }));
    }
}
