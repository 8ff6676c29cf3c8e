//! Warden's configuration: thresholds, paths and the allow-list, validated once when loaded.
//!
//! The file is TOML, by default `$XDG_CONFIG_HOME/warden/config.toml`. Every setting has a safe
//! default, so Warden runs with no file at all. Unknown keys are refused, so a typo cannot silently
//! leave a threshold at its default. Warden writes the file with mode 0600.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{Action, BanLength, PathLimit, RateLimits, RuleLimits, Thresholds};
use crate::error::{Error, Result};
use crate::ip::Protection;
use crate::source::access::classify::Classify;
use crate::store::private::write_private;

/// Where the thresholds come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdSource {
    /// Warden's own `[rules]` section.
    #[default]
    Warden,
    /// The first row of openalgo.db's `settings` table, re-read when it changes.
    Openalgo,
}

/// Warden's own thresholds (used unless `thresholds = "openalgo"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// 404s within 24 h that trigger a ban (default 20).
    pub not_found_threshold: u32,
    /// Hours a 404 ban lasts; 0 means permanent (default 24).
    pub not_found_ban_hours: u32,
    /// Invalid API keys within 24 h that trigger a ban (default 10).
    pub api_threshold: u32,
    /// Hours an API-key ban lasts; 0 means permanent (default 48).
    pub api_ban_hours: u32,
    /// The offence number that becomes permanent (default 3: the third ban is permanent).
    pub repeat_offender_limit: u32,
    /// Replaced by `[login] auth_attempts`; still read from older files (a changed value moves
    /// there) and no longer written.
    #[serde(skip_serializing)]
    pub login_threshold: u32,
    /// Replaced by `[login] deny_seconds`; still read from older files (a changed value moves
    /// there) and no longer written.
    #[serde(skip_serializing)]
    pub login_ban_hours: u32,
    /// Replaced by `[login] action`; still read from older files, and no longer written.
    #[serde(skip_serializing)]
    pub login_action: Action,
    /// Refuse a whole IPv6 `/64` once this many addresses in it are banned at the same time
    /// (default 3; 0 turns it off). One IPv6 host usually holds a whole `/64` and hops between its
    /// addresses, so three bans inside one are one scanner, not three.
    pub ipv6_prefix_after: u32,
}

/// Rate and burst detection on access logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateConfig {
    /// Requests per minute per address over all paths before it is a burst (0 = off; default 1200,
    /// twice OpenAlgo's Docker nginx limit of 10 per second).
    pub per_minute: u32,
    /// `"notice"` (default) or `"ban"`.
    pub action: Action,
    /// Hours a burst ban lasts, when `action = "ban"` (default 1).
    pub ban_hours: u32,
    /// Per-path limits; the default is OpenAlgo's own `LOGIN_RATE_LIMIT_MIN`: 5 per minute on
    /// `/auth/login`.
    pub paths: Vec<PathLimit>,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            per_minute: 1200,
            action: Action::Notice,
            ban_hours: 1,
            paths: vec![PathLimit { prefix: "/auth/login".into(), per_minute: 5 }],
        }
    }
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            not_found_threshold: 20,
            not_found_ban_hours: 24,
            api_threshold: 10,
            api_ban_hours: 48,
            repeat_offender_limit: 3,
            login_threshold: 10,
            login_ban_hours: 24,
            login_action: Action::Notice,
            ipv6_prefix_after: 3,
        }
    }
}

/// Failed sign-ins to OpenAlgo (`[login]`, named as in the seed): its `login_attempts` rows and
/// 401s on `/auth/login` in the access logs, per address, in 24 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// Failed sign-ins from one address within 24 h that make an attack (default 10). A trader
    /// who mistypes a password does so a few times; OpenAlgo itself lets 25 an hour through.
    pub auth_attempts: u32,
    /// How long an attack is banned, in seconds (default 86400, a day; 0 means permanent).
    pub deny_seconds: u64,
    /// `"ban"` (default) or `"notice"` (report attacks, ban nothing).
    pub action: Action,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self { auth_attempts: 10, deny_seconds: 86_400, action: Action::Ban }
    }
}

/// One access log to watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    /// The log file (it may not exist yet; rotations beside it are found by name).
    pub path: PathBuf,
    /// `combined` (default), `common`, `apache-combined`, `caddy`, or an nginx `log_format` string.
    #[serde(default = "default_format")]
    pub format: String,
}

fn default_format() -> String {
    "combined".into()
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// OpenAlgo's `logs.db`. When unset, Warden looks in the usual install locations.
    pub logs_db: Option<PathBuf>,
    /// OpenAlgo's `openalgo.db` (for `thresholds = "openalgo"`). Defaults to the one beside logs.db.
    pub openalgo_db: Option<PathBuf>,
    /// Warden's own state database. Defaults to `$XDG_DATA_HOME/warden/state.db`.
    pub state_db: Option<PathBuf>,
    /// `"warden"` (the `[rules]` below) or `"openalgo"` (follow OpenAlgo's settings table).
    pub thresholds: ThresholdSource,
    /// Warden's own thresholds.
    pub rules: RulesConfig,
    /// Rate and burst detection.
    pub rate: RateConfig,
    /// Which access-log requests count for which rule.
    pub classify: Classify,
    /// Access logs to watch (`[[access_log]]` tables).
    pub access_log: Vec<AccessLogConfig>,
    /// On first start, how many hours of access-log history to read back, rotated files included
    /// (default 24).
    pub history_hours: u32,
    /// Addresses and CIDR ranges that are never banned, in addition to loopback and private ranges.
    pub allow: Vec<String>,
    /// Fraction of a threshold at which a "near threshold" notice fires once (default 0.8).
    pub near_fraction: f64,
    /// Seconds between fallback polls of the watched files (default 10). Changes are normally seen
    /// at once through file-system notifications; the poll only covers filesystems without them.
    pub poll_seconds: u64,
    /// Failed sign-ins: when they are an attack, and how long an attack is banned.
    pub login: LoginConfig,
    /// Which desktop alerts the app sends.
    pub notify: NotifyConfig,
    /// Alert channels beyond the desktop (`[[alert]]`: Telegram, Discord, ntfy, a webhook).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert: Vec<crate::alert::AlertConfig>,
    /// Exports for a SIEM: Prometheus metrics, a JSON-lines event file, syslog (all off by default).
    pub export: crate::export::ExportConfig,
    /// Sharing bans through CrowdSec's Local API (off by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crowdsec: Option<crate::crowdsec::CrowdsecConfig>,
    /// Where bans are enforced besides OpenAlgo's `logs.db`: nginx and nftables (both off by
    /// default).
    pub enforce: EnforceConfig,
}

/// Where bans are enforced besides `logs.db` (`[enforce.nginx]`, `[enforce.nftables]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnforceConfig {
    /// nginx, through a `geo` file Warden owns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nginx: Option<NginxEnforce>,
    /// The kernel, through an nftables table Warden owns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nftables: Option<NftEnforce>,
}

/// `[enforce.nginx]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NginxEnforce {
    /// The `geo` file Warden writes (one `CIDR 1;` per line); nginx's configuration includes it.
    pub geo_file: PathBuf,
    /// The command that checks nginx's configuration before a reload.
    pub check: Vec<String>,
    /// The command that makes nginx read it again.
    pub reload: Vec<String>,
    /// At most one reload per this many seconds: a flood of bans costs one reload (default 2).
    pub reload_spacing_seconds: u64,
}

impl Default for NginxEnforce {
    fn default() -> Self {
        Self {
            geo_file: PathBuf::from("/etc/nginx/warden/banned.geo"),
            check: ["nginx", "-t", "-q"].map(String::from).to_vec(),
            reload: ["nginx", "-s", "reload"].map(String::from).to_vec(),
            reload_spacing_seconds: 2,
        }
    }
}

/// `[enforce.nftables]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NftEnforce {
    /// The table's name, in the `inet` family.
    pub table: String,
    /// The TCP ports on which banned sources are dropped (never SSH's).
    pub ports: Vec<u16>,
    /// The `nft` command (a prefix such as `["sudo", "-n", "nft"]` works too).
    pub command: Vec<String>,
}

impl Default for NftEnforce {
    fn default() -> Self {
        Self { table: "warden".into(), ports: vec![80, 443], command: vec!["nft".into()] }
    }
}

impl EnforceConfig {
    fn validate(&self) -> std::result::Result<(), String> {
        if let Some(n) = &self.nginx {
            let geo = n.geo_file.to_string_lossy();
            if !n.geo_file.is_absolute() || geo.contains(['\n', '\r', ';', '"', '\'']) {
                return Err(format!(
                    "enforce.nginx.geo_file must be an absolute path without quotes, ';' or line breaks, not '{}'",
                    crate::ip::display_raw(&geo)
                ));
            }
            if n.check.is_empty() || n.reload.is_empty() {
                return Err("enforce.nginx.check and enforce.nginx.reload must each name a command".into());
            }
            check_range("enforce.nginx.reload_spacing_seconds", n.reload_spacing_seconds as u32, 0, 3600)?;
        }
        if let Some(t) = &self.nftables {
            let ok = !t.table.is_empty()
                && t.table.len() <= 32
                && t.table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && t.table.starts_with(|c: char| c.is_ascii_alphabetic());
            if !ok {
                return Err(format!(
                    "enforce.nftables.table must be a name of letters, digits and '_' (at most 32), not '{}'",
                    crate::ip::display_raw(&t.table)
                ));
            }
            if t.ports.is_empty() || t.ports.contains(&0) {
                return Err("enforce.nftables.ports must list the ports to guard, such as [80, 443]".into());
            }
            if t.ports.contains(&22) {
                return Err("enforce.nftables.ports must not hold 22: Warden never blocks SSH, so that you can \
                            always reach your server"
                    .into());
            }
            if t.command.is_empty() {
                return Err("enforce.nftables.command must name the nft command".into());
            }
        }
        Ok(())
    }
}

/// Which desktop alerts the app sends (the CLI prints everything regardless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// An address came near a threshold (default on).
    pub near: bool,
    /// An address was banned (default on).
    pub banned: bool,
    /// A source started failing or recovered (default on).
    pub sources: bool,
    /// A check of the server checklist started failing (default on).
    pub checklist: bool,
    /// Failed sign-ins from one address became an attack, and it was banned (default on).
    pub attack: bool,
    /// Someone signed in to OpenAlgo from an address that user never used before (default on).
    pub signin_new_address: bool,
    /// Any other successful sign-in to OpenAlgo (default off).
    pub signin: bool,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            near: true,
            banned: true,
            sources: true,
            checklist: true,
            attack: true,
            signin_new_address: true,
            signin: false,
        }
    }
}

impl NotifyConfig {
    /// Every alert on: an alert channel takes them all and keeps the events it asked for.
    pub fn all() -> Self {
        Self { signin: true, ..Self::default() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            logs_db: None,
            openalgo_db: None,
            state_db: None,
            thresholds: ThresholdSource::Warden,
            rules: RulesConfig::default(),
            rate: RateConfig::default(),
            classify: Classify::default(),
            access_log: Vec::new(),
            history_hours: 24,
            allow: Vec::new(),
            near_fraction: 0.8,
            poll_seconds: 10,
            login: LoginConfig::default(),
            notify: NotifyConfig::default(),
            alert: Vec::new(),
            export: crate::export::ExportConfig::default(),
            crowdsec: None,
            enforce: EnforceConfig::default(),
        }
    }
}

impl Config {
    /// Loads and validates the configuration. With `path` given the file must exist; without it,
    /// the default file is read if present and the defaults are used otherwise.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => match default_config_path() {
                Some(p) => (p, false),
                None => return Ok(Self::default()),
            },
        };
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(Self::default()),
            Err(e) => {
                return Err(Error::Config {
                    path: path.display().to_string(),
                    message: format!("cannot read it ({e})"),
                })
            }
        };
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates configuration text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let mut cfg: Config = toml::from_str(text)
            .map_err(|e| Error::Config { path: origin.to_string(), message: e.message().to_string() })?;
        cfg.move_old_login_settings(text);
        cfg.validate().map_err(|message| Error::Config { path: origin.to_string(), message })?;
        Ok(cfg)
    }

    /// Files written before `[login]` existed kept the login rule under `[rules]`; a value the
    /// trader changed there moves to `[login]` (unless the file has a `[login]` of its own).
    fn move_old_login_settings(&mut self, text: &str) {
        let has_login = toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("login"));
        let old = RulesConfig::default();
        if has_login {
            return;
        }
        if self.rules.login_threshold != old.login_threshold {
            self.login.auth_attempts = self.rules.login_threshold;
        }
        if self.rules.login_ban_hours != old.login_ban_hours {
            self.login.deny_seconds = u64::from(self.rules.login_ban_hours) * 3600;
        }
    }

    /// Checks every value and says which one is wrong and what is allowed.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let r = &self.rules;
        check_range("rules.not_found_threshold", r.not_found_threshold, 1, 10_000)?;
        check_range("rules.api_threshold", r.api_threshold, 1, 10_000)?;
        check_hours("rules.not_found_ban_hours", r.not_found_ban_hours)?;
        check_hours("rules.api_ban_hours", r.api_ban_hours)?;
        check_range("rules.repeat_offender_limit", r.repeat_offender_limit, 1, 100)?;
        check_range("rules.login_threshold", r.login_threshold, 1, 10_000)?;
        check_hours("rules.login_ban_hours", r.login_ban_hours)?;
        check_range("login.auth_attempts", self.login.auth_attempts, 1, 10_000)?;
        if self.login.deny_seconds > 10 * 365 * 86_400 {
            return Err("login.deny_seconds is at most ten years (315360000); 0 means permanent".into());
        }
        self.export.validate()?;
        if let Some(c) = &self.crowdsec {
            c.validate()?;
        }
        let mut names = std::collections::HashSet::new();
        for a in &self.alert {
            a.validate()?;
            if !names.insert(a.name.as_str()) {
                return Err(format!("two [[alert]] entries are named '{}'; each needs its own name", a.name));
            }
        }
        if r.ipv6_prefix_after == 1 || r.ipv6_prefix_after > 1_000 {
            return Err(format!(
                "rules.ipv6_prefix_after must be 0 (off) or 2 to 1000 addresses, not {}",
                r.ipv6_prefix_after
            ));
        }
        check_range("rate.per_minute", self.rate.per_minute, 0, 1_000_000)?;
        check_range("rate.ban_hours", self.rate.ban_hours, 1, 87_600)?;
        for p in &self.rate.paths {
            // No '?': a prefix is checked against the request target (path and query).
            if !p.prefix.starts_with('/') || p.prefix.contains(['?', ' ']) {
                return Err(format!(
                    "rate.paths prefix must start with '/' and hold no '?' or space, not '{}'",
                    crate::ip::display_raw(&p.prefix)
                ));
            }
            check_range("rate.paths per_minute", p.per_minute, 1, 1_000_000)?;
        }
        if !(self.near_fraction > 0.0 && self.near_fraction <= 1.0) {
            return Err(format!(
                "near_fraction must be above 0 and at most 1 (0.8 warns at 16 of 20), not {}",
                self.near_fraction
            ));
        }
        check_range("history_hours", self.history_hours, 0, 24 * 30)?;
        if self.poll_seconds == 0 || self.poll_seconds > 3600 {
            return Err(format!("poll_seconds must be 1 to 3600, not {}", self.poll_seconds));
        }
        Protection::new(&self.allow).map_err(|e| e.to_string())?;
        self.enforce.validate()?;
        for log in &self.access_log {
            crate::source::access::pipeline::LineParser::new(&log.format)
                .map_err(|e| format!("access_log {}: {e}", log.path.display()))?;
        }
        Ok(())
    }

    /// The thresholds from the `[rules]` section.
    pub fn own_thresholds(&self) -> Thresholds {
        let r = &self.rules;
        Thresholds {
            not_found: RuleLimits {
                threshold: r.not_found_threshold,
                ban: BanLength::from_hours(r.not_found_ban_hours),
            },
            api: RuleLimits { threshold: r.api_threshold, ban: BanLength::from_hours(r.api_ban_hours) },
            login: RuleLimits {
                threshold: self.login.auth_attempts,
                ban: BanLength::from_seconds(self.login.deny_seconds),
            },
            login_action: self.login.action,
            rate: RateLimits {
                per_minute: self.rate.per_minute,
                paths: self.rate.paths.clone(),
                action: self.rate.action,
                ban: BanLength::Hours(self.rate.ban_hours),
            },
            repeat_offender_limit: r.repeat_offender_limit,
            openalgo_auto_ban: None,
        }
    }

    /// The protected addresses: the built-in ranges and this allow-list.
    pub fn protection(&self) -> Result<Protection> {
        Protection::new(&self.allow)
    }

    /// Writes the configuration atomically with mode 0600 (its directory 0700).
    pub fn save(&self, path: &Path) -> Result<()> {
        self.validate().map_err(|message| Error::Config { path: path.display().to_string(), message })?;
        let text = toml::to_string_pretty(self)
            .map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() })?;
        write_private(path, text.as_bytes())
    }
}

fn check_range(name: &str, v: u32, lo: u32, hi: u32) -> std::result::Result<(), String> {
    if v < lo || v > hi {
        return Err(format!("{name} must be {lo} to {hi}, not {v}"));
    }
    Ok(())
}

fn check_hours(name: &str, v: u32) -> std::result::Result<(), String> {
    if v > 87_600 {
        return Err(format!("{name} must be 0 (permanent) or 1 to 87600 hours, not {v}"));
    }
    Ok(())
}

/// The access logs to follow: the configuration's, plus any given on the command line (in the
/// `combined` format).
fn paths_and_formats(cfg: &Config, extra: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = cfg.access_log.iter().map(|l| (l.path.clone(), l.format.clone())).collect();
    for p in extra {
        if !out.iter().any(|(q, _)| q == p) {
            out.push((p.clone(), "combined".into()));
        }
    }
    out
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from).or_else(|| home().map(|h| h.join(fallback)))
}

/// `$XDG_CONFIG_HOME/warden/config.toml` (or `~/.config/warden/config.toml`).
pub fn default_config_path() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config").map(|d| d.join("warden").join("config.toml"))
}

/// `$XDG_DATA_HOME/warden/state.db` (or `~/.local/share/warden/state.db`).
pub fn default_state_db() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share").unwrap_or_else(|| PathBuf::from(".")).join("warden").join("state.db")
}

/// Where OpenAlgo's installers put `logs.db`, in the order Warden tries them.
pub const LOGS_DB_CANDIDATES: [&str; 3] = ["/var/python/openalgo/db/logs.db", "/app/db/logs.db", "db/logs.db"];

/// The three files Warden works with, resolved from flags, the file and the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// OpenAlgo's `logs.db` (may not exist yet: the monitor waits for it).
    pub logs_db: PathBuf,
    /// OpenAlgo's `openalgo.db`, if known.
    pub openalgo_db: Option<PathBuf>,
    /// Warden's state database.
    pub state_db: PathBuf,
    /// Access logs to follow, with their formats.
    pub access_logs: Vec<(PathBuf, String)>,
}

impl Paths {
    /// Everything Warden must never ban: the built-in ranges, the allow-list, and the addresses
    /// the trader is using now ([`crate::source::own`], found through `openalgo.db` and this
    /// machine).
    pub fn protection(&self, cfg: &Config, now: crate::time::Timestamp) -> Result<Protection> {
        let policies = if self.state_db.exists() {
            crate::store::state::StateDb::open(&self.state_db)?.policies(now)?
        } else {
            Vec::new()
        };
        Ok(cfg
            .protection()?
            .with_own(crate::source::own::gather(self.openalgo_db.as_deref(), now))
            .with_policy_allow(crate::policy::allow_nets(&policies, now)))
    }

    /// Resolves the paths: an explicit value wins, then the configuration file, then discovery.
    pub fn resolve(
        cfg: &Config,
        logs_db: Option<PathBuf>,
        openalgo_db: Option<PathBuf>,
        state_db: Option<PathBuf>,
        access_logs: &[PathBuf],
    ) -> Self {
        let logs_db = logs_db.or_else(|| cfg.logs_db.clone()).unwrap_or_else(|| {
            LOGS_DB_CANDIDATES
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                .unwrap_or_else(|| PathBuf::from(LOGS_DB_CANDIDATES[0]))
        });
        let openalgo_db = openalgo_db.or_else(|| cfg.openalgo_db.clone()).or_else(|| {
            let sibling = logs_db.with_file_name("openalgo.db");
            sibling.exists().then_some(sibling)
        });
        let state_db = state_db.or_else(|| cfg.state_db.clone()).unwrap_or_else(default_state_db);
        let access_logs = paths_and_formats(cfg, access_logs);
        Self { logs_db, openalgo_db, state_db, access_logs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_openalgo_docs() {
        let t = Config::default().own_thresholds();
        assert_eq!(t.not_found.threshold, 20);
        assert_eq!(t.not_found.ban, BanLength::Hours(24));
        assert_eq!(t.api.threshold, 10);
        assert_eq!(t.api.ban, BanLength::Hours(48));
        assert_eq!(t.repeat_offender_limit, 3);
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let e = Config::parse("[rules]\nnot_found_threshold = 0\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("rules.not_found_threshold"), "{e}");
        let e = Config::parse("near_fraction = 1.5\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("near_fraction"), "{e}");
        let e = Config::parse("allow = [\"10.0.0.0/33\"]\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/33"), "{e}");
        let e = Config::parse("trheshold = 3\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("trheshold"), "{e}");
    }
}
