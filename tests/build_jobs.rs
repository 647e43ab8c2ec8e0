//! Build jobs and the cache prediction over Berth's own API, with real builds: `POST /berth/builds` starts a job
//! that outlives its request, `GET /berth/builds/{id}/events` replays it from the start and follows it live,
//! `GET /berth/builds` lists it, and `POST /berth/builds/predict` says which steps the cache would answer.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use berth_shared::api::build::BuildEvent;
use berth_shared::api::build_jobs::{
    BuildJobCreated, BuildJobEvent, BuildJobState, BuildJobSummary, BuildPrediction, StepPrediction,
};
use support::Daemon;

fn context_tar(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        builder.append_data(&mut header, name, content.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Sends a request over the daemon's socket (HTTP/1.0: the answer ends when the connection closes) and returns
/// the status and a reader positioned at the body.
fn request(daemon: &Daemon, method: &str, path: &str, body: &[u8]) -> (u16, BufReader<UnixStream>) {
    let mut stream = UnixStream::connect(daemon.socket()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: berth\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
    }
    (status, reader)
}

fn post_json<T: serde::de::DeserializeOwned>(daemon: &Daemon, path: &str, body: &[u8]) -> T {
    let (status, mut reader) = request(daemon, "POST", path, body);
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    assert!((200..300).contains(&status), "POST {path}: {status} {text}\n{}", daemon.log_tail());
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("POST {path}: {error} in {text}"))
}

fn start_build(daemon: &Daemon, tag: &str, files: &[(&str, &str)]) -> String {
    let created: BuildJobCreated = post_json(daemon, &format!("/berth/builds?t={tag}"), &context_tar(files));
    created.id
}

fn all_events(daemon: &Daemon, id: &str) -> Vec<BuildEvent> {
    let (status, reader) = request(daemon, "GET", &format!("/berth/builds/{id}/events"), b"");
    assert_eq!(status, 200);
    reader.lines().map(|line| serde_json::from_str::<BuildJobEvent>(&line.unwrap()).unwrap().event).collect()
}

fn job(daemon: &Daemon, id: &str) -> BuildJobSummary {
    let jobs: Vec<BuildJobSummary> = serde_json::from_value(daemon.get_json("/berth/builds")).unwrap();
    jobs.into_iter().find(|job| job.id == id).unwrap_or_else(|| panic!("job {id} not listed"))
}

fn predict(daemon: &Daemon, files: &[(&str, &str)]) -> BuildPrediction {
    post_json(daemon, "/berth/builds/predict", &context_tar(files))
}

#[test]
fn a_job_outlives_its_readers_and_replays_from_the_start() {
    let daemon = Daemon::start();
    let files = [("Dockerfile", "FROM busybox\nRUN echo started && sleep 2 && echo finished\nCMD [\"sh\"]\n")];
    let id = start_build(&daemon, "jobs:slow", &files);

    // Follow live: the first output arrives while the job is still running.
    let (status, mut live) = request(&daemon, "GET", &format!("/berth/builds/{id}/events"), b"");
    assert_eq!(status, 200);
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        assert!(live.read_line(&mut line).unwrap() > 0, "stream ended early: {seen:?}");
        let event = serde_json::from_str::<BuildJobEvent>(&line).unwrap().event;
        let started = matches!(&event, BuildEvent::Output { text, .. } if text.contains("started"));
        seen.push(event);
        if started {
            break;
        }
    }
    assert_eq!(job(&daemon, &id).state, BuildJobState::Running);
    // This reader goes away mid-build; the build goes on.
    drop(live);

    // A second reader (a reloaded page) gets every event from the first, then the rest live, to the end.
    let events = all_events(&daemon, &id);
    assert_eq!(&events[..seen.len()], &seen[..], "replay starts at the first event");
    assert!(matches!(events.first(), Some(BuildEvent::Step { number: 1, total: 3, .. })), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, BuildEvent::Output { text, .. } if text.contains("finished"))));
    let built = events.iter().find_map(|e| match e {
        BuildEvent::Built { image_id } => Some(image_id.clone()),
        _ => None,
    });
    assert!(events.iter().any(|e| matches!(e, BuildEvent::Tagged { tag } if tag == "jobs:slow")), "{events:?}");
    let summary = job(&daemon, &id);
    assert_eq!(summary.state, BuildJobState::Succeeded);
    assert_eq!(summary.image_id, built);
    assert_eq!((summary.step, summary.total_steps), (Some(3), Some(3)));
    assert!(summary.finished_ms.is_some_and(|end| end >= summary.started_ms + 2000), "{summary:?}");
    assert_eq!(daemon.ok(&["images", "-q", "--no-trunc", "jobs:slow"]).trim(), built.unwrap());

    // The docker CLI's POST /build is a job too, listed beside it.
    let dir = daemon.scratch_dir("cli");
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nRUN echo from-cli\n").unwrap();
    let output = daemon.ok(&["build", "-t", "jobs:cli", dir.to_str().unwrap()]);
    assert!(output.contains("from-cli") && output.contains("Successfully tagged jobs:cli"), "{output}");
    let jobs: Vec<BuildJobSummary> = serde_json::from_value(daemon.get_json("/berth/builds")).unwrap();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[0].tags, vec!["jobs:cli".to_string()], "newest first");

    // A failing build is a failed job, with Docker's message.
    let id = start_build(&daemon, "jobs:bad", &[("Dockerfile", "FROM busybox\nRUN exit 3\n")]);
    let events = all_events(&daemon, &id);
    assert!(matches!(events.last(), Some(BuildEvent::Failed { line: Some(2), .. })), "{events:?}");
    let summary = job(&daemon, &id);
    assert_eq!(summary.state, BuildJobState::Failed);
    assert!(summary.error.unwrap().contains("returned a non-zero code: 3"));
    assert_eq!(daemon.get(&format!("/berth/builds/{}/events", "0".repeat(32))).map(|(s, _)| s), Some(404));
}

#[test]
fn prediction_follows_the_cache_keys_of_the_build() {
    let daemon = Daemon::start();
    let dockerfile = "FROM busybox\nWORKDIR /app\nCOPY config.txt .\nRUN cat config.txt > seen\nCOPY other.txt .\nCMD [\"cat\", \"seen\"]\n";
    let files = [("Dockerfile", dockerfile), ("config.txt", "one\n"), ("other.txt", "x\n")];

    // Before any build, everything after FROM runs.
    let before = predict(&daemon, &files);
    assert_eq!(before.error, None);
    let outcomes: Vec<&StepPrediction> = before.steps.iter().map(|s| &s.prediction).collect();
    assert_eq!(outcomes[0], &StepPrediction::NoOp);
    assert!(outcomes[1..].iter().all(|p| **p == StepPrediction::WillRun), "{before:?}");
    assert_eq!(before.steps.iter().map(|s| s.line).collect::<Vec<_>>(), (1..=6).map(Some).collect::<Vec<_>>());

    let id = start_build(&daemon, "predict:app", &files);
    let events = all_events(&daemon, &id);
    let step_images: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::StepDone { image_id, .. } => Some(image_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(step_images.len(), 6, "{events:?}");

    // Nothing edited: every step after FROM is predicted cached, with the image the build made.
    let same = predict(&daemon, &files);
    for (step, image) in same.steps.iter().zip(&step_images).skip(1) {
        assert_eq!(step.prediction, StepPrediction::Cached { image_id: image.clone() }, "{same:?}");
    }

    // A file one COPY uses changed: that COPY and every later step run; the steps before stay cached.
    let edited = [("Dockerfile", dockerfile), ("config.txt", "two\n"), ("other.txt", "x\n")];
    let changed = predict(&daemon, &edited);
    assert!(matches!(changed.steps[1].prediction, StepPrediction::Cached { .. }), "{changed:?}");
    assert!(changed.steps[2..].iter().all(|s| s.prediction == StepPrediction::WillRun), "{changed:?}");
    assert_eq!(changed.steps[2].instruction, "COPY config.txt .");

    // ... and the build agrees with the prediction.
    let id = start_build(&daemon, "predict:app", &edited);
    let cached: Vec<bool> = all_events(&daemon, &id)
        .iter()
        .filter_map(|e| match e {
            BuildEvent::StepDone { cached, .. } => Some(*cached),
            _ => None,
        })
        .collect();
    assert_eq!(cached, vec![false, true, false, false, false, false]);

    // A step that would fail is named; a Dockerfile that does not parse is the request's error.
    let missing = predict(&daemon, &[("Dockerfile", "FROM busybox\nCOPY nosuch.txt /\n")]);
    assert!(missing.error.as_deref().is_some_and(|e| e.contains("nosuch.txt")), "{missing:?}");
    assert_eq!(missing.steps[1].prediction, StepPrediction::WillRun);
    let (status, _) =
        request(&daemon, "POST", "/berth/builds/predict", &context_tar(&[("Dockerfile", "FROBNICATE x\n")]));
    assert_eq!(status, 400);
}
