//! Configuration: a TOML file, overridden by environment variables
//! (`CREDITDESK_*`), overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything `serve` needs. Field names are the TOML keys.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub db: String,
    pub addr: SocketAddr,
    /// Events older than this many days are rejected (`event_too_old`).
    pub late_window_days: i64,
    /// Lifetime of `dispute_refund` grants.
    pub refund_expiry_days: i64,
    /// How often the expiry/rollover sweeper runs.
    pub sweep_interval_secs: u64,
    /// SQLite `synchronous=FULL` (power-loss durable) instead of `NORMAL`.
    pub sync_full: bool,
    /// SQLite: the WAL's working size in MiB (`StoreOptions::wal_restart_mib`).
    /// Each restart pauses ingest for a checkpoint; at 100,000 events/s the
    /// WAL fills 64 MiB about three times a second (BENCHMARKS.md).
    pub wal_restart_mib: u64,
    /// `tracing` filter, e.g. `info` or `creditdesk_server=debug`.
    pub log: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db: "sqlite://./creditdesk.db".into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            late_window_days: 7,
            refund_expiry_days: 30,
            sweep_interval_secs: 60,
            sync_full: false,
            wal_restart_mib: 256,
            log: "info".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("{name}={value}: {rule}")]
    Env { name: String, value: String, rule: String },
    #[error("{field}: {rule}")]
    Invalid { field: &'static str, rule: String },
}

/// Where the database is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Config {
    /// Reads `file` (if given), then applies `CREDITDESK_*` variables from `env`.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.into(), source })?
            }
            None => Config::default(),
        };
        fn parse<T: std::str::FromStr>(name: &str, value: String) -> Result<T, ConfigError> {
            value.parse().map_err(|_| ConfigError::Env { name: name.into(), value, rule: "is not valid here".into() })
        }
        if let Some(v) = env("CREDITDESK_DB") {
            config.db = v;
        }
        if let Some(v) = env("CREDITDESK_ADDR") {
            config.addr = parse("CREDITDESK_ADDR", v)?;
        }
        if let Some(v) = env("CREDITDESK_LATE_WINDOW_DAYS") {
            config.late_window_days = parse("CREDITDESK_LATE_WINDOW_DAYS", v)?;
        }
        if let Some(v) = env("CREDITDESK_REFUND_EXPIRY_DAYS") {
            config.refund_expiry_days = parse("CREDITDESK_REFUND_EXPIRY_DAYS", v)?;
        }
        if let Some(v) = env("CREDITDESK_SWEEP_INTERVAL_SECS") {
            config.sweep_interval_secs = parse("CREDITDESK_SWEEP_INTERVAL_SECS", v)?;
        }
        if let Some(v) = env("CREDITDESK_SYNC_FULL") {
            config.sync_full = parse("CREDITDESK_SYNC_FULL", v)?;
        }
        if let Some(v) = env("CREDITDESK_WAL_RESTART_MIB") {
            config.wal_restart_mib = parse("CREDITDESK_WAL_RESTART_MIB", v)?;
        }
        if let Some(v) = env("CREDITDESK_LOG") {
            config.log = v;
        }
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=365).contains(&self.late_window_days) {
            return Err(ConfigError::Invalid { field: "late_window_days", rule: "must be 1 to 365".into() });
        }
        if !(1..=3650).contains(&self.refund_expiry_days) {
            return Err(ConfigError::Invalid { field: "refund_expiry_days", rule: "must be 1 to 3650".into() });
        }
        if !(16..=4096).contains(&self.wal_restart_mib) {
            return Err(ConfigError::Invalid { field: "wal_restart_mib", rule: "must be 16 to 4096".into() });
        }
        if self.sweep_interval_secs == 0 {
            return Err(ConfigError::Invalid { field: "sweep_interval_secs", rule: "must be at least 1".into() });
        }
        self.db_url()?;
        Ok(())
    }

    pub fn db_url(&self) -> Result<DbUrl, ConfigError> {
        if let Some(path) = self.db.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ConfigError::Invalid { field: "db", rule: "sqlite:// needs a file path".into() });
            }
            Ok(DbUrl::Sqlite(PathBuf::from(path)))
        } else if self.db.starts_with("postgres://") || self.db.starts_with("postgresql://") {
            Ok(DbUrl::Postgres(self.db.clone()))
        } else {
            Err(ConfigError::Invalid { field: "db", rule: "must start with sqlite:// or postgres://".into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_bad_values_name_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "db = \"sqlite://a.db\"\nlate_window_days = 3\n").unwrap();
        let env = |k: &str| (k == "CREDITDESK_LATE_WINDOW_DAYS").then(|| "5".to_string());
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!((c.db.as_str(), c.late_window_days), ("sqlite://a.db", 5));
        let bad = |k: &str| (k == "CREDITDESK_ADDR").then(|| "nowhere".to_string());
        assert_eq!(Config::load(None, bad).unwrap_err().to_string(), "CREDITDESK_ADDR=nowhere: is not valid here");
        std::fs::write(&file, "dbb = \"x\"\n").unwrap();
        assert!(Config::load(Some(&file), |_| None).unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn database_urls() {
        let c = |db: &str| Config { db: db.into(), ..Config::default() };
        assert_eq!(c("sqlite://x.db").db_url().unwrap(), DbUrl::Sqlite("x.db".into()));
        assert!(matches!(c("postgres://u@h/d").db_url().unwrap(), DbUrl::Postgres(_)));
        assert!(c("mysql://x").validate().is_err());
    }

    #[test]
    fn the_wal_restart_size_is_bounded() {
        let c = |mib: u64| Config { wal_restart_mib: mib, ..Config::default() }.validate();
        assert!(c(16).is_ok() && c(4096).is_ok());
        assert_eq!(c(8).unwrap_err().to_string(), "wal_restart_mib: must be 16 to 4096");
        assert_eq!(c(8192).unwrap_err().to_string(), "wal_restart_mib: must be 16 to 4096");
        let env = |k: &str| (k == "CREDITDESK_WAL_RESTART_MIB").then(|| "512".to_string());
        assert_eq!(Config::load(None, env).unwrap().wal_restart_mib, 512);
    }
}
