//! The playground's Compose page in a real browser (headless Chromium over WebDriver) against a real daemon: type
//! a two-service project into the editor, see berth-shared's validation flag a bad key with its line:column and
//! clear once it is fixed, see the services graph, press Up and watch both services start, follow the published
//! port, open a terminal in the worker and reach the web service by name, read the merged logs, press Down and
//! check through the Engine API that nothing is left. Screenshots land in `<target>/e2e/screenshots/compose-*`.
//!
//! Needs the web app built into `<target>/web` (`cargo xtask web`; `cargo xtask test` does it first), Debian's
//! chromium and chromium-driver, and root (the daemon).

mod support;

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use support::browser::{readme_screenshot, screenshot, script, terminal_rows, text_of, wait_for, Session, TestResult};
use support::Daemon;

/// Container starts and compose runs on a busy 2-core machine.
const SLOW: Duration = Duration::from_secs(120);
const QUICK: Duration = Duration::from_secs(20);
const PROJECT: &str = "e2ecompose";

/// The compose file as typed, with the bad key on its last line (fixed by retyping that line).
const COMPOSE: &[&str] = &[
    "services:",
    "  web:",
    "    image: busybox",
    r#"    command: ["sh", "-c", "echo hello-from-web > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]"#,
    "    ports:",
    r#"      - "80""#,
    "  worker:",
    "    image: busybox",
    r#"    command: ["sh", "-c", "while true; do wget -qO- http://web/; sleep 2; done"]"#,
    "    links:",
    "      - web",
    "    depend_on: [web]",
];
const FIXED_LAST_LINE: &str = "depends_on: [web]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_page_validate_graph_up_terminal_down() {
    let session = Session::start().await;
    let outcome = walk_through(&session.client, &session.daemon).await;
    session.finish(outcome, "compose-failure").await;
}

fn key(key: Key) -> String {
    char::from(key).to_string()
}

/// Types `lines` into CodeMirror. The editor keeps the previous line's indentation on Enter, so each new line
/// first selects that indentation (Shift+Home from its end) and types over it with the line's own.
async fn type_lines(editor: &fantoccini::elements::Element, lines: &[&str]) -> TestResult {
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            editor.send_keys(&key(Key::Enter)).await?;
            editor.send_keys(&format!("{}{}{}", key(Key::Shift), key(Key::Home), key(Key::Null))).await?;
        }
        editor.send_keys(line).await?;
    }
    Ok(())
}

/// The project's containers and networks as the Engine API lists them.
fn leftovers(daemon: &Daemon) -> Vec<String> {
    let label = format!("com.docker.compose.project={PROJECT}");
    let filter = format!("%7B%22label%22%3A%5B%22{}%22%5D%7D", label.replace('=', "%3D"));
    let containers = daemon.get_json(&format!("/containers/json?all=1&filters={filter}"));
    let networks = daemon.get_json(&format!("/networks?filters={filter}"));
    let names = |list: &serde_json::Value, field: &str| -> Vec<String> {
        list.as_array().map(|items| items.iter().map(|item| item[field].to_string()).collect()).unwrap_or_default()
    };
    let mut left = names(&containers, "Names");
    left.extend(names(&networks, "Name"));
    left
}

async fn walk_through(client: &Client, daemon: &Daemon) -> TestResult {
    let base = format!("http://{}/", daemon.http_addr());
    client.goto(&format!("{base}#/compose")).await?;

    // 1. Name the project and type the compose file, replacing the example.
    let name = client.wait().at_most(QUICK).for_element(Locator::Css("input[aria-label='Project name']")).await?;
    name.clear().await?;
    name.send_keys(PROJECT).await?;
    let editor = client.wait().at_most(QUICK).for_element(Locator::Css(".cm-content")).await?;
    editor.click().await?;
    editor.send_keys(&format!("{}a{}", key(Key::Control), key(Key::Null))).await?;
    editor.send_keys(&key(Key::Delete)).await?;
    type_lines(&editor, COMPOSE).await?;

    // 2. The bad key is an error at 12:5, from berth-shared's loader, with no round trip.
    wait_for("the unknown-key error at 12:5", QUICK, move || async move {
        let problems = text_of(client, ".problems").await?;
        let at = script(
            client,
            "return document.querySelector('.problem.error[data-line=\"12\"]')?.dataset.column ?? null;",
        )
        .await?;
        if problems.contains("depend_on") && problems.contains("12:5") && at.as_str() == Some("5") {
            Ok(Some(()))
        } else {
            Err(problems)
        }
    })
    .await?;
    screenshot(client, "compose-1-error").await?;
    // Retype the last line: Shift+Home from its end selects it up to its indentation.
    editor.send_keys(&format!("{}{}{}", key(Key::Shift), key(Key::Home), key(Key::Null))).await?;
    editor.send_keys(FIXED_LAST_LINE).await?;
    wait_for("the problems to clear", QUICK, move || async move {
        let problems = text_of(client, ".problems").await?;
        if problems.contains("No problems") {
            Ok(Some(()))
        } else {
            Err(format!("problems: {problems}; editor: {}", text_of(client, ".cm-content").await?))
        }
    })
    .await?;

    // 3. The graph: two services, worker -> web drawn as a link (dashed).
    let edge_class = wait_for("the graph with its worker -> web edge", QUICK, move || async move {
        let found = script(
            client,
            "const nodes = document.querySelectorAll('.compose-graph .compose-node').length;
             const edge = document.querySelector('.compose-edge[data-from=\"worker\"][data-to=\"web\"]');
             return edge && nodes === 2 ? edge.getAttribute('class') : null;",
        )
        .await?;
        Ok(found.as_str().map(str::to_string))
    })
    .await?;
    if !edge_class.contains("link") {
        return Err(format!("worker -> web should be drawn as a link, has class {edge_class:?}").into());
    }

    // 4. Up: every service reaches "started", then both containers run.
    client.find(Locator::Css("#compose-up")).await?.click().await?;
    let outcome = wait_for("compose up to finish", SLOW, move || async move {
        let state =
            script(client, "return document.querySelector('.compose-progress')?.dataset.state ?? null;").await?;
        match state.as_str() {
            Some("succeeded") | Some("failed") => Ok(state.as_str().map(str::to_string)),
            other => Err(format!("progress state {other:?}")),
        }
    })
    .await?;
    let progress = text_of(client, ".compose-progress").await?;
    if outcome != "succeeded" {
        return Err(format!("compose up failed:\n{progress}").into());
    }
    let steps = script(
        client,
        "return Array.from(document.querySelectorAll('.compose-step')).map(s => s.dataset.service + '=' + s.dataset.step);",
    )
    .await?;
    let mut steps: Vec<String> =
        steps.as_array().map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default();
    steps.sort();
    if steps != ["web=started", "worker=started"] {
        return Err(format!("each service should show started, got {steps:?}:\n{progress}").into());
    }
    wait_for("both containers running in the table", SLOW, move || async move {
        let running = script(
            client,
            "return Array.from(document.querySelectorAll('.compose-containers tr[data-state=\"running\"]'))
                 .map(row => row.dataset.service).sort().join(',');",
        )
        .await?;
        match running.as_str() {
            Some("web,worker") => Ok(Some(())),
            other => Err(format!("running services: {other:?}")),
        }
    })
    .await?;

    // 5. The published port is a link that answers with the web service's page.
    let href = script(
        client,
        "return document.querySelector('.compose-containers tr[data-service=\"web\"] a.port-link')?.href ?? null;",
    )
    .await?;
    let href = href.as_str().ok_or("the web service has no published-port link")?.to_string();
    let address = href.trim_start_matches("http://").trim_end_matches('/').to_string();
    let page = tokio::task::spawn_blocking(move || support::http_get(&address, "/")).await?;
    if !page.contains("hello-from-web") {
        return Err(format!("{href} answered {page:?}").into());
    }
    screenshot(client, "compose-2-up").await?;
    // The README's compose picture (docs/compose.png with BERTH_SCREENSHOTS=docs).
    readme_screenshot(client, "compose").await?;

    // 6. A terminal in the worker reaches web by its service name.
    client.find(Locator::Css(".compose-containers tr[data-service='worker'] .terminal-button")).await?.click().await?;
    wait_for("the terminal to connect", SLOW, move || async move {
        let session = script(
            client,
            "return document.querySelector('.terminal-status [data-session]')?.dataset.session ?? null;",
        )
        .await?;
        match session.as_str() {
            Some(_) => Ok(Some(())),
            None => Err(text_of(client, ".compose-panel").await.unwrap_or_default()),
        }
    })
    .await?;
    client.find(Locator::Css(".terminal-host")).await?.click().await?;
    let keyboard = client.find(Locator::Css(".xterm-helper-textarea")).await?;
    keyboard.send_keys(&format!("wget -qO- http://web:80/{}", key(Key::Enter))).await?;
    wait_for("web's page on the worker's terminal", QUICK, move || async move {
        let rows = terminal_rows(client).await?;
        if rows.iter().any(|row| row == "hello-from-web") {
            Ok(Some(()))
        } else {
            Err(format!("{rows:?}"))
        }
    })
    .await?;
    screenshot(client, "compose-3-terminal").await?;

    // 7. The merged logs show the worker's fetches, prefixed with its service.
    client.find(Locator::Css(".all-logs-button")).await?.click().await?;
    wait_for("the worker's output in the merged logs", QUICK, move || async move {
        let logs = text_of(client, ".compose-logs .log-lines").await.unwrap_or_default();
        if logs.lines().any(|line| line.starts_with("worker") && line.contains("| hello-from-web")) {
            Ok(Some(()))
        } else {
            // Not followed: ask again until the worker's first fetch is in.
            if let Ok(refresh) = client.find(Locator::Css(".compose-logs .toolbar button")).await {
                let _ = refresh.click().await;
            }
            Err(logs)
        }
    })
    .await?;

    // 8. Down removes everything: no container or network with the project's label is left.
    client.find(Locator::Css("#compose-down")).await?.click().await?;
    let outcome = wait_for("compose down to finish", SLOW, move || async move {
        let state = script(
            client,
            "const p = document.querySelector('.compose-progress[data-kind=\"down\"]'); return p ? p.dataset.state : null;",
        )
        .await?;
        match state.as_str() {
            Some("succeeded") | Some("failed") => Ok(state.as_str().map(str::to_string)),
            other => Err(format!("progress state {other:?}")),
        }
    })
    .await?;
    if outcome != "succeeded" {
        return Err(format!("compose down failed:\n{}", text_of(client, ".compose-progress").await?).into());
    }
    let left = leftovers(daemon);
    if !left.is_empty() {
        return Err(format!("down left these behind: {left:?}").into());
    }
    if daemon.root().join("playground/compose").join(PROJECT).exists() {
        return Err("down should forget the project's files".into());
    }
    wait_for("the containers table to empty", QUICK, move || async move {
        let rows =
            script(client, "return document.querySelectorAll('.compose-containers tr[data-service]').length;").await?;
        if rows.as_u64() == Some(0) {
            Ok(Some(()))
        } else {
            Err(format!("{rows} rows"))
        }
    })
    .await?;
    screenshot(client, "compose-4-down").await?;
    Ok(())
}

/// `POST path` with `body` over the daemon's socket: the status and the whole answer body (HTTP/1.0: read to EOF).
fn post(daemon: &Daemon, path: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(daemon.socket()).expect("connecting to the daemon");
    stream.set_read_timeout(Some(SLOW)).expect("a read timeout");
    write!(stream, "POST {path} HTTP/1.0\r\nHost: berth\r\nContent-Type: application/x-tar\r\n")
        .and_then(|()| write!(stream, "Content-Length: {}\r\n\r\n", body.len()))
        .and_then(|()| stream.write_all(body))
        .expect("sending the request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("reading the answer");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

/// A tar with one file per (name, text), names written into the header as given (even `..`, which the tar crate's
/// builder refuses to write).
fn raw_tar(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut header = tar::Header::new_old();
        header.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, text.as_bytes()).expect("appending to the tar");
    }
    builder.into_inner().expect("finishing the tar")
}

/// The endpoints' answers to bad input, in plain words, and a compose file with an error ends the stream with
/// the loader's positioned message and a non-zero exit code.
#[test]
fn compose_endpoints_refuse_bad_input() {
    let daemon = Daemon::start();
    let compose = raw_tar(&[("docker-compose.yml", "services:\n  web:\n    image: busybox\n")]);

    let (status, body) = post(&daemon, "/berth/compose/Not..Valid/up", &compose);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid project name"), "{body}");

    let (status, body) = post(&daemon, "/berth/compose/nofile/up", &raw_tar(&[("readme.txt", "hi")]));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no compose file"), "{body}");

    let (status, body) = post(&daemon, "/berth/compose/ghost/down", b"");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no playground project named \\\"ghost\\\""), "{body}");

    // A path that climbs out of the project's folder stays inside it (or is refused), never lands beside it.
    let escaping = raw_tar(&[("../../escaped.txt", "out"), ("docker-compose.yml", "services: {}\n")]);
    let (status, body) = post(&daemon, "/berth/compose/climb/up", &escaping);
    let playground = daemon.root().join("playground");
    assert!(!playground.join("escaped.txt").exists() && !daemon.root().join("escaped.txt").exists(), "{status} {body}");

    let bad = raw_tar(&[("docker-compose.yml", "services:\n  web:\n    image: busybox\n    imgae: x\n")]);
    let (status, body) = post(&daemon, "/berth/compose/badfile/up", &bad);
    assert_eq!(status, 200, "{body}");
    let events: Vec<serde_json::Value> =
        body.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"))).collect();
    let said: Vec<&str> = events.iter().filter_map(|event| event["line"].as_str()).collect();
    assert!(said.iter().any(|line| line.contains("docker-compose.yml:4:5") && line.contains("imgae")), "{said:?}");
    assert_eq!(events.last().map(|event| event["event"].clone()), Some(serde_json::json!("finished")), "{body}");
    assert_eq!(events.last().map(|event| event["exit_code"].clone()), Some(serde_json::json!(1)), "{body}");
}
