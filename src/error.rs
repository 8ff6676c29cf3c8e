//! The one error type of the engine and its stores.
//!
//! Every message is one line that says what went wrong *and what to do about it*, because the CLI
//! prints it as is and the desktop app shows it to a trader, not to a database administrator.

use std::path::PathBuf;

/// A `Result` whose error is Warden's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Warden's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configured `logs.db` does not exist.
    #[error("OpenAlgo's logs.db was not found at {path}: pass --logs-db PATH (OpenAlgo keeps it at <openalgo>/db/logs.db), or try `warden demo`")]
    LogsDbMissing {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The file exists but holds none of OpenAlgo's security tables.
    #[error("{path} has no OpenAlgo tables (missing: {missing}): is this OpenAlgo's logs.db? Start OpenAlgo once so that it creates them")]
    LogsDbNoSchema {
        /// The database file.
        path: PathBuf,
        /// The tables that are missing, comma-separated.
        missing: String,
    },
    /// Another program held a lock on the database for longer than the busy timeout.
    #[error("{path} stayed locked by another program for more than 15 s: close any database browser holding it and try again")]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The file (or its directory) cannot be opened or written by this user.
    #[error("Warden cannot open or write {path} ({detail}): run Warden as the user that owns OpenAlgo's files (often www-data), or fix their permissions")]
    NoAccess {
        /// The database file.
        path: PathBuf,
        /// SQLite's own words.
        detail: String,
    },
    /// The file is not a database, or SQLite reports it corrupt.
    #[error("{path} is not a readable SQLite database ({detail}): check that the path points at OpenAlgo's logs.db")]
    NotADatabase {
        /// The database file.
        path: PathBuf,
        /// SQLite's own words.
        detail: String,
    },
    /// Any other SQLite failure, with what Warden was doing at the time.
    #[error("database error while {context}: {source}")]
    Sqlite {
        /// What Warden was doing.
        context: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file-system failure.
    #[error("{context}: {source}")]
    Io {
        /// What Warden was doing, naming the path.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A string that should be an IP address is not one.
    #[error("'{raw}' is not an IP address: give an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1")]
    InvalidIp {
        /// The offending input, truncated for display.
        raw: String,
    },
    /// A ban was refused because the address must never be banned.
    #[error("refusing to ban {ip}: it is {why}, and banning it could lock you out of your own server")]
    Protected {
        /// The canonical address.
        ip: String,
        /// Why it is protected, in plain words.
        why: String,
    },
    /// An unban was asked for an address that has no ban row.
    #[error("{ip} is not banned: `warden bans` lists the current bans")]
    NotBanned {
        /// The canonical address.
        ip: String,
    },
    /// A manual ban would shorten a ban already in force.
    #[error("{ip} already has a ban at least that long in force: unban it first to change the ban")]
    AlreadyBanned {
        /// The canonical address.
        ip: String,
    },
    /// A clear was asked for a tracker that has no row for this address.
    #[error("{ip} has no {kind} tracker entry to clear: `warden trackers` lists them")]
    NoTracker {
        /// The canonical address.
        ip: String,
        /// `404` or `invalid API key`.
        kind: String,
    },
    /// A ban duration could not be understood.
    #[error("'{0}' is not a ban duration: use 24h, 48h, 1w, permanent or a number of hours such as 72h")]
    InvalidDuration(String),
    /// The configuration file is invalid.
    #[error("configuration {path}: {message}")]
    Config {
        /// The file, or `<defaults>`/`<command line>`.
        path: String,
        /// Which setting is wrong and why.
        message: String,
    },
    /// The monitor's thread ended on its own, which only a bug can cause.
    #[error("the monitor stopped unexpectedly ({0}): this is a bug in Warden; please report it with the output above")]
    MonitorStopped(String),
    /// OpenAlgo's `openalgo.db` could not be used to follow its thresholds.
    #[error("cannot follow OpenAlgo's thresholds: {0}")]
    OpenAlgoSettings(String),
    /// An access policy, its value or its time to live could not be accepted; the message says why.
    #[error("{0}")]
    InvalidPolicy(String),
    /// An action was refused to keep the trader from locking themselves out; the message says why.
    #[error("{0}")]
    Refused(String),
    /// OpenAlgo's sign-in tables could not be read; the message says why and what to do.
    #[error("cannot read OpenAlgo's sign-ins: {0}")]
    SignIns(String),
    /// An alert channel could not deliver, or is not configured; the message says why.
    #[error("{0}")]
    Alert(String),
    /// An enforcement sink (nginx, nftables) could not be set up or applied.
    #[error("{sink}: {message}")]
    Enforce {
        /// The sink: `nginx` or `nftables`.
        sink: String,
        /// What failed, in plain words.
        message: String,
    },
}

impl Error {
    /// Wraps a rusqlite error, turning the cases a user can act on into their own variants.
    pub fn sqlite(path: &std::path::Path, context: impl Into<String>, source: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        if let rusqlite::Error::SqliteFailure(e, msg) = &source {
            match e.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                    return Error::Locked { path: path.to_path_buf() }
                }
                ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen => {
                    return Error::NoAccess {
                        path: path.to_path_buf(),
                        detail: msg.clone().unwrap_or_else(|| e.to_string()),
                    }
                }
                ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                    return Error::NotADatabase {
                        path: path.to_path_buf(),
                        detail: msg.clone().unwrap_or_else(|| e.to_string()),
                    }
                }
                _ => {}
            }
        }
        Error::Sqlite { context: context.into(), source }
    }

    /// Wraps an I/O error with what Warden was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}
