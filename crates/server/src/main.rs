//! `creditdesk-server`: serve the billing API, migrate, seed demo data,
//! manage users.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::TimeDelta;
use clap::{Parser, Subcommand};
use creditdesk_ledger::clock::SystemClock;
use creditdesk_ledger::event::IngestPolicy;
use creditdesk_server::config::{Config, DbUrl};
use creditdesk_server::{auth, http, seed, sweeper, AppState};
use creditdesk_store::{AdminOp, PgStore, SqliteStore, Store, StoreOptions, User};
use tokio::sync::watch;

#[derive(Parser)]
#[command(name = "creditdesk-server", version, about = "The Creditdesk billing API")]
struct Cli {
    /// TOML config file (environment variables CREDITDESK_* override it, flags override both).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database: sqlite://path or postgres://user@host/db.
    #[arg(long, global = true)]
    db: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
        #[arg(long)]
        late_window_days: Option<i64>,
        #[arg(long)]
        log: Option<String>,
    },
    /// Apply pending schema migrations and exit.
    Migrate,
    /// Load the deterministic demo dataset (idempotent per seed).
    DemoSeed {
        #[arg(long, default_value_t = 200)]
        customers: u32,
        #[arg(long, default_value_t = 365)]
        days: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Manage API users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user and print its token (shown once).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
    },
    List,
    /// Revoke a user's token.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

fn config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(db) = &cli.db {
        config.db = db.clone();
    }
    if let Command::Serve { addr, late_window_days, log } = &cli.command {
        if let Some(a) = addr {
            config.addr = *a;
        }
        if let Some(d) = late_window_days {
            config.late_window_days = *d;
        }
        if let Some(l) = log {
            config.log = l.clone();
        }
    }
    config.validate()?;
    Ok(config)
}

fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        clock: Arc::new(SystemClock),
        policy: IngestPolicy { late_window: TimeDelta::days(config.late_window_days), ..IngestPolicy::default() },
        refund_expiry: TimeDelta::days(config.refund_expiry_days),
        sync_full: config.sync_full,
        wal_restart_mib: config.wal_restart_mib,
        ..StoreOptions::default()
    }
}

fn open_store(config: &Config) -> anyhow::Result<Store> {
    let options = store_options(config);
    Ok(match config.db_url()? {
        DbUrl::Sqlite(path) => {
            SqliteStore::open(&path, options).with_context(|| format!("opening {}", path.display()))?.into()
        }
        DbUrl::Postgres(url) => PgStore::open(&url, options).context("opening the PostgreSQL database")?.into(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = config(&cli)?;
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(&config.log)).init();
    match &cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate => {
            let version = match open_store(&config)? {
                Store::Sqlite(_) => creditdesk_store::sqlite::latest_schema_version(),
                Store::Postgres(_) => creditdesk_store::pg::latest_schema_version(),
            };
            println!("schema at version {version}");
            Ok(())
        }
        Command::DemoSeed { customers, days, seed: s } => {
            // The seed opens the database itself, on a clock it walks
            // through the simulated year.
            let DbUrl::Sqlite(path) = config.db_url()? else {
                bail!("demo-seed needs a sqlite:// database in this version");
            };
            let opts = seed::SeedOptions { customers: *customers, days: *days, seed: *s };
            let report = seed::demo_seed(&path, store_options(&config), opts, |p| eprintln!("{p}")).await?;
            println!("{report}");
            Ok(())
        }
        Command::Users { command } => users(&config, command).await,
    }
}

async fn users(config: &Config, command: &UsersCommand) -> anyhow::Result<()> {
    let store = open_store(config)?;
    match command {
        UsersCommand::Add { name, role } => {
            let role: creditdesk_api::Role =
                serde_json::from_value(serde_json::Value::String(role.clone())).context("--role")?;
            let token = auth::new_token();
            let user = User {
                id: uuid::Uuid::new_v4().to_string(),
                name: name.clone(),
                role: role.as_str().to_string(),
                created_at: store.now(),
                revoked_at: None,
            };
            store.admin(AdminOp::User { user, token_hash: auth::hash_token(&token) }).await?;
            println!("{token}");
            eprintln!("user {name} ({}) created; the token above is shown once", role.as_str());
        }
        UsersCommand::List => {
            for u in store.users().await? {
                let state = if u.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{}\t{}\t{}\t{}", u.name, u.role, state, u.created_at.to_rfc3339());
            }
        }
        UsersCommand::Revoke { name } => {
            store.admin(AdminOp::RevokeUser { name: name.clone() }).await?;
            eprintln!("user {name} revoked");
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM (how service managers and orchestrators stop us).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config)?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().ok();
    let state = AppState::new(store, metrics);
    let (stop_tx, stop_rx) = watch::channel(false);
    let sweeper = tokio::spawn(sweeper::run(state.clone(), Duration::from_secs(config.sweep_interval_secs), stop_rx));
    let listener =
        tokio::net::TcpListener::bind(config.addr).await.with_context(|| format!("binding {}", config.addr))?;
    tracing::info!(addr = %listener.local_addr()?, db = %config.db, "creditdesk-server listening");
    // Graceful: stop accepting, let in-flight requests (and their batches) finish.
    axum::serve(http::without_nagle(listener), http::router(state)).with_graceful_shutdown(shutdown_signal()).await?;
    let _ = stop_tx.send(true);
    let _ = sweeper.await;
    Ok(())
}
