//! `docker events` with history, through the real docker CLI: `--since`/`--until` replay what happened (in order,
//! with names and attributes), filters by container, event, label, type, image, volume, network and exec actions, the
//! history survives a kill -9 and a clean restart, `--max-event-history` bounds it keeping the newest, `--until`
//! in the past ends at once, and a stream that starts in the past goes on live without losing or doubling events.

mod support;

use std::time::{Duration, Instant};

use support::Daemon;

/// Now as the docker CLI sends a time: Unix seconds with nanoseconds.
fn now() -> String {
    let now = chrono::Utc::now();
    format!("{}.{:09}", now.timestamp(), now.timestamp_subsec_nanos())
}

/// Every event of `docker events --since since --until until` plus `args`, decoded.
fn events(daemon: &Daemon, since: &str, until: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut command = vec!["events", "--since", since, "--until", until, "--format", "{{json .}}"];
    command.extend_from_slice(args);
    let text = daemon.ok(&command);
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect()
}

/// `Type Action name` of each event.
fn lines(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let name = e["Actor"]["Attributes"]["name"].as_str().unwrap_or("-");
            format!("{} {} {name}", e["Type"].as_str().unwrap_or("?"), e["Action"].as_str().unwrap_or("?"))
        })
        .collect()
}

fn actions(events: &[serde_json::Value]) -> Vec<String> {
    events.iter().map(|e| e["Action"].as_str().unwrap_or("?").to_string()).collect()
}

#[test]
fn a_containers_life_replays_in_order_and_filters_pick_it_out() {
    let daemon = Daemon::start();
    let t0 = now();
    daemon.ok(&["run", "--name", "ev1", "--label", "tier=front", "busybox", "true"]);
    daemon.ok(&["rm", "ev1"]);
    daemon.ok(&["create", "--name", "ev2", "busybox", "true"]);
    let until = now();

    let ev1 = events(&daemon, &t0, &until, &["--filter", "container=ev1"]);
    assert_eq!(
        lines(&ev1),
        [
            "container create ev1",
            "container attach ev1",
            "container start ev1",
            "container die ev1",
            "container destroy ev1"
        ],
        "{ev1:#?}"
    );
    let id = ev1[0]["Actor"]["ID"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 64, "{ev1:?}");
    for event in &ev1 {
        assert_eq!(event["Actor"]["ID"], id.as_str());
        assert_eq!(event["Actor"]["Attributes"]["image"], "busybox");
        assert_eq!(event["Actor"]["Attributes"]["tier"], "front");
        assert_eq!(event["scope"], "local");
        // The deprecated flat fields older clients read, as dockerd fills them for containers.
        assert_eq!(event["id"], id.as_str());
        assert_eq!(event["from"], "busybox");
    }
    let times: Vec<i64> = ev1.iter().map(|e| e["timeNano"].as_i64().unwrap_or_default()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    let die = events(&daemon, &t0, &until, &["--filter", "container=ev1", "--filter", "event=die"]);
    assert_eq!(actions(&die), ["die"]);
    assert_eq!(die[0]["Actor"]["Attributes"]["exitCode"], "0");

    let by_id_prefix = events(&daemon, &t0, &until, &["--filter", &format!("container={}", &id[..12])]);
    assert_eq!(lines(&by_id_prefix), lines(&ev1));

    let labelled = events(&daemon, &t0, &until, &["--filter", "label=tier=front"]);
    assert_eq!(lines(&labelled), lines(&ev1));
    assert!(events(&daemon, &t0, &until, &["--filter", "label=tier=back"]).is_empty());

    let creates = events(&daemon, &t0, &until, &["--filter", "image=busybox", "--filter", "event=create"]);
    assert_eq!(lines(&creates), ["container create ev1", "container create ev2"]);
    let two_events = events(&daemon, &t0, &until, &["--filter", "event=create", "--filter", "event=destroy"]);
    assert_eq!(lines(&two_events), ["container create ev1", "container destroy ev1", "container create ev2"]);
    assert!(events(&daemon, &t0, &until, &["--filter", "type=image"]).is_empty());
    let containers = events(&daemon, &t0, &until, &["--filter", "type=container", "--filter", "container=ev2"]);
    assert_eq!(lines(&containers), ["container create ev2"]);

    // Before t0 nothing of this happened; `--since` after it all leaves nothing either.
    assert!(events(&daemon, &until, &now(), &[]).is_empty());
}

#[test]
fn exec_volume_and_network_events_carry_dockerds_actions_and_attributes() {
    let daemon = Daemon::start();
    let t0 = now();
    daemon.ok(&["run", "--rm", "-v", "evdata:/data", "busybox", "true"]);
    daemon.ok(&["run", "-d", "--name", "ev3", "busybox", "sleep", "30"]);
    assert_eq!(daemon.docker(&["exec", "ev3", "sh", "-c", "exit 3"]).code, Some(3));
    daemon.ok(&["network", "create", "evnet"]);
    let on_net = daemon.ok(&["run", "-d", "--network", "evnet", "busybox", "true"]);
    daemon.ok(&["wait", on_net.trim()]);
    let until = now();

    let network = events(&daemon, &t0, &until, &["--filter", "network=evnet"]);
    assert_eq!(lines(&network), ["network create evnet", "network connect evnet", "network disconnect evnet"]);
    for event in &network[1..] {
        assert_eq!(event["Actor"]["Attributes"]["container"], on_net.trim(), "{network:#?}");
        assert_eq!(event["Actor"]["Attributes"]["type"], "bridge");
    }

    let volume = events(&daemon, &t0, &until, &["--filter", "volume=evdata"]);
    assert_eq!(lines(&volume), ["volume create -", "volume mount -", "volume unmount -"], "{volume:#?}");
    assert_eq!(volume[1]["Actor"]["Attributes"]["destination"], "/data");
    assert_eq!(volume[1]["Actor"]["Attributes"]["read/write"], "true");
    assert_eq!(volume[1]["Actor"]["Attributes"]["container"], volume[2]["Actor"]["Attributes"]["container"]);

    let exec = events(&daemon, &t0, &until, &["--filter", "container=ev3", "--filter", "event=exec_create"]);
    assert_eq!(actions(&exec), ["exec_create: sh -c exit 3"]);
    let exec_id = exec[0]["Actor"]["Attributes"]["execID"].clone();
    assert_eq!(exec_id.as_str().map(str::len), Some(64), "{exec:?}");
    let all = events(
        &daemon,
        &t0,
        &until,
        &["--filter", "container=ev3", "--filter", "event=exec_start", "--filter", "event=exec_die"],
    );
    assert_eq!(actions(&all), ["exec_start: sh -c exit 3", "exec_die"]);
    assert_eq!(all[1]["Actor"]["Attributes"]["exitCode"], "3");
    assert_eq!(all[1]["Actor"]["Attributes"]["execID"], exec_id);
    let t1 = now();
    daemon.ok(&["stop", "-t", "1", "ev3"]);
    daemon.ok(&["start", "ev3"]);
    let stopped = events(&daemon, &t1, &now(), &["--filter", "container=ev3"]);
    let signals: Vec<String> = stopped
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["Action"].as_str().unwrap_or("?"),
                e["Actor"]["Attributes"]["signal"].as_str().unwrap_or("-")
            )
        })
        .collect();
    // sleep as PID 1 ignores SIGTERM: dockerd's stop is then a kill 15, a kill 9, the die and the stop.
    assert_eq!(signals, ["kill 15", "kill 9", "die -", "stop -", "start -"]);
    let t1 = now();
    daemon.ok(&["rm", "-f", "ev3"]);
    daemon.ok(&["tag", "busybox", "evtag"]);
    let until = now();
    let removal = events(&daemon, &t1, &until, &["--filter", "container=ev3"]);
    assert_eq!(lines(&removal), ["container kill ev3", "container die ev3", "container destroy ev3"]);
    assert_eq!(removal[0]["Actor"]["Attributes"]["signal"], "9");
    assert_eq!(removal[1]["Actor"]["Attributes"]["exitCode"], "137");
    let tag = events(&daemon, &t1, &until, &["--filter", "type=image"]);
    assert_eq!(lines(&tag), ["image tag evtag:latest"], "{tag:#?}");
    assert_eq!(tag[0]["id"], tag[0]["Actor"]["ID"]);
    assert!(tag[0]["Actor"]["ID"].as_str().is_some_and(|id| id.starts_with("sha256:")), "{tag:?}");
}

#[test]
fn history_survives_a_kill_and_a_clean_restart() {
    let mut daemon = Daemon::start();
    let t0 = now();
    daemon.ok(&["create", "--name", "before-crash", "busybox", "true"]);
    daemon.crash_and_restart();
    daemon.ok(&["create", "--name", "before-restart", "busybox", "true"]);
    daemon.restart();
    daemon.ok(&["create", "--name", "after", "busybox", "true"]);
    let creates = events(&daemon, &t0, &now(), &["--filter", "event=create"]);
    assert_eq!(
        lines(&creates),
        ["container create before-crash", "container create before-restart", "container create after"]
    );
    // `--since` alone replays too, then follows live: ended here by the client's timeout is not wanted, so
    // --until bounds it a little in the future and a live event lands inside.
    let until = (chrono::Utc::now() + chrono::Duration::seconds(4)).timestamp().to_string();
    std::thread::scope(|scope| {
        let stream = scope.spawn(|| {
            daemon.ok(&[
                "events",
                "--since",
                &t0,
                "--until",
                &until,
                "--filter",
                "event=create",
                "--format",
                "{{.Actor.Attributes.name}}",
            ])
        });
        std::thread::sleep(Duration::from_millis(1500));
        daemon.ok(&["create", "--name", "live", "busybox", "true"]);
        let names = stream.join().expect("the events thread");
        assert_eq!(names.lines().collect::<Vec<_>>(), ["before-crash", "before-restart", "after", "live"]);
    });
}

#[test]
fn the_history_is_bounded_and_keeps_the_newest() {
    // Segments of 4: at most 8 events kept, never fewer than the newest 4.
    let mut daemon = Daemon::start_with_args(&["--max-event-history", "8"]);
    for n in 1..=11 {
        daemon.ok(&["create", "--network", "none", "--name", &format!("b{n}"), "busybox", "true"]);
    }
    let kept = |daemon: &Daemon| -> Vec<u32> {
        let creates = events(daemon, "0", &now(), &[]);
        creates
            .iter()
            .filter(|e| e["Action"] == "create")
            .filter_map(|e| e["Actor"]["Attributes"]["name"].as_str()?.strip_prefix('b')?.parse().ok())
            .collect()
    };
    let all = events(&daemon, "0", &now(), &[]);
    assert!(all.len() <= 8 && all.len() >= 4, "{all:#?}");
    let names = kept(&daemon);
    let oldest = *names.first().unwrap_or(&0);
    assert_eq!(names, (oldest..=11).collect::<Vec<_>>(), "the newest, in order");
    assert!(oldest >= 4, "b1..b3 are gone: {names:?}");
    daemon.crash_and_restart();
    assert_eq!(kept(&daemon), names, "the same after a restart");
}

#[test]
fn until_in_the_past_ends_at_once_and_bad_requests_get_400() {
    let daemon = Daemon::start();
    let t0 = now();
    daemon.ok(&["create", "--name", "past", "busybox", "true"]);
    let until = now();
    std::thread::sleep(Duration::from_millis(1100));
    let started = Instant::now();
    let names = daemon.ok(&["events", "--since", &t0, "--until", &until, "--format", "{{.Actor.Attributes.name}}"]);
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert_eq!(names.lines().collect::<Vec<_>>(), ["past"]);
    // The CLI turns durations into Unix seconds; `--until 0s` is now.
    let started = Instant::now();
    let out = daemon.ok(&["events", "--since", "1m", "--until", "0s", "--format", "{{.Action}}"]);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(out.lines().collect::<Vec<_>>(), ["create"]);

    let bad = |query: &str| daemon.get(&format!("/events?{query}"));
    assert_eq!(bad("filters=notjson"), Some((400, "{\"message\":\"invalid filter\"}".into())));
    assert_eq!(
        bad("since=100&until=50"),
        Some((400, "{\"message\":\"`since` time (100) cannot be after `until` time (50)\"}".into()))
    );
    assert_eq!(
        bad("since=abc"),
        Some((400, "{\"message\":\"failed to parse value as time or duration: \\\"abc\\\"\"}".into()))
    );
    // What the API takes beyond the CLI's form: RFC3339 and durations.
    let rfc3339 = chrono::DateTime::from_timestamp(t0.split('.').next().and_then(|s| s.parse().ok()).unwrap_or(0), 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let (status, body) = bad(&format!("since={}&until=0s", rfc3339.replace('+', "%2B"))).unwrap_or_default();
    assert_eq!(status, 200, "{body}");
    let replayed: Vec<serde_json::Value> = body.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!(lines(&replayed), ["container create past"]);
}
