//! The desktop app benchmark (`scripts/bench-app`): the release app binary
//! under Xvfb against a warm, seeded `creditdesk-server`, beside an empty
//! Tauri window (`empty-window`, the floor any Tauri app pays).
//!
//! Each run starts the app with `CREDITDESK_TIMING_LOG` set: the UI opens a
//! customer, switches through others, toggles the burn chart between 30
//! and 365 days, and appends a timing mark whenever the result is painted
//! (`ui/src/bench.ts`). Cold start is the first mark's time minus the
//! moment the process was spawned; switch and chart times are measured in
//! the page (from the click to the painted result). Memory is the resident
//! set of every process in the app's process group (the app and its
//! WebKit web and network processes), summed, and their proportional set
//! (shared pages counted once), taken when the run is done.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Parser;
use creditdesk_e2e::{binary, display, write_connection, Proc, Server};

#[derive(Parser)]
#[command(about = "Cold start, customer switch, chart and memory of the desktop app, beside an empty Tauri window")]
struct Args {
    /// Measured starts of each binary (after one unmeasured warm-up start).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Demo customers seeded into the server.
    #[arg(long, default_value_t = 40)]
    customers: u32,
    /// Days of demo usage (the chart needs 365 for 365 daily points).
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Customers switched through in each run.
    #[arg(long, default_value_t = 10)]
    switches: u32,
    /// Append the app's log to this file, with its debug spans (each view
    /// command's and chart draw's duration) switched on.
    #[arg(long)]
    app_log: Option<std::path::PathBuf>,
}

/// One run's marks: name -> (unix µs, detail).
type Marks = Vec<(String, u128, String)>;

fn unix_micros() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or_default()
}

/// One start of a binary: its marks, with times in ms since the process was spawned.
struct Run {
    spawned: u128,
    marks: Marks,
    memory: Memory,
}

impl Run {
    /// Milliseconds from the spawn to the first mark named `name`.
    fn since_spawn(&self, name: &str) -> Result<f64> {
        let at = self.marks.iter().find(|m| m.0 == name).with_context(|| format!("no {name:?} mark"))?.1;
        Ok((at as f64 - self.spawned as f64) / 1000.0)
    }
}

/// Starts `bin` with the timing log, waits for `until` (or `failed`), then
/// samples memory and stops the whole process group. Its standard error
/// goes to `log_to`, if given.
fn run_once(bin: &Path, display: &str, env: &[(&str, String)], until: &str, log_to: Option<&Path>) -> Result<Run> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("marks.log");
    let mut cmd = Command::new(bin);
    cmd.process_group(0)
        .env("DISPLAY", display)
        .env("CREDITDESK_TIMING_LOG", &log)
        .env("CREDITDESK_LOG", "warn")
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(path) = log_to {
        cmd.stderr(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
    }
    let spawned = unix_micros();
    let proc = Proc(cmd.spawn().with_context(|| format!("starting {}", bin.display()))?, "app");
    let start = Instant::now();
    let marks = loop {
        let marks = read_marks(&log);
        if let Some((_, _, why)) = marks.iter().find(|m| m.0 == "failed") {
            bail!("{} reported a failed run: {why}", bin.display());
        }
        if marks.iter().any(|m| m.0 == until) {
            break marks;
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!("{} never marked {until:?} (marks so far: {marks:?})", bin.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let memory = Memory::of_group(proc.0.id() as i32);
    drop(proc);
    Ok(Run { spawned, marks, memory })
}

fn read_marks(log: &Path) -> Marks {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ' ');
            Some((f.next()?.to_owned(), f.next()?.parse().ok()?, f.next().unwrap_or("").to_owned()))
        })
        .collect()
}

/// Resident memory of a process group, in MiB.
#[derive(Debug, Default, Clone)]
struct Memory {
    rss: f64,
    pss: f64,
    processes: usize,
    /// PSS by process name (`comm`): which process holds what.
    pss_by_process: BTreeMap<String, f64>,
    /// PSS by process and mapping (a file's name, or `[anon]`, `[heap]`,
    /// ...), from `smaps`: what inside a process holds it.
    pss_by_mapping: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Memory {
    fn of_group(pgid: i32) -> Memory {
        let mut m = Memory::default();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
            // SAFETY: getpgid only reads the kernel's process table.
            if unsafe { libc::getpgid(pid) } != pgid {
                continue;
            }
            let kib = |file: &str, key: &str| -> f64 {
                std::fs::read_to_string(format!("/proc/{pid}/{file}"))
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            let pss = kib("smaps_rollup", "Pss:") / 1024.0;
            m.rss += kib("status", "VmRSS:") / 1024.0;
            m.pss += pss;
            m.processes += 1;
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let name = name.trim().to_owned();
            *m.pss_by_process.entry(name.clone()).or_default() += pss;
            let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
            let by_mapping = m.pss_by_mapping.entry(name).or_default();
            for (mapping, kib) in pss_by_mapping(&smaps) {
                *by_mapping.entry(mapping).or_default() += kib / 1024.0;
            }
        }
        m
    }
}

/// (mapping, PSS in KiB) for each mapping of a `/proc/<pid>/smaps`: a
/// mapping is named by its file's name, or `[anon]` when it has none.
fn pss_by_mapping(smaps: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for line in smaps.lines() {
        if let Some(kib) = line.strip_prefix("Pss:") {
            if let (Some(last), Ok(kib)) = (out.last_mut(), kib.trim().trim_end_matches(" kB").parse::<f64>()) {
                last.1 += kib;
            }
            continue;
        }
        // A mapping's header: "start-end perms offset dev inode [path]".
        let fields: Vec<&str> = line.split_whitespace().collect();
        let is_header =
            fields.first().is_some_and(|f| f.contains('-') && f.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
        if is_header && fields.len() >= 5 {
            let path = fields.get(5..).map(|p| p.join(" ")).unwrap_or_default();
            let name = match path.rsplit('/').next() {
                Some(n) if !n.is_empty() => n.to_owned(),
                _ => "[anon]".to_owned(),
            };
            out.push((name, 0.0));
        }
    }
    out
}

/// Nearest-rank percentile of `xs` (sorted here).
fn percentile(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * xs.len() as f64).ceil().max(1.0) as usize;
    xs[rank.min(xs.len()) - 1]
}

fn summary(name: &str, xs: &[f64]) -> String {
    if xs.is_empty() {
        return format!("| {name} | - | - | - | - | 0 |");
    }
    let mut v = xs.to_vec();
    let (p50, p95) = (percentile(&mut v, 50.0), percentile(&mut v, 95.0));
    format!("| {name} | {p50:.1} | {p95:.1} | {:.1} | {:.1} | {} |", v[0], v[v.len() - 1], v.len())
}

/// The `field`th word (a number of ms) of the details of every mark named `name`.
fn detail_ms(marks: &Marks, name: &str, field: usize) -> Vec<f64> {
    marks.iter().filter(|m| m.0 == name).filter_map(|m| m.2.split_whitespace().nth(field)?.parse().ok()).collect()
}

/// The page's navigation start, from the app's `page` mark: its detail is
/// that moment (unix ms, `performance.timeOrigin`), then the moments the
/// UI's script began and the UI had its session (ms after it). Returns
/// (navigation start in ms after the spawn, script, session).
fn page_mark(run: &Run) -> Result<(f64, f64, f64)> {
    let page = &run.marks.iter().find(|m| m.0 == "page").context("no page mark")?.2;
    let f: Vec<f64> = page.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
    let [origin, script, session] = f[..] else { bail!("page mark {page:?}: expected 3 numbers") };
    Ok((origin - run.spawned as f64 / 1000.0, script, session))
}

/// Cold start: the spawn -> the reopened customer view's first paint (its
/// burn chart's `painted:burn-chart` mark, in `customer_rendered`'s detail).
fn cold_start_ms(run: &Run) -> Result<f64> {
    let (page_start, _, _) = page_mark(run)?;
    let painted = detail_ms(&run.marks, "customer_rendered", 4);
    Ok(page_start + painted.first().context("no paint time in the customer_rendered mark")?)
}

/// Where a cold start's time goes.
fn cold_start_phases(run: &Run) -> Result<[(&'static str, f64); 4]> {
    let (page_start, script, session) = page_mark(run)?;
    Ok([
        ("spawn -> page navigation starts", page_start),
        ("page -> UI script runs", script),
        ("UI script -> session in the UI (app_start: sign-in, IPC)", session - script),
        ("session -> customer view painted", cold_start_ms(run)? - page_start - session),
    ])
}

/// The Rust side's start, from its `main`, `setup` and `page_started` marks
/// (the app's and the empty window's alike): (phase, ms).
fn rust_start_phases(run: &Run) -> Result<[(&'static str, f64); 3]> {
    let (main, setup, page) = (run.since_spawn("main")?, run.since_spawn("setup")?, run.since_spawn("page_started")?);
    Ok([
        ("spawn -> Rust main", main),
        ("Rust main -> Tauri setup", setup - main),
        ("Tauri setup -> page load starts", page - setup),
    ])
}

/// The page's marks at cold start (`cold_marks`: `name=ms` after navigation,
/// the UI's first call and answer of each command among them).
fn cold_ui_marks(run: &Run) -> Vec<(String, f64)> {
    let Some(m) = run.marks.iter().find(|m| m.0 == "cold_marks") else { return Vec::new() };
    m.2.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

fn main() -> Result<()> {
    let args = Args::parse();
    let app = binary("creditdesk")?;
    let empty = binary("empty-window")?;
    let work = tempfile::tempdir()?;
    let seeding = Instant::now();
    let server = Server::start(work.path(), args.customers, args.days)?;
    eprintln!("seeded {} customers x {} days in {:.1?}", args.customers, args.days, seeding.elapsed());
    let (display, _xvfb) = display()?;
    let ids: Vec<String> = (1..=args.switches + 1).map(|i| format!("cus_{i:04}")).collect();
    let app_dir = tempfile::tempdir()?;
    write_connection(app_dir.path(), &server)?;
    let mut app_env = vec![
        ("CREDITDESK_APP_DIR", app_dir.path().display().to_string()),
        ("CREDITDESK_BENCH_OPEN", ids[0].clone()),
        ("CREDITDESK_BENCH_SWITCH", ids[1..].join(",")),
    ];
    if args.app_log.is_some() {
        app_env.push(("CREDITDESK_LOG", "warn,creditdesk_app=debug".to_owned()));
    }

    let mut figures: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut phases: BTreeMap<usize, (&str, Vec<f64>)> = BTreeMap::new();
    let mut memory: BTreeMap<&str, Vec<Memory>> = BTreeMap::new();
    let mut ui_marks: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut rust_phases: BTreeMap<(&str, usize, &str), Vec<f64>> = BTreeMap::new();
    // One warm-up start of each (page cache, server caches), then alternate.
    run_once(&app, &display, &app_env, "done", args.app_log.as_deref())?;
    run_once(&empty, &display, &[], "page_loaded", None)?;
    for i in 0..args.runs {
        let run = run_once(&app, &display, &app_env, "done", args.app_log.as_deref())?;
        figures.entry("app: cold start to customer view").or_default().push(cold_start_ms(&run)?);
        // The same start until the benchmark's own mark reached Rust: later
        // by the benchmark's calls queued behind the first render.
        figures
            .entry("app: cold start, until the benchmark's mark reached the app")
            .or_default()
            .push(run.since_spawn("customer_rendered")?);
        for (n, (name, ms)) in cold_start_phases(&run)?.into_iter().enumerate() {
            phases.entry(n).or_insert((name, Vec::new())).1.push(ms);
        }
        for (name, ms) in cold_ui_marks(&run) {
            ui_marks.entry(name).or_default().push(ms);
        }
        for (n, (phase, ms)) in rust_start_phases(&run)?.into_iter().enumerate() {
            rust_phases.entry(("app", n, phase)).or_default().push(ms);
        }
        // Figures read from the marks' details: (figure, mark, field).
        const FROM_MARKS: [(&str, &str, usize); 7] = [
            ("app: cold start, open -> balance cards in the DOM", "customer_rendered", 2),
            ("app: cold start, its burn_chart command (30 days)", "customer_rendered", 3),
            ("app: switch customer", "switch", 1),
            ("app: switch customer, click -> balance cards in the DOM", "switch", 2),
            ("app: switch customer, its burn_chart command (30 days)", "switch", 3),
            ("app: 365-day burn chart, click -> drawn chart painted", "chart365", 1),
            ("app: 365-day burn chart, burn_chart command (API fetch + plotters draw + IPC)", "chart365", 2),
        ];
        for (figure, mark, field) in FROM_MARKS {
            figures.entry(figure).or_default().extend(detail_ms(&run.marks, mark, field));
        }
        memory.entry("app").or_default().push(run.memory);
        let run = run_once(&empty, &display, &[], "page_loaded", None)?;
        figures.entry("baseline: cold start to empty window loaded").or_default().push(run.since_spawn("page_loaded")?);
        for (n, (phase, ms)) in rust_start_phases(&run)?.into_iter().enumerate() {
            rust_phases.entry(("baseline", n, phase)).or_default().push(ms);
        }
        memory.entry("baseline: empty window").or_default().push(run.memory);
        eprintln!(
            "run {}/{}: app {:.0} ms, {:.0} MiB RSS",
            i + 1,
            args.runs,
            figures["app: cold start to customer view"][i],
            memory["app"][i].rss
        );
    }

    println!("| figure (ms) | p50 | p95 | min | max | samples |\n|---|---|---|---|---|---|");
    for (name, xs) in &figures {
        println!("{}", summary(name, xs));
    }
    println!("\n| app cold start, by phase (ms) | p50 | p95 | min | max | samples |\n|---|---|---|---|---|---|");
    for (name, xs) in phases.values() {
        println!("{}", summary(name, xs));
    }
    println!("\n| Rust side's start (ms) | p50 | p95 | min | max | samples |\n|---|---|---|---|---|---|");
    for ((binary, _, phase), xs) in &rust_phases {
        println!("{}", summary(&format!("{binary}: {phase}"), xs));
    }
    println!("\n| app cold start, the page's marks (ms after navigation) | p50 | p95 | min | max | samples |\n|---|---|---|---|---|---|");
    let mut by_time: Vec<(&String, &Vec<f64>)> = ui_marks.iter().collect();
    by_time.sort_by(|a, b| percentile(&mut a.1.clone(), 50.0).total_cmp(&percentile(&mut b.1.clone(), 50.0)));
    for (name, xs) in by_time {
        println!("{}", summary(name, xs));
    }
    println!(
        "\n| memory at the end of a run (MiB) | RSS summed, max | PSS summed, max | processes |\n|---|---|---|---|"
    );
    for (name, ms) in &memory {
        let max = |f: fn(&Memory) -> f64| ms.iter().map(f).fold(0.0, f64::max);
        println!("| {name} | {:.0} | {:.0} | {} |", max(|m| m.rss), max(|m| m.pss), ms[0].processes);
    }
    println!("\nraw samples (ms):");
    for (name, xs) in &figures {
        let xs: Vec<String> = xs.iter().map(|x| format!("{x:.1}")).collect();
        println!("- {name}: {}", xs.join(" "));
    }
    let rss: Vec<String> = memory["app"].iter().map(|m| format!("{:.0}", m.rss)).collect();
    println!("- app RSS per run (MiB): {}", rss.join(" "));
    for (name, ms) in &memory {
        if let Some(last) = ms.last() {
            let parts: Vec<String> = last.pss_by_process.iter().map(|(p, mib)| format!("{p} {mib:.0}")).collect();
            println!("- {name}, PSS by process at the last run (MiB): {}", parts.join(", "));
            for (process, mappings) in &last.pss_by_mapping {
                let mut top: Vec<(&String, &f64)> = mappings.iter().collect();
                top.sort_by(|a, b| b.1.total_cmp(a.1));
                let top: Vec<String> = top.iter().take(8).map(|(m, mib)| format!("{m} {mib:.1}")).collect();
                println!("  - {process}, largest mappings (MiB PSS): {}", top.join(", "));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pss_by_mapping;

    #[test]
    fn smaps_pss_is_summed_per_mapping() {
        let smaps = "\
55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]
Rss:                 132 kB
Pss:                 100 kB
7f1e2c000000-7f1e2c021000 rw-p 00000000 00:00 0 
Pss:                  40 kB
7f1e30000000-7f1e30100000 r-xp 00010000 08:01 1234                       /usr/lib/x86_64-linux-gnu/libjavascriptcoregtk-4.1.so.0.5.8
Pss:                2048 kB
";
        let got = pss_by_mapping(smaps);
        assert_eq!(
            got,
            vec![
                ("[heap]".to_owned(), 100.0),
                ("[anon]".to_owned(), 40.0),
                ("libjavascriptcoregtk-4.1.so.0.5.8".to_owned(), 2048.0)
            ]
        );
    }
}
