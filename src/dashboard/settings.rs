//! The Settings form: what it shows, how each field is checked, and how it is saved (0600).
//!
//! Every field is checked on its own so the app can put the reason next to the field; then the
//! whole configuration is checked once more by [`Config::validate`] before it is written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Desk, DeskError, DeskResult};
use crate::config::{AccessLogConfig, Config, ThresholdSource};
use crate::ip::parse_net;

/// One access log in the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogSetting {
    /// The file.
    pub path: String,
    /// Its format.
    pub format: String,
}

/// The Settings form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsForm {
    /// OpenAlgo's logs.db.
    pub logs_db: String,
    /// OpenAlgo's openalgo.db (empty: beside logs.db).
    pub openalgo_db: String,
    /// Access logs.
    pub access_logs: Vec<AccessLogSetting>,
    /// `warden` or `openalgo`.
    pub thresholds: String,
    /// 404s in 24 h before a ban.
    pub not_found_threshold: i64,
    /// Hours of a 404 ban (0 = permanent).
    pub not_found_ban_hours: i64,
    /// Invalid keys in 24 h before a ban.
    pub api_threshold: i64,
    /// Hours of an invalid-key ban (0 = permanent).
    pub api_ban_hours: i64,
    /// The offence that becomes permanent.
    pub repeat_offender_limit: i64,
    /// Addresses and ranges never banned.
    pub allow: Vec<String>,
    /// The near-threshold fraction.
    pub near_fraction: f64,
    /// Alert on near threshold.
    pub notify_near: bool,
    /// Alert on bans.
    pub notify_banned: bool,
    /// Alert on source problems.
    pub notify_sources: bool,
    /// Alert when a server check starts failing (absent in older forms: on).
    #[serde(default = "yes")]
    pub notify_checklist: bool,
    /// Alert when failed sign-ins become an attack (absent in older forms: on).
    #[serde(default = "yes")]
    pub notify_attack: bool,
    /// Alert on a sign-in from a new address (absent in older forms: on).
    #[serde(default = "yes")]
    pub notify_signin_new_address: bool,
    /// Alert on every other sign-in (absent in older forms: off).
    #[serde(default)]
    pub notify_signin: bool,
    /// Failed sign-ins in 24 h that make an attack.
    #[serde(default = "ten")]
    pub login_auth_attempts: i64,
    /// How long an attack is banned, in seconds (0 = permanent).
    #[serde(default = "day")]
    pub login_deny_seconds: i64,
    /// Alert channels beyond the desktop.
    #[serde(default)]
    pub alerts: Vec<super::channels::ChannelForm>,
    /// Sharing bans through CrowdSec's Local API.
    #[serde(default)]
    pub crowdsec: super::channels::CrowdsecForm,
    /// Where the settings are saved (read-only in the form).
    #[serde(default)]
    pub config_path: Option<String>,
}

fn ten() -> i64 {
    10
}

fn day() -> i64 {
    86_400
}

fn yes() -> bool {
    true
}

fn int(fields: &mut BTreeMap<String, String>, name: &str, v: i64, lo: i64, hi: i64, words: &str) -> u32 {
    if v < lo || v > hi {
        fields.insert(name.into(), format!("{words} must be a whole number from {lo} to {hi}"));
    }
    v.clamp(lo, hi) as u32
}

impl Desk {
    /// The form as the configuration in force fills it.
    pub fn settings(&self) -> SettingsForm {
        let c = &self.cfg;
        SettingsForm {
            logs_db: self.paths.logs_db.display().to_string(),
            openalgo_db: self.paths.openalgo_db.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            access_logs: self
                .paths
                .access_logs
                .iter()
                .map(|(p, f)| AccessLogSetting { path: p.display().to_string(), format: f.clone() })
                .collect(),
            thresholds: match c.thresholds {
                ThresholdSource::Warden => "warden".into(),
                ThresholdSource::Openalgo => "openalgo".into(),
            },
            not_found_threshold: c.rules.not_found_threshold.into(),
            not_found_ban_hours: c.rules.not_found_ban_hours.into(),
            api_threshold: c.rules.api_threshold.into(),
            api_ban_hours: c.rules.api_ban_hours.into(),
            repeat_offender_limit: c.rules.repeat_offender_limit.into(),
            allow: c.allow.clone(),
            near_fraction: c.near_fraction,
            notify_near: c.notify.near,
            notify_banned: c.notify.banned,
            notify_sources: c.notify.sources,
            notify_checklist: c.notify.checklist,
            notify_attack: c.notify.attack,
            notify_signin_new_address: c.notify.signin_new_address,
            notify_signin: c.notify.signin,
            login_auth_attempts: c.login.auth_attempts.into(),
            login_deny_seconds: i64::try_from(c.login.deny_seconds).unwrap_or(i64::MAX),
            alerts: self.channel_forms(),
            crowdsec: super::channels::CrowdsecForm::of(c.crowdsec.as_ref()),
            config_path: self.config_path.as_ref().map(|p| p.display().to_string()),
        }
    }

    /// Checks `form` field by field and builds the configuration it describes. On failure the
    /// error's `fields` says what is wrong with each field.
    pub fn config_from(&self, form: &SettingsForm) -> DeskResult<Config> {
        let mut f = BTreeMap::new();
        let mut cfg = self.cfg.clone();
        let logs_db = form.logs_db.trim();
        if logs_db.is_empty() {
            f.insert("logs_db".into(), "give the path of OpenAlgo's logs.db (in OpenAlgo's db folder)".into());
        } else if !std::path::Path::new(logs_db).is_absolute() {
            f.insert("logs_db".into(), "use a full path, starting with /".into());
        }
        let openalgo_db = form.openalgo_db.trim();
        if !openalgo_db.is_empty() && !std::path::Path::new(openalgo_db).is_absolute() {
            f.insert("openalgo_db".into(), "use a full path, starting with /, or leave it empty".into());
        }
        cfg.logs_db = Some(PathBuf::from(logs_db));
        cfg.openalgo_db = (!openalgo_db.is_empty()).then(|| PathBuf::from(openalgo_db));
        let mut logs = Vec::new();
        for (i, a) in form.access_logs.iter().enumerate() {
            let path = a.path.trim();
            if path.is_empty() {
                continue;
            }
            if !std::path::Path::new(path).is_absolute() {
                f.insert("access_logs".into(), format!("access log {}: use a full path, starting with /", i + 1));
                continue;
            }
            let format = if a.format.trim().is_empty() { "combined" } else { a.format.trim() };
            if let Err(e) = crate::source::access::pipeline::LineParser::new(format) {
                f.insert("access_logs".into(), format!("access log {}: {e}", i + 1));
            }
            logs.push(AccessLogConfig { path: path.into(), format: format.into() });
        }
        cfg.access_log = logs;
        cfg.thresholds = match form.thresholds.as_str() {
            "warden" => ThresholdSource::Warden,
            "openalgo" => ThresholdSource::Openalgo,
            _ => {
                f.insert("thresholds".into(), "choose Warden's own numbers or OpenAlgo's settings".into());
                cfg.thresholds
            }
        };
        let r = &mut cfg.rules;
        r.not_found_threshold =
            int(&mut f, "not_found_threshold", form.not_found_threshold, 1, 10_000, "The 404 limit");
        r.not_found_ban_hours =
            int(&mut f, "not_found_ban_hours", form.not_found_ban_hours, 0, 87_600, "The ban length (0 = permanent)");
        r.api_threshold = int(&mut f, "api_threshold", form.api_threshold, 1, 10_000, "The invalid-key limit");
        r.api_ban_hours = int(&mut f, "api_ban_hours", form.api_ban_hours, 0, 87_600, "The ban length (0 = permanent)");
        r.repeat_offender_limit =
            int(&mut f, "repeat_offender_limit", form.repeat_offender_limit, 1, 100, "The repeat-offender limit");
        let allow: Vec<String> = form.allow.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
        let bad: Vec<String> =
            allow.iter().filter(|a| parse_net(a).is_err()).map(|a| crate::ip::display_raw(a)).collect();
        if !bad.is_empty() {
            f.insert(
                "allow".into(),
                format!("not an IP address or range (such as 203.0.113.7 or 203.0.113.0/24): {}", bad.join(", ")),
            );
        }
        cfg.allow = allow;
        if !(form.near_fraction > 0.0 && form.near_fraction <= 1.0) {
            f.insert("near_fraction".into(), "must be above 0% and at most 100% (80% warns at 16 of 20)".into());
        } else {
            cfg.near_fraction = form.near_fraction;
        }
        cfg.notify.near = form.notify_near;
        cfg.notify.banned = form.notify_banned;
        cfg.notify.sources = form.notify_sources;
        cfg.notify.checklist = form.notify_checklist;
        cfg.notify.attack = form.notify_attack;
        cfg.notify.signin_new_address = form.notify_signin_new_address;
        cfg.notify.signin = form.notify_signin;
        cfg.login.auth_attempts =
            int(&mut f, "login_auth_attempts", form.login_auth_attempts, 1, 10_000, "The failed sign-in limit");
        if !(0..=10 * 365 * 86_400).contains(&form.login_deny_seconds) {
            f.insert("login_deny_seconds".into(), "must be from 0 (permanent) to ten years".into());
        } else {
            cfg.login.deny_seconds = form.login_deny_seconds as u64;
        }
        cfg.alert = self.channels_from(&form.alerts, &mut f);
        match form.crowdsec.to_config() {
            Ok(c) => cfg.crowdsec = c,
            Err(e) => {
                f.insert("crowdsec".into(), e);
            }
        }
        if f.is_empty() {
            if let Err(message) = cfg.validate() {
                f.insert("form".into(), message);
            }
        }
        if f.is_empty() {
            Ok(cfg)
        } else {
            let n = f.len();
            Err(DeskError {
                kind: "invalid_settings",
                message: format!(
                    "{n} setting{} need{} fixing",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "s" } else { "" }
                ),
                fields: Some(f),
            })
        }
    }

    /// Checks and saves `form` (mode 0600) and returns the desk that runs with it.
    pub fn save_settings(&self, form: &SettingsForm) -> DeskResult<Desk> {
        let mut cfg = self.config_from(form)?;
        let path = self
            .config_path
            .clone()
            .ok_or_else(|| DeskError::invalid("there is no place to save settings: start Warden with --config FILE"))?;
        Desk::store_secrets(&mut cfg, &path)?;
        cfg.save(&path)?;
        // The state database stays where it is: moving it would lose offence history.
        let paths = crate::config::Paths::resolve(&cfg, None, None, Some(self.paths.state_db.clone()), &[]);
        let demo = self.demo.clone().filter(|_| cfg.logs_db.as_deref() == Some(self.paths.logs_db.as_path()));
        Ok(Desk { cfg, paths, config_path: Some(path), demo })
    }
}
