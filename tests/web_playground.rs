//! The playground in a real browser: headless Chromium driven over WebDriver (fantoccini + chromedriver) against
//! a real daemon serving the built web app. One walk through what a person does: type a Dockerfile, see the lint
//! warning, apply its fix, build, find the RUN step's file in the layers view, run the image, type into the
//! terminal, reload and find the same shell, read the logs. Then the Security page reviewing containers run with the
//! docker CLI. Screenshots of each page land in `<target>/e2e/screenshots/`.
//!
//! Needs the web app built into `<target>/web` (`cargo xtask web`; `cargo xtask test` does it first), Debian's
//! chromium and chromium-driver, and root (the daemon).

mod support;

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::json;
use support::browser::{screenshot, script, terminal_rows, text_of, wait_for, Session, TestResult};
use support::Daemon;

/// Builds and container starts run on a busy 2-core machine.
const SLOW: Duration = Duration::from_secs(120);
const QUICK: Duration = Duration::from_secs(20);

/// No quotes or brackets: the editor closes them itself as they are typed. `CMD /start` is a plain list of words,
/// so BL005's fix (the exec form) means the same.
const DOCKERFILE: &[&str] = &[
    "FROM busybox",
    "RUN echo made-by-run > /made-by-run && echo \\#!/bin/sh > /start && echo echo hello-from-logs >> /start && echo exec sleep 1000 >> /start && chmod +x /start",
    "CMD /start",
];
const TAG: &str = "e2e/playground";

/// The app's files go out brotli- or gzip-compressed as the browser asks (copies `cargo xtask web` wrote), the
/// wasm included; a client that asks for neither gets the file as it is.
#[test]
fn the_app_is_served_precompressed() {
    let daemon = Daemon::start();
    let index = support::http_get(daemon.http_addr(), "/");
    let wasm = index.split(['"', '\'']).find(|part| part.ends_with(".wasm")).expect("index.html names the wasm");
    let raw =
        std::fs::read(support::target_dir().join("web").join(wasm.trim_start_matches('/'))).expect("the built wasm");
    for (accept, expected) in [("br, gzip", Some("br")), ("gzip", Some("gzip")), ("identity", None)] {
        let (head, body) = get_bytes(daemon.http_addr(), wasm, accept);
        let encoding = head
            .lines()
            .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-encoding: ").map(str::to_string));
        assert_eq!(encoding.as_deref(), expected, "Accept-Encoding: {accept}\n{head}");
        match expected {
            Some(_) => assert!(body.len() < raw.len() / 2, "{accept}: {} of {} bytes", body.len(), raw.len()),
            None => assert_eq!(body, raw),
        }
    }
}

/// GET over HTTP/1.0 with an Accept-Encoding: the response head as text and the body as bytes.
fn get_bytes(address: &str, path: &str, accept_encoding: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept-Encoding: {accept_encoding}\r\n\r\n")
        .expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    (String::from_utf8_lossy(&response[..split]).into_owned(), response[split + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playground_edit_lint_build_layers_run_terminal_logs() {
    let session = Session::start().await;
    let outcome = walk_through(&session.client, &session.daemon).await;
    session.finish(outcome, "failure").await;
}

async fn walk_through(client: &Client, daemon: &Daemon) -> TestResult {
    let base = format!("http://{}/", daemon.http_addr());
    client.goto(&format!("{base}#/")).await?;

    // 1. Type the Dockerfile into the editor, replacing the example.
    let editor = client.wait().at_most(QUICK).for_element(Locator::Css(".cm-content")).await?;
    editor.click().await?;
    let select_all = format!("{}a", char::from(Key::Control));
    editor.send_keys(&select_all).await?;
    editor.send_keys(&char::from(Key::Delete).to_string()).await?;
    // Release Control (WebDriver keeps modifiers down until the null key).
    editor.send_keys(&char::from(Key::Null).to_string()).await?;
    let enter = char::from(Key::Enter).to_string();
    editor.send_keys(&DOCKERFILE.join(&enter)).await?;

    // 2. The shell-form CMD warning appears as the text is typed, with a fix.
    wait_for("the BL005 shell-form warning", QUICK, move || async move {
        let problems = text_of(client, ".problems").await?;
        if problems.contains("BL005") {
            Ok(Some(()))
        } else {
            Err(problems)
        }
    })
    .await?;
    let fix = client.find(Locator::Css(".problem[data-rule='BL005'] .fix-button")).await?;
    fix.click().await?;
    wait_for("the fix to take the warning away", QUICK, move || async move {
        let problems = text_of(client, ".problems").await?;
        let editor_text = text_of(client, ".cm-content").await?;
        let fixed = !problems.contains("BL005") && editor_text.contains(r#"CMD ["/start"]"#);
        if fixed {
            Ok(Some(()))
        } else {
            Err(format!("problems: {problems}; editor: {editor_text}"))
        }
    })
    .await?;

    // 3. Build with a known tag; every step must finish.
    let tag_input = client.find(Locator::Css("input[aria-label='Image tag']")).await?;
    tag_input.clear().await?;
    tag_input.send_keys(TAG).await?;
    client.find(Locator::Css("#build-button")).await?.click().await?;
    let outcome = wait_for("the build to finish", SLOW, move || async move {
        let state = script(client, "return document.querySelector('.build-summary')?.dataset.state ?? null;").await?;
        match state.as_str() {
            Some("succeeded") | Some("failed") => Ok(Some(state.as_str().unwrap_or_default().to_string())),
            other => Err(format!("build state {other:?}")),
        }
    })
    .await?;
    let build_text = text_of(client, ".build-panel").await?;
    if outcome != "succeeded" {
        return Err(format!("the build failed:\n{build_text}").into());
    }
    let step_states =
        script(client, "return Array.from(document.querySelectorAll('.build-step')).map(s => s.dataset.state);")
            .await?;
    let step_states: Vec<&str> =
        step_states.as_array().map(|s| s.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
    if step_states.len() != DOCKERFILE.len() || !step_states.iter().all(|state| *state == "done" || *state == "cached")
    {
        return Err(format!("every step should be done or cached, got {step_states:?}:\n{build_text}").into());
    }
    screenshot(client, "1-playground").await?;

    // 4. The layers view shows the file the RUN step made.
    client.find(Locator::Css(".build-actions a.button")).await?.click().await?;
    wait_for("/made-by-run in the layers view", QUICK, move || async move {
        let page = text_of(client, ".layers-page").await.unwrap_or_default();
        if page.contains("/made-by-run") {
            Ok(Some(()))
        } else {
            Err(page)
        }
    })
    .await?;
    screenshot(client, "2-layers").await?;

    // 5. Run the image from the build panel; the run dialog opens the container's terminal.
    client.goto(&format!("{base}#/")).await?;
    client.wait().at_most(QUICK).for_element(Locator::Css(".build-actions button.primary")).await?.click().await?;
    client.wait().at_most(QUICK).for_element(Locator::Css("#run-submit")).await?.click().await?;
    let session = wait_for("the terminal to connect", SLOW, move || async move {
        let session = script(
            client,
            "return document.querySelector('.terminal-status [data-session]')?.dataset.session ?? null;",
        )
        .await?;
        match session.as_str() {
            Some(session) => Ok(Some(session.to_string())),
            None => Err(text_of(client, ".content").await.unwrap_or_default()),
        }
    })
    .await?;
    let url = client.current_url().await?;
    let container_page = url.to_string();
    if !container_page.contains("#/containers/") {
        return Err(format!("after Run the page should be the container's, is {container_page}").into());
    }

    // 6. Type into the shell and read the answer from xterm's screen.
    client.find(Locator::Css(".terminal-host")).await?.click().await?;
    let keyboard = client.find(Locator::Css(".xterm-helper-textarea")).await?;
    keyboard.send_keys(&format!("echo hello-from-terminal{enter}")).await?;
    let answered = |rows: &[String]| rows.iter().any(|row| row == "hello-from-terminal");
    wait_for("the echo on the terminal screen", QUICK, move || async move {
        let rows = terminal_rows(client).await?;
        if answered(&rows) {
            Ok(Some(()))
        } else {
            Err(format!("{rows:?}"))
        }
    })
    .await?;
    screenshot(client, "3-terminal").await?;

    // 7. A reload rejoins the same shell, and its scrollback comes back.
    client.refresh().await?;
    let rejoined = wait_for("the terminal to reconnect after a reload", QUICK, move || async move {
        let session = script(
            client,
            "return document.querySelector('.terminal-status [data-session]')?.dataset.session ?? null;",
        )
        .await?;
        let rows = terminal_rows(client).await?;
        match session.as_str() {
            Some(session) if answered(&rows) => Ok(Some(session.to_string())),
            other => Err(format!("session {other:?}, rows {rows:?}")),
        }
    })
    .await?;
    if rejoined != session {
        return Err(format!("the reload opened session {rejoined}, not the same shell {session}").into());
    }

    // 8. The logs tab shows what the container's command printed.
    client.find(Locator::Css(".tab[data-tab='logs']")).await?.click().await?;
    wait_for("the container's output in its logs", QUICK, move || async move {
        let logs = text_of(client, ".log-lines").await.unwrap_or_default();
        if logs.contains("hello-from-logs") {
            Ok(Some(()))
        } else {
            Err(logs)
        }
    })
    .await?;
    screenshot(client, "4-logs").await?;

    // The list pages render too (screenshots for the README).
    client.goto(&format!("{base}#/containers")).await?;
    client.wait().at_most(QUICK).for_element(Locator::Css(".containers-table")).await?;
    screenshot(client, "5-containers").await?;
    client.goto(&format!("{base}#/images")).await?;
    client.wait().at_most(QUICK).for_element(Locator::Css(".images-table")).await?;
    screenshot(client, "6-images").await?;

    // Narrow, like a phone: the playground stacks its columns and still shows the editor.
    client.set_window_size(420, 900).await?;
    client.goto(&format!("{base}#/")).await?;
    client.wait().at_most(QUICK).for_element(Locator::Css(".cm-content")).await?;
    screenshot(client, "7-narrow-playground").await?;
    Ok(())
}

const JOB_DOCKERFILE: &str =
    "FROM busybox\nCOPY config.txt /config.txt\nRUN echo step-output && sleep 3\nCMD [\"cat\", \"/config.txt\"]\n";

/// The `data-state` of every build step on the page.
async fn step_states(client: &Client) -> Result<Vec<String>, String> {
    let states =
        script(client, "return Array.from(document.querySelectorAll('.build-step')).map(s => s.dataset.state);")
            .await?;
    Ok(states.as_array().map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default())
}

/// The cache prediction's mark of every step, in order.
async fn predictions(client: &Client) -> Result<Vec<String>, String> {
    let marks = script(
        client,
        "return Array.from(document.querySelectorAll('.predicted-step')).map(s => s.dataset.prediction);",
    )
    .await?;
    Ok(marks.as_array().map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default())
}

async fn stored_job(client: &Client) -> Result<Option<String>, String> {
    let stored = script(client, "return localStorage.getItem('berth.build-job');").await?;
    Ok(stored
        .as_str()
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .and_then(|job| job["id"].as_str().map(str::to_string)))
}

async fn wait_for_predictions(client: &Client, what: &str, wanted: &[&str]) -> TestResult {
    wait_for(what, SLOW, move || async move {
        let marks = predictions(client).await?;
        if marks == wanted {
            Ok(Some(()))
        } else {
            Err(format!("{marks:?}; panel: {}", text_of(client, ".build-panel").await.unwrap_or_default()))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_job_survives_a_reload_and_the_cache_is_predicted() {
    let session = Session::start().await;
    let outcome = reload_and_predict(&session.client, &session.daemon).await;
    session.finish(outcome, "failure-build-job").await;
}

async fn reload_and_predict(client: &Client, daemon: &Daemon) -> TestResult {
    let base = format!("http://{}/", daemon.http_addr());
    client.goto(&format!("{base}#/")).await?;
    // The project as the page keeps it in localStorage: a Dockerfile with a slow RUN and a file it copies.
    let project = json!({
        "files": [{"name": "Dockerfile", "text": JOB_DOCKERFILE}, {"name": "config.txt", "text": "one\n"}],
        "selected": "Dockerfile",
        "tag": "e2e/jobs",
    });
    client.execute("localStorage.setItem('berth.project', arguments[0]);", vec![json!(project.to_string())]).await?;
    client.refresh().await?;
    client.wait().at_most(QUICK).for_element(Locator::Css(".cm-content")).await?;

    // Never built: after FROM, every step will run.
    wait_for_predictions(client, "the first prediction", &["no-op", "will-run", "will-run", "will-run"]).await?;

    // Build, and reload while the RUN step sleeps.
    client.find(Locator::Css("#build-button")).await?.click().await?;
    wait_for("the RUN step to run", SLOW, move || async move {
        let states = step_states(client).await?;
        let panel = text_of(client, ".build-panel").await?;
        if states.len() == 3 && states[2] == "running" && panel.contains("step-output") {
            Ok(Some(()))
        } else {
            Err(format!("{states:?}: {panel}"))
        }
    })
    .await?;
    let job = stored_job(client).await?.ok_or("the page did not keep its build job id")?;
    client.refresh().await?;
    // The reloaded page shows the same job: the steps already done, the running one with its output so far.
    wait_for("the reloaded page to show the running build", QUICK, move || async move {
        let states = step_states(client).await?;
        let panel = text_of(client, ".build-panel").await?;
        let done = states.len() >= 3 && states[..2].iter().all(|s| s == "done" || s == "cached");
        if done && panel.contains("step-output") {
            Ok(Some(states))
        } else {
            Err(format!("{states:?}: {panel}"))
        }
    })
    .await?;
    screenshot(client, "8-build-reattached").await?;
    wait_for("the reattached build to finish", SLOW, move || async move {
        let state = script(client, "return document.querySelector('.build-summary')?.dataset.state ?? null;").await?;
        let states = step_states(client).await?;
        match state.as_str() {
            Some("succeeded") if states.len() == 4 && states.iter().all(|s| s == "done") => Ok(Some(())),
            Some("failed") => Err(format!("failed: {}", text_of(client, ".build-panel").await?)),
            other => Err(format!("{other:?} {states:?}")),
        }
    })
    .await?;
    if stored_job(client).await?.as_deref() != Some(job.as_str()) {
        return Err("after the reload the page follows another job".into());
    }
    let jobs = daemon.get_json("/berth/builds");
    let listed = jobs.as_array().map(Vec::len).unwrap_or(0);
    if listed != 1 || jobs[0]["id"] != job.as_str() || jobs[0]["state"] != "succeeded" {
        return Err(format!("the daemon should have run exactly that one job: {jobs}").into());
    }

    // Nothing edited since the build: every step after FROM comes from the cache.
    wait_for_predictions(client, "everything cached", &["no-op", "cached", "cached", "cached"]).await?;
    screenshot(client, "9-cache-prediction").await?;

    // Edit the file the COPY uses: that step and every later one will run.
    let file = client.find(Locator::XPath("//button[@class='file-name' and normalize-space()='config.txt']")).await?;
    file.click().await?;
    let editor = client.wait().at_most(QUICK).for_element(Locator::Css(".cm-content")).await?;
    editor.click().await?;
    editor.send_keys(&format!("{}two", char::from(Key::End))).await?;
    wait_for_predictions(client, "the COPY and later to run", &["no-op", "will-run", "will-run", "will-run"]).await?;
    Ok(())
}

/// The run dialog as the containers page opens it (#17 item 1): the restart policy it shows is the one the container
/// gets, `-it` is ticked because busybox's command is a shell, and the image name is selected, so typing replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_dialog_sends_what_it_shows() {
    let session = Session::start().await;
    let outcome = run_dialog_defaults(&session.client, &session.daemon).await;
    session.finish(outcome, "run-dialog-failure").await;
}

async fn run_dialog_defaults(client: &Client, daemon: &Daemon) -> TestResult {
    client.goto(&format!("http://{}/#/containers", daemon.http_addr())).await?;
    client
        .wait()
        .at_most(QUICK)
        .for_element(Locator::Css(".containers-page .page-head .primary"))
        .await?
        .click()
        .await?;
    client.wait().at_most(QUICK).for_element(Locator::Css(".run-dialog")).await?;
    let interactive = wait_for("-it to follow busybox's shell command", QUICK, move || async move {
        let checked =
            script(client, "return document.querySelector('.run-dialog input[type=checkbox]').checked;").await?;
        if checked.as_bool() == Some(true) {
            Ok(Some(true))
        } else {
            Err(format!("the -it box reads {checked}"))
        }
    })
    .await?;
    let shown =
        script(client, "return document.querySelector('.run-dialog select[aria-label=\"Restart policy\"]').value;")
            .await?;
    if shown.as_str() != Some("no") {
        return Err(format!("the restart dropdown shows {shown}, Docker's default is no").into());
    }
    // The image field holds busybox selected: typing a name replaces it instead of appending to it.
    let image = client.find(Locator::Css(".run-dialog input[name=image]")).await?;
    let selection = script(
        client,
        "const i = document.querySelector('.run-dialog input[name=image]'); \
        return [i.value, i.selectionStart, i.selectionEnd, document.activeElement === i];",
    )
    .await?;
    if selection != serde_json::json!(["busybox", 0, 7, true]) {
        return Err(format!("the image field is not busybox, selected and focused: {selection}").into());
    }
    image.send_keys("busybox").await?;
    let name = client.find(Locator::Css(".run-dialog input[name=name]")).await?;
    name.send_keys("from-dialog").await?;
    client.find(Locator::Css("#run-submit")).await?.click().await?;
    let inspect = wait_for("the dialog's container", SLOW, move || async move {
        match daemon.get("/containers/from-dialog/json") {
            Some((200, body)) => serde_json::from_str::<serde_json::Value>(&body).map(Some).map_err(|e| e.to_string()),
            other => Err(format!("{other:?}")),
        }
    })
    .await?;
    let sent = (
        inspect["Config"]["Image"].as_str(),
        inspect["HostConfig"]["RestartPolicy"]["Name"].as_str(),
        inspect["Config"]["Tty"].as_bool(),
        inspect["Config"]["OpenStdin"].as_bool(),
    );
    if sent != (Some("busybox"), Some("no"), Some(interactive), Some(interactive)) {
        return Err(format!("the container differs from what the dialog showed: {sent:?}").into());
    }
    Ok(())
}

/// Dark mode (#17 item 9): the editor's gutter and background follow the page's dark palette, and keywords keep a
/// contrast of at least 4.5:1 (WCAG AA) against the editor's background.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_follows_the_dark_theme() {
    let session = Session::start_dark().await;
    let outcome = dark_editor(&session.client, &session.daemon).await;
    session.finish(outcome, "dark-editor-failure").await;
}

async fn dark_editor(client: &Client, daemon: &Daemon) -> TestResult {
    client.goto(&format!("http://{}/#/", daemon.http_addr())).await?;
    client.wait().at_most(QUICK).for_element(Locator::Css(".cm-content")).await?;
    let measured = wait_for("a highlighted FROM keyword", QUICK, move || async move {
        let value = script(
            client,
            r#"
            const luminance = (css) => {
                const [r, g, b] = css.match(/[\d.]+/g).slice(0, 3).map((v) => {
                    const c = Number(v) / 255;
                    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
                });
                return 0.2126 * r + 0.7152 * g + 0.0722 * b;
            };
            // What is seen behind an element: the first background up its ancestors that is not transparent.
            const background = (element) => {
                for (; element; element = element.parentElement) {
                    const css = getComputedStyle(element).backgroundColor;
                    if (css !== 'transparent' && !/,\s*0\)$/.test(css)) return css;
                }
                return 'rgb(255, 255, 255)';
            };
            const keyword = [...document.querySelectorAll('.cm-content .cm-line span')]
                .find((span) => span.textContent === 'FROM');
            if (!keyword) return null;
            const editor = luminance(background(document.querySelector('.cm-content')));
            const gutter = luminance(background(document.querySelector('.cm-gutters')));
            const text = luminance(getComputedStyle(keyword).color);
            const [hi, lo] = text > editor ? [text, editor] : [editor, text];
            return {
                dark: matchMedia('(prefers-color-scheme: dark)').matches,
                editor, gutter, contrast: (hi + 0.05) / (lo + 0.05),
            };
            "#,
        )
        .await?;
        if value.is_null() {
            Err("no span reads FROM yet".to_string())
        } else {
            Ok(Some(value))
        }
    })
    .await?;
    // A missing figure reads as failing every check below.
    let number = |key: &str| measured[key].as_f64().unwrap_or(f64::NAN);
    let at_least = |key: &str, floor: f64| number(key).partial_cmp(&floor).is_some_and(|order| order.is_ge());
    if measured["dark"] != json!(true) {
        return Err(format!("the browser does not report a dark theme: {measured}").into());
    }
    if !(number("editor") < 0.05 && number("gutter") < 0.05) {
        return Err(format!("the editor or its gutter stays light in dark mode: {measured}").into());
    }
    if !at_least("contrast", 4.5) {
        return Err(format!("keywords are hard to read: contrast {} < 4.5 ({measured})", number("contrast")).into());
    }
    Ok(())
}

/// The Security page (#12 item 6): reached from the sidebar, it says so when there is nothing to review; a risky
/// container run with the docker CLI shows exactly its findings with severity badges, why and the fixing flag as
/// code (a secret by its name only), a hardened one passes, and with the risky one gone nothing is flagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_page_shows_what_a_reviewer_would_flag() {
    let session = Session::start().await;
    let outcome = security_review(&session.client, &session.daemon).await;
    session.finish(outcome, "security-failure").await;
}

/// Each container card's name and its findings as `[id, badge text, data-severity]`, in page order.
async fn audit_cards(client: &Client) -> Result<serde_json::Value, String> {
    script(
        client,
        "return Array.from(document.querySelectorAll('.audit-container')).map(card => ({
             name: card.dataset.name,
             findings: Array.from(card.querySelectorAll('.finding')).map(f =>
                 [f.dataset.finding, f.querySelector('.severity').innerText.toLowerCase(), f.dataset.severity]),
             text: card.innerText,
         }));",
    )
    .await
}

async fn security_review(client: &Client, daemon: &Daemon) -> TestResult {
    client.goto(&format!("http://{}/#/containers", daemon.http_addr())).await?;
    client.wait().at_most(QUICK).for_element(Locator::Css("a.nav-link[href='#/security']")).await?.click().await?;
    let empty = client.wait().at_most(QUICK).for_element(Locator::Css(".security-page .audit-empty")).await?;
    let text = empty.text().await?;
    if !text.starts_with("No containers to review yet") {
        return Err(format!("the empty state reads {text:?}").into());
    }
    let active = text_of(client, ".nav-link.active").await?;
    if active != "Security" {
        return Err(format!("the sidebar marks {active:?} as the current page").into());
    }

    let port = support::free_port().to_string();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "risky",
        "-e",
        "API_TOKEN=t0p-s3cret",
        "-p",
        &format!("{port}:80"),
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "sleep",
        "300",
    ]);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "hardened",
        "--user",
        "1000",
        "--read-only",
        "--memory",
        "64m",
        "--pids-limit",
        "100",
        "busybox",
        "sleep",
        "300",
    ]);
    client.find(Locator::Css(".security-page .page-head button")).await?.click().await?;
    let cards = wait_for("both containers' cards", QUICK, move || async move {
        let cards = audit_cards(client).await?;
        if cards.as_array().map(Vec::len) == Some(2) {
            Ok(Some(cards))
        } else {
            Err(cards.to_string())
        }
    })
    .await?;
    // Worst first, although hardened is the newer one.
    if cards[0]["name"] != "risky" {
        return Err(format!("the container with a high finding should come first: {cards}").into());
    }
    let risky = cards.as_array().and_then(|cards| cards.iter().find(|card| card["name"] == "risky")).cloned();
    let risky = risky.ok_or_else(|| format!("no card for risky: {cards}"))?;
    let expected = json!([
        ["cap-add", "high", "high"],
        ["root-user", "medium", "medium"],
        ["no-userns", "medium", "medium"],
        ["no-memory-limit", "medium", "medium"],
        ["no-pids-limit", "medium", "medium"],
        ["secret-env", "medium", "medium"],
        ["seccomp-unconfined", "medium", "medium"],
        ["writable-rootfs", "low", "low"],
        ["port-all-interfaces", "low", "low"],
    ]);
    if risky["findings"] != expected {
        return Err(format!(
            "risky's findings, highest first, should be {expected}; the page shows {}",
            risky["findings"]
        )
        .into());
    }
    let risky_text = risky["text"].as_str().unwrap_or_default();
    for wanted in [
        "Adds capabilities beyond Docker's defaults: SYS_ADMIN",
        "Secret in the environment: API_TOKEN",
        &format!("Publishes on every interface of the host: {port}->80/tcp"),
        "No user namespace (root in the container is root on the host)",
        "Fix: Run as a non-root --user, or start the daemon with --userns-remap default (and no --userns host).",
    ] {
        if !risky_text.contains(wanted) {
            return Err(format!("risky's card lacks {wanted:?}: {risky_text}").into());
        }
    }
    let page = text_of(client, ".security-page").await?;
    if page.contains("t0p-s3cret") {
        return Err("the page shows the secret's value".into());
    }
    // The fixing flags are code, the rest of the sentence is not.
    let codes = script(
        client,
        "return Array.from(document.querySelectorAll(\
             '.audit-container[data-name=risky] .finding[data-finding=cap-add] .finding-fix code')).map(c => c.innerText);",
    )
    .await?;
    if codes != json!(["--cap-add SYS_ADMIN", "--cap-drop ALL"]) {
        return Err(format!("cap-add's fix should show its two flags as code, shows {codes}").into());
    }
    let hardened = cards.as_array().and_then(|cards| cards.iter().find(|card| card["name"] == "hardened")).cloned();
    let hardened = hardened.ok_or_else(|| format!("no card for hardened: {cards}"))?;
    if hardened["findings"] != json!([])
        || !hardened["text"].as_str().unwrap_or_default().contains("Passes every check.")
    {
        return Err(format!("the hardened container should pass: {hardened}").into());
    }
    // textContent: the badges are uppercased by CSS, which innerText would apply.
    let summary = script(
        client,
        "const summary = document.querySelector('.audit-summary');
         return [summary.firstChild.textContent,
                 ...Array.from(summary.querySelectorAll('.severity')).map(badge => badge.textContent)];",
    )
    .await?;
    if summary != json!(["2 containers checked: ", "1 high", "6 medium", "2 low"]) {
        return Err(format!("the summary reads {summary}").into());
    }
    screenshot(client, "security-1-findings").await?;

    daemon.ok(&["rm", "-f", "risky"]);
    client.find(Locator::Css(".security-page .page-head button")).await?.click().await?;
    let clean = wait_for("nothing flagged", QUICK, move || async move {
        let text = text_of(client, ".security-page .audit-empty").await?;
        if text.starts_with("Nothing flagged") {
            Ok(Some(text))
        } else {
            Err(text)
        }
    })
    .await?;
    if clean != "Nothing flagged: 1 container checked, none with a finding." {
        return Err(format!("the empty state reads {clean:?}").into());
    }
    screenshot(client, "security-2-clean").await?;
    daemon.ok(&["rm", "-f", "hardened"]);
    Ok(())
}
