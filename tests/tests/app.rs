//! The desktop app end to end: real binary, real WebKit, real server.
//! Run by `scripts/test` (`cargo test -p creditdesk-e2e -- --ignored`):
//! it needs Xvfb, tauri-driver and WebKitWebDriver, which the script installs.

use anyhow::{Context, Result};
use chrono::{Duration, SubsecRound, Utc};
use creditdesk_api::balances::BalanceQuery;
use creditdesk_e2e::{grouped, App, Server};
use fantoccini::key::Key;
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb, tauri-driver and WebKitWebDriver: scripts/test runs it"]
async fn console_end_to_end() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), 4, 60)?;
    let api = creditdesk_client::Client::new(&server.url, &server.token)?;
    let app = App::launch(&server).await?;
    let result = run(&app, &api, &server).await;
    if result.is_err() {
        let _ = app.screenshot("failure").await;
    }
    app.client.clone().close().await.ok();
    result
}

async fn run(app: &App, api: &creditdesk_client::Client, server: &Server) -> Result<()> {
    // Customers: the list loads from the server.
    app.find("[data-testid=view-customers] tr[data-customer]").await?;
    app.screenshot("customers").await?;

    // Search and open a customer from the keyboard: Ctrl+K focuses the
    // search, the arrow key reaches the row, Enter opens it.
    app.client.active_element().await?.send_keys(&(Key::Control + "k")).await?;
    let search = app.client.active_element().await?;
    assert_eq!(search.attr("data-testid").await?.as_deref(), Some("customer-search"), "Ctrl+K focuses the search");
    search.send_keys("cus_0002").await?;
    app.text_when("[data-testid=view-customers] tbody", |t| t.contains("cus_0002") && !t.contains("cus_0001")).await?;
    search.send_keys(&Key::Down.to_string()).await?;
    let row = app.client.active_element().await?;
    assert_eq!(row.attr("data-customer").await?.as_deref(), Some("cus_0002"), "ArrowDown focuses the first row");
    row.send_keys(&Key::Enter.to_string()).await?;
    app.find("[data-testid=view-customer][data-customer=cus_0002]").await?;

    // The balance shown is the API's, digit for digit.
    let balances = api.balances("cus_0002", &BalanceQuery::default()).await?;
    let first = balances.balances.first().context("cus_0002 has a wallet")?;
    let card = format!("[data-testid=balance-{}] [data-testid=available]", first.credit_type_id);
    let expected = grouped(&first.available.to_string());
    let shown = app.text_when(&card, |t| !t.is_empty()).await?;
    assert_eq!(shown.split_whitespace().next(), Some(expected.as_str()), "card {shown:?} vs API {expected}");

    // The burn chart and the balance chart are drawn (SVG from Rust), and the ledger lists rows.
    let svg = app.find("[data-testid=burn-chart] svg[role=img]").await?;
    let title = svg.find(Locator::Css("title")).await?.html(true).await?;
    assert!(title.to_lowercase().contains("burn"), "burn chart title {title:?}");
    app.find("[data-testid=balance-chart] svg[role=img]").await?;
    app.click("[data-testid=ledger-row]").await?;
    let why = app.text_when("[data-testid=ledger-explanation]", |t| !t.is_empty()).await?;
    assert!(why.contains("by "), "explanation names the actor: {why}");
    // The 90-day range redraws the burn chart.
    app.click_button("90 days").await?;
    app.text_when("[data-testid=burn-chart] h3", |t| t.contains("last 90 days")).await?;
    app.find("[data-testid=burn-chart] svg[role=img]").await?;
    app.screenshot("customer").await?;

    // Balance at a past instant: as known now and as known then, both the API's.
    let at = (Utc::now() - Duration::days(20)).trunc_subsecs(0);
    let at = at - Duration::seconds(at.timestamp() % 60);
    app.click_button("Balance at...").await?;
    app.set_input("[data-testid=balance-at-input]", &at.format("%Y-%m-%dT%H:%M").to_string()).await?;
    app.click("[data-testid=balance-at-go]").await?;
    let ct = &first.credit_type_id;
    let now_known = api.balances("cus_0002", &BalanceQuery { at: Some(at), ..Default::default() }).await?;
    let then_known =
        api.balances("cus_0002", &BalanceQuery { at: Some(at), as_of: Some(at), ..Default::default() }).await?;
    let pick = |b: &creditdesk_api::balances::BalancesResponse| {
        b.balances.iter().find(|x| &x.credit_type_id == ct).map(|x| grouped(&x.available.to_string()))
    };
    let shown_now = app.text_when(&format!("[data-testid=at-{ct}] [data-testid=at-now]"), |t| !t.is_empty()).await?;
    assert_eq!(Some(shown_now), pick(&now_known));
    let shown_then = app.text_when(&format!("[data-testid=at-{ct}] [data-testid=at-then]"), |t| !t.is_empty()).await?;
    assert_eq!(shown_then, pick(&then_known).unwrap_or_else(|| "not known then".into()));
    app.screenshot("customer-balance-at").await?;

    // Explain balance: the waterfall arrives at the reported balance.
    app.click_button("Explain balance").await?;
    let explain = app.text_when("[data-testid=explain]", |t| t.contains("Held by grants")).await?;
    assert!(!explain.contains("Unexplained difference"), "{explain}");

    // Finance: charts, tables and a CSV export whose rows match the report.
    app.click("[data-testid=nav-finance]").await?;
    app.find("[data-testid=view-finance] svg[role=img]").await?;
    app.screenshot("finance").await?;
    app.click("[data-testid=export-expirations]").await?;
    let done = app.text_when("[data-testid=export-done]", |t| t.contains("rows written")).await?;
    let file = std::fs::read_dir(&app.export_dir)?.next().context("an exported file")??.path();
    let csv = std::fs::read_to_string(&file)?;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("customer_id,credit_type_id,grants,credits,value,currency,paid_credits,rolls_over")
    );
    assert!(done.starts_with(&format!("{} rows", lines.len() - 1)), "{done} vs {} data lines", lines.len() - 1);

    // Settings -> Connection: "Test connection" shows the server's version and the role.
    app.click("[data-testid=nav-settings]").await?;
    app.set_input("[data-testid=server-url]", &server.url).await?;
    app.set_input("[data-testid=server-token]", &server.token).await?;
    app.click("[data-testid=test-connection]").await?;
    let version = api.version().await?;
    let ok = app.text_when("[data-testid=connection-ok]", |t| t.contains("admin")).await?;
    assert!(ok.contains(&version.version), "{ok}");
    app.screenshot("settings").await?;
    Ok(())
}
