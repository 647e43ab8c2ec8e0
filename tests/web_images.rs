//! The images page in a real browser (headless Chromium over WebDriver) against a real daemon and a real registry
//! (Debian's distribution registry on loopback, seeded with skopeo): type an image name into the pull box, press
//! Pull, watch a row per layer reach `Pull complete` and dockerd's `Downloaded newer image` line, then find the
//! image in the list with the registry it came from (and an image built on it as built here). The same image by
//! digest is up to date; a tag the registry does not have is the daemon's error, shown in the box. Screenshots land in `<target>/e2e/screenshots/images-*`.
//!
//! Needs the web app built into `<target>/web` (`cargo xtask web`; `cargo xtask test` does it first), Debian's
//! chromium, chromium-driver, docker-registry and skopeo, and root (the daemon).

mod support;

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::Value;
use support::browser::{screenshot, script, text_of, wait_for, Session, TestResult};
use support::registry::{seed_image, Registry, SeededImage};
use support::Daemon;

/// A pull on a busy 2-core machine.
const SLOW: Duration = Duration::from_secs(120);
const QUICK: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_through_the_images_page() {
    let registry = Registry::anonymous();
    // Two layers: the host's busybox, and one file of this test's own, so the box has more than one row.
    let seeded = seed_image(&registry, "demo", "1", &[&[("/hello.txt", "pulled through the page\n")]]);
    let session = Session::start().await;
    let outcome = pull_walk_through(&session.client, &session.daemon, &registry, &seeded).await;
    session.finish(outcome, "images-failure").await;
}

/// The 12 hex digits Docker shows of a `sha256:` digest.
fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..12]
}

/// The pull box's last pull: what it asked for (`name:tag` or `name@digest`), its state (`running`, `succeeded`,
/// `failed`) and the box's text.
async fn pull_box(client: &Client) -> Result<(String, String, String), String> {
    let shown = script(
        client,
        "const pull = document.querySelector('.pull-progress');
         return pull ? [pull.dataset.reference, pull.dataset.state] : null;",
    )
    .await?;
    let text = text_of(client, ".pull-box").await?;
    let field = |index: usize| shown[index].as_str().unwrap_or("none").to_string();
    Ok((field(0), field(1), text))
}

/// Types `name` into the pull box (replacing what is there) and presses Pull.
async fn pull(client: &Client, name: &str) -> TestResult {
    let field = client.find(Locator::Css("input[aria-label='Image to pull']")).await?;
    field.clear().await?;
    field.send_keys(name).await?;
    client.find(Locator::Css("#pull-button")).await?.click().await?;
    Ok(())
}

/// Waits until the box's pull of `reference` has ended; returns its state and the box's text.
async fn wait_for_pull(client: &Client, what: &str, reference: &str) -> TestResult<(String, String)> {
    wait_for(what, SLOW, move || async move {
        let (shown, state, text) = pull_box(client).await?;
        if shown == reference && state != "running" {
            Ok(Some((state, text)))
        } else {
            Err(format!("{shown} {state}: {text}"))
        }
    })
    .await
}

async fn pull_walk_through(client: &Client, daemon: &Daemon, registry: &Registry, seeded: &SeededImage) -> TestResult {
    client.goto(&format!("http://{}/#/images", daemon.http_addr())).await?;
    client.wait().at_most(QUICK).for_element(Locator::Css(".images-table")).await?;

    // 1. Pull by tag: one row per layer, every one `Pull complete` (the daemon has none of them), and dockerd's
    //    last line.
    pull(client, &seeded.reference).await?;
    let (state, text) = wait_for_pull(client, "the pull by tag to finish", &seeded.reference).await?;
    if state != "succeeded" || !text.contains(&format!("Downloaded newer image for {}", seeded.reference)) {
        return Err(format!("the pull should end with dockerd's Downloaded newer image line: {state}: {text}").into());
    }
    let layers = script(
        client,
        "return Array.from(document.querySelectorAll('.pull-layer')).map(l => [l.dataset.layer, l.dataset.status]);",
    )
    .await?;
    let expected: Vec<Value> =
        seeded.layer_digests.iter().map(|digest| serde_json::json!([short(digest), "Pull complete"])).collect();
    if layers != Value::Array(expected) {
        return Err(format!(
            "one row per layer of {:?}, each Pull complete, was expected; the box shows {layers}",
            seeded.layer_digests
        )
        .into());
    }
    screenshot(client, "images-1-pulled").await?;

    // 2. The list, reloaded when the pull ended, shows the image with the registry it came from and its size.
    let manifest = short(&seeded.manifest_digest).to_string();
    let repository = format!("{}/demo", registry.address());
    let row = wait_for("the pulled image in the list with its source", QUICK, {
        let (reference, repository, manifest) = (seeded.reference.clone(), repository.clone(), manifest.clone());
        move || {
            let (reference, repository, manifest) = (reference.clone(), repository.clone(), manifest.clone());
            async move {
                let rows = script(
                    client,
                    "return Array.from(document.querySelectorAll('.images-table tbody tr')).map(row => ({
                         id: row.dataset.id,
                         tags: row.cells[0].innerText,
                         kind: row.querySelector('.image-source').dataset.source,
                         source: row.querySelector('.image-source').innerText,
                         size: row.cells[3].innerText,
                     }));",
                )
                .await?;
                let found = rows.as_array().and_then(|rows| {
                    rows.iter().find(|row| row["tags"].as_str().is_some_and(|tags| tags.contains(&reference))).cloned()
                });
                match found {
                    Some(row)
                        if row["kind"] == "registry"
                            && row["source"]
                                .as_str()
                                .is_some_and(|s| s.contains(&repository) && s.contains(&manifest)) =>
                    {
                        Ok(Some(row))
                    }
                    _ => Err(format!("{rows}")),
                }
            }
        }
    })
    .await?;
    if row["id"] != seeded.config_digest.as_str() {
        return Err(format!("the listed image is not the one pushed (config {}): {row}", seeded.config_digest).into());
    }
    if !row["size"].as_str().is_some_and(|size| size.ends_with("B") && !size.starts_with("0 ")) {
        return Err(format!("the list should give the image's size: {row}").into());
    }
    // The daemon's default image came from no registry and no build of this daemon.
    let busybox = script(
        client,
        "const row = Array.from(document.querySelectorAll('.images-table tbody tr'))
             .find(row => row.cells[0].innerText.includes('busybox:latest'));
         return row ? row.querySelector('.image-source').innerText : null;",
    )
    .await?;
    if busybox.as_str() != Some("local") {
        return Err(format!("busybox:latest should read local, reads {busybox}").into());
    }

    // An image built on the pulled one has no repository digest of its own: a build job of this daemon made it.
    let context = daemon.scratch_dir("built-here");
    std::fs::write(context.join("Dockerfile"), format!("FROM {}\nRUN echo built > /built\n", seeded.reference))?;
    daemon.ok(&["build", "-t", "e2e/built-here", context.to_str().ok_or("a UTF-8 scratch path")?]);
    client.find(Locator::XPath("//div[@class='page-head']/button[normalize-space()='Refresh']")).await?.click().await?;
    wait_for("the built image to read built here", QUICK, move || async move {
        let source = script(
            client,
            "const row = Array.from(document.querySelectorAll('.images-table tbody tr'))
                 .find(row => row.cells[0].innerText.includes('e2e/built-here:latest'));
             return row ? row.querySelector('.image-source').innerText : null;",
        )
        .await?;
        if source.as_str() == Some("built here") {
            Ok(Some(()))
        } else {
            Err(format!("its source reads {source}"))
        }
    })
    .await?;
    screenshot(client, "images-2-list").await?;

    // 3. The same image by digest: the name before `@` goes as fromImage and the digest as tag, and the daemon has
    //    it already.
    let by_digest = format!("{repository}@{}", seeded.manifest_digest);
    pull(client, &by_digest).await?;
    let (state, text) = wait_for_pull(client, "the digest pull to finish", &by_digest).await?;
    if state != "succeeded" || !text.contains(&format!("Image is up to date for {by_digest}")) {
        return Err(format!("a digest pull of an image the daemon has should be up to date: {text}").into());
    }

    // 4. A tag the registry does not have: the daemon refuses before streaming, and the box says why.
    let missing = format!("{repository}:missing");
    pull(client, &missing).await?;
    let (state, text) = wait_for_pull(client, "the refused pull's error", &missing).await?;
    // "(HTTP 404)": the page tells a refusal before the stream from an error inside it, which has no status.
    let refusal = format!("manifest for {missing} not found: manifest unknown: manifest unknown (HTTP 404)");
    if state != "failed" || !text.contains(&refusal) {
        return Err(format!("the box should show the daemon's refusal {refusal:?}: {state}: {text}").into());
    }
    screenshot(client, "images-3-refused").await?;
    Ok(())
}
