//! The shared server: one per test binary, a fresh database per call, and
//! nothing left behind when the test process exits, normally or not.

use std::process::Command;
use std::time::{Duration, Instant};

use creditdesk_testkit::{shared_pg, test_database_url, PgServer};

fn process_exists(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !matches!(stat.rsplit(')').next().and_then(|r| r.trim().chars().next()), Some('Z')))
}

fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)?.parse::<u32>().ok()) == Some(pid)
            })
        })
        .collect()
}

fn wait_gone(pids: &[u32]) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| process_exists(p)).collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_server_and_a_fresh_database_per_call() {
    // Skip if the environment points at a server: this test is about ours.
    if std::env::var_os("DATABASE_URL").is_some() {
        return;
    }
    let pg = shared_pg();
    assert!(std::ptr::eq(pg, shared_pg()));
    let a = test_database_url("shared::one_server");
    let b = test_database_url("shared::one_server");
    assert_ne!(a, b);
    let prefix = format!("postgres://postgres@127.0.0.1:{}/shared_one_server_p", pg.port());
    assert!(a.starts_with(&prefix) && b.starts_with(&prefix), "{a} {b}");
    for url in [&a, &b] {
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        client.batch_execute("CREATE TABLE t (x int)").unwrap(); // would fail if the db were shared
        let n: i64 = client.query_one("SELECT count(*) FROM t", &[]).unwrap().get(0);
        assert_eq!(n, 0);
    }
}

/// Run by the two tests below in a child process: uses the shared server,
/// holds a connection open, prints the pids and the dir, then ends the way
/// `CHILD_END` says.
#[test]
#[ignore = "run by exit_stops_the_shared_server and abort_leaves_no_postgres"]
fn child_uses_shared_pg() {
    let url = test_database_url("child");
    let client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    Box::leak(Box::new(client));
    let pg = shared_pg();
    let postmaster = pg.pid().unwrap();
    let mut pids = children_of(postmaster);
    pids.push(postmaster);
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    println!("PIDS={} DIR={}", pids.join(","), pg.dir().display());
    if std::env::var("CHILD_END").as_deref() == Ok("abort") {
        std::process::abort();
    }
}

/// Runs `child_uses_shared_pg`; returns its pids and dir.
fn run_child(end: &str) -> (Vec<u32>, std::path::PathBuf) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_uses_shared_pg", "--nocapture", "--test-threads=1"])
        .env_remove("DATABASE_URL")
        .env("CHILD_END", end)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // libtest may print "test child_uses_shared_pg ... " on the same line.
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("PIDS=").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("child printed no pids: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    let (pids, dir) = line.split_once(" DIR=").unwrap();
    let pids: Vec<u32> = pids.split(',').map(|p| p.parse().unwrap()).collect();
    assert!(pids.len() >= 2, "the postmaster and at least one backend: {pids:?}");
    if end == "abort" {
        assert!(!output.status.success());
    } else {
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    (pids, dir.into())
}

#[test]
fn exit_stops_the_shared_server_and_deletes_its_dir() {
    let (pids, dir) = run_child("exit");
    // The atexit handler has finished before the child's exit status exists.
    assert_eq!(wait_gone(&pids), Vec::<u32>::new(), "postgres processes left after exit");
    assert!(!dir.exists(), "{} left after exit", dir.display());
}

#[test]
fn abort_leaves_no_postgres_and_the_next_start_sweeps_the_dir() {
    let (pids, dir) = run_child("abort");
    assert_eq!(wait_gone(&pids), Vec::<u32>::new(), "postgres processes left after abort");
    assert!(dir.exists(), "no atexit on abort: the dir stays until the next start");
    let pg = PgServer::start().unwrap();
    assert!(!dir.exists(), "{} should have been swept", dir.display());
    drop(pg);
}
