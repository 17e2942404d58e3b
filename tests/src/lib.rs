//! The end-to-end harness: a real `creditdesk-server` on a SQLite file
//! seeded small, Xvfb (unless `DISPLAY` is set), `tauri-driver` in front of
//! `WebKitWebDriver`, and the real app binary pointed at the server through
//! its connection profile. Everything listens on 127.0.0.1 and is stopped
//! (killed by pid) when dropped.
//!
//! Binaries: `target/<profile>/creditdesk` and `creditdesk-server`, built
//! beforehand (`scripts/test` does it); `CREDITDESK_E2E_PROFILE` picks the
//! profile (default `debug`). Screenshots go to `target/e2e-screenshots/`.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};

/// The workspace's target directory. Read at run time (as `cargo test` and
/// the scripts set it), never baked in at compile time: a test binary can be
/// reused from another checkout that shares the build cache.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    manifest_dir.join("../target")
}

pub fn binary(name: &str) -> Result<PathBuf> {
    let profile = std::env::var("CREDITDESK_E2E_PROFILE").unwrap_or_else(|_| "debug".into());
    let path = target_dir().join(profile).join(name);
    if !path.exists() {
        bail!("{} is missing: build it first (cargo build -p creditdesk -p creditdesk-server)", path.display());
    }
    Ok(path)
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process killed on drop, with its process group when it leads one
/// (tauri-driver's WebKitWebDriver and the app would otherwise outlive it).
pub struct Proc(pub Child, pub &'static str);

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.0.id() as libc::pid_t;
        // SAFETY: plain syscalls on a pid we spawned; killpg fails harmlessly
        // (ESRCH/EPERM) when the child is not a group leader.
        unsafe {
            if libc::getpgid(pid) == pid {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16, what: &str, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > timeout {
            bail!("{what} did not listen on 127.0.0.1:{port} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// A seeded billing API.
pub struct Server {
    pub url: String,
    /// The demo admin's token.
    pub token: String,
    /// Every demo user's token by name (`demo-support-agent`,
    /// `demo-support-lead`, `demo-finance`, ...), from the seed report.
    pub tokens: std::collections::HashMap<String, String>,
    _proc: Proc,
}

impl Server {
    /// The token of demo user `name`.
    pub fn token_of(&self, name: &str) -> Result<&str> {
        self.tokens.get(name).map(String::as_str).with_context(|| format!("{name}'s token in the seed report"))
    }
}

impl Server {
    /// Seeds `customers` x `days` of demo data into `dir/e2e.db` and serves it.
    pub fn start(dir: &Path, customers: u32, days: u32) -> Result<Server> {
        let bin = binary("creditdesk-server")?;
        let db = format!("sqlite://{}", dir.join("e2e.db").display());
        let out = Command::new(&bin)
            .args(["--db", &db, "demo-seed", "--customers", &customers.to_string(), "--days", &days.to_string()])
            .env("CREDITDESK_LOG", "warn")
            .output()
            .context("running demo-seed")?;
        if !out.status.success() {
            bail!("demo-seed failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let report = String::from_utf8_lossy(&out.stdout);
        // "    <name> <role> <token>" per demo user.
        let tokens: std::collections::HashMap<String, String> = report
            .lines()
            .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
                [name, _role, token] if name.starts_with("demo-") && token != "-" => {
                    Some((name.to_owned(), token.to_owned()))
                }
                _ => None,
            })
            .collect();
        let token = tokens.get("demo-admin").context("demo-admin's token in the seed report")?.clone();
        let port = free_port()?;
        let child = Command::new(&bin)
            .args(["--db", &db, "serve", "--addr", &format!("127.0.0.1:{port}"), "--log", "warn"])
            .stdout(Stdio::null())
            .spawn()
            .context("starting creditdesk-server")?;
        let proc = Proc(child, "creditdesk-server");
        wait_for_port(port, "creditdesk-server", Duration::from_secs(30))?;
        Ok(Server { url: format!("http://127.0.0.1:{port}"), token, tokens, _proc: proc })
    }
}

/// Whether X display `n` is free: no socket, or one left by a server that
/// is gone (its lock file names a dead process: an Xvfb killed with
/// SIGKILL leaves both behind). A stale pair is removed.
fn display_free(n: u32) -> bool {
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    if !socket.exists() {
        return true;
    }
    let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
    let Some(pid) = std::fs::read_to_string(&lock).ok().and_then(|t| t.trim().parse::<libc::pid_t>().ok()) else {
        return false; // a server without a lock file of ours: leave it alone
    };
    // SAFETY: signal 0 only checks that the process exists.
    let alive =
        unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if alive {
        return false;
    }
    std::fs::remove_file(&socket).is_ok() && std::fs::remove_file(&lock).is_ok()
}

/// Xvfb on a free display, unless one is given in `DISPLAY`.
pub fn display() -> Result<(String, Option<Proc>)> {
    if let Ok(d) = std::env::var("DISPLAY") {
        if !d.is_empty() {
            return Ok((d, None));
        }
    }
    let n = (90..200).find(|&n| display_free(n)).context("a free X display")?;
    let child = Command::new("Xvfb")
        .args([&format!(":{n}"), "-screen", "0", "1440x1000x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting Xvfb (apt-get install xvfb)")?;
    let proc = Proc(child, "Xvfb");
    let start = Instant::now();
    while !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
        if start.elapsed() > Duration::from_secs(10) {
            bail!("Xvfb :{n} did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((format!(":{n}"), Some(proc)))
}

/// The app under WebDriver, signed in to `server` through a connection
/// profile written in a fresh app directory.
pub struct App {
    pub client: Client,
    pub app_dir: tempfile::TempDir,
    pub export_dir: PathBuf,
    /// The X display the app runs on.
    display: String,
    _driver: Proc,
    _xvfb: Option<Proc>,
}

impl App {
    pub async fn launch(server: &Server) -> Result<App> {
        let app = binary("creditdesk")?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let app_dir = tempfile::tempdir()?;
        write_connection(app_dir.path(), server)?;
        let export_dir = app_dir.path().join("exports");
        let (display, xvfb) = display()?;
        let port = free_port()?;
        let native = free_port()?;
        let driver = which("tauri-driver")?;
        // The driver's and the app's output, kept for a failed run to explain itself.
        let log_path = target_dir().join("e2e-screenshots").join("tauri-driver.log");
        std::fs::create_dir_all(log_path.parent().context("log dir")?)?;
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(driver)
            .process_group(0)
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .env("DISPLAY", &display)
            .env("CREDITDESK_APP_DIR", app_dir.path())
            .env("CREDITDESK_EXPORT_DIR", &export_dir)
            .env("CREDITDESK_LOG", "warn")
            // WebKitGTK under Xvfb: no GPU, so software GL (the app turns
            // compositing off, as it does for its users by default).
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting tauri-driver (cargo install tauri-driver --locked)")?;
        let driver = Proc(child, "tauri-driver");
        wait_for_port(port, "tauri-driver", Duration::from_secs(20))?;
        // tauri-driver spawns WebKitWebDriver and serves at once, without
        // waiting for it: a session asked for too soon fails with a connect
        // error (it did on a cold CI machine).
        wait_for_port(native, "WebKitWebDriver", Duration::from_secs(20))?;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert("tauri:options".into(), serde_json::json!({ "application": app }));
        let client = ClientBuilder::rustls()
            .context("WebDriver client")?
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .with_context(|| {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                format!("opening a WebDriver session on the app; tauri-driver's log:\n{log}")
            })?;
        Ok(App { client, app_dir, export_dir, display, _driver: driver, _xvfb: xvfb })
    }

    /// Waits for `css` to appear (up to 30 s: the first load compiles nothing but starts WebKit).
    /// A view that redraws (a chart replaced by its next drawing) can swap
    /// the element between WebKitWebDriver finding it and handing it over
    /// ("stale element"): that is retried like "not there yet".
    pub async fn find(&self, css: &str) -> Result<fantoccini::elements::Element> {
        let start = Instant::now();
        loop {
            let found = self.client.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(css)).await;
            match found {
                Err(e) if e.to_string().contains("Stale element") && start.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other.with_context(|| format!("waiting for {css}")),
            }
        }
    }

    /// Waits for `css` and clicks it. A table row is clicked on its first
    /// cell: WebKitWebDriver calls a `<tr>` itself "not interactable".
    pub async fn click(&self, css: &str) -> Result<()> {
        let element = self.find(css).await?;
        let target = if element.tag_name().await? == "tr" { element.find(Locator::Css("td")).await? } else { element };
        target.click().await.with_context(|| format!("clicking {css}"))
    }

    /// Clicks the button whose text is exactly `text`.
    pub async fn click_button(&self, text: &str) -> Result<()> {
        let xpath = format!("//button[normalize-space()='{text}']");
        let button = self
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath(&xpath))
            .await
            .with_context(|| format!("waiting for the button {text:?}"))?;
        button.click().await.with_context(|| format!("clicking the button {text:?}"))
    }

    /// Waits until `css`'s text satisfies `ok`, and returns it.
    pub async fn text_when(&self, css: &str, ok: impl Fn(&str) -> bool) -> Result<String> {
        let start = Instant::now();
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = e.text().await {
                    if ok(&t) {
                        return Ok(t);
                    }
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("{css} never had the expected text");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the screen, as a user sees the window, to
    /// `target/e2e-screenshots/<name>.png`. Taken from the X display with
    /// ImageMagick's `import`: WebKitWebDriver's own screenshot never
    /// answers when WebKit paints without compositing, as the app does.
    ///
    /// Every screenshot also checks that neither the page nor an open
    /// dialog is wider than its box (a button cut off at the window's edge,
    /// a field at the dialog's, a sideways scroll bar): layout faults the
    /// DOM alone does not show.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        // Let WebKit paint what the last DOM change drew.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let dir = target_dir().join("e2e-screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        let mut import = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            // The window sits at the screen's top left: cut the black around it.
            .args(["-trim", "+repage"])
            .arg(&path)
            .spawn()
            .context("running `import` (apt-get install imagemagick)")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = import.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = import.kill();
                bail!("screenshot {name} did not finish within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if !status.success() {
            bail!("screenshot {name}: `import` exited with {status}");
        }
        let overflowing = self
            .client
            .execute(
                "return [document.scrollingElement, ...document.querySelectorAll('.dialog')]
                   .filter((d) => d.scrollWidth > d.clientWidth + 1)
                   .map((d) => `${d.classList.contains('dialog') ? d.querySelector('header')?.textContent : 'the page'}: ${d.scrollWidth} px of content in ${d.clientWidth}`);",
                vec![],
            )
            .await?;
        if overflowing.as_array().is_some_and(|a| !a.is_empty()) {
            bail!("{name}: content wider than its box: {overflowing}");
        }
        Ok(path)
    }

    /// Runs `script` in the page until its result satisfies `ok` (up to
    /// 30 s), and returns that result.
    pub async fn script_when(
        &self,
        script: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<serde_json::Value> {
        let start = Instant::now();
        loop {
            let value = self.client.execute(script, vec![]).await?;
            if ok(&value) {
                return Ok(value);
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("the page never answered as expected; last answer: {value}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs the app in as `token` through Settings -> Connection ("Save and
    /// connect"), and waits until the sidebar names `user`.
    pub async fn sign_in_as(&self, url: &str, token: &str, user: &str) -> Result<()> {
        self.click("[data-testid=nav-settings]").await?;
        self.set_input("[data-testid=server-url]", url).await?;
        self.set_input("[data-testid=server-token]", token).await?;
        self.click_button("Save and connect").await?;
        self.text_when("[data-testid=who]", |t| t.contains(user)).await?;
        Ok(())
    }

    /// Sets a React-controlled input's (or textarea's) value as typing would.
    pub async fn set_input(&self, css: &str, value: &str) -> Result<()> {
        self.find(css).await?;
        self.client
            .execute(
                "const el = document.querySelector(arguments[0]);
                 const set = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value').set;
                 set.call(el, arguments[1]);
                 el.dispatchEvent(new Event('input', { bubbles: true }));",
                vec![css.into(), value.into()],
            )
            .await?;
        Ok(())
    }
}

fn which(name: &str) -> Result<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.exists()).with_context(|| format!("{name} not found on PATH"))
}

/// Points an app directory (`CREDITDESK_APP_DIR`) at `server` as its demo admin.
pub fn write_connection(app_dir: &Path, server: &Server) -> Result<()> {
    std::fs::write(app_dir.join("connection.json"), serde_json::json!({ "server_url": server.url }).to_string())?;
    write_private(&app_dir.join("token"), &server.token)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)?.write_all(text.as_bytes())?;
    Ok(())
}

/// "1234567.5" -> "1,234,567.5": what the UI shows for an exact decimal.
pub fn grouped(decimal: &str) -> String {
    let (sign, rest) = decimal.strip_prefix('-').map_or(("", decimal), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}
