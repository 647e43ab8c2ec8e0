//! The HTTP port against foreign web pages and DNS rebinding: the requests a page on another origin can make the
//! user's browser send (a text/plain create, a start, websocket upgrades, a rebound Host) are refused and leave
//! nothing behind, while the page's own origin and the docker CLI, which sends no Origin, keep working. Then a real
//! headless Chromium opens a hostile page on another loopback port and tries the same through fetch, a form and
//! websockets. One daemon for the whole binary.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use berth_shared::api::terminal::ServerMessage;
use futures_util::StreamExt;
use support::browser::{script, wait_for, Session, TestResult};
use support::Daemon;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const EVIL: &str = "http://evil.example";
const QUICK: Duration = Duration::from_secs(20);

/// One HTTP/1.0 request to `address` with `host` as its Host: the status and the body.
fn send(address: &str, host: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connecting to the HTTP port");
    stream.set_read_timeout(Some(QUICK)).expect("a read timeout");
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("sending");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reading the answer");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

fn container_names(daemon: &Daemon) -> Vec<String> {
    let list = daemon.get_json("/containers/json?all=1");
    let names = list.as_array().expect("a container list").iter();
    names
        .filter_map(|container| container["Names"][0].as_str())
        .map(|name| name.trim_start_matches('/').to_string())
        .collect()
}

async fn upgrade(daemon: &Daemon, path: &str, origin: &str) -> Result<Socket, u16> {
    let mut request = format!("ws://{}{path}", daemon.http_addr()).into_client_request().expect("a websocket request");
    request.headers_mut().insert("origin", origin.parse().expect("an origin header"));
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("upgrading {path}: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_pages_are_refused_and_own_clients_are_not() {
    let session = Session::start().await;
    let outcome = async {
        engine_api_refusals(&session.daemon).await;
        hostile_page_in_chromium(&session).await
    }
    .await;
    session.finish(outcome, "http-guard").await;
}

async fn engine_api_refusals(daemon: &Daemon) {
    let address = daemon.http_addr().to_string();
    let own = format!("http://{address}");
    let create =
        r#"{"Image":"busybox","Cmd":["sh","-c","echo pwned > /host/tmp/proof"],"HostConfig":{"Binds":["/:/host"]}}"#;

    // The issue's create: text/plain is refused with dockerd's words, on both listeners, Origin or not.
    let (status, body) =
        send(&address, &address, "POST", "/v1.41/containers/create?name=x", &[("Content-Type", "text/plain")], create);
    assert_eq!(
        (status, body.contains("Content-Type specified (text/plain) must be 'application/json'")),
        (400, true),
        "{body}"
    );
    let text_plain = [("Content-Type", "text/plain"), ("Origin", EVIL)];
    let (status, body) = send(&address, &address, "POST", "/v1.41/containers/create?name=x", &text_plain, create);
    assert_eq!(status, 403, "{body}");
    let (status, body) = daemon_socket_post(daemon, "/v1.41/containers/create?name=x", "text/plain", create);
    assert_eq!(status, 400, "over the socket too: {body}");
    // A JSON create from a foreign origin is refused as well, and so is one from a rebound name.
    let json_evil = [("Content-Type", "application/json"), ("Origin", EVIL)];
    assert_eq!(send(&address, &address, "POST", "/containers/create?name=x", &json_evil, create).0, 403);
    let rebound = address.replace("127.0.0.1", "evil.example");
    let json = [("Content-Type", "application/json")];
    assert_eq!(send(&address, &rebound, "POST", "/containers/create?name=x", &json, create).0, 421);
    assert_eq!(send(&address, &rebound, "GET", "/containers/json", &[], "").0, 421);
    assert!(!container_names(daemon).contains(&"x".to_string()), "a refused create made a container");

    // The docker CLI over HTTP sends no Origin and works; the page's own origin works.
    daemon.ok(&["create", "--name", "victim", "busybox", "sleep", "1000"]);
    let out = daemon.docker_over_http(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(out.success() && out.stdout.contains("victim"), "{out:?}");
    assert_eq!(send(&address, &address, "POST", "/containers/victim/start", &[("Origin", EVIL)], "").0, 403);
    assert_eq!(daemon.get_json("/containers/victim/json")["State"]["Running"], false, "a refused start ran it");
    assert_eq!(send(&address, &address, "POST", "/containers/victim/start", &[("Origin", &own)], "").0, 204);
    assert_eq!(daemon.get_json("/containers/victim/json")["State"]["Running"], true);
    let own_json = [("Content-Type", "application/json"), ("Origin", own.as_str())];
    let (status, body) =
        send(&address, &address, "POST", "/containers/create?name=own", &own_json, r#"{"Image":"busybox"}"#);
    assert_eq!(status, 201, "{body}");
    let localhost = address.replace("127.0.0.1", "localhost");
    assert_eq!(send(&address, &localhost, "GET", "/containers/json", &[], "").0, 200);

    // Websockets: a foreign origin gets no upgrade and leaves no exec; the own origin gets one.
    assert_eq!(upgrade(daemon, "/v1.41/containers/victim/attach/ws?stream=1&stdin=1", EVIL).await.err(), Some(403));
    let terminal = "/berth/terminals/ws?container=victim&mode=shell&rows=24&cols=80";
    assert_eq!(upgrade(daemon, terminal, EVIL).await.err(), Some(403));
    let exec_ids = &daemon.get_json("/containers/victim/json")["ExecIDs"];
    assert!(exec_ids.as_array().is_none_or(Vec::is_empty), "a refused terminal left an exec: {exec_ids}");
    let Ok(mut socket) = upgrade(daemon, terminal, &own).await else { panic!("the own origin's terminal") };
    let hello = tokio::time::timeout(QUICK, async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                return serde_json::from_str::<ServerMessage>(&text).ok();
            }
        }
        None
    });
    assert!(matches!(hello.await, Ok(Some(ServerMessage::Hello { .. }))), "the terminal says hello");
    assert!(upgrade(daemon, "/containers/victim/attach/ws?stream=1", &own).await.is_ok());

    // The playground's own state-changing endpoints need its header even from the own origin.
    let (status, body) = send(&address, &address, "POST", "/berth/compose/nothing/down", &[("Origin", &own)], "");
    assert_eq!(status, 403, "{body}");
    let with_header = [("Origin", own.as_str()), (berth_shared::api::CLIENT_HEADER, "test")];
    assert_eq!(send(&address, &address, "POST", "/berth/compose/nothing/down", &with_header, "").0, 404);
}

fn daemon_socket_post(daemon: &Daemon, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut stream = std::os::unix::net::UnixStream::connect(daemon.socket()).expect("connecting to the socket");
    stream.set_read_timeout(Some(QUICK)).expect("a read timeout");
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: berth\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("sending");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reading the answer");
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, response)
}

/// What the hostile page tries: a `no-cors` create and start, a JSON-in-text/plain form POST, and two websockets.
/// It records each websocket's fate and each step's end in `window.attack`.
fn hostile_page(daemon: &str) -> String {
    format!(
        r#"<!doctype html><title>hostile</title>
<iframe name="sink"></iframe>
<form id="form" method="POST" enctype="text/plain" target="sink" action="http://{daemon}/containers/create?name=from-form">
<input name='{{"Image":"busybox","Cmd":["true"],"x":"' value='"}}'></form>
<script>
window.attack = {{ sockets: {{}}, fetches: 0, form: false }};
const body = JSON.stringify({{Image: "busybox", Cmd: ["true"]}});
fetch("http://{daemon}/v1.41/containers/create?name=from-fetch", {{method: "POST", mode: "no-cors", body,
    headers: {{"Content-Type": "text/plain"}}}})
  .then(() => fetch("http://{daemon}/v1.41/containers/victim/stop", {{method: "POST", mode: "no-cors"}}))
  .finally(() => window.attack.fetches = 2);
document.querySelector("iframe").addEventListener("load", () => window.attack.form = true);
document.getElementById("form").submit();
for (const [name, path] of [["attach", "/containers/victim/attach/ws?stream=1&stdin=1"],
                            ["terminal", "/berth/terminals/ws?container=victim&mode=shell"]]) {{
  const socket = new WebSocket("ws://{daemon}" + path);
  socket.onopen = () => window.attack.sockets[name] = "open";
  socket.onerror = () => window.attack.sockets[name] = window.attack.sockets[name] || "error";
}}
</script>"#
    )
}

/// Serves `page` to every connection on a loopback port of its own (another origin than the daemon's).
fn serve_page(page: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the hostile page");
    let address = listener.local_addr().expect("its address").to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n", page.len());
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(page.as_bytes()));
        }
    });
    address
}

async fn hostile_page_in_chromium(session: &Session) -> TestResult {
    let daemon = &session.daemon;
    let refusals_before = daemon.log_text().matches("refused a request on the HTTP port").count();
    let page = serve_page(hostile_page(daemon.http_addr()));
    session.client.goto(&format!("http://{page}/")).await?;
    let outcome = wait_for("the hostile page to finish its attempts", QUICK, || async {
        let attack = script(&session.client, "return window.attack;").await?;
        let done = attack["fetches"] == 2
            && attack["form"] == true
            && attack["sockets"]["attach"].is_string()
            && attack["sockets"]["terminal"].is_string();
        if done {
            Ok(Some(attack))
        } else {
            Err(attack.to_string())
        }
    })
    .await?;
    assert_eq!(outcome["sockets"]["attach"], "error", "{outcome}");
    assert_eq!(outcome["sockets"]["terminal"], "error", "{outcome}");
    let names = container_names(daemon);
    assert!(!names.iter().any(|name| name.starts_with("from-")), "the page made a container: {names:?}");
    assert_eq!(daemon.get_json("/containers/victim/json")["State"]["Running"], true, "the page stopped a container");
    // The attempts reached the daemon and were turned away there (not lost on the way): create, stop, the form
    // and both websockets.
    let refusals = daemon.log_text().matches("refused a request on the HTTP port").count() - refusals_before;
    assert!(refusals >= 5, "{refusals} refusals logged for 5 attempts\n{}", daemon.log_tail());
    Ok(())
}
