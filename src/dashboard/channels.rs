//! Alert channels in the Settings form, their "Send a test" button, and the Sign-ins and
//! Incidents views.
//!
//! A secret never travels back to the app: the form carries it masked, and an empty token field
//! means "keep the one saved". A new token is written to its own 0600 file beside the
//! configuration (`alert-NAME.token`), which the configuration names in `token_file`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Desk, DeskError, DeskResult};
use crate::alert::{AlertConfig, Event, Kind};
use crate::source::signins::Incident;
use crate::time::Timestamp;

/// One alert channel in the form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelForm {
    /// Its name.
    pub name: String,
    /// `telegram`, `openalgo_telegram`, `discord`, `ntfy` or `webhook`.
    pub kind: String,
    /// The base URL (empty: the service's own).
    pub url: String,
    /// A new secret; empty keeps the saved one. Never filled by Warden.
    pub token: String,
    /// The saved secret, masked (read-only).
    pub token_masked: String,
    /// Telegram's chat id.
    pub chat_id: String,
    /// ntfy's topic.
    pub topic: String,
    /// OpenAlgo's user linked to its bot.
    pub username: String,
    /// ntfy's priority (1 to 5), if set.
    pub priority: Option<i64>,
    /// ntfy's tags.
    pub tags: Vec<String>,
    /// The events it is told about.
    pub events: Vec<String>,
    /// When the daily summary goes out (`"16:00"`, `"16:00+05:30"`), if it takes one.
    pub summary_at: String,
    /// E-mail: the recipients.
    pub to: Vec<String>,
    /// E-mail: the sender.
    pub from: String,
    /// E-mail: use OpenAlgo's own SMTP settings.
    pub openalgo_smtp: bool,
}

fn kind_of(s: &str) -> Option<Kind> {
    serde_json::from_value(serde_json::Value::String(s.into())).ok()
}

fn event_of(s: &str) -> Option<Event> {
    serde_json::from_value(serde_json::Value::String(s.into())).ok()
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn some(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The file a channel's secret is saved in, beside the configuration.
pub fn token_file(config_path: &Path, name: &str) -> PathBuf {
    config_path.with_file_name(format!("alert-{name}.token"))
}

impl ChannelForm {
    /// The form for a configured channel (its secret masked).
    pub fn of(a: &AlertConfig) -> Self {
        Self {
            name: a.name.clone(),
            kind: serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            url: text(&a.url),
            token: String::new(),
            token_masked: match a.secret() {
                Ok(Some(s)) => s.masked(),
                Ok(None) => String::new(),
                Err(e) => format!("unreadable: {e}"),
            },
            chat_id: text(&a.chat_id),
            topic: text(&a.topic),
            username: text(&a.username),
            priority: a.priority.map(i64::from),
            tags: a.tags.clone(),
            events: a.events.iter().map(|e| e.as_str().to_string()).collect(),
            summary_at: text(&a.summary_at),
            to: a.to.clone(),
            from: text(&a.from),
            openalgo_smtp: a.openalgo_smtp,
        }
    }

    /// The channel this form describes; an empty token keeps `saved`'s secret. The error says
    /// what is wrong, in words.
    pub fn to_config(&self, saved: Option<&AlertConfig>) -> Result<AlertConfig, String> {
        let name = self.name.trim();
        let kind = kind_of(&self.kind).ok_or_else(|| {
            format!(
                "channel '{}': choose Telegram, OpenAlgo's Telegram bot, Discord, ntfy or a webhook",
                crate::ip::display_raw(name)
            )
        })?;
        let mut a = AlertConfig::new(name, kind);
        a.url = some(&self.url);
        a.chat_id = some(&self.chat_id);
        a.topic = some(&self.topic);
        a.username = some(&self.username);
        a.priority = match self.priority {
            None => None,
            Some(p) => Some(u8::try_from(p).map_err(|_| format!("channel '{name}': the priority goes from 1 to 5"))?),
        };
        a.tags = self.tags.iter().filter_map(|t| some(t)).collect();
        let mut events = Vec::new();
        for e in &self.events {
            events.push(
                event_of(e)
                    .ok_or_else(|| format!("channel '{name}': '{}' is not an event", crate::ip::display_raw(e)))?,
            );
        }
        a.events = events;
        a.summary_at = some(&self.summary_at);
        a.to = self.to.iter().filter_map(|t| some(t)).collect();
        a.from = some(&self.from);
        a.openalgo_smtp = self.openalgo_smtp;
        match some(&self.token) {
            Some(t) => a.token = Some(t),
            None => {
                if let Some(s) = saved.filter(|s| s.kind == kind) {
                    a.token = s.token.clone();
                    a.token_file = s.token_file.clone();
                }
            }
        }
        a.validate()?;
        Ok(a)
    }
}

/// The `[crowdsec]` section in the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrowdsecForm {
    /// Whether Warden talks to a LAPI at all.
    pub enabled: bool,
    /// The LAPI's address.
    pub url: String,
    /// The machine's credentials file.
    pub credentials: String,
    /// The bouncer key file.
    pub bouncer_key_file: String,
    /// Push Warden's own bans.
    pub push: bool,
    /// Enforce the LAPI's decisions.
    pub pull: bool,
    /// Seconds between pulls.
    pub pull_seconds: u64,
    /// Origins to enforce; empty: all.
    pub origins: Vec<String>,
}

impl Default for CrowdsecForm {
    fn default() -> Self {
        Self::of(None)
    }
}

impl CrowdsecForm {
    /// The form for the section in force (or the defaults, off).
    pub fn of(c: Option<&crate::crowdsec::CrowdsecConfig>) -> Self {
        let d = crate::crowdsec::CrowdsecConfig::default();
        let enabled = c.is_some();
        let c = c.unwrap_or(&d);
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        Self {
            enabled,
            url: c.url.clone(),
            credentials: path(&c.credentials),
            bouncer_key_file: path(&c.bouncer_key_file),
            push: c.push,
            pull: c.pull,
            pull_seconds: c.pull_seconds,
            origins: c.origins.clone(),
        }
    }

    /// The section this form describes (`None` when off), or what is wrong with it.
    pub fn to_config(&self) -> Result<Option<crate::crowdsec::CrowdsecConfig>, String> {
        if !self.enabled {
            return Ok(None);
        }
        let c = crate::crowdsec::CrowdsecConfig {
            url: self.url.trim().to_string(),
            credentials: some(&self.credentials).map(PathBuf::from),
            bouncer_key_file: some(&self.bouncer_key_file).map(PathBuf::from),
            push: self.push,
            pull: self.pull,
            pull_seconds: self.pull_seconds,
            origins: self.origins.iter().filter_map(|o| some(o)).collect(),
        };
        c.validate()?;
        Ok(Some(c))
    }
}

impl Desk {
    /// Tries the LAPI as the form describes it (saved or not).
    pub fn test_crowdsec(&self, form: &CrowdsecForm, now: Timestamp) -> DeskResult<String> {
        let c = form
            .to_config()
            .map_err(DeskError::invalid)?
            .ok_or_else(|| DeskError::invalid("turn CrowdSec on first"))?;
        crate::crowdsec::test(&c, now).map_err(DeskError::invalid)
    }
}

/// An incident as the app shows it: with whether the address is banned now.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// Whether a ban is in force for the address.
    pub banned: bool,
}

impl Desk {
    /// The channels as the form shows them.
    pub fn channel_forms(&self) -> Vec<ChannelForm> {
        self.cfg.alert.iter().map(ChannelForm::of).collect()
    }

    /// The channels the form describes (secrets kept or new), or what is wrong with them.
    pub fn channels_from(&self, forms: &[ChannelForm], fields: &mut BTreeMap<String, String>) -> Vec<AlertConfig> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for f in forms {
            let saved = self.cfg.alert.iter().find(|a| a.name == f.name.trim());
            match f.to_config(saved) {
                Ok(a) => out.push(a),
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            fields.insert("alerts".into(), problems.join("; "));
        }
        out
    }

    /// Moves new secrets out of the configuration into their own 0600 files beside it.
    pub fn store_secrets(cfg: &mut crate::config::Config, config_path: &Path) -> DeskResult<()> {
        for a in &mut cfg.alert {
            if let Some(t) = a.token.take() {
                let file = token_file(config_path, &a.name);
                crate::store::private::write_private(&file, format!("{t}\n").as_bytes())?;
                a.token_file = Some(file);
            }
        }
        Ok(())
    }

    /// Sends a test through the channel as the form describes it (saved or not), and says what
    /// the service answered.
    pub fn test_channel(&self, form: &ChannelForm, now: Timestamp) -> DeskResult<String> {
        let saved = self.cfg.alert.iter().find(|a| a.name == form.name.trim());
        let mut cfg = form.to_config(saved).map_err(DeskError::invalid)?;
        cfg.openalgo_db = self.paths.openalgo_db.clone();
        crate::alert::courier::test(&cfg, now)
            .map(|()| format!("{} took the test alert. Check that it arrived.", cfg.kind.label()))
            .map_err(DeskError::invalid)
    }

    /// The Sign-ins view: the last `limit` sign-ins and the open sessions.
    pub fn signins(&self, limit: usize) -> DeskResult<crate::logins::SignIns> {
        Ok(crate::logins::signins(&self.paths, limit.min(5000))?)
    }

    /// The Incidents view: failed sign-ins per address in the last `hours`.
    pub fn incidents(&self, hours: u32, now: Timestamp) -> DeskResult<Vec<IncidentView>> {
        let list = crate::logins::incidents(&self.cfg, &self.paths, hours.clamp(1, 24 * 90), now)?;
        let banned: std::collections::HashSet<String> = if self.paths.logs_db.exists() {
            crate::store::logs_db::LogsDb::open(&self.paths.logs_db)
                .and_then(|db| crate::report::bans(&db, now))
                .map(|b| b.into_iter().map(|v| v.ip).collect())
                .unwrap_or_default()
        } else {
            Default::default()
        };
        Ok(list.into_iter().map(|i| IncidentView { banned: banned.contains(&i.ip), incident: i }).collect())
    }
}
