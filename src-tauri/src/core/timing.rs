//! Timing marks for the app benchmark (`scripts/bench-app`). Off unless
//! `CREDITDESK_TIMING_LOG` names a file: then the UI reports when views are
//! on screen, and each mark is appended as one line,
//! `<name> <unix time in µs> <detail>`, which the benchmark reads back.
//! `CREDITDESK_BENCH_OPEN` (a customer id) and `CREDITDESK_BENCH_SWITCH`
//! (comma-separated ids) tell the UI what to open and switch through.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CoreError;

/// What the UI should do for the benchmark; `enabled: false` in normal use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimingConfig {
    pub enabled: bool,
    /// Open this customer as soon as signed in.
    pub open_customer: Option<String>,
    /// Then switch to each of these in turn, marking each switch.
    pub switch_through: Vec<String>,
}

/// The mark sink: a file, or nothing.
#[derive(Debug, Default)]
pub struct Timing {
    log: Option<PathBuf>,
    config: TimingConfig,
}

impl Timing {
    /// Reads the `CREDITDESK_TIMING_LOG`/`CREDITDESK_BENCH_*` settings through `var`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Timing {
        let Some(log) = var("CREDITDESK_TIMING_LOG").filter(|p| !p.is_empty()) else {
            return Timing::default();
        };
        let ids = |v: Option<String>| -> Vec<String> {
            v.unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
        };
        let config = TimingConfig {
            enabled: true,
            open_customer: ids(var("CREDITDESK_BENCH_OPEN")).into_iter().next(),
            switch_through: ids(var("CREDITDESK_BENCH_SWITCH")),
        };
        Timing { log: Some(PathBuf::from(log)), config }
    }

    pub fn config(&self) -> &TimingConfig {
        &self.config
    }

    /// Appends `name` with the current time; a no-op when timing is off.
    pub fn mark(&self, name: &str, detail: &str) -> Result<(), CoreError> {
        let Some(path) = &self.log else { return Ok(()) };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(CoreError::input("name", "a mark name is one non-empty word"));
        }
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or_default();
        let detail = detail.replace(['\n', '\r'], " ");
        append_line(path, &format!("{name} {micros} {detail}\n"))
    }

    /// [`Timing::mark`] for the Rust side's own marks, where a failed write
    /// is reported on stderr and the app carries on.
    pub fn mark_quietly(&self, name: &str) {
        if let Err(e) = self.mark(name, "") {
            eprintln!("timing mark {name}: {e}");
        }
    }
}

fn append_line(path: &Path, line: &str) -> Result<(), CoreError> {
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| CoreError::io(path, e))?;
    file.write_all(line.as_bytes()).map_err(|e| CoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_without_a_log_file() {
        let timing = Timing::from_env(|_| None);
        assert!(!timing.config().enabled);
        timing.mark("customer_rendered", "cus_0001").unwrap();
    }

    #[test]
    fn marks_are_appended_one_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("marks.log");
        let env = |k: &str| match k {
            "CREDITDESK_TIMING_LOG" => Some(log.display().to_string()),
            "CREDITDESK_BENCH_OPEN" => Some("cus_0002".into()),
            "CREDITDESK_BENCH_SWITCH" => Some("cus_0003, cus_0004,".into()),
            _ => None,
        };
        let timing = Timing::from_env(env);
        assert_eq!(
            timing.config(),
            &TimingConfig {
                enabled: true,
                open_customer: Some("cus_0002".into()),
                switch_through: vec!["cus_0003".into(), "cus_0004".into()],
            }
        );
        timing.mark("customer_rendered", "cus_0002").unwrap();
        timing.mark("switch", "cus_0003 41.5\nx").unwrap();
        assert!(matches!(timing.mark("two words", ""), Err(CoreError::Input { .. })));
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0][0], lines[0][2]), ("customer_rendered", "cus_0002"));
        assert_eq!(lines[1], vec!["switch", lines[1][1], "cus_0003", "41.5", "x"]);
        assert!(lines[0][1].parse::<u128>().unwrap() <= lines[1][1].parse::<u128>().unwrap());
    }
}
