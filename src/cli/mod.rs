//! The command-line interface. The desktop app and the tests rely on this contract:
//!
//! ```text
//! warden [--config FILE] [--logs-db PATH] [--openalgo-db PATH] [--state-db PATH] <command>
//! ```
//!
//! Every command exits non-zero on failure, with one line on stderr that says what to do.

mod access;
mod alerts;
mod output;

use access::{EnforceCommand, PolicyCommand, WhitelistCommand};

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, Parser, Subcommand};

use crate::actions;
use crate::config::{Config, Paths, ThresholdSource};
use crate::demo::{Simulator, Workspace};
use crate::engine::Thresholds;
use crate::error::{Error, Result};
use crate::event::Tracker;
use crate::monitor::{Monitor, Notice};
use crate::report;
use crate::source::access::input::Input;
use crate::store::openalgo_settings::OpenAlgoDb;
use crate::store::state::{Actor, StateDb};
use crate::store::LogsDb;

/// The options every command takes (the desktop app accepts them too).
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: $XDG_CONFIG_HOME/warden/config.toml, if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// OpenAlgo's logs.db (default: from the configuration, else the usual install locations).
    #[arg(long, global = true, value_name = "PATH")]
    pub logs_db: Option<PathBuf>,
    /// OpenAlgo's openalgo.db, for thresholds = "openalgo" (default: beside logs.db).
    #[arg(long, global = true, value_name = "PATH")]
    pub openalgo_db: Option<PathBuf>,
    /// Warden's own state database (default: $XDG_DATA_HOME/warden/state.db).
    #[arg(long, global = true, value_name = "PATH")]
    pub state_db: Option<PathBuf>,
    /// An access log to follow in nginx's combined format (repeatable; more, with other formats,
    /// in the configuration's `[[access_log]]` tables).
    #[arg(long = "access-log", global = true, value_name = "PATH")]
    pub access_log: Vec<PathBuf>,
}

impl GlobalArgs {
    /// Loads the configuration and resolves the paths.
    pub fn load(&self) -> Result<(Config, Paths)> {
        let cfg = Config::load(self.config.as_deref())?;
        let paths = Paths::resolve(
            &cfg,
            self.logs_db.clone(),
            self.openalgo_db.clone(),
            self.state_db.clone(),
            &self.access_log,
        );
        Ok((cfg, paths))
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "warden",
    version,
    about = "Watches a self-hosted OpenAlgo and bans abusive clients in OpenAlgo's own logs.db"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ban counts and addresses to watch.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A security checklist of this server: OpenAlgo's settings, file modes, nginx and open ports,
    /// each with its fix. Exit code 0 when nothing fails, 3 when something does.
    Check {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// OpenAlgo's folder, holding .env and db/ (default: the parent of logs.db's db/ folder).
        #[arg(long, value_name = "DIR")]
        openalgo_dir: Option<PathBuf>,
        /// nginx configuration files to read instead of running `nginx -T` (repeatable).
        #[arg(long = "nginx-config", value_name = "FILE")]
        nginx_config: Vec<PathBuf>,
    },
    /// Bans in force.
    Bans {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Addresses being counted (404s and invalid API keys) in the current 24 h window.
    Trackers {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ban an address by hand, or a whole range (a CIDR such as 203.0.113.0/24, kept as a deny policy).
    Ban {
        /// The address (IPv4 or IPv6), or a CIDR range.
        ip: String,
        /// 24h, 48h, 1w, permanent, or a number of hours such as 72h.
        #[arg(long = "for", default_value = "24h", value_name = "DURATION")]
        duration: String,
        /// Why (kept in logs.db and in Warden's audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift every ban of an address.
    Unban {
        /// The address.
        ip: String,
    },
    /// Give an address a fresh start in OpenAlgo's 404 tracker.
    #[command(name = "clear-404")]
    Clear404 {
        /// The address.
        ip: String,
    },
    /// Give an address a fresh start in OpenAlgo's invalid-API-key tracker.
    #[command(name = "clear-api")]
    ClearApi {
        /// The address.
        ip: String,
    },
    /// Access policies: allow or deny an address or a range, for a time or until removed.
    Policy {
        #[command(subcommand)]
        action: PolicyCommand,
    },
    /// Bans beyond OpenAlgo: nginx and nftables (configured under [enforce]).
    Enforce {
        #[command(subcommand)]
        action: EnforceCommand,
    },
    /// Allow-list-only mode: admit nothing but loopback and the allow entries.
    Whitelist {
        #[command(subcommand)]
        action: WhitelistCommand,
    },
    /// Alert channels beyond the desktop (Telegram, Discord, ntfy, webhooks): test them, list them.
    Alert {
        #[command(subcommand)]
        action: alerts::AlertCommand,
    },
    /// CrowdSec's Local API, shared by several servers: try the connection.
    Crowdsec {
        #[command(subcommand)]
        action: alerts::CrowdsecCommand,
    },
    /// Successful sign-ins to OpenAlgo (newest first, new addresses marked) and the open sessions.
    Signins {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// How many sign-ins.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Failed sign-ins per address (OpenAlgo's records and 401s on /auth/login), attacks marked.
    Incidents {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// How far back, in hours.
        #[arg(long, default_value_t = 24)]
        hours: u32,
    },
    /// The audit log of manual actions, newest first.
    Audit {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// How many entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show the configuration in force, or write a starting configuration file.
    Config {
        /// Write the defaults to FILE (or the default location) with mode 0600; never overwrites.
        #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
        init: Option<PathBuf>,
    },
    /// Run old access logs through the rules in event time and report what Warden would have done.
    Replay {
        /// Log files (plain or gzip) or - for standard input, in any order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also write the bans into logs.db, each starting now.
        #[arg(long)]
        apply: bool,
        /// combined, common, apache-combined, caddy, or an nginx log_format string (default: the
        /// first access_log's format in the configuration, else combined).
        #[arg(long)]
        format: Option<String>,
    },
    /// The live monitor: prints each ban and notice as it happens. Stop it with Ctrl-C.
    Watch {
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
        /// Stop after this many seconds (default: run until stopped).
        #[arg(long, value_name = "N")]
        seconds: Option<u64>,
    },
    /// A throw-away OpenAlgo workspace with simulated attackers, and the monitor running on it.
    Demo {
        /// Where to create the workspace (default: a new temporary directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Stop after this many seconds (default: run until stopped).
        #[arg(long, value_name = "N")]
        seconds: Option<u64>,
        /// Run the simulation this many times faster than real time.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// A clap usage error as one line: its message up to the usage block, joined, without "error: ".
pub fn usage_error(e: &clap::Error) -> String {
    let text = e.to_string();
    let message: Vec<&str> =
        text.lines().map(str::trim).take_while(|l| !l.is_empty() && !l.starts_with("Usage:")).collect();
    message.join(" ").trim_start_matches("error: ").to_string()
}

/// Parses the command line, runs the command and turns an error into one line and exit code 1.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print them as clap formats them.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("warden: {}; see `warden --help`", usage_error(&e));
            return ExitCode::FAILURE;
        }
    };
    if let Command::Check { json, openalgo_dir, nginx_config } = &cli.command {
        return match check(&cli.global, *json, openalgo_dir.clone(), nginx_config.clone()) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("warden: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let now = crate::time::now();
    match cli.command {
        Command::Demo { dir, seconds, speed, json } => return demo(&cli.global, dir, seconds, speed, json),
        Command::Watch { json, seconds } => {
            let (cfg, paths) = cli.global.load()?;
            return watch(&cfg, &paths, seconds, json);
        }
        _ => {}
    }
    let (cfg, paths) = cli.global.load()?;
    match cli.command {
        Command::Status { json } => {
            let logs = LogsDb::open(&paths.logs_db)?;
            let s =
                report::status(&logs, &proxy_counters(&paths)?, &thresholds(&cfg, &paths)?, cfg.near_fraction, now)?;
            output::print(json, &s, output::status_text)?;
            if !json {
                output::line(&checklist(&paths, None, Vec::new()).one_line())?;
            }
            Ok(())
        }
        Command::Bans { json } => {
            let logs = LogsDb::open(&paths.logs_db)?;
            output::print(json, &report::bans(&logs, now)?, output::bans_text)
        }
        Command::Trackers { json } => {
            let logs = LogsDb::open(&paths.logs_db)?;
            let proxy = proxy_counters(&paths)?;
            output::print(
                json,
                &report::trackers(&logs, &proxy, &thresholds(&cfg, &paths)?, now)?,
                output::trackers_text,
            )
        }
        Command::Ban { ip, duration, reason } if ip.contains('/') => {
            let length = duration.parse::<actions::Duration>()?.0;
            let state = StateDb::open(&paths.state_db)?;
            let p = crate::access::ban_range(
                &state,
                &paths.protection(&cfg, now)?,
                &ip,
                length,
                reason.as_deref(),
                Actor::Cli,
                now,
            )?;
            output::line(&format!(
                "banned {} as a deny policy: {}",
                crate::policy::text(&p.value),
                output::policy_ends(&p)
            ))
        }
        Command::Policy { action } => access::policy(&cfg, &paths, action, now),
        Command::Alert { action } => alerts::alert(&cfg, &paths, action, now),
        Command::Crowdsec { action } => alerts::crowdsec(&cfg, action, now),
        Command::Signins { json, limit } => alerts::signins(&paths, json, limit),
        Command::Incidents { json, hours } => alerts::incidents(&cfg, &paths, json, hours, now),
        Command::Enforce { action } => access::enforce(&cfg, &paths, action, now),
        Command::Whitelist { action } => access::whitelist(&cfg, &paths, action, now),
        Command::Ban { ip, duration, reason } => {
            let length = duration.parse::<actions::Duration>()?.0;
            let mut logs = LogsDb::open(&paths.logs_db)?;
            let state = StateDb::open(&paths.state_db)?;
            let done = actions::ban(
                &mut logs,
                &state,
                &paths.protection(&cfg, now)?,
                &ip,
                length,
                reason.as_deref(),
                Actor::Cli,
                now,
            )?;
            output::line(&output::ban_text(&done))
        }
        Command::Unban { ip } => {
            let mut logs = LogsDb::open(&paths.logs_db)?;
            let state = StateDb::open(&paths.state_db)?;
            let n = actions::unban(&mut logs, &state, &ip, Actor::Cli, now)?;
            output::line(&format!(
                "unbanned {} ({n} row(s)); OpenAlgo lets it in again within 60 s",
                crate::ip::display_raw(ip.trim())
            ))
        }
        Command::Clear404 { ip } => clear(&paths, Tracker::NotFound, &ip, now),
        Command::ClearApi { ip } => clear(&paths, Tracker::InvalidApiKey, &ip, now),
        Command::Audit { json, limit } => {
            let state = StateDb::open(&paths.state_db)?;
            output::print(json, &state.audit_log(limit)?, output::audit_text)
        }
        Command::Config { init } => config(&cfg, &paths, init),
        Command::Replay { files, json, apply, format } => replay(&cfg, &paths, &files, json, apply, format, now),
        Command::Watch { .. } | Command::Demo { .. } | Command::Check { .. } => Ok(()),
    }
}

/// The checklist of this server, with OpenAlgo found from `paths` unless given.
fn checklist(paths: &Paths, openalgo_dir: Option<PathBuf>, nginx_config: Vec<PathBuf>) -> crate::check::Report {
    crate::check::judge::judge(&crate::check::gather(&check_where(paths, openalgo_dir, nginx_config)))
}

/// Where the checklist looks, with OpenAlgo found from `paths` unless given.
pub fn check_where(
    paths: &Paths,
    openalgo_dir: Option<PathBuf>,
    nginx_config: Vec<PathBuf>,
) -> crate::check::facts::Where {
    crate::check::facts::Where {
        openalgo_dir,
        logs_db: Some(paths.logs_db.clone()),
        openalgo_db: paths.openalgo_db.clone(),
        nginx_config,
        ..Default::default()
    }
}

/// `warden check`: prints the checklist; 0 when nothing fails, 3 when something does.
fn check(global: &GlobalArgs, json: bool, openalgo_dir: Option<PathBuf>, nginx_config: Vec<PathBuf>) -> Result<u8> {
    let (_, paths) = global.load()?;
    if let Some(d) = openalgo_dir.as_ref().filter(|d| !d.is_dir()) {
        return Err(Error::Config {
            path: "--openalgo-dir".into(),
            message: format!("{} is not a folder", d.display()),
        });
    }
    let report = checklist(&paths, openalgo_dir, nginx_config);
    output::print(json, &report, output::check_text)?;
    Ok(report.exit_code())
}

fn clear(paths: &Paths, tracker: Tracker, ip: &str, now: chrono::DateTime<Utc>) -> Result<()> {
    let mut logs = LogsDb::open(&paths.logs_db)?;
    let state = StateDb::open(&paths.state_db)?;
    let n = actions::clear(&mut logs, &state, tracker, ip, Actor::Cli, now)?;
    output::line(&format!(
        "cleared the {} tracker of {} ({n} row(s))",
        tracker.rule().as_str(),
        crate::ip::display_raw(ip.trim())
    ))
}

fn replay(
    cfg: &Config,
    paths: &Paths,
    files: &[String],
    json: bool,
    apply: bool,
    format: Option<String>,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    let format =
        format.or_else(|| cfg.access_log.first().map(|l| l.format.clone())).unwrap_or_else(|| "combined".into());
    let inputs: Vec<Input> = files.iter().map(|f| Input::parse(f)).collect();
    // Offences remembered by a real Warden make the replay's repeat-offender decisions right.
    let offences = match paths.state_db.exists() {
        true => StateDb::open(&paths.state_db)?.offence_counts()?,
        false => Default::default(),
    };
    let report = crate::replay::replay(&inputs, &format, cfg, paths.protection(cfg, now)?, offences)?;
    output::print(json, &report, output::replay_text)?;
    if apply {
        let mut logs = LogsDb::open(&paths.logs_db)?;
        let state = StateDb::open(&paths.state_db)?;
        let (written, kept) = crate::replay::apply(&report, &mut logs, &state, now)?;
        eprintln!(
            "warden: wrote {written} ban(s) into {}; {kept} already had a ban at least as long",
            paths.logs_db.display()
        );
    }
    Ok(())
}

fn config(cfg: &Config, paths: &Paths, init: Option<PathBuf>) -> Result<()> {
    let Some(target) = init else {
        let mut shown = cfg.clone();
        shown.logs_db = Some(paths.logs_db.clone());
        shown.openalgo_db = paths.openalgo_db.clone();
        shown.state_db = Some(paths.state_db.clone());
        // Secrets are shown masked, never in full.
        for a in &mut shown.alert {
            a.token = a.token.as_deref().map(crate::alert::mask);
        }
        let text = toml::to_string_pretty(&shown)
            .map_err(|e| Error::Config { path: "<in force>".into(), message: e.to_string() })?;
        return output::line(&text);
    };
    let target = if target.as_os_str().is_empty() {
        crate::config::default_config_path().ok_or_else(|| Error::Config {
            path: "--init".into(),
            message: "HOME is not set: give a file, e.g. --init ./warden.toml".into(),
        })?
    } else {
        target
    };
    if target.exists() {
        return Err(Error::Config {
            path: target.display().to_string(),
            message: "already exists; Warden never overwrites a configuration, edit it instead".into(),
        });
    }
    Config::default().save(&target)?;
    output::line(&format!("wrote {} (mode 0600); edit it, then run `warden watch`", target.display()))
}

/// Warden's own counters from the access logs, as the monitor last saved them (none before the
/// first `watch`).
fn proxy_counters(paths: &Paths) -> Result<Vec<(std::net::IpAddr, crate::event::Rule, crate::engine::WindowRecord)>> {
    if !paths.state_db.exists() {
        return Ok(Vec::new());
    }
    StateDb::open(&paths.state_db)?.windows()
}

/// The thresholds in force: Warden's own, or OpenAlgo's settings row when following it.
pub fn thresholds(cfg: &Config, paths: &Paths) -> Result<Thresholds> {
    match cfg.thresholds {
        ThresholdSource::Warden => Ok(cfg.own_thresholds()),
        ThresholdSource::Openalgo => {
            let path = paths
                .openalgo_db
                .as_ref()
                .ok_or_else(|| Error::OpenAlgoSettings("openalgo.db is not known: pass --openalgo-db PATH".into()))?;
            Ok(OpenAlgoDb::open(path)?.read()?.thresholds(&cfg.own_thresholds()))
        }
    }
}

fn printer(json: bool) -> impl FnMut(Notice) + Send + 'static {
    move |n: Notice| {
        let line = if json {
            crate::export::json_line(&n, crate::time::now())
        } else {
            format!("{} {n}", Utc::now().format("%H:%M:%S"))
        };
        let mut out = std::io::stdout().lock();
        // A closed pipe (`warden watch | head`) is not worth a panic.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn watch(cfg: &Config, paths: &Paths, seconds: Option<u64>, json: bool) -> Result<()> {
    let mut monitor = Monitor::open(cfg, paths)?;
    let checker = crate::check::recheck::Rechecker::new(check_where(paths, None, Vec::new()), crate::time::now());
    if !json {
        eprintln!("warden: watching {} (state in {}); Ctrl-C stops", paths.logs_db.display(), paths.state_db.display());
        eprintln!("warden: {}", checker.last().one_line());
    }
    // The checklist runs again by itself when `.env`, a file's mode or nginx's configuration changes.
    monitor.watch_checklist(checker);
    let handle = monitor.spawn(printer(json))?;
    handle.run_for(seconds.map(std::time::Duration::from_secs))
}

fn demo(global: &GlobalArgs, dir: Option<PathBuf>, seconds: Option<u64>, speed: f64, json: bool) -> Result<()> {
    if !(speed > 0.0 && speed <= 1000.0) {
        return Err(Error::Config {
            path: "--speed".into(),
            message: format!("must be above 0 and at most 1000, not {speed}"),
        });
    }
    let ws = Workspace::create(dir.as_deref())?;
    let mut paths = ws.paths();
    if let Some(state) = &global.state_db {
        paths.state_db = state.clone();
    }
    let cfg = match &global.config {
        Some(path) => Config::load(Some(path))?,
        None => ws.config(),
    };
    if !json {
        eprintln!("warden demo: a simulated OpenAlgo (auto-ban off) is writing to {}", ws.logs_db.display());
        eprintln!(
            "warden demo: scanners and key-sprayers start now; expect warnings within ~25 s and bans within ~35 s"
        );
        eprintln!(
            "warden demo: try `warden --logs-db {} bans` in another terminal; Ctrl-C stops",
            ws.logs_db.display()
        );
    }
    let monitor = Monitor::open(&cfg, &paths)?;
    let handle = monitor.spawn(printer(json))?;
    let sim = Simulator::start(&ws, speed, |e| eprintln!("warden demo: simulator: {e}"))?;
    let result = handle.run_for(seconds.map(std::time::Duration::from_secs));
    drop(sim);
    result
}
