//! Headless Chromium over WebDriver (fantoccini + Debian's chromedriver) for the web tests: the driver in its own
//! process group, a browser session, polling with a clear timeout message, and reading the page (text, xterm's
//! screen, screenshots into `<target>/e2e/screenshots/`).

use std::error::Error;
use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::json;

pub use super::target_dir;

pub type TestResult<T = ()> = Result<T, Box<dyn Error>>;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER_STARTUP: Duration = Duration::from_secs(20);

/// chromedriver (and the Chromium it starts) in a process group of its own, killed as a group on drop so that
/// no browser outlives a failing test.
pub struct ChromeDriver {
    process: Child,
    port: u16,
}

impl ChromeDriver {
    pub fn start(log: &Path) -> ChromeDriver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free port for chromedriver");
        let log_file = std::fs::File::create(log).expect("creating the chromedriver log");
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {CHROMEDRIVER} ({error}): run `cargo xtask setup`"));
        let deadline = Instant::now() + DRIVER_STARTUP;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port} within {DRIVER_STARTUP:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        ChromeDriver { process, port }
    }
}

/// The process group of the chromedriver kept in [`shared_driver`]'s static, which Rust never drops.
static SHARED_DRIVER_GROUP: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// One chromedriver for the whole test binary (each test opens its own browser session on it, in its own profile);
/// it and its browsers are killed as a group when the test process exits.
pub fn shared_driver() -> &'static ChromeDriver {
    static DRIVER: std::sync::OnceLock<ChromeDriver> = std::sync::OnceLock::new();
    DRIVER.get_or_init(|| {
        let e2e = target_dir().join("e2e");
        std::fs::create_dir_all(&e2e).expect("creating <target>/e2e");
        let driver = ChromeDriver::start(&e2e.join(format!("chromedriver-{}.log", std::process::id())));
        SHARED_DRIVER_GROUP.store(driver.process.id() as i32, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: atexit takes a plain extern "C" function that lives for the whole process.
        unsafe { nix::libc::atexit(kill_shared_driver) };
        driver
    })
}

extern "C" fn kill_shared_driver() {
    let group = SHARED_DRIVER_GROUP.load(std::sync::atomic::Ordering::SeqCst);
    if group > 0 {
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.process.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        std::thread::sleep(Duration::from_millis(200));
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.process.wait();
    }
}

/// A WebDriver session with headless Chromium using `profile` as its user data dir; `dark`: the system theme it
/// reports to pages (`prefers-color-scheme`) is dark.
pub async fn browser(driver: &ChromeDriver, profile: &Path, dark: bool) -> Client {
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        "--window-size=1440,900".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    if dark {
        args.push("--force-dark-mode".into());
    }
    let options = json!({ "binary": CHROMIUM, "args": args });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session with headless Chromium")
}

/// One browser test: a fresh daemon, chromedriver and a headless Chromium with a profile of its own.
pub struct Session {
    pub daemon: super::Daemon,
    pub client: Client,
    driver: ChromeDriver,
    _profile: tempfile::TempDir,
}

impl Session {
    /// Needs the web app built into `<target>/web`.
    pub async fn start() -> Session {
        Session::start_themed(false).await
    }

    /// [`start`](Self::start) with a browser whose system theme is dark.
    pub async fn start_dark() -> Session {
        Session::start_themed(true).await
    }

    async fn start_themed(dark: bool) -> Session {
        let index = target_dir().join("web/index.html");
        assert!(index.exists(), "{} is missing: run cargo xtask web first", index.display());
        let daemon = super::Daemon::start();
        let e2e = target_dir().join("e2e");
        let profile = tempfile::Builder::new().prefix("chromium-").tempdir_in(&e2e).expect("a fresh browser profile");
        let driver = ChromeDriver::start(&profile.path().join("chromedriver.log"));
        let client = browser(&driver, profile.path(), dark).await;
        Session { daemon, client, driver, _profile: profile }
    }

    /// Closes the browser; a failed `outcome` leaves the screenshot `<failure_shot>.png` and fails the test with the
    /// error and the daemon's log.
    pub async fn finish(self, outcome: TestResult, failure_shot: &str) {
        if outcome.is_err() {
            let _ = screenshot(&self.client, failure_shot).await;
        }
        let _ = self.client.close().await;
        drop(self.driver);
        if let Err(error) = outcome {
            panic!(
                "{error}\n(screenshot: {}/e2e/screenshots/{failure_shot}.png)\n{}",
                target_dir().display(),
                self.daemon.log_tail()
            );
        }
    }
}

/// For [`wait_for`]: done when `holds`, otherwise what was `observed` this time.
#[allow(dead_code)]
pub fn seen(holds: bool, observed: String) -> Result<Option<()>, String> {
    match holds {
        true => Ok(Some(())),
        false => Err(observed),
    }
}

/// Polls `check` until it gives a value or `timeout` passes; the error names `what` and the last observation.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> TestResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(observed) => last = observed,
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}; last seen: {last}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs `script` in the page and returns its value as JSON.
pub async fn script(client: &Client, script: &str) -> Result<serde_json::Value, String> {
    client.execute(script, vec![]).await.map_err(|error| error.to_string())
}

/// The text of every row xterm's DOM renderer shows, with its non-breaking spaces as spaces, trimmed.
pub async fn terminal_rows(client: &Client) -> Result<Vec<String>, String> {
    let rows = script(
        client,
        "return Array.from(document.querySelectorAll('.xterm-rows > div'))
             .map(row => row.textContent.replace(/\\u00a0/g, ' ').trim());",
    )
    .await?;
    Ok(rows
        .as_array()
        .map(|rows| rows.iter().filter_map(|row| row.as_str().map(str::to_string)).collect())
        .unwrap_or_default())
}

/// Saves the page as `<target>/e2e/screenshots/readme-<name>.png` and, when `BERTH_SCREENSHOTS` names a folder
/// (`docs`, relative to the workspace), as `<folder>/<name>.png` too: how README.md's screenshots are retaken.
pub async fn readme_screenshot(client: &Client, name: &str) -> TestResult {
    let png = client.screenshot().await?;
    let dir = target_dir().join("e2e/screenshots");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("readme-{name}.png")), &png)?;
    if let Some(folder) = std::env::var_os("BERTH_SCREENSHOTS") {
        // Relative to the workspace: the berth package is backend/, one below it.
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let folder = workspace.join(folder);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join(format!("{name}.png")), &png)?;
    }
    Ok(())
}

/// Saves the page as `<target>/e2e/screenshots/<name>.png`.
pub async fn screenshot(client: &Client, name: &str) -> TestResult {
    let dir = target_dir().join("e2e/screenshots");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("{name}.png")), client.screenshot().await?)?;
    Ok(())
}

/// The `innerText` of the first element matching `selector`.
pub async fn text_of(client: &Client, selector: &str) -> Result<String, String> {
    let text =
        script(client, &format!("const e = document.querySelector({selector:?}); return e ? e.innerText : null;"))
            .await?;
    text.as_str().map(str::to_string).ok_or_else(|| format!("no element {selector}"))
}

/// A browser session of one test on the binary's shared driver, in a fresh profile, on `daemon`'s web app.
#[allow(dead_code)]
pub struct Page {
    pub client: Client,
    daemon: &'static super::Daemon,
    _profile: tempfile::TempDir,
}

#[allow(dead_code)]
impl Page {
    /// `dark`: the browser prefers a dark colour scheme.
    pub async fn open(daemon: &'static super::Daemon, dark: bool) -> Page {
        let index = target_dir().join("web/index.html");
        assert!(index.exists(), "{} is missing: run cargo xtask web first", index.display());
        let e2e = target_dir().join("e2e");
        std::fs::create_dir_all(&e2e).expect("creating <target>/e2e");
        let profile = tempfile::Builder::new().prefix("chromium-").tempdir_in(&e2e).expect("a fresh browser profile");
        let client = browser(shared_driver(), profile.path(), dark).await;
        Page { client, daemon, _profile: profile }
    }

    pub async fn goto(&self, route: &str) -> TestResult {
        self.client.goto(&format!("http://{}/#/{route}", self.daemon.http_addr())).await?;
        Ok(())
    }

    /// Closes the browser; a failed `outcome` leaves `<failure_shot>.png` and fails with the daemon's log.
    pub async fn finish(self, outcome: TestResult, failure_shot: &str) {
        if outcome.is_err() {
            let _ = screenshot(&self.client, failure_shot).await;
        }
        let _ = self.client.close().await;
        if let Err(error) = outcome {
            panic!(
                "{error}\n(screenshot: {}/e2e/screenshots/{failure_shot}.png)\n{}",
                target_dir().display(),
                self.daemon.log_tail()
            );
        }
    }
}
