//! `DATABASE_URL` is honoured: databases are created on that server and no
//! server is started. One test in this binary, as it sets the variable.

use creditdesk_testkit::{test_database_url, PgServer};

#[test]
fn test_databases_go_to_the_database_url_server() {
    let pg = PgServer::start().unwrap();
    // Any database of that server will do as the URL's; a query string stays.
    std::env::set_var("DATABASE_URL", format!("{}?connect_timeout=10", pg.url()));
    let a = test_database_url("url::test");
    let b = test_database_url("url::test");
    std::env::remove_var("DATABASE_URL");
    assert_ne!(a, b);
    let prefix = format!("postgres://postgres@127.0.0.1:{}/url_test_p", pg.port());
    assert!(a.starts_with(&prefix) && a.ends_with("?connect_timeout=10"), "{a}");
    for url in [&a, &b] {
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        client.batch_execute("CREATE TABLE t (x int)").unwrap();
    }
    let names =
        pg.psql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'url_test_p%' ORDER BY 1").unwrap();
    assert_eq!(names.lines().count(), 2, "{names}");

    // A server that is not there: a clear error, not a hang.
    let dead = pg.url_for("postgres");
    let port = pg.port();
    drop(pg);
    std::env::set_var("DATABASE_URL", &dead);
    std::panic::set_hook(Box::new(|_| {})); // the panic is expected: keep the output clean
    let err = std::panic::catch_unwind(|| test_database_url("x")).unwrap_err();
    let _ = std::panic::take_hook();
    std::env::remove_var("DATABASE_URL");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("DATABASE_URL") && msg.contains(&port.to_string()), "{msg}");
}
