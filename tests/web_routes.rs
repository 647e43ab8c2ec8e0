//! The playground's Routes page (issue #18 item 4) in headless Chromium against a real daemon and two busybox
//! httpd containers answering different bodies: the page lists a route and shows its backends; its Switch button
//! moves a blue/green route's traffic (a real GET on the routed port tells); the request rates it shows rise
//! above 0 while traffic flows; a weighted route's slider, released, reaches the daemon as new weights. One daemon
//! and one chromedriver for the binary; each test names its containers and routes after itself.
//!
//! Needs the web app built into `<target>/web` (`cargo xtask web`), Debian's chromium and chromium-driver, and root.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use support::browser::{script, seen, text_of, wait_for, Page, TestResult};
use support::{free_port, unix_request, Daemon};

/// Container starts and the page's once-a-second reads on a busy 2-core machine.
const SLOW: Duration = Duration::from_secs(60);
const QUICK: Duration = Duration::from_secs(20);

fn daemon() -> &'static Daemon {
    static DAEMON: OnceLock<Daemon> = OnceLock::new();
    DAEMON.get_or_init(|| Daemon::start().stop_at_exit())
}

/// A busybox httpd container whose index page is `body`; returns when it accepts connections.
fn httpd(name: &str, body: &str) {
    let d = daemon();
    let _ = d.docker(&["rm", "-f", name]);
    let script = format!("mkdir -p /www && echo '{body}' > /www/index.html && exec httpd -f -p 80 -h /www");
    d.ok(&["run", "-d", "--name", name, "busybox", "sh", "-c", &script]);
    let ip =
        d.ok(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name]).trim().to_string();
    let deadline = Instant::now() + QUICK;
    while TcpStream::connect((ip.as_str(), 80)).is_err() {
        assert!(Instant::now() < deadline, "httpd in {name} did not start listening on {ip}:80");
        thread::sleep(Duration::from_millis(20));
    }
}

/// `POST /berth/routes` on the socket; panics with the daemon's answer unless it is 201.
fn create_route(body: serde_json::Value) {
    let (status, answer) =
        unix_request(daemon().socket(), "POST", "/berth/routes", Some(&body.to_string())).expect("the daemon answers");
    assert_eq!(status, 201, "creating the route: {answer}");
}

/// The body of `GET /` through the route on 127.0.0.1:port, trimmed ("" when the connection failed).
fn get_through(port: u16) -> String {
    let attempt = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(stream, "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        Ok(raw.split_once("\r\n\r\n").map(|(_, body)| body.trim().to_string()).unwrap_or_default())
    };
    attempt().unwrap_or_default()
}

/// Requests on the routed port in a thread, about 50 a second, until dropped; counts the answers.
struct Traffic {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(port: u16) -> Traffic {
        let (stop, answered) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let thread = {
            let (stop, answered) = (stop.clone(), answered.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if !get_through(port).is_empty() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    // Pacing, not waiting: a steady rate the page can show without taking a core.
                    thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Traffic { stop, answered, thread: Some(thread) }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Removes the test's route and containers however it ended.
struct Cleanup {
    route: &'static str,
    containers: [&'static str; 2],
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = unix_request(daemon().socket(), "DELETE", &format!("/berth/routes/{}", self.route), None);
        for container in self.containers {
            let _ = daemon().docker(&["rm", "-f", container]);
        }
    }
}

/// The number before "/s" in a backend row's rate cell, once the page has shown one.
async fn shown_rate(client: &Client, backend: &str, cell: &str) -> Result<Option<f64>, String> {
    let text = text_of(client, &format!("tr[data-backend='{backend}'] .{cell}")).await?;
    match text.trim().strip_suffix("/s").and_then(|number| number.parse::<f64>().ok()) {
        Some(rate) => Ok(Some(rate)),
        None => Err(format!("the {cell} of {backend} reads {text:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_route_page_shows_rates_and_its_switch_moves_the_traffic() {
    let _cleanup = Cleanup { route: "wr-bg", containers: ["wr-bg-blue", "wr-bg-green"] };
    httpd("wr-bg-blue", "hello from blue");
    httpd("wr-bg-green", "hello from green");
    let port = free_port();
    create_route(serde_json::json!({
        "name": "wr-bg", "host_port": port,
        "backends": [{"name": "blue", "container": "wr-bg-blue", "port": 80},
                     {"name": "green", "container": "wr-bg-green", "port": 80}],
        "mode": {"kind": "blue_green", "live": "blue", "drain_ms": 500},
    }));
    assert_eq!(get_through(port), "hello from blue");
    let page = Page::open(daemon(), false).await;
    let outcome = blue_green(&page, port).await;
    page.finish(outcome, "routes-blue-green").await;
}

async fn blue_green(page: &Page, port: u16) -> TestResult {
    let client = &page.client;
    page.goto("routes").await?;
    // The sidebar has the page, and the list links the route to its view.
    let nav = client.wait().at_most(QUICK).for_element(Locator::Css(".sidebar a[href='#/routes']")).await?;
    assert_eq!(nav.text().await?.trim(), "Routes");
    let link = client.wait().at_most(QUICK).for_element(Locator::Css("tr[data-route='wr-bg'] a")).await?;
    let listed = text_of(client, "tr[data-route='wr-bg']").await?;
    assert!(listed.contains(&port.to_string()) && listed.contains("live blue"), "the list shows {listed:?}");
    link.click().await?;

    client.wait().at_most(QUICK).for_element(Locator::Css(".route-view tr[data-backend='green']")).await?;
    let backends = script(
        client,
        "return Array.from(document.querySelectorAll('.backends-table tr[data-backend]')).map(r => r.dataset.backend);",
    )
    .await?;
    assert_eq!(backends, serde_json::json!(["blue", "green"]));
    assert!(text_of(client, ".route-mode").await?.contains("live blue"));

    // Traffic on the port: the live backend's rate, read from two reads of its counters, rises above 0.
    let traffic = Traffic::start(port);
    let rate = wait_for("blue's request rate above 0", SLOW, || async {
        Ok(shown_rate(client, "blue", "request-rate").await?.filter(|rate| *rate > 0.0))
    })
    .await?;
    assert!(rate < 100.0, "blue's rate {rate}/s is more than the test sends");
    assert_eq!(shown_rate(client, "green", "request-rate").await?, Some(0.0), "green is not live yet");

    // Switch: the routed port answers with green's body from then on.
    client.find(Locator::Css("tr[data-backend='green'] .switch-button")).await?.click().await?;
    wait_for("green answering on the routed port", QUICK, || async {
        match get_through(port).as_str() {
            "hello from green" => Ok(Some(())),
            other => Err(format!("the port answered {other:?}")),
        }
    })
    .await?;
    wait_for("the page marking green live", QUICK, || async {
        let mode = text_of(client, ".route-mode").await?;
        seen(mode.contains("live green"), mode)
    })
    .await?;
    wait_for("green's request rate above 0", SLOW, || async {
        Ok(shown_rate(client, "green", "request-rate").await?.filter(|rate| *rate > 0.0))
    })
    .await?;
    assert!(traffic.answered.load(Ordering::Relaxed) > 0);
    drop(traffic);

    // Rollback: blue again.
    client.find(Locator::Css(".rollback-button")).await?.click().await?;
    wait_for("blue answering after the rollback", QUICK, || async {
        match get_through(port).as_str() {
            "hello from blue" => Ok(Some(())),
            other => Err(format!("the port answered {other:?}")),
        }
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weighted_routes_slider_sends_its_weights_to_the_daemon() {
    let _cleanup = Cleanup { route: "wr-ab", containers: ["wr-ab-a", "wr-ab-b"] };
    httpd("wr-ab-a", "version a");
    httpd("wr-ab-b", "version b");
    create_route(serde_json::json!({
        "name": "wr-ab", "host_port": free_port(),
        "backends": [{"name": "a", "container": "wr-ab-a", "port": 80},
                     {"name": "b", "container": "wr-ab-b", "port": 80}],
        "mode": {"kind": "weighted", "weights": {"a": 50, "b": 50}},
    }));
    let page = Page::open(daemon(), false).await;
    let outcome = weighted(&page).await;
    page.finish(outcome, "routes-weighted").await;
}

async fn weighted(page: &Page) -> TestResult {
    let client = &page.client;
    page.goto("routes/wr-ab").await?;
    client.wait().at_most(QUICK).for_element(Locator::Css("tr[data-backend='a'] .weight-slider")).await?;
    // A drag ends in a change event where the mouse is released; the slider's value is set as a drag leaves it.
    script(
        client,
        "const slider = document.querySelector(\"tr[data-backend='a'] .weight-slider\");
         slider.value = '80';
         slider.dispatchEvent(new Event('input', {bubbles: true}));
         slider.dispatchEvent(new Event('change', {bubbles: true}));
         return null;",
    )
    .await?;
    // The other slider took the rest, and the daemon has the pair.
    wait_for("the daemon's weights 80/20", QUICK, || async {
        let route = daemon().get_json("/berth/routes/wr-ab");
        let weights = route["mode"]["weights"].clone();
        seen(weights == serde_json::json!({"a": 80, "b": 20}), weights.to_string())
    })
    .await?;
    wait_for("the page showing b at 20 %", QUICK, || async {
        let shown = text_of(client, "tr[data-backend='b'] .weight-value").await?;
        seen(shown == "20 %", shown)
    })
    .await?;
    Ok(())
}
