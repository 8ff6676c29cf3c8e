//! Alerts that reach the trader away from the desk: Telegram, Discord, ntfy, OpenAlgo's own
//! Telegram bot, and a signed JSON webhook.
//!
//! - [`words`]: which notices become alerts, in what words, and how a storm is merged (the
//!   desktop alerts and every channel share it).
//! - [`channel`]: the exact request each service expects, and what its answer means.
//! - [`courier`]: the delivery thread and its queue in Warden's state database. An alert accepted
//!   for delivery survives a restart until it is delivered or [`courier::GIVE_UP_AFTER`] old.
//! - [`router`]: the monitor's side: notices in, one queued message per channel that asks for it.
//!
//! Secrets (bot tokens, webhook keys) are never printed or logged: they live in URLs, so no URL
//! is ever shown, and every error text passes through [`scrub`] before it leaves this module.

pub mod channel;
pub mod courier;
pub mod email;
pub mod router;
pub mod words;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What an alert is about; each channel chooses the ones it wants (`events = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// An address was banned (any rule but failed sign-ins).
    Banned,
    /// An address came near a ban threshold.
    Near,
    /// Failed sign-ins from one address reached `[login] auth_attempts`, and it was banned.
    Attack,
    /// Someone signed in to OpenAlgo from an address that user never used before.
    SigninNewAddress,
    /// Any successful sign-in to OpenAlgo.
    Signin,
    /// A source or an enforcement point started failing, or recovered.
    Health,
    /// A check of the server checklist started failing.
    Checklist,
    /// A summary of the day, once a day at `summary_at`.
    Summary,
    /// `warden alert test` or the Settings button.
    Test,
}

impl Event {
    /// Every event a channel can ask for, in the order Settings shows them.
    pub const CHOOSABLE: [Event; 8] = [
        Event::Banned,
        Event::Near,
        Event::Attack,
        Event::SigninNewAddress,
        Event::Signin,
        Event::Health,
        Event::Checklist,
        Event::Summary,
    ];

    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Banned => "banned",
            Event::Near => "near",
            Event::Attack => "attack",
            Event::SigninNewAddress => "signin_new_address",
            Event::Signin => "signin",
            Event::Health => "health",
            Event::Checklist => "checklist",
            Event::Summary => "summary",
            Event::Test => "test",
        }
    }
}

/// The service behind a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A Telegram bot: `POST {url}/bot{token}/sendMessage`.
    Telegram,
    /// OpenAlgo's own Telegram bot: `POST {url}/api/v1/telegram/notify` with an OpenAlgo API key.
    OpenalgoTelegram,
    /// A Discord webhook.
    Discord,
    /// An ntfy topic.
    Ntfy,
    /// Any HTTPS endpoint, with the body signed by HMAC-SHA256.
    Webhook,
    /// E-mail through SMTP.
    Email,
}

impl Kind {
    /// The service's name in words.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Telegram => "Telegram",
            Kind::OpenalgoTelegram => "OpenAlgo's Telegram bot",
            Kind::Discord => "Discord",
            Kind::Ntfy => "ntfy",
            Kind::Webhook => "the webhook",
            Kind::Email => "the mail server",
        }
    }

    /// The base URL used when `url` is not set.
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            Kind::Telegram => Some("https://api.telegram.org"),
            Kind::Discord => Some("https://discord.com/api/webhooks"),
            Kind::Ntfy => Some("https://ntfy.sh"),
            Kind::OpenalgoTelegram | Kind::Webhook | Kind::Email => None,
        }
    }
}

/// One `[[alert]]` entry of the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// How `warden alert test NAME` and Settings name it.
    pub name: String,
    /// The service.
    pub kind: Kind,
    /// The service's base URL (Telegram, Discord, ntfy: their public service by default; the
    /// webhook's full URL; OpenAlgo's address for `openalgo_telegram`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The secret: the bot token (Telegram), `ID/TOKEN` of the webhook URL (Discord), an access
    /// token (ntfy, optional), the signing key (webhook), an OpenAlgo API key. Prefer `token_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A 0600 file holding the secret (its first line), instead of `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Telegram: the chat to write to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    /// ntfy: the topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// ntfy: the priority, 1 (min) to 5 (max); Warden's alerts use 4 by default, a test 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// ntfy: tags (emoji short codes such as `rotating_light`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `openalgo_telegram`: the OpenAlgo user linked to the bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// What this channel is told about (default: bans, attacks, new-address sign-ins and health).
    #[serde(default = "default_events")]
    pub events: Vec<Event>,
    /// When the daily summary goes out (with `"summary"` in `events`): `"HH:MM"` in this
    /// machine's time zone, or with an offset such as `"16:00+05:30"` (IST) or `"10:30Z"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_at: Option<String>,
    /// E-mail: the recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// E-mail: the sender (default: the SMTP user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// E-mail: use OpenAlgo's own SMTP settings (server, port, user, sender, and its password when
    /// Warden can read OpenAlgo's `.env`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub openalgo_smtp: bool,
    /// Where `openalgo.db` is, for `openalgo_smtp` (set by Warden, not in the file).
    #[serde(skip)]
    pub openalgo_db: Option<PathBuf>,
}

/// A time of day with the offset it is meant in (`None`: this machine's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyAt {
    /// Minutes after midnight.
    pub minute: u32,
    /// The offset from UTC, in seconds, if given.
    pub offset: Option<i32>,
}

impl DailyAt {
    /// `"HH:MM"`, `"HH:MM+05:30"`, `"HH:MM-04:00"` or `"HH:MMZ"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "summary_at must be a time such as \"16:00\" or \"16:00+05:30\", not '{}'",
                crate::ip::display_raw(s)
            )
        };
        let s = s.trim();
        let (time, offset) = match s.find(['+', '-', 'Z']) {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let (h, m) = time.split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 || time.len() != 5 {
            return Err(bad());
        }
        let offset = match offset {
            None => None,
            Some("Z") => Some(0),
            Some(o) => {
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let (oh, om) = o[1..].split_once(':').ok_or_else(bad)?;
                let (oh, om): (i32, i32) = (oh.parse().map_err(|_| bad())?, om.parse().map_err(|_| bad())?);
                if oh > 14 || om > 59 {
                    return Err(bad());
                }
                Some(sign * (oh * 3600 + om * 60))
            }
        };
        Ok(Self { minute: h * 60 + m, offset })
    }

    /// The last moment at or before `now` when it was this time of day.
    pub fn last_before(self, now: crate::time::Timestamp) -> crate::time::Timestamp {
        use chrono::{Offset, TimeZone};
        let offset = match self.offset {
            Some(o) => chrono::FixedOffset::east_opt(o).unwrap_or(chrono::Utc.fix()),
            None => chrono::Local.offset_from_utc_datetime(&now.naive_utc()).fix(),
        };
        let local = now.with_timezone(&offset);
        let midnight = local.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
        let today = midnight + chrono::Duration::minutes(i64::from(self.minute));
        let mut at = offset.from_local_datetime(&today).single().map(|t| t.with_timezone(&chrono::Utc)).unwrap_or(now);
        if at > now {
            at -= chrono::Duration::days(1);
        }
        at
    }
}

fn default_events() -> Vec<Event> {
    vec![Event::Banned, Event::Attack, Event::SigninNewAddress, Event::Health]
}

/// The longest channel name.
const NAME_MAX: usize = 40;

impl AlertConfig {
    /// A channel of `kind` named `name` with the default events and nothing else set.
    pub fn new(name: &str, kind: Kind) -> Self {
        Self {
            name: name.into(),
            kind,
            url: None,
            token: None,
            token_file: None,
            chat_id: None,
            topic: None,
            priority: None,
            tags: Vec::new(),
            username: None,
            events: default_events(),
            summary_at: None,
            to: Vec::new(),
            from: None,
            openalgo_smtp: false,
            openalgo_db: None,
        }
    }

    /// The base URL in force.
    pub fn base_url(&self) -> Option<&str> {
        self.url.as_deref().or(self.kind.default_url())
    }

    /// Checks the entry; the error names the field and what is allowed. The secret is not read
    /// here (see [`AlertConfig::secret`]).
    pub fn validate(&self) -> Result<(), String> {
        let n = &self.name;
        let what = format!("alert '{}'", crate::ip::display_raw(n));
        if n.is_empty() || n.len() > NAME_MAX || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!(
                "{what}: a name is 1 to {NAME_MAX} letters, digits, '-' or '_' (it names the channel in `warden alert test`)"
            ));
        }
        match (self.kind, self.base_url()) {
            (Kind::Email, None) if self.openalgo_smtp => {}
            (Kind::Email, None) => {
                return Err(format!("{what}: set `url` (such as \"smtps://mail.example.com\") or openalgo_smtp = true"))
            }
            (Kind::Email, Some(u)) => {
                email::parse_url(u).map_err(|e| format!("{what}: `url` {e}"))?;
            }
            (_, None) => return Err(format!("{what}: `url` is needed for kind = \"{}\"", kind_name(self.kind))),
            (_, Some(u)) => check_url(u).map_err(|e| format!("{what}: `url` {e}"))?,
        }
        if self.kind != Kind::Email && (!self.to.is_empty() || self.from.is_some() || self.openalgo_smtp) {
            return Err(format!("{what}: `to`, `from` and `openalgo_smtp` are for e-mail channels"));
        }
        let needs_secret = !matches!(self.kind, Kind::Ntfy | Kind::Email);
        if needs_secret && self.token.is_none() && self.token_file.is_none() {
            return Err(format!("{what}: set `token_file` (a 0600 file) or `token` for {}", self.kind.label()));
        }
        if self.token.is_some() && self.token_file.is_some() {
            return Err(format!("{what}: set `token` or `token_file`, not both"));
        }
        if let Some(t) = &self.token {
            check_secret(t).map_err(|e| format!("{what}: `token` {e}"))?;
        }
        if let Some(f) = &self.token_file {
            if !f.is_absolute() {
                return Err(format!("{what}: `token_file` must be an absolute path"));
            }
        }
        match self.kind {
            Kind::Telegram => {
                let id = self.chat_id.as_deref().unwrap_or("");
                let ok = !id.is_empty()
                    && id.len() <= 64
                    && (id.trim_start_matches('-').chars().all(|c| c.is_ascii_digit())
                        || (id.starts_with('@') && id[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '_')));
                if !ok {
                    return Err(format!(
                        "{what}: `chat_id` must be the chat's number (such as 4242 or -1001234) or @channelname"
                    ));
                }
            }
            Kind::Ntfy => {
                let t = self.topic.as_deref().unwrap_or("");
                if t.is_empty() || t.len() > 64 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(format!("{what}: `topic` must be 1 to 64 letters, digits, '-' or '_'"));
                }
                if self.priority.is_some_and(|p| !(1..=5).contains(&p)) {
                    return Err(format!("{what}: `priority` goes from 1 (min) to 5 (max)"));
                }
                if self.tags.iter().any(|t| t.is_empty() || t.len() > 32 || t.contains([',', '\n', '\r'])) {
                    return Err(format!("{what}: each tag is 1 to 32 characters without commas"));
                }
            }
            Kind::OpenalgoTelegram => {
                let u = self.username.as_deref().unwrap_or("");
                if u.is_empty() || u.len() > 255 || u.chars().any(char::is_control) {
                    return Err(format!("{what}: `username` must be the OpenAlgo user linked to the bot"));
                }
            }
            Kind::Email => {
                if self.to.is_empty() {
                    return Err(format!("{what}: `to` lists who gets the e-mail, such as [\"you@example.com\"]"));
                }
                for a in self.to.iter().chain(self.from.iter()) {
                    email::check_address(a).map_err(|e| format!("{what}: {e}"))?;
                }
                if !self.openalgo_smtp && self.from.is_none() && self.username.is_none() {
                    return Err(format!("{what}: set `from`, the sender's address"));
                }
            }
            Kind::Discord | Kind::Webhook => {}
        }
        if self.events.is_empty() {
            return Err(format!(
                "{what}: `events` is empty, so it would never send anything; choose from {}",
                Event::CHOOSABLE.map(Event::as_str).join(", ")
            ));
        }
        match (&self.summary_at, self.events.contains(&Event::Summary)) {
            (Some(at), _) => {
                DailyAt::parse(at).map_err(|e| format!("{what}: {e}"))?;
            }
            (None, true) => return Err(format!("{what}: the daily summary needs `summary_at`, such as \"16:00\"")),
            (None, false) => {}
        }
        if self.events.contains(&Event::Test) {
            return Err(format!("{what}: `test` is not an event to choose; `warden alert test` always sends"));
        }
        Ok(())
    }

    /// The secret, read from `token_file` (which must be a regular file no one else can read) or
    /// `token`; `None` when the channel has none (ntfy without an access token).
    pub fn secret(&self) -> Result<Option<Secret>, String> {
        if let Some(t) = &self.token {
            return Ok(Some(Secret(t.clone())));
        }
        let Some(path) = &self.token_file else { return Ok(None) };
        let shown = crate::ip::display_raw(&path.to_string_lossy());
        let text = crate::store::private::read_private(path, "token file")?;
        let line = text.lines().next().unwrap_or("").trim().to_string();
        check_secret(&line).map_err(|e| format!("the token file {shown} {e}"))?;
        Ok(Some(Secret(line)))
    }
}

fn kind_name(k: Kind) -> String {
    serde_json::to_value(k).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// Whether `url` is an `http` or `https` URL with a host, without spaces or credentials.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| "must start with https:// (or http:// for a service on this machine)".to_string())?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is not a valid URL".into());
    }
    if host.contains('@') {
        return Err("must not hold a user name or password; put the secret in `token_file`".into());
    }
    Ok(())
}

fn check_secret(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > 4096 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be one word without spaces or line breaks".into());
    }
    Ok(())
}

/// A secret that never shows itself: `Debug` and [`Secret::masked`] give at most its last four
/// characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `••••1234`: enough to tell two tokens apart, never enough to use one.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

/// A secret shown masked: `••••` and its last four characters when it is long enough that four
/// give nothing away (16 or more), and `••••` alone otherwise.
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n >= 16 {
        let tail: String = s.chars().skip(n - 4).collect();
        format!("••••{tail}")
    } else {
        "••••".into()
    }
}

/// `text` with every occurrence of each secret (and of its URL-encoded form) replaced by its mask.
/// Everything an HTTP client says about a failed request goes through this first.
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        let raw = s.expose();
        if raw.len() < 4 {
            continue;
        }
        out = out.replace(raw, &s.masked());
        let encoded = channel::url_encode(raw);
        if encoded != raw {
            out = out.replace(&encoded, &s.masked());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_full() {
        let s = Secret::new("123456:ABCdefGHIjklMNOpqr");
        assert_eq!(s.masked(), "••••Opqr");
        assert!(!format!("{s:?}").contains("123456"));
        assert_eq!(mask("short"), "••••");
        let text = "error sending to https://api.telegram.org/bot123456:ABCdefGHIjklMNOpqr/sendMessage";
        let clean = scrub(text, &[&s]);
        assert!(!clean.contains("123456:ABC"), "{clean}");
        assert!(clean.contains("••••Opqr"));
        let encoded = scrub("x=123456%3AABCdefGHIjklMNOpqr", &[&s]);
        assert!(!encoded.contains("ABCdef"), "{encoded}");
    }

    #[test]
    fn entries_are_checked_field_by_field() {
        let mut t = AlertConfig::new("phone", Kind::Telegram);
        assert!(t.validate().unwrap_err().contains("token"));
        t.token = Some("123:abc".into());
        assert!(t.validate().unwrap_err().contains("chat_id"));
        t.chat_id = Some("4242".into());
        assert_eq!(t.validate(), Ok(()));
        t.url = Some("ftp://x".into());
        assert!(t.validate().unwrap_err().contains("https://"));
        t.url = Some("https://user:pw@api.telegram.org".into());
        assert!(t.validate().unwrap_err().contains("password"));
        t.url = None;
        t.name = "has space".into();
        assert!(t.validate().unwrap_err().contains("name"));
        t.name = "phone".into();
        t.events.clear();
        assert!(t.validate().unwrap_err().contains("events"));
        let mut w = AlertConfig::new("hook", Kind::Webhook);
        w.token = Some("k".into());
        assert!(w.validate().unwrap_err().contains("url"));
        let mut n = AlertConfig::new("n", Kind::Ntfy);
        assert!(n.validate().unwrap_err().contains("topic"));
        n.topic = Some("warden-alerts".into());
        n.priority = Some(9);
        assert!(n.validate().unwrap_err().contains("priority"));
        n.priority = Some(5);
        assert_eq!(n.validate(), Ok(()));
        n.events.push(Event::Summary);
        assert!(n.validate().unwrap_err().contains("summary_at"));
        n.summary_at = Some("25:00".into());
        assert!(n.validate().unwrap_err().contains("summary_at must be a time"));
        n.summary_at = Some("16:00+05:30".into());
        assert_eq!(n.validate(), Ok(()));
    }

    #[test]
    fn the_summary_time_is_the_last_one_at_or_before_now() {
        let now = crate::time::parse_db_time("2026-12-04 12:00:00").unwrap_or_default();
        let ist = DailyAt::parse("16:00+05:30").unwrap_or(DailyAt { minute: 0, offset: None });
        // 12:00 UTC is 17:30 IST: today's 16:00 IST has passed, today's 18:00 IST has not.
        assert_eq!(crate::time::rfc3339(ist.last_before(now)), "2026-12-04T10:30:00Z");
        let later = DailyAt::parse("18:00+05:30").unwrap_or(DailyAt { minute: 0, offset: None });
        assert_eq!(crate::time::rfc3339(later.last_before(now)), "2026-12-03T12:30:00Z");
        let utc = DailyAt::parse("11:59Z").unwrap_or(DailyAt { minute: 0, offset: None });
        assert_eq!(crate::time::rfc3339(utc.last_before(now)), "2026-12-04T11:59:00Z");
        for bad in ["1600", "16:00+5", "16:60", "x", "16:00+15:00", "6:00"] {
            assert!(DailyAt::parse(bad).is_err(), "{bad}");
        }
    }
}
