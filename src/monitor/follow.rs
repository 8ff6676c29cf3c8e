//! Following OpenAlgo's own thresholds (`thresholds = "openalgo"`): the first `settings` row of
//! `openalgo.db`, re-read whenever SQLite says the file changed.

use std::path::PathBuf;

use crate::engine::Thresholds;
use crate::error::{Error, Result};
use crate::source::openalgo::Health;
use crate::store::openalgo_settings::OpenAlgoDb;

/// Reads OpenAlgo's settings row when it changes.
#[derive(Debug)]
pub(super) struct Follower {
    path: Option<PathBuf>,
    db: Option<OpenAlgoDb>,
    version: Option<i64>,
    health: Option<Health>,
}

/// What one look at `openalgo.db` found.
pub(super) struct Look {
    /// The new health, when it changed.
    pub health: Option<Health>,
    /// New thresholds: OpenAlgo's when read, `None` when unchanged.
    pub thresholds: Option<Thresholds>,
    /// Whether the file could not be read (the caller then falls back to its own thresholds).
    pub failed: bool,
}

impl Follower {
    pub(super) fn new(path: Option<PathBuf>) -> Self {
        Self { path, db: None, version: None, health: None }
    }

    /// The file followed, if known.
    pub(super) fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    fn read(&mut self, base: &Thresholds) -> Result<Option<Thresholds>> {
        let path = self.path.as_ref().ok_or_else(|| {
            Error::OpenAlgoSettings(
                "openalgo.db is not known: pass --openalgo-db PATH or set openalgo_db in the configuration".into(),
            )
        })?;
        if self.db.is_none() {
            self.db = Some(OpenAlgoDb::open(path)?);
            self.version = None;
        }
        let Some(db) = self.db.as_ref() else { return Ok(None) };
        let version = db.data_version()?;
        if self.version == Some(version) {
            return Ok(None);
        }
        let row = db.read()?;
        self.version = Some(version);
        Ok(Some(row.thresholds(base)))
    }

    /// Looks for new settings.
    pub(super) fn look(&mut self, base: &Thresholds) -> Look {
        let result = self.read(base);
        let health = match &result {
            Ok(_) => Health::Ok,
            Err(e) => {
                // Reopen next time: the file may appear, or OpenAlgo may finish a migration.
                self.db = None;
                Health::Failing(format!("{e}; using Warden's own thresholds meanwhile"))
            }
        };
        let changed = (self.health.as_ref() != Some(&health)).then(|| health.clone());
        self.health = Some(health);
        match result {
            Ok(thresholds) => Look { health: changed, thresholds, failed: false },
            Err(_) => Look { health: changed, thresholds: None, failed: true },
        }
    }
}
