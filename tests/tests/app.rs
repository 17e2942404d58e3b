//! The desktop app end to end: real binary, real WebKit, real server.
//! Run by `scripts/test` (`cargo test -p creditdesk-e2e -- --ignored`):
//! it needs Xvfb, tauri-driver and WebKitWebDriver, which the script installs.

use anyhow::{Context, Result};
use chrono::{Duration, SubsecRound, Utc};
use creditdesk_api::admin::CreateCustomerRequest;
use creditdesk_api::approvals::ApprovalStatus;
use creditdesk_api::balances::BalanceQuery;
use creditdesk_api::customers::{CustomerListQuery, CustomerSort};
use creditdesk_api::events::{EventIn, IngestRequest};
use creditdesk_api::grants::GrantListQuery;
use creditdesk_api::{Role, SortOrder, MAX_LIMIT};
use creditdesk_e2e::{grouped, App, Server};
use fantoccini::key::Key;
use fantoccini::Locator;
use rust_decimal::Decimal;

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
    drop(app);
    result?;

    // Launched again, the app reopens the customer this user had open last,
    // drawn whole in its first render: its head and burn chart were asked
    // for before the session reached the UI (ui/src/lib/launch.ts).
    let app = App::launch(&server).await?;
    let result = match reopens_last_customer(&app).await {
        Ok(()) => narrow_window(&app).await,
        failed => failed,
    };
    if result.is_err() {
        let _ = app.screenshot("failure-reopen").await;
    }
    app.client.clone().close().await.ok();
    result
}

async fn reopens_last_customer(app: &App) -> Result<()> {
    app.find("[data-testid=view-customer][data-customer=cus_0002] [data-testid=burn-chart] svg[role=img]").await?;
    app.screenshot("customer-reopened").await?;
    let marks = app
        .client
        .execute(
            "const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;
             return ['answered:burn_chart', 'render:customer', 'commit:burn-chart', 'commit:customer'].map(at);",
            vec![],
        )
        .await?;
    let at: Vec<Option<f64>> = serde_json::from_value(marks)?;
    let [Some(chart_answered), Some(first_render), Some(chart_committed), Some(view_committed)] = at[..] else {
        anyhow::bail!("marks missing: {at:?}");
    };
    assert!(chart_answered <= first_render, "the burn chart was drawn before the view's first render: {at:?}");
    assert!(chart_committed <= view_committed, "the chart is in the view's first commit: {at:?}");
    Ok(())
}

/// At the window's minimum size (900 x 600, `src-tauri/tauri.conf.json`)
/// every main view still fits the window's width: each screenshot fails
/// when the page is wider than the window.
async fn narrow_window(app: &App) -> Result<()> {
    app.client.set_window_size(900, 600).await?;
    app.script_when("return window.innerWidth;", |w| w.as_u64().is_some_and(|w| w <= 900)).await?;
    app.screenshot("narrow-customer").await?;
    for view in ["customers", "approvals", "disputes", "finance", "audit", "settings"] {
        app.click(&format!("[data-testid=nav-{view}]")).await?;
        app.find(&format!("[data-testid=view-{view}]")).await?;
        app.screenshot(&format!("narrow-{view}")).await?;
    }
    Ok(())
}

async fn run(app: &App, api: &creditdesk_client::Client, server: &Server) -> Result<()> {
    // Customers: the list loads from the server.
    app.find("[data-testid=view-customers] tr[data-customer]").await?;
    app.screenshot("customers").await?;
    customer_filters(app, api).await?;

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
    // A burn's explanation names the actor, and the usage event as the API rated it.
    let burn = "[data-testid=ledger-row][data-kind=burn]";
    let event = app.find(burn).await?.attr("data-event").await?.context("a burn's event id")?;
    app.click(burn).await?;
    let why = app.text_when("[data-testid=ledger-explanation]", |t| !t.is_empty()).await?;
    assert!(why.contains("by "), "explanation names the actor: {why}");
    let rated = api.usage_event(&event).await?;
    let usage = app.text_when("[data-testid=ledger-usage]", |t| t.contains("credits per unit")).await?;
    let expected = format!(
        "at {} credits per unit = {} credits",
        grouped(&rated.credits_per_unit.to_string()),
        grouped(&rated.credits.to_string())
    );
    assert!(usage.contains(&expected), "{usage:?} should say {expected:?}");
    app.script_when("document.querySelector('[data-testid=ledger-usage]').scrollIntoView(); return true;", |_| true)
        .await?;
    app.screenshot("customer-ledger-explained").await?;
    ledger_filters(app).await?;
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

    // Rejected usage: an event older than the late window is refused, and the
    // customer view lists it with the API's reason once its panel is opened.
    let products = api.products(&Default::default()).await?.items;
    let product = products.into_iter().find(|p| &p.credit_type_id == ct).context("a product of the wallet")?.id;
    let too_old = EventIn {
        id: "e2e-too-old".into(),
        customer_id: "cus_0002".into(),
        product_id: product,
        quantity: Decimal::ONE,
        timestamp: Utc::now() - Duration::days(400),
        properties: Default::default(),
    };
    api.ingest(&IngestRequest { events: vec![too_old], mode: None, result_detail: None }).await?;
    app.click("[data-testid=rejected] summary").await?;
    app.text_when("[data-testid=rejected-events] tr[data-event=e2e-too-old]", |t| t.contains("event_too_old")).await?;
    app.script_when("document.querySelector('[data-testid=rejected]').scrollIntoView(); return true;", |_| true)
        .await?;
    app.screenshot("customer-rejected").await?;

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

    workflows(app, server).await
}

/// The Customers view's filters and sorts show what the API lists for the
/// same parameters, in its order; then the filters are cleared.
async fn customer_filters(app: &App, api: &creditdesk_client::Client) -> Result<()> {
    let listed = |query: CustomerListQuery| async move {
        let page = api.customers(&CustomerListQuery { limit: Some(50), ..query }).await?;
        anyhow::Ok(page.items.into_iter().map(|c| c.id).collect::<Vec<String>>())
    };
    let shows = |ids: Vec<String>, what: &'static str| async move {
        app.script_when(
            "return [...document.querySelectorAll('[data-testid=view-customers] tr[data-customer]')]
               .map((r) => r.dataset.customer);",
            |shown| {
                shown.as_array().is_some_and(|a| a.iter().map(|v| v.as_str()).eq(ids.iter().map(|i| Some(i.as_str()))))
            },
        )
        .await
        .with_context(|| format!("the Customers view showing {what}: {ids:?}"))
    };
    app.click("[data-testid=filter-expiring]").await?;
    let expiring = listed(CustomerListQuery { expiring_within_days: Some(30), ..Default::default() }).await?;
    shows(expiring, "customers with credits expiring in 30 days").await?;
    app.click("[data-testid=sort-next_expiry]").await?;
    let by_expiry = CustomerListQuery {
        expiring_within_days: Some(30),
        sort: Some(CustomerSort::NextExpiry),
        ..Default::default()
    };
    shows(listed(by_expiry.clone()).await?, "them by next expiry").await?;
    app.click("[data-testid=sort-next_expiry]").await?;
    let latest_first = CustomerListQuery { order: Some(SortOrder::Desc), ..by_expiry };
    shows(listed(latest_first).await?, "them latest expiry first").await?;
    app.screenshot("customers-filtered").await?;
    app.click("[data-testid=filter-expiring]").await?;
    app.click("[data-testid=filter-runway]").await?;
    let runway = CustomerListQuery {
        runway_under_days: Some(14),
        sort: Some(CustomerSort::NextExpiry),
        order: Some(SortOrder::Desc),
        ..Default::default()
    };
    shows(listed(runway).await?, "customers with under 14 days of runway").await?;
    app.click("[data-testid=filter-runway]").await?;
    Ok(())
}

/// The ledger's product and day filters: every row shown is of that
/// product and booked that day (UTC), then the filters are cleared.
async fn ledger_filters(app: &App) -> Result<()> {
    let row = app.find("[data-testid=ledger-row][data-product]").await?;
    let product = row.attr("data-product").await?.context("a usage row's product")?;
    let day = row.attr("data-booked").await?.context("a row's day")?;
    let product_input = app.find("[data-testid=ledger-product]").await?;
    app.set_input("[data-testid=ledger-product]", &product).await?;
    product_input.send_keys(&Key::Enter.to_string()).await?;
    app.set_input("[data-testid=ledger-from]", &day).await?;
    app.set_input("[data-testid=ledger-to]", &day).await?;
    let only_that = |shown: &serde_json::Value| {
        let rows: Vec<(String, String)> = serde_json::from_value(shown.clone()).unwrap_or_default();
        !rows.is_empty() && rows.iter().all(|(p, d)| p == &product && d == &day)
    };
    app.script_when(
        "return [...document.querySelectorAll('[data-testid=ledger-row]')]
           .map((r) => [r.dataset.product ?? '', r.dataset.booked ?? '']);",
        only_that,
    )
    .await
    .with_context(|| format!("the ledger showing only {product} on {day}"))?;
    app.screenshot("customer-ledger-filtered").await?;
    for input in ["[data-testid=ledger-product]", "[data-testid=ledger-from]", "[data-testid=ledger-to]"] {
        app.set_input(input, "").await?;
    }
    product_input.send_keys(&Key::Enter.to_string()).await?;
    Ok(())
}

/// The customer's available credits of `ct`, as the API says and as the card shows (grouped).
async fn available(api: &creditdesk_client::Client, customer: &str, ct: &str) -> Result<(Decimal, String)> {
    let b = api.balances(customer, &BalanceQuery::default()).await?;
    let w = b.balances.iter().find(|w| w.credit_type_id == ct).context("the wallet")?;
    Ok((w.available, grouped(&w.available.to_string())))
}

/// Waits until the balance card of `ct` shows `expected`.
async fn card_shows(app: &App, ct: &str, expected: &str) -> Result<()> {
    let card = format!("[data-testid=balance-{ct}] [data-testid=available]");
    app.text_when(&card, |t| t.split_whitespace().next() == Some(expected))
        .await
        .with_context(|| format!("the {ct} card never showed {expected}"))?;
    Ok(())
}

/// Opens `id` from the Customers list (4 customers: all on the first page).
/// The list may still be redrawing when first clicked, so the click is retried.
async fn open_customer(app: &App, id: &str) -> Result<()> {
    app.click("[data-testid=nav-customers]").await?;
    for _ in 0..10 {
        app.click(&format!("tr[data-customer={id}]")).await?;
        if app.client.find(Locator::Css("[data-testid=view-customer]")).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    anyhow::bail!("clicking {id}'s row never opened the customer view")
}

/// Grants within and above a support agent's limits, a second user's
/// approval, and a dispute on two ledger rows resolved with a reversal,
/// all through the UI, each balance change checked against the API.
async fn workflows(app: &App, server: &Server) -> Result<()> {
    const CUSTOMER: &str = "cus_0002";
    let admin = creditdesk_client::Client::new(&server.url, &server.token)?;
    let ct = admin.balances(CUSTOMER, &BalanceQuery::default()).await?.balances[0].credit_type_id.clone();

    // A support agent (50 USD per action; credits cost cents) grants 1 credit: it executes.
    let agent = server.token_of("demo-support-agent")?;
    app.sign_in_as(&server.url, agent, "demo-support-agent").await?;
    open_customer(app, CUSTOMER).await?;
    let (before, shown) = available(&admin, CUSTOMER, &ct).await?;
    card_shows(app, &ct, &shown).await?;
    app.click("[data-testid=open-grant]").await?;
    // The dialog offers every credit type of the catalog, not only the customer's wallets.
    let catalog: Vec<String> = admin.credit_types(&Default::default()).await?.items.into_iter().map(|c| c.id).collect();
    app.script_when(
        "return [...document.querySelectorAll('[data-testid=grant-credit-type] option')].map((o) => o.value);",
        |shown| {
            shown.as_array().is_some_and(|a| a.iter().map(|v| v.as_str()).eq(catalog.iter().map(|c| Some(c.as_str()))))
        },
    )
    .await
    .with_context(|| format!("the grant dialog offering the catalog's credit types {catalog:?}"))?;
    app.set_input("[data-testid=grant-ticket]", "SUP-1").await?;
    app.set_input("[data-testid=grant-note]", "e2e within the limit").await?;
    // A burn priority and one product of the wallet's credit type, as the catalog lists them.
    app.set_input("[data-testid=grant-priority]", "10").await?;
    let product = app
        .script_when(
            "const box = document.querySelector('[data-testid=grant-products] input');
             if (!box) return null; box.click(); return box.value;",
            |v| v.is_string(),
        )
        .await?;
    app.set_input("[data-testid=grant-amount]", "1").await?;
    app.text_when("[data-testid=grant-preview]", |t| t.contains("Executes now")).await?;
    app.screenshot("grant-dialog").await?;
    app.click("[data-testid=grant-submit]").await?;
    app.text_when("[data-testid=grant-granted]", |t| t.contains("Granted (201)")).await?;
    let granted = app.text_when("[data-testid=grant-granted] .mono", |t| !t.is_empty()).await?;
    let every = GrantListQuery { limit: Some(MAX_LIMIT), ..Default::default() };
    let grants = admin.grants(CUSTOMER, &every).await?.items;
    let grant = &grants.iter().find(|g| g.grant.id == granted).context("the new grant in the API's list")?.grant;
    assert_eq!(grant.priority, 10, "the priority typed in the dialog");
    assert_eq!(grant.products.as_deref(), Some(&[product.as_str().unwrap_or_default().to_owned()][..]));
    app.client.active_element().await?.send_keys("\u{e00c}").await?; // Esc closes the dialog...
    let focused = app.client.active_element().await?.attr("data-testid").await?;
    assert_eq!(focused.as_deref(), Some("open-grant"), "...and focus returns to its opener");
    let (after, shown) = available(&admin, CUSTOMER, &ct).await?;
    assert_eq!(after - before, Decimal::ONE, "the grant moved the API's balance by its amount");
    card_shows(app, &ct, &shown).await?;

    // 20,000 credits (200 USD or more) exceed the agent's 50: an approval request.
    app.click("[data-testid=open-grant]").await?;
    app.set_input("[data-testid=grant-ticket]", "SUP-2").await?;
    app.set_input("[data-testid=grant-note]", "e2e above the limit").await?;
    app.set_input("[data-testid=grant-amount]", "20000").await?;
    let preview = app.text_when("[data-testid=grant-preview]", |t| t.contains("Needs approval by")).await?;
    assert!(preview.contains("finance") && preview.contains("exceeds your per-action limit"), "{preview}");
    app.screenshot("grant-dialog-approval").await?;
    app.click("[data-testid=grant-submit]").await?;
    let request = app.text_when("[data-testid=approval-id]", |t| !t.is_empty()).await?;
    app.click_button("Close").await?;
    assert_eq!(available(&admin, CUSTOMER, &ct).await?.0, after, "a pending request books nothing");

    // It is in the agent's Approvals (mine). Four-eyes is visible: one's own
    // request offers no approve or reject, only a cancel.
    app.click("[data-testid=nav-approvals]").await?;
    app.click("[data-testid=scope-mine]").await?;
    app.click(&format!("tr[data-approval='{request}']")).await?;
    app.text_when("[data-testid=approval-own]", |t| t.contains("another user must approve or reject it")).await?;
    app.script_when(
        "const d = document.querySelector('[data-testid=approval-detail]');
         return [!!d.querySelector('[data-testid=approve], [data-testid=reject]'), !!d.querySelector('[data-testid=cancel-request]')];",
        |v| v == &serde_json::json!([false, true]),
    )
    .await
    .context("the requester's own request: cancel offered, approve and reject not")?;
    assert_eq!(admin.approval(&request).await?.status, ApprovalStatus::Pending);
    app.screenshot("approvals").await?;

    // Finance approves it: the balance moves by 20,000.
    app.sign_in_as(&server.url, server.token_of("demo-finance")?, "demo-finance").await?;
    app.click("[data-testid=nav-approvals]").await?;
    app.click(&format!("tr[data-approval='{request}']")).await?;
    app.click("[data-testid=approve]").await?;
    app.text_when("[data-testid=approval-done]", |t| t.contains("Approved and executed")).await?;
    app.screenshot("approval-approved").await?;
    let (approved, shown) = available(&admin, CUSTOMER, &ct).await?;
    assert_eq!(approved - after, Decimal::from(20_000));
    open_customer(app, CUSTOMER).await?;
    card_shows(app, &ct, &shown).await?;

    // A dispute on two usage rows of distinct events, from the ledger.
    app.find("[data-testid=ledger-pick]").await?;
    let mut events: Vec<String> = Vec::new();
    for row in app.client.find_all(Locator::Css("tr[data-kind=burn]")).await? {
        let Some(event) = row.attr("data-event").await? else { continue };
        if events.len() < 2 && !events.contains(&event) {
            row.find(Locator::Css("[data-testid=ledger-pick]")).await?.click().await?;
            events.push(event);
        }
    }
    assert_eq!(events.len(), 2, "two burn rows of distinct events on the ledger's first page");
    app.screenshot("customer-ledger-dispute").await?;
    app.click("[data-testid=open-dispute]").await?;
    app.set_input("[data-testid=dispute-ticket]", "SUP-3").await?;
    app.set_input("[data-testid=dispute-description]", "charged twice for one job").await?;
    app.click("[data-testid=dispute-submit]").await?;
    app.find("[data-testid=view-disputes] [data-testid=dispute-detail]").await?;
    let evidence = app.text_when("[data-testid=evidence]", |t| events.iter().all(|e| t.contains(e.as_str()))).await?;
    assert!(!evidence.is_empty());
    app.screenshot("disputes").await?;
    let label = app.find("[data-testid=dispute-detail]").await?.attr("aria-label").await?;
    let dispute = label.as_deref().and_then(|l| l.strip_prefix("Dispute ")).context("the dispute's id")?.to_owned();

    // The customer list counts it among the customer's open disputes, as the API does; back to it.
    let open = admin.customer(CUSTOMER).await?.open_disputes;
    assert!(open >= 1, "the API counts the new dispute: {open}");
    app.click("[data-testid=nav-customers]").await?;
    let cell = format!("tr[data-customer={CUSTOMER}] [data-testid=open-disputes]");
    app.text_when(&cell, |t| t.trim() == open.to_string()).await?;
    app.click("[data-testid=nav-disputes]").await?;
    app.click(&format!("[data-testid=dispute-row][data-dispute={dispute}]")).await?;
    app.find("[data-testid=dispute-detail] [data-testid=resolve-form]").await?;

    // Resolve with a reversal (within finance's limits: 201); the balance gives the burns back.
    app.set_input("[data-testid=resolve-reason]", "duplicate job").await?;
    app.click("[data-testid=resolve-submit]").await?;
    app.text_when("[data-testid=resolve-outcome]", |t| t.contains("Resolved (201): 2 events reversed")).await?;
    app.text_when("[data-testid=dispute-status]", |t| t.starts_with("resolved")).await?;
    app.screenshot("dispute-resolved").await?;
    let (reversed, shown) = available(&admin, CUSTOMER, &ct).await?;
    assert!(reversed > approved, "the reversal gave credits back: {approved} -> {reversed}");
    open_customer(app, CUSTOMER).await?;
    card_shows(app, &ct, &shown).await?;

    // The audit log (finance may read it) has the approval, filtered by action.
    app.click("[data-testid=nav-audit]").await?;
    app.set_input("[data-testid=audit-action]", "approval.approve").await?;
    app.click("[data-testid=audit-apply]").await?;
    let audit = app
        .text_when("[data-testid=audit]", |t| t.contains("approval.approve") && !t.contains("reverse_usage"))
        .await?;
    assert!(audit.contains(&request) && audit.contains("demo-finance"), "{audit}");
    app.screenshot("audit").await?;

    viewer_is_offered_nothing(app, server, CUSTOMER).await?;

    // Back to the demo admin: role limits, then an expiry extension on the
    // customer, whose view is what the next launch reopens.
    app.sign_in_as(&server.url, &server.token, "demo-admin").await?;
    first_grant(app, &admin).await?;
    role_limits(app, &admin).await?;
    open_customer(app, CUSTOMER).await?;
    extend_expiry(app, &admin, CUSTOMER).await?;
    app.find("[data-testid=burn-chart] svg[role=img]").await?;
    Ok(())
}

/// A viewer reads every view and is offered no action: the app decides
/// from `/v1/me`'s policy (ui/src/lib/policy.ts), which names no viewer.
async fn viewer_is_offered_nothing(app: &App, server: &Server, customer: &str) -> Result<()> {
    app.sign_in_as(&server.url, server.token_of("demo-viewer")?, "demo-viewer").await?;
    open_customer(app, customer).await?;
    let grant = app.find("[data-testid=open-grant]").await?;
    assert!(!grant.is_enabled().await?, "the viewer's Grant credits... is disabled");
    assert_eq!(grant.attr("title").await?.as_deref(), Some("Your role (viewer) cannot grant credits"));
    let void = app.find("[data-testid=grants] button[aria-label^=Void]").await?;
    let why = void.attr("title").await?.unwrap_or_default();
    assert!(!void.is_enabled().await? && why.starts_with("Only finance or admin may void"), "{why}");
    assert!(!app.find("[data-testid=open-dispute]").await?.is_enabled().await?, "no dispute for a viewer");
    app.click("[data-testid=nav-audit]").await?;
    app.text_when("[data-testid=view-audit]", |t| t.contains("you are viewer")).await?;
    app.screenshot("viewer-audit").await?;
    Ok(())
}

/// A customer with no wallet yet gets its first grant from the app: the
/// dialog offers the catalog, and the API then holds the credits.
async fn first_grant(app: &App, admin: &creditdesk_client::Client) -> Result<()> {
    const NEW: &str = "cus_e2e_new";
    let request = CreateCustomerRequest { id: NEW.into(), name: "E2E New Co".into(), external_ref: None };
    admin.create_customer(&request).await?;
    let ct = admin.credit_types(&Default::default()).await?.items.last().context("a credit type")?.id.clone();
    open_customer(app, NEW).await?;
    app.click("[data-testid=open-grant]").await?;
    app.find(&format!("[data-testid=grant-credit-type] option[value={ct}]")).await?;
    // React hears a select through its change event.
    app.client
        .execute(
            "const el = document.querySelector('[data-testid=grant-credit-type]');
             const set = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set;
             set.call(el, arguments[0]);
             el.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![ct.clone().into()],
        )
        .await?;
    app.set_input("[data-testid=grant-amount]", "100").await?;
    app.set_input("[data-testid=grant-ticket]", "SUP-5").await?;
    app.set_input("[data-testid=grant-note]", "e2e first grant").await?;
    app.click("[data-testid=grant-submit]").await?;
    app.text_when("[data-testid=grant-granted]", |t| t.contains("Granted (201)")).await?;
    app.click_button("Close").await?;
    let (available, shown) = available(admin, NEW, &ct).await?;
    assert_eq!(available, Decimal::from(100));
    card_shows(app, &ct, &shown).await?;
    Ok(())
}

/// Settings -> Role limits: an admin sets the support agent's limits; the
/// API has them and the table shows them.
async fn role_limits(app: &App, admin: &creditdesk_client::Client) -> Result<()> {
    app.click("[data-testid=nav-settings]").await?;
    app.click("[data-testid=edit-limits-support_agent]").await?;
    app.set_input("[data-testid=limit-per_action]", "75").await?;
    app.set_input("[data-testid=limit-monthly]", "").await?;
    app.click("[data-testid=save-limits]").await?;
    app.text_when("[data-testid=role-limits] tr[data-role=support_agent]", |t| {
        t.contains("75.00 USD") && t.contains("unlimited")
    })
    .await?;
    let limits = admin.role_limits().await?;
    let agent = limits.roles.iter().find(|r| r.role == Role::SupportAgent).context("the agent's limits")?;
    assert_eq!(agent.limits.per_action.as_ref().map(|m| m.amount), Some(Decimal::from(75)));
    assert_eq!(agent.limits.monthly, None, "an emptied field is unlimited");
    app.screenshot("settings-role-limits").await?;
    Ok(())
}

/// "Extend..." on the customer's first extendable grant: its remainder
/// moves to a new grant expiring 30 days later (the dialog's default), as
/// the API shows, with the balance unchanged.
async fn extend_expiry(app: &App, admin: &creditdesk_client::Client, customer: &str) -> Result<()> {
    let button = app.find("[data-testid=grants] [data-testid=extend-grant]:not([disabled])").await?;
    let grant = app
        .client
        .execute("return arguments[0].closest('tr').dataset.grant;", vec![serde_json::to_value(&button)?])
        .await?
        .as_str()
        .context("the grant row's id")?
        .to_owned();
    let grant_of = |b: &creditdesk_api::balances::BalancesResponse, id: &str| {
        b.balances.iter().flat_map(|w| &w.grants).find(|g| g.grant.id == id).cloned()
    };
    let before = admin.balances(customer, &BalanceQuery::default()).await?;
    let old = grant_of(&before, &grant).context("the grant in the API")?;
    button.click().await?;
    app.set_input("[data-testid=extend-ticket]", "SUP-4").await?;
    app.set_input("[data-testid=extend-note]", "e2e: more time to use the credits").await?;
    app.screenshot("grant-extend").await?;
    app.click("[data-testid=extend-submit]").await?;
    let done = app.text_when("[data-testid=extend-done]", |t| t.contains("Extended (201)")).await?;
    let new_id = done.split_whitespace().last().context("the new grant's id")?.trim_end_matches('.').to_owned();
    app.click_button("Close").await?;
    let after = admin.balances(customer, &BalanceQuery::default()).await?;
    let new = grant_of(&after, &new_id).with_context(|| format!("the new grant {new_id} in the API"))?;
    // The dialog's input has minutes: the default is the old expiry plus 30 days, to the minute.
    let minute = |t: Option<chrono::DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%dT%H:%M").to_string());
    let expected = minute(old.grant.expires_at.map(|t| t + Duration::days(30)));
    assert_eq!((new.remaining, minute(new.grant.expires_at)), (old.remaining, expected));
    let old_wallet = |b: &creditdesk_api::balances::BalancesResponse| {
        b.balances.iter().find(|w| w.credit_type_id == old.grant.credit_type_id).map(|w| w.available)
    };
    assert_eq!(old_wallet(&after), old_wallet(&before), "an extension moves credits, adds none");
    app.find(&format!("[data-testid=grants] tr[data-grant={new_id}]")).await?;

    // The void dialog previews what voiding the new grant would leave, as the API's figures say.
    app.click(&format!("[data-testid=grants] tr[data-grant={new_id}] button[aria-label^=Void]")).await?;
    let left = (old_wallet(&after).context("the wallet")? - new.remaining).normalize();
    let preview = app.text_when("[data-testid=void-preview]", |t| t.contains("Executes now")).await?;
    assert!(preview.contains(&format!("→ {}", grouped(&left.to_string()))), "{preview} vs {left}");
    app.screenshot("grant-void-preview").await?;
    app.click_button("Cancel").await?;
    Ok(())
}
