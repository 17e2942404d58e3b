//! Database names from test names, and database URLs.

/// PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

/// A database name made from any text (a test name such as
/// `store::tests::ingest_is_idempotent`): lower-case ASCII letters, digits and
/// single underscores, not starting with a digit, at most 63 bytes. Safe to
/// put between double quotes in SQL, and in a URL path without escaping.
pub fn sanitize_db_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("db");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "db_");
    }
    out.truncate(MAX_IDENTIFIER);
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// A unique-looking name for attempt `n` of a test's database: the
/// sanitised test name (cut to leave room), this process's id and `n`.
pub(crate) fn unique_db_name(test_name: &str, n: u64) -> String {
    let mut base = sanitize_db_name(test_name);
    let suffix = format!("_p{:x}_{n}", std::process::id());
    base.truncate(MAX_IDENTIFIER - suffix.len());
    while base.ends_with('_') {
        base.pop();
    }
    base + &suffix
}

/// `url` with its database (the path) replaced by `db`; user, password,
/// host, port and query parameters are kept. Only URL forms
/// (`postgres://` or `postgresql://`) are understood.
pub(crate) fn with_database(url: &str, db: &str) -> anyhow::Result<String> {
    let url = url.trim();
    let Some(scheme_end) = url.find("://") else {
        anyhow::bail!("DATABASE_URL must be a postgres://user@host:port/db URL, got {url:?}")
    };
    let scheme = &url[..scheme_end];
    if scheme != "postgres" && scheme != "postgresql" {
        anyhow::bail!("DATABASE_URL must start with postgres:// or postgresql://, got {url:?}");
    }
    let after = scheme_end + 3;
    let authority_end = url[after..].find(['/', '?']).map_or(url.len(), |i| after + i);
    let query = url[authority_end..].find('?').map_or("", |i| &url[authority_end + i..]);
    Ok(format!("{}/{db}{query}", &url[..authority_end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_test_names() {
        assert_eq!(sanitize_db_name("store::tests::Ingest-Is Idempotent!"), "store_tests_ingest_is_idempotent");
        assert_eq!(sanitize_db_name("__a__b__"), "a_b");
        assert_eq!(sanitize_db_name("9lives"), "db_9lives");
        assert_eq!(sanitize_db_name("ünïcode"), "n_code");
        assert_eq!(sanitize_db_name("!!!"), "db");
        assert_eq!(sanitize_db_name(""), "db");
        let long = sanitize_db_name(&"x".repeat(100));
        assert_eq!(long.len(), 63);
        let long = sanitize_db_name(&format!("{}_y", "x".repeat(62)));
        assert_eq!(long, "x".repeat(62));
    }

    #[test]
    fn unique_names_fit_and_differ() {
        let a = unique_db_name(&"t".repeat(200), 1);
        let b = unique_db_name(&"t".repeat(200), 2);
        assert!(a.len() <= 63 && b.len() <= 63, "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(sanitize_db_name(&a), a);
    }

    #[test]
    fn replaces_the_database_in_urls() {
        let db = "t1";
        assert_eq!(with_database("postgres://u:p@h:5/x", db).unwrap(), "postgres://u:p@h:5/t1");
        assert_eq!(with_database("postgres://u@h", db).unwrap(), "postgres://u@h/t1");
        assert_eq!(with_database("postgresql://h/x?sslmode=disable", db).unwrap(), "postgresql://h/t1?sslmode=disable");
        assert_eq!(with_database("postgres://h?sslmode=disable", db).unwrap(), "postgres://h/t1?sslmode=disable");
        assert_eq!(with_database(" postgres://h/ ", db).unwrap(), "postgres://h/t1");
        assert!(with_database("host=h dbname=x", db).is_err());
        assert!(with_database("mysql://h/x", db).is_err());
    }
}
