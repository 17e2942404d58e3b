//! The client: configuration, the request loop, and one method per route.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use creditdesk_api::admin::{
    AddRateVersionRequest, CreateCreditTypeRequest, CreateCustomerRequest, CreateProductRequest, CreateUserRequest,
    CreatedUser, CreditType, Customer, OverrideListQuery, Product, RateOverride, SetOverrideRequest, User,
    UserListQuery,
};
use creditdesk_api::balances::{BalanceQuery, BalancesResponse, ExpirationsQuery, ExpirationsResponse};
use creditdesk_api::customers::{CustomerListQuery, CustomerSummary};
use creditdesk_api::events::{
    AuthorizeRequest, AuthorizeResponse, IngestRequest, IngestResponse, RejectedEvent, RejectedEventsQuery,
};
use creditdesk_api::extend::{ExpiryExtended, ExtendExpiryRequest};
use creditdesk_api::grants::{
    ApprovalPending, CreateGrantRequest, GrantBalance, GrantCreated, GrantListQuery, GrantVoided, VoidGrantRequest,
};
use creditdesk_api::ledger::{LedgerEntry, LedgerQuery};
use creditdesk_api::me::MeResponse;
use creditdesk_api::meta::{Health, VersionInfo};
use creditdesk_api::reports::{
    BreakageQuery, BreakageReport, ExpirationReport, ExpirationReportQuery, ReconciliationQuery, ReconciliationReport,
};
use creditdesk_api::routes::{self, headers, Method, Retry};
use creditdesk_api::series::{BurnQuery, BurnSeries, ForecastQuery, ForecastResponse};
use creditdesk_api::{Page, PageParams};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Serialize;

mod workflows;

use crate::error::{parse_error_body, ClientError, ErrorBody, TransportKind};
use crate::retry::{decide, jitter_permille, parse_retry_after, Decision, Failure, RetryPolicy};

/// Default time allowed to establish a connection (TCP + TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for one attempt, from sending to the end of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A write's answer with what the idempotency machinery says about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Idempotent<T> {
    pub value: T,
    /// The server answered `Idempotent-Replayed: true`: this is the answer
    /// to an earlier request with the same key, and nothing new was written.
    pub replayed: bool,
    /// The key the call was sent with; resend with it (`*_with_key`) to
    /// retry the same logical call later, e.g. after a restart.
    pub idempotency_key: String,
}

impl<T> Idempotent<T> {
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Idempotent<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// What a money-moving POST did: executed (`201`, the action's answer) or
/// filed for approval (`202`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// `201`: executed. (Both variants are boxed: they are large and unequal.)
    Executed(Box<T>),
    /// `202`: over the caller's limits; an approval request was filed, nothing booked.
    PendingApproval(Box<ApprovalPending>),
}

/// What `POST /v1/grants` did.
pub type GrantOutcome = Outcome<GrantCreated>;
/// What `POST /v1/grants/{id}/extend` did.
pub type ExtendOutcome = Outcome<ExpiryExtended>;

/// Configures a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    token: Option<String>,
    connect_timeout: Duration,
    timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
    root_certificates: Vec<Vec<u8>>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// `base_url` is the server's root, e.g. `https://billing.example.com`
    /// or `https://example.com/creditdesk` behind a path-prefixing proxy.
    pub fn new(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            token: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            user_agent: format!("creditdesk-client/{}", env!("CARGO_PKG_VERSION")),
            root_certificates: Vec::new(),
        }
    }

    /// The bearer token (`users add` prints it once).
    pub fn token(mut self, token: impl Into<String>) -> ClientBuilder {
        self.token = Some(token.into());
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// Per attempt: a call with retries may take up to
    /// `max_attempts x timeout` plus backoffs.
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    pub fn retry(mut self, policy: RetryPolicy) -> ClientBuilder {
        self.retry = policy;
        self
    }

    pub fn user_agent(mut self, user_agent: impl Into<String>) -> ClientBuilder {
        self.user_agent = user_agent.into();
        self
    }

    /// Trusts a PEM certificate authority in addition to the public web
    /// roots (for servers behind a company-internal CA).
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> ClientBuilder {
        self.root_certificates.push(pem.into());
        self
    }

    pub fn build(self) -> Result<Client, ClientError> {
        let base = parse_base_url(&self.base_url)?;
        let auth = match &self.token {
            Some(token) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| ClientError::Config("the token contains characters not allowed in a header".into()))?;
                // Keeps it out of `Debug` output and HTTP/2 header compression tables.
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        if self.retry.max_attempts == 0 {
            return Err(ClientError::Config("retry.max_attempts must be at least 1".into()));
        }
        let mut http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(self.user_agent)
            // The API never redirects; following one could change a POST into
            // a GET or send the token elsewhere.
            .redirect(reqwest::redirect::Policy::none());
        for pem in &self.root_certificates {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| ClientError::Config(format!("invalid root certificate: {e}")))?;
            http = http.add_root_certificate(cert);
        }
        let http = http.build().map_err(|e| ClientError::Config(format!("could not build the HTTP client: {e}")))?;
        Ok(Client { inner: Arc::new(Inner { http, base, auth, retry: self.retry }) })
    }
}

/// Checks and normalises the base URL: http(s), no query or fragment, no
/// credentials, no trailing slash (routes start with one).
pub fn parse_base_url(base_url: &str) -> Result<Url, ClientError> {
    let url = Url::parse(base_url).map_err(|e| ClientError::Config(format!("invalid base URL {base_url:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ClientError::Config(format!("base URL {base_url:?} must be http or https")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::Config(format!("base URL {base_url:?} must not have a query or fragment")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ClientError::Config("base URL must not contain credentials; use the token".into()));
    }
    let mut url = url;
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

/// The URL of `path` (already filled and encoded, from [`routes::fill`])
/// under `base`, with `query` (already encoded) if non-empty.
pub fn build_url(base: &Url, path: &str, query: &str) -> Result<Url, ClientError> {
    let mut text = String::with_capacity(base.as_str().len() + path.len() + query.len() + 1);
    text.push_str(base.as_str().trim_end_matches('/'));
    text.push_str(path);
    if !query.is_empty() {
        text.push('?');
        text.push_str(query);
    }
    Url::parse(&text).map_err(|e| ClientError::Config(format!("could not build a URL for {path}: {e}")))
}

/// Encodes a query struct (`None` fields are omitted).
pub fn encode_query<Q: Serialize>(query: &Q) -> Result<String, ClientError> {
    serde_urlencoded::to_string(query).map_err(|e| ClientError::Config(format!("could not encode the query: {e}")))
}

/// Whether `Idempotent-Replayed` says the answer is a replay.
pub fn is_replayed(headers: &HeaderMap) -> bool {
    headers
        .get(headers::IDEMPOTENT_REPLAYED)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// A fresh idempotency key: a random UUID, one per logical call.
pub fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: Option<HeaderValue>,
    retry: RetryPolicy,
}

/// A typed client of the billing API. Cheap to clone (shares one connection pool).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base.as_str())
            .field("authenticated", &self.inner.auth.is_some())
            .field("retry", &self.inner.retry)
            .finish()
    }
}

/// One call to make: everything the request loop needs.
struct Call<'a> {
    method: Method,
    /// Filled and encoded path, for the URL and for error messages.
    path: String,
    query: String,
    body: Option<Vec<u8>>,
    retry: Retry,
    idempotency_key: Option<&'a str>,
}

/// A response that arrived with a success status.
struct Raw {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn transport_kind(e: &reqwest::Error) -> (TransportKind, Option<Failure>) {
    if e.is_timeout() {
        (TransportKind::Timeout, Some(Failure::Timeout))
    } else if e.is_connect() {
        (TransportKind::Connect, Some(Failure::Connect))
    } else if e.is_builder() || e.is_redirect() {
        (TransportKind::Request, None)
    } else {
        (TransportKind::Broken, Some(Failure::Broken))
    }
}

fn path_of(template: &str, args: &[&str]) -> Result<String, ClientError> {
    routes::fill(template, args)
        .ok_or_else(|| ClientError::Config(format!("wrong number of path arguments for {template}")))
}

fn retry_of(method: Method, template: &str) -> Retry {
    // Every route is in the table; an unknown one is treated as unsafe.
    routes::find(method, template).map_or(Retry::Never, |r| r.retry)
}

impl Client {
    /// A client for `base_url` with bearer `token` and default timeouts and retries.
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Result<Client, ClientError> {
        ClientBuilder::new(base_url).token(token).build()
    }

    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// Sends `call`, retrying as the policy and the route allow; returns the
    /// first success response, or the error of the last attempt.
    async fn execute(&self, call: Call<'_>) -> Result<Raw, ClientError> {
        let url = build_url(&self.inner.base, &call.path, &call.query)?;
        let method = match call.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let name = call.method.as_str();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut req = self.inner.http.request(method.clone(), url.clone()).header(ACCEPT, "application/json");
            if let Some(auth) = &self.inner.auth {
                req = req.header(AUTHORIZATION, auth.clone());
            }
            if let Some(key) = call.idempotency_key {
                req = req.header(headers::IDEMPOTENCY_KEY, key);
            }
            if let Some(body) = &call.body {
                req = req.header(CONTENT_TYPE, "application/json").body(body.clone());
            }
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(body) => Ok((status, headers, body.to_vec())),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok((status, headers, body)) if (200..300).contains(&status) => {
                    return Ok(Raw { status, headers, body });
                }
                Ok((status, headers, body)) => {
                    let retry_after = headers
                        .get(headers::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, Utc::now()));
                    let failure = Failure::Status { status, retry_after };
                    if let Decision::Retry { after } =
                        decide(&self.inner.retry, call.retry, attempt, failure, jitter_permille())
                    {
                        tokio::time::sleep(after).await;
                        continue;
                    }
                    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
                    return Err(match parse_error_body(content_type, &body) {
                        ErrorBody::Problem(problem) => {
                            ClientError::Api { method: name, path: call.path, problem, retry_after }
                        }
                        ErrorBody::Other(body) => ClientError::Http { method: name, path: call.path, status, body },
                    });
                }
                Err(e) => {
                    let (kind, failure) = transport_kind(&e);
                    if let Some(failure) = failure {
                        if let Decision::Retry { after } =
                            decide(&self.inner.retry, call.retry, attempt, failure, jitter_permille())
                        {
                            tokio::time::sleep(after).await;
                            continue;
                        }
                    }
                    return Err(ClientError::Transport {
                        method: name,
                        path: call.path,
                        kind,
                        attempts: attempt,
                        source: e,
                    });
                }
            }
        }
    }

    fn decode<T: DeserializeOwned>(method: Method, path: &str, raw: &Raw) -> Result<T, ClientError> {
        serde_json::from_slice(&raw.body).map_err(|source| ClientError::Decode {
            method: method.as_str(),
            path: path.to_owned(),
            status: raw.status,
            source,
        })
    }

    async fn get<T: DeserializeOwned, Q: Serialize>(
        &self,
        template: &str,
        args: &[&str],
        query: &Q,
    ) -> Result<T, ClientError> {
        let path = path_of(template, args)?;
        let call = Call {
            method: Method::Get,
            path: path.clone(),
            query: encode_query(query)?,
            body: None,
            retry: retry_of(Method::Get, template),
            idempotency_key: None,
        };
        let raw = self.execute(call).await?;
        Self::decode(Method::Get, &path, &raw)
    }

    /// POSTs `body`. Routes the table marks `WithIdempotencyKey` are sent
    /// with `key` (a fresh one if `None`), so retries cannot repeat the write.
    async fn post_raw<B: Serialize>(
        &self,
        template: &str,
        args: &[&str],
        body: Option<&B>,
        key: Option<&str>,
    ) -> Result<(String, Raw, Option<String>), ClientError> {
        let path = path_of(template, args)?;
        let retry = retry_of(Method::Post, template);
        let key = match (retry, key) {
            (Retry::WithIdempotencyKey, Some(k)) => Some(k.to_owned()),
            (Retry::WithIdempotencyKey, None) => Some(new_idempotency_key()),
            _ => None,
        };
        if let Some(k) = &key {
            if let Some(rule) = routes::idempotency_key_rule(k) {
                return Err(ClientError::Config(format!("Idempotency-Key {rule}")));
            }
        }
        let body = body.map(serde_json::to_vec).transpose().map_err(ClientError::Encode)?;
        let call = Call {
            method: Method::Post,
            path: path.clone(),
            query: String::new(),
            body,
            retry,
            idempotency_key: key.as_deref(),
        };
        let raw = self.execute(call).await?;
        Ok((path, raw, key))
    }

    async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        template: &str,
        args: &[&str],
        body: &B,
    ) -> Result<T, ClientError> {
        let (path, raw, _) = self.post_raw(template, args, Some(body), None).await?;
        Self::decode(Method::Post, &path, &raw)
    }

    async fn post_idempotent<T: DeserializeOwned, B: Serialize>(
        &self,
        template: &str,
        args: &[&str],
        body: &B,
        key: Option<&str>,
    ) -> Result<Idempotent<T>, ClientError> {
        let (path, raw, key) = self.post_raw(template, args, Some(body), key).await?;
        let value = Self::decode(Method::Post, &path, &raw)?;
        Ok(Idempotent { value, replayed: is_replayed(&raw.headers), idempotency_key: key.unwrap_or_default() })
    }

    // ---- meta ----

    /// `GET /healthz` (no token needed).
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get(routes::HEALTHZ, &[], &()).await
    }

    /// `GET /v1/version`.
    pub async fn version(&self) -> Result<VersionInfo, ClientError> {
        self.get(routes::VERSION, &[], &()).await
    }

    /// `GET /openapi.json`, as JSON.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.get(routes::OPENAPI, &[], &()).await
    }

    /// `GET /metrics`: Prometheus text exposition.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let call = Call {
            method: Method::Get,
            path: routes::METRICS.to_owned(),
            query: String::new(),
            body: None,
            retry: Retry::Safe,
            idempotency_key: None,
        };
        let raw = self.execute(call).await?;
        String::from_utf8(raw.body).map_err(|_| ClientError::UnexpectedStatus {
            method: "GET",
            path: routes::METRICS.to_owned(),
            status: raw.status,
        })
    }

    // ---- reads ----

    /// `GET /v1/me`.
    pub async fn me(&self) -> Result<MeResponse, ClientError> {
        self.get(routes::ME, &[], &()).await
    }

    /// `GET /v1/customers`.
    pub async fn customers(&self, query: &CustomerListQuery) -> Result<Page<CustomerSummary>, ClientError> {
        self.get(routes::CUSTOMERS, &[], query).await
    }

    /// `GET /v1/customers/{id}`.
    pub async fn customer(&self, id: &str) -> Result<CustomerSummary, ClientError> {
        self.get(routes::CUSTOMER, &[id], &()).await
    }

    /// `GET /v1/customers/{id}/balances`.
    pub async fn balances(&self, customer: &str, query: &BalanceQuery) -> Result<BalancesResponse, ClientError> {
        self.get(routes::CUSTOMER_BALANCES, &[customer], query).await
    }

    /// `GET /v1/customers/{id}/grants`.
    pub async fn grants(&self, customer: &str, query: &GrantListQuery) -> Result<Page<GrantBalance>, ClientError> {
        self.get(routes::CUSTOMER_GRANTS, &[customer], query).await
    }

    /// `GET /v1/customers/{id}/ledger`.
    pub async fn ledger(&self, customer: &str, query: &LedgerQuery) -> Result<Page<LedgerEntry>, ClientError> {
        self.get(routes::CUSTOMER_LEDGER, &[customer], query).await
    }

    /// `GET /v1/customers/{id}/burn`.
    pub async fn burn(&self, customer: &str, query: &BurnQuery) -> Result<BurnSeries, ClientError> {
        self.get(routes::CUSTOMER_BURN, &[customer], query).await
    }

    /// `GET /v1/customers/{id}/forecast`.
    pub async fn forecast(&self, customer: &str, query: &ForecastQuery) -> Result<ForecastResponse, ClientError> {
        self.get(routes::CUSTOMER_FORECAST, &[customer], query).await
    }

    /// `GET /v1/customers/{id}/expirations`.
    pub async fn expirations(
        &self,
        customer: &str,
        query: &ExpirationsQuery,
    ) -> Result<ExpirationsResponse, ClientError> {
        self.get(routes::CUSTOMER_EXPIRATIONS, &[customer], query).await
    }

    /// `GET /v1/reports/expirations`.
    pub async fn report_expirations(&self, query: &ExpirationReportQuery) -> Result<ExpirationReport, ClientError> {
        self.get(routes::REPORT_EXPIRATIONS, &[], query).await
    }

    /// `GET /v1/reports/breakage`.
    pub async fn report_breakage(&self, query: &BreakageQuery) -> Result<BreakageReport, ClientError> {
        self.get(routes::REPORT_BREAKAGE, &[], query).await
    }

    /// `GET /v1/reports/reconciliation`.
    pub async fn report_reconciliation(
        &self,
        query: &ReconciliationQuery,
    ) -> Result<ReconciliationReport, ClientError> {
        self.get(routes::REPORT_RECONCILIATION, &[], query).await
    }

    /// `GET /v1/events/rejected`.
    pub async fn rejected_events(&self, query: &RejectedEventsQuery) -> Result<Page<RejectedEvent>, ClientError> {
        self.get(routes::EVENTS_REJECTED, &[], query).await
    }

    // ---- usage ----

    /// `POST /v1/events` with a fresh `Idempotency-Key`.
    pub async fn ingest(&self, request: &IngestRequest) -> Result<Idempotent<IngestResponse>, ClientError> {
        self.post_idempotent(routes::EVENTS, &[], request, None).await
    }

    /// `POST /v1/events` with the caller's key: to resume a batch after a
    /// crash or across processes (the events' own ids also make each event
    /// idempotent; the key makes the whole answer replayable).
    pub async fn ingest_with_key(
        &self,
        request: &IngestRequest,
        key: &str,
    ) -> Result<Idempotent<IngestResponse>, ClientError> {
        self.post_idempotent(routes::EVENTS, &[], request, Some(key)).await
    }

    /// `POST /v1/authorize`. Read-only on the server, so retried like a GET.
    pub async fn authorize(&self, request: &AuthorizeRequest) -> Result<AuthorizeResponse, ClientError> {
        self.post(routes::AUTHORIZE, &[], request).await
    }

    // ---- grants ----

    /// `POST /v1/grants` with a fresh `Idempotency-Key`.
    pub async fn create_grant(&self, request: &CreateGrantRequest) -> Result<Idempotent<GrantOutcome>, ClientError> {
        self.create_grant_inner(request, None).await
    }

    /// `POST /v1/grants` with the caller's key.
    pub async fn create_grant_with_key(
        &self,
        request: &CreateGrantRequest,
        key: &str,
    ) -> Result<Idempotent<GrantOutcome>, ClientError> {
        self.create_grant_inner(request, Some(key)).await
    }

    async fn create_grant_inner(
        &self,
        request: &CreateGrantRequest,
        key: Option<&str>,
    ) -> Result<Idempotent<GrantOutcome>, ClientError> {
        self.post_outcome(routes::GRANTS, &[], request, key).await
    }

    /// `POST /v1/grants/{id}/extend` with a fresh `Idempotency-Key`: the
    /// remainder moves to a new grant with the later expiry, or the request
    /// waits for approval.
    pub async fn extend_expiry(
        &self,
        grant: &str,
        request: &ExtendExpiryRequest,
    ) -> Result<Idempotent<ExtendOutcome>, ClientError> {
        self.post_outcome(routes::GRANT_EXTEND, &[grant], request, None).await
    }

    /// `POST /v1/grants/{id}/extend` with the caller's key.
    pub async fn extend_expiry_with_key(
        &self,
        grant: &str,
        request: &ExtendExpiryRequest,
        key: &str,
    ) -> Result<Idempotent<ExtendOutcome>, ClientError> {
        self.post_outcome(routes::GRANT_EXTEND, &[grant], request, Some(key)).await
    }

    /// A money-moving POST: `201` executed, `202` filed for approval.
    async fn post_outcome<T: DeserializeOwned>(
        &self,
        route: &str,
        params: &[&str],
        request: &impl Serialize,
        key: Option<&str>,
    ) -> Result<Idempotent<Outcome<T>>, ClientError> {
        let (path, raw, key) = self.post_raw(route, params, Some(request), key).await?;
        let value = match raw.status {
            201 => Outcome::Executed(Box::new(Self::decode(Method::Post, &path, &raw)?)),
            202 => Outcome::PendingApproval(Box::new(Self::decode(Method::Post, &path, &raw)?)),
            status => return Err(ClientError::UnexpectedStatus { method: "POST", path, status }),
        };
        Ok(Idempotent { value, replayed: is_replayed(&raw.headers), idempotency_key: key.unwrap_or_default() })
    }

    /// `POST /v1/grants/{id}/void` with a fresh `Idempotency-Key`.
    pub async fn void_grant(
        &self,
        grant: &str,
        request: &VoidGrantRequest,
    ) -> Result<Idempotent<GrantVoided>, ClientError> {
        self.post_idempotent(routes::GRANT_VOID, &[grant], request, None).await
    }

    /// `POST /v1/grants/{id}/void` with the caller's key.
    pub async fn void_grant_with_key(
        &self,
        grant: &str,
        request: &VoidGrantRequest,
        key: &str,
    ) -> Result<Idempotent<GrantVoided>, ClientError> {
        self.post_idempotent(routes::GRANT_VOID, &[grant], request, Some(key)).await
    }

    // ---- admin ----

    /// `GET /v1/admin/credit-types`.
    pub async fn credit_types(&self, page: &PageParams) -> Result<Page<CreditType>, ClientError> {
        self.get(routes::ADMIN_CREDIT_TYPES, &[], page).await
    }

    /// `GET /v1/admin/credit-types/{id}`.
    pub async fn credit_type(&self, id: &str) -> Result<CreditType, ClientError> {
        self.get(routes::ADMIN_CREDIT_TYPE, &[id], &()).await
    }

    /// `POST /v1/admin/credit-types`.
    pub async fn create_credit_type(&self, request: &CreateCreditTypeRequest) -> Result<CreditType, ClientError> {
        self.post(routes::ADMIN_CREDIT_TYPES, &[], request).await
    }

    /// `GET /v1/admin/products`.
    pub async fn products(&self, page: &PageParams) -> Result<Page<Product>, ClientError> {
        self.get(routes::ADMIN_PRODUCTS, &[], page).await
    }

    /// `GET /v1/admin/products/{id}`.
    pub async fn product(&self, id: &str) -> Result<Product, ClientError> {
        self.get(routes::ADMIN_PRODUCT, &[id], &()).await
    }

    /// `POST /v1/admin/products`.
    pub async fn create_product(&self, request: &CreateProductRequest) -> Result<Product, ClientError> {
        self.post(routes::ADMIN_PRODUCTS, &[], request).await
    }

    /// `POST /v1/admin/products/{id}/rates`: returns the product with its new card.
    pub async fn add_rate_version(
        &self,
        product: &str,
        request: &AddRateVersionRequest,
    ) -> Result<Product, ClientError> {
        self.post(routes::ADMIN_PRODUCT_RATES, &[product], request).await
    }

    /// `GET /v1/admin/overrides`.
    pub async fn overrides(&self, query: &OverrideListQuery) -> Result<Page<RateOverride>, ClientError> {
        self.get(routes::ADMIN_OVERRIDES, &[], query).await
    }

    /// `POST /v1/admin/overrides` (sets or replaces).
    pub async fn set_override(&self, request: &SetOverrideRequest) -> Result<RateOverride, ClientError> {
        self.post(routes::ADMIN_OVERRIDES, &[], request).await
    }

    /// `POST /v1/admin/customers`.
    pub async fn create_customer(&self, request: &CreateCustomerRequest) -> Result<Customer, ClientError> {
        self.post(routes::ADMIN_CUSTOMERS, &[], request).await
    }

    /// `GET /v1/admin/users`.
    pub async fn users(&self, query: &UserListQuery) -> Result<Page<User>, ClientError> {
        self.get(routes::ADMIN_USERS, &[], query).await
    }

    /// `POST /v1/admin/users`: the answer holds the token, shown once. Never
    /// retried: a retry could create a second user whose token is lost.
    pub async fn create_user(&self, request: &CreateUserRequest) -> Result<CreatedUser, ClientError> {
        self.post(routes::ADMIN_USERS, &[], request).await
    }

    /// `POST /v1/admin/users/{id}/revoke` (no body).
    pub async fn revoke_user(&self, id: &str) -> Result<User, ClientError> {
        let (path, raw, _) = self.post_raw::<()>(routes::ADMIN_USER_REVOKE, &[id], None, None).await?;
        Self::decode(Method::Post, &path, &raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use creditdesk_api::EntryKind;

    #[test]
    fn base_urls_are_checked_and_normalised() {
        assert_eq!(parse_base_url("https://billing.example.com/").unwrap().as_str(), "https://billing.example.com/");
        assert_eq!(parse_base_url("http://h:8080/prefix/").unwrap().as_str(), "http://h:8080/prefix");
        for bad in ["billing.example.com", "ftp://h", "https://h/?x=1", "https://h/#f", "https://u:p@h/"] {
            assert!(matches!(parse_base_url(bad), Err(ClientError::Config(_))), "{bad}");
        }
    }

    #[test]
    fn urls_join_base_path_and_query() {
        let base = parse_base_url("http://127.0.0.1:8080").unwrap();
        let path = routes::fill(routes::CUSTOMER_LEDGER, &["acme/eu"]).unwrap();
        let q = LedgerQuery {
            kind: vec![EntryKind::Burn, EntryKind::Overage],
            from: Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()),
            limit: Some(50),
            ..Default::default()
        };
        let url = build_url(&base, &path, &encode_query(&q).unwrap()).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/v1/customers/acme%2Feu/ledger?kind=burn%2Coverage&from=2026-03-01T00%3A00%3A00Z&limit=50"
        );
        let prefixed = parse_base_url("https://example.com/creditdesk/").unwrap();
        assert_eq!(build_url(&prefixed, routes::ME, "").unwrap().as_str(), "https://example.com/creditdesk/v1/me");
        assert_eq!(encode_query(&()).unwrap(), "");
    }

    #[test]
    fn replayed_header() {
        let mut h = HeaderMap::new();
        assert!(!is_replayed(&h));
        h.insert("Idempotent-Replayed", HeaderValue::from_static("True"));
        assert!(is_replayed(&h));
        h.insert("idempotent-replayed", HeaderValue::from_static("false"));
        assert!(!is_replayed(&h));
    }

    #[test]
    fn idempotency_keys_are_fresh_and_valid() {
        let (a, b) = (new_idempotency_key(), new_idempotency_key());
        assert_ne!(a, b);
        assert_eq!(routes::idempotency_key_rule(&a), None);
    }

    #[test]
    fn retry_classes_come_from_the_route_table() {
        assert_eq!(retry_of(Method::Get, routes::CUSTOMER_LEDGER), Retry::Safe);
        assert_eq!(retry_of(Method::Post, routes::EVENTS), Retry::WithIdempotencyKey);
        assert_eq!(retry_of(Method::Post, routes::GRANTS), Retry::WithIdempotencyKey);
        assert_eq!(retry_of(Method::Post, routes::GRANT_VOID), Retry::WithIdempotencyKey);
        assert_eq!(retry_of(Method::Post, routes::AUTHORIZE), Retry::Safe);
        assert_eq!(retry_of(Method::Post, routes::ADMIN_USERS), Retry::Never);
        assert_eq!(retry_of(Method::Post, "/v1/unknown"), Retry::Never);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let b = ClientBuilder::new("http://localhost:1").token("cdk_live_secret");
        assert!(!format!("{b:?}").contains("cdk_live_secret"));
        let c = b.build().unwrap();
        assert!(!format!("{c:?}").contains("cdk_live_secret"));
        assert!(matches!(Client::new("http://h", "bad\ntoken"), Err(ClientError::Config(_))));
        assert!(matches!(
            ClientBuilder::new("http://h").retry(RetryPolicy { max_attempts: 0, ..Default::default() }).build(),
            Err(ClientError::Config(_))
        ));
    }
}
