//! A private server: databases, queries through a Rust driver, stop,
//! crash, restart, and cleanup on drop.

use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use creditdesk_testkit::{PgOptions, PgServer};

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| panic!("connecting to {url}: {e}"))
}

fn process_exists(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !matches!(stat.rsplit(')').next().and_then(|r| r.trim().chars().next()), Some('Z')))
}

#[test]
fn two_databases_then_everything_gone_on_drop() {
    let started = Instant::now();
    let pg = PgServer::start().expect("start");
    eprintln!("start: {:?}", started.elapsed());
    assert!(pg.options().durable);
    assert_eq!(pg.url(), format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port()));

    let a = pg.create_database("tests::first DB").unwrap();
    let b = pg.create_database("second").unwrap();
    assert!(a.ends_with("/tests_first_db"), "{a}");
    assert!(pg.create_database("second").is_err(), "a database that exists is an error");

    let mut ca = connect(&a);
    let mut cb = connect(&b);
    ca.batch_execute("CREATE TABLE t (x numeric); INSERT INTO t VALUES (1.25)").unwrap();
    let x: String = ca.query_one("SELECT x::text FROM t", &[]).unwrap().get(0);
    assert_eq!(x, "1.25");
    let db: String = cb.query_one("SELECT current_database()", &[]).unwrap().get(0);
    assert_eq!(db, "second");
    let err = cb.query("SELECT x FROM t", &[]).unwrap_err();
    assert_eq!(err.code(), Some(&postgres::error::SqlState::UNDEFINED_TABLE), "{err:?}");
    let (enc, tz, fsync, max): (String, String, String, String) = {
        let row = cb
            .query_one(
                "SELECT pg_encoding_to_char(encoding), current_setting('TimeZone'), current_setting('fsync'), \
                 current_setting('max_connections') FROM pg_database WHERE datname = current_database()",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2), row.get(3))
    };
    assert_eq!((enc.as_str(), tz.as_str(), fsync.as_str(), max.as_str()), ("UTF8", "UTC", "on", "200"));
    assert_eq!(pg.psql("second", "SELECT 40 + 2").unwrap().trim(), "42");
    drop((ca, cb));

    let port = pg.port();
    let dir = pg.dir().to_path_buf();
    let pid = pg.pid().expect("running");
    assert!(dir.join("data/PG_VERSION").exists());
    let started = Instant::now();
    drop(pg);
    eprintln!("drop: {:?}", started.elapsed());
    assert!(!dir.exists(), "{} should be deleted", dir.display());
    assert!(!process_exists(pid), "postmaster {pid} should be gone");
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the port is free again");
}

#[test]
fn crash_and_restart_keep_committed_data() {
    let pg = PgServer::start_with(PgOptions { durable: true }).unwrap();
    let url = pg.create_database("crash").unwrap();
    let mut client = connect(&url);
    client.batch_execute("CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 1000)").unwrap();
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("INSERT INTO t VALUES (-1)").unwrap();
    // Left uncommitted on purpose: the crash must roll it back.
    let first = pg.pid().unwrap();

    let started = Instant::now();
    pg.crash().unwrap();
    eprintln!("crash: {:?}", started.elapsed());
    assert!(pg.pid().is_none());
    assert!(!process_exists(first));
    assert!(tx.commit().is_err(), "the connection died with the server");
    assert!(pg.crash().is_err(), "crashing a stopped server is an error");

    let started = Instant::now();
    pg.restart().unwrap();
    eprintln!("restart after crash: {:?}", started.elapsed());
    let mut client = connect(&url);
    let (n, min): (i64, i32) = {
        let row = client.query_one("SELECT count(*), min(x) FROM t", &[]).unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((n, min), (1000, 1));
    assert!(pg.log_tail(200).contains("database system was interrupted"), "{}", pg.log_tail(50));

    // A clean stop and start keep the data too.
    drop(client);
    let started = Instant::now();
    pg.stop().unwrap();
    eprintln!("stop (fast): {:?}", started.elapsed());
    assert!(pg.pid().is_none());
    pg.stop().unwrap();
    pg.restart().unwrap();
    pg.restart().unwrap();
    let n: i64 = connect(&url).query_one("SELECT count(*) FROM t", &[]).unwrap().get(0);
    assert_eq!(n, 1000);
}

#[test]
fn fast_mode_turns_fsync_off() {
    let pg = PgServer::start_with(PgOptions { durable: false }).unwrap();
    let settings =
        pg.psql("postgres", "SELECT current_setting('fsync') || current_setting('synchronous_commit')").unwrap();
    assert_eq!(settings.trim(), "offon");
}

#[test]
fn kill_9_kills() {
    let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    creditdesk_testkit::kill_9(child.id()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "not killed");
        std::thread::sleep(Duration::from_millis(10));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9));
    assert!(creditdesk_testkit::kill_9(child.id()).is_err(), "reaped: no such process");
    assert!(creditdesk_testkit::kill_9(0).is_err());
}
