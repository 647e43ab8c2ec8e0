//! `docker system df` and the prunes through the real docker CLI: the sizes and counts df reports, `system prune -af
//! --volumes`, `image prune -a` by label and age, `container prune` by age, `builder prune` with and without
//! `--all` (and the build that runs its steps again after it), and the filters' errors in dockerd's words.

mod support;

use std::path::Path;

use support::Daemon;

fn write(dir: &Path, name: &str, content: &str) {
    std::fs::write(dir.join(name), content).unwrap_or_else(|error| panic!("writing {name}: {error}"));
}

/// Builds `dockerfile` as `tag`; the build's output.
fn build(daemon: &Daemon, name: &str, dockerfile: &str, tag: &str) -> String {
    let dir = daemon.scratch_dir(name);
    write(&dir, "Dockerfile", dockerfile);
    daemon.ok(&["build", "-t", tag, dir.to_str().unwrap()])
}

/// `docker system df`'s row for `kind` (Images, Containers, Local Volumes, Build Cache) as JSON.
fn df_row(daemon: &Daemon, kind: &str) -> serde_json::Value {
    let rows = daemon.ok(&["system", "df", "--format", "{{json .}}"]);
    rows.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|row| row["Type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} row in {rows}"))
}

fn count(row: &serde_json::Value) -> u64 {
    row["TotalCount"].as_str().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("a count in {row}"))
}

fn lines(output: &str) -> Vec<String> {
    output.lines().map(str::to_string).filter(|line| !line.is_empty()).collect()
}

const MEGABYTE: u64 = 1 << 20;

#[test]
fn df_counts_and_sizes_what_is_on_disk() {
    let daemon = Daemon::start();
    build(&daemon, "big", "FROM busybox\nLABEL kind=df\nRUN head -c 2000000 /dev/zero > /big\n", "dfapp");
    daemon.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "data:/data",
        "dfapp",
        "sh",
        "-c",
        "head -c 1048576 /dev/urandom > /rw && head -c 524288 /dev/zero > /data/f",
    ]);

    let df = daemon.get_json("/system/df");
    let images = df["Images"].as_array().unwrap();
    // busybox and dfapp; the build's step images are not listed, as `docker images` hides them.
    assert_eq!(images.len(), 2, "{df}");
    let app = images.iter().find(|i| i["RepoTags"][0] == "dfapp:latest").expect("dfapp in df");
    let busybox = images.iter().find(|i| i["RepoTags"][0] == "busybox:latest").expect("busybox in df");
    assert_eq!(app["Containers"], 1);
    assert_eq!(busybox["Containers"], 0);
    let (app_size, busybox_size) = (app["Size"].as_u64().unwrap(), busybox["Size"].as_u64().unwrap());
    assert!(app_size >= busybox_size + 2_000_000, "{app}");
    // What dfapp shares with busybox is busybox's layer.
    assert_eq!(app["SharedSize"].as_u64(), Some(busybox_size));
    assert_eq!(busybox["SharedSize"].as_u64(), Some(busybox_size));
    assert_eq!(df["LayersSize"].as_u64(), Some(app_size), "each layer counted once: {df}");

    let writer = &df["Containers"].as_array().unwrap()[0];
    assert_eq!(writer["Names"][0], "/writer");
    let size_rw = writer["SizeRw"].as_u64().unwrap();
    assert!((MEGABYTE..MEGABYTE + 64 * 1024).contains(&size_rw), "the 1 MiB written: {writer}");
    assert_eq!(writer["SizeRootFs"].as_u64(), Some(size_rw + app_size));

    let volume = &df["Volumes"].as_array().unwrap()[0];
    assert_eq!(volume["Name"], "data");
    assert_eq!(volume["UsageData"]["Size"], 524_288);
    assert_eq!(volume["UsageData"]["RefCount"], 1);

    // One record per step after FROM; the RUN's holds its layer, shared with the tagged image.
    let cache = df["BuildCache"].as_array().unwrap();
    assert_eq!(cache.len(), 2, "{df}");
    let run = cache.iter().find(|r| r["Description"].as_str().unwrap_or_default().contains("head -c")).unwrap();
    assert!(run["Size"].as_u64().unwrap() >= 2_000_000, "{run}");
    assert_eq!(run["Shared"], true);
    assert_eq!(run["Type"], "regular");

    // `type` selects parts (API 1.42).
    let only = daemon.get_json("/system/df?type=volume&type=build-cache");
    let mut keys: Vec<_> = only.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["BuildCache", "Volumes"]);
    let (status, body) = daemon.get("/system/df?type=disk").unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("unknown object type: disk"), "{body}");

    // The CLI's table adds them up.
    assert_eq!(count(&df_row(&daemon, "Images")), 2);
    let containers = df_row(&daemon, "Containers");
    assert_eq!((count(&containers), containers["Active"].as_str()), (1, Some("0")));
    assert_eq!(df_row(&daemon, "Local Volumes")["Size"], "524.3kB");
    assert_eq!(count(&df_row(&daemon, "Build Cache")), 2);
    // `docker ps -s` reads the same sizes (the CLI prints three significant digits: 1 to 10 MB here).
    let ps = daemon.ok(&["ps", "-as", "--format", "{{.Names}} {{.Size}}"]);
    assert_eq!(ps.trim(), format!("writer 1.05MB (virtual {:.2}MB)", (size_rw + app_size) as f64 / 1e6), "{ps}");
    let verbose = daemon.ok(&["system", "df", "-v"]);
    assert!(verbose.contains("writer") && verbose.contains("1.05MB"), "{verbose}");
    assert!(verbose.contains("dfapp") && verbose.contains("data"), "{verbose}");
}

#[test]
fn system_prune_all_with_volumes_leaves_what_runs() {
    let daemon = Daemon::start();
    build(&daemon, "app", "FROM busybox\nRUN head -c 300000 /dev/zero > /blob\n", "pruned");
    daemon.ok(&["create", "--name", "stopped", "-v", "/scratch", "pruned", "true"]);
    daemon.ok(&["run", "-d", "--name", "running", "-v", "/kept", "busybox", "sleep", "300"]);
    daemon.ok(&["volume", "create", "named"]);
    let stopped_id = daemon.ok(&["inspect", "-f", "{{.Id}}", "stopped"]).trim().to_string();
    let scratch = daemon.ok(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "stopped"]).trim().to_string();
    let kept = daemon.ok(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "running"]).trim().to_string();
    assert_eq!(count(&df_row(&daemon, "Images")), 2);

    let output = daemon.ok(&["system", "prune", "-af", "--volumes"]);
    assert!(output.contains(&format!("Deleted Containers:\n{stopped_id}")), "{output}");
    assert!(output.contains(&format!("Deleted Volumes:\n{scratch}")), "{output}");
    assert!(output.contains("untagged: pruned:latest"), "{output}");
    assert!(!output.contains("busybox"), "the running container's image stays: {output}");
    let reclaimed = output.lines().find_map(|l| l.strip_prefix("Total reclaimed space: ")).unwrap_or_default();
    assert!(reclaimed.ends_with("kB") && reclaimed != "0B", "the image's 300 kB layer: {output}");

    assert_eq!(
        lines(&daemon.ok(&["ps", "-aq", "--no-trunc"])),
        [daemon.ok(&["inspect", "-f", "{{.Id}}", "running"]).trim()]
    );
    assert_eq!(lines(&daemon.ok(&["images", "-aq", "--no-trunc"])).len(), 1);
    // Anonymous volumes go (dockerd's `--volumes` without `volume prune -a`); named ones and those in use stay.
    let mut volumes = lines(&daemon.ok(&["volume", "ls", "-q"]));
    volumes.sort();
    let mut expected = vec![kept, "named".to_string()];
    expected.sort();
    assert_eq!(volumes, expected);
    assert_eq!(count(&df_row(&daemon, "Images")), 1);
    assert_eq!(count(&df_row(&daemon, "Containers")), 1);
    assert_eq!(count(&df_row(&daemon, "Build Cache")), 0);
    assert_eq!(
        std::fs::read_to_string(daemon.root().join("build/cache.json")).map(|t| t.contains("sha256")).ok(),
        Some(false)
    );

    // Nothing left to prune is no error and frees nothing.
    daemon.ok(&["rm", "-f", "running"]);
    let again = daemon.ok(&["system", "prune", "-f"]);
    assert!(again.contains("Total reclaimed space: 0B"), "{again}");
}

#[test]
fn image_prune_all_by_label_and_age() {
    let mut daemon = Daemon::start();
    build(&daemon, "x", "FROM busybox\nLABEL x=1\n", "labelled");
    build(&daemon, "y", "FROM busybox\nLABEL y=1\n", "other");

    let output = daemon.ok(&["image", "prune", "-af", "--filter", "label=x"]);
    assert!(output.contains("untagged: labelled:latest"), "{output}");
    assert!(!output.contains("other") && !output.contains("busybox"), "{output}");
    let tags = |daemon: &Daemon| {
        let mut tags = lines(&daemon.ok(&["images", "--format", "{{.Repository}}"]));
        tags.sort();
        tags
    };
    assert_eq!(tags(&daemon), ["busybox", "other"]);

    // `label!`: everything without y=1, here busybox (built from the host's binary, so as old as it).
    let output = daemon.ok(&["image", "prune", "-af", "--filter", "label!=y=1", "--filter", "until=1h"]);
    assert!(output.contains("untagged: busybox:latest"), "{output}");
    assert_eq!(tags(&daemon), ["other"]);
    // `until` spares what is newer: `other` was built just now.
    let output = daemon.ok(&["image", "prune", "-af", "--filter", "until=1h"]);
    assert!(!output.contains("other"), "{output}");
    // The built-in busybox image comes back with the next start, as it came with the first.
    daemon.restart();
    assert_eq!(tags(&daemon), ["busybox", "other"]);

    // Without -a only untagged images go; a tag moved by a rebuild leaves one.
    build(&daemon, "y", "FROM busybox\nLABEL y=2\n", "other");
    let output = daemon.ok(&["image", "prune", "-f"]);
    assert!(output.contains("deleted: sha256:") && !output.contains("untagged"), "{output}");
    assert_eq!(tags(&daemon), ["busybox", "other"]);

    let bad = daemon.docker(&["image", "prune", "-f", "--filter", "foo=bar"]);
    assert!(!bad.success() && bad.stderr.contains("invalid filter 'foo'"), "{bad:?}");
    let bad = daemon.docker(&["image", "prune", "-f", "--filter", "until=soon"]);
    assert!(
        bad.stderr.contains("invalid value for 'until' filter: failed to parse value as time or duration"),
        "{bad:?}"
    );
    // The CLI adds `dangling=true` beside the user's, which then wins as in dockerd; alone, `maybe` is refused.
    let filters = "%7B%22dangling%22%3A%5B%22maybe%22%5D%7D";
    let bad = support::unix_request(daemon.socket(), "POST", &format!("/images/prune?filters={filters}"), None);
    assert_eq!(bad, Some((400, r#"{"message":"invalid filter 'dangling=[maybe]'"}"#.to_string())));
}

#[test]
fn container_prune_by_age_and_label() {
    let daemon = Daemon::start();
    daemon.ok(&["create", "--name", "plain", "busybox", "true"]);
    daemon.ok(&["create", "--name", "tagged", "--label", "team=a", "busybox", "true"]);
    daemon.ok(&["create", "--name", "keep", "--label", "keep", "busybox", "true"]);
    let names = |daemon: &Daemon| {
        let mut names = lines(&daemon.ok(&["ps", "-a", "--format", "{{.Names}}"]));
        names.sort();
        names
    };

    let output = daemon.ok(&["container", "prune", "-f", "--filter", "until=10m"]);
    assert!(output.contains("Total reclaimed space: 0B"), "created just now, so kept: {output}");
    assert_eq!(names(&daemon), ["keep", "plain", "tagged"]);
    daemon.ok(&["container", "prune", "-f", "--filter", "label=team=a"]);
    assert_eq!(names(&daemon), ["keep", "plain"]);
    let (status, body) = support::unix_request(
        daemon.socket(),
        "POST",
        "/containers/prune?filters=%7B%22until%22%3A%5B%220s%22%5D%2C%22label%21%22%3A%5B%22keep%22%5D%7D",
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["ContainersDeleted"].as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(names(&daemon), ["keep"]);

    let bad = daemon.docker(&["container", "prune", "-f", "--filter", "dangling=true"]);
    assert!(bad.stderr.contains("invalid filter 'dangling'"), "{bad:?}");
    let bad = daemon.docker(&["volume", "prune", "-f", "--filter", "until=1h"]);
    assert!(bad.stderr.contains("invalid filter 'until'"), "{bad:?}");
}

/// The steps that said "Using cache", by step number.
fn cached_steps(output: &str) -> Vec<usize> {
    let mut cached = Vec::new();
    let mut current = 0;
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("Step ") {
            current = rest.split('/').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        }
        if line.trim() == "---> Using cache" {
            cached.push(current);
        }
    }
    cached
}

#[test]
fn builder_prune_empties_the_cache_and_the_next_build_runs_again() {
    let daemon = Daemon::start();
    let old = "FROM busybox\nRUN head -c 200000 /dev/zero > /old\n";
    let new = "FROM busybox\nENV V=2\nRUN echo built > /f\n";
    build(&daemon, "old", old, "app");
    // Moving the tag leaves the first build's records held by no image: dangling cache.
    build(&daemon, "new", new, "app");
    assert_eq!(count(&df_row(&daemon, "Build Cache")), 3);

    let output = daemon.ok(&["builder", "prune", "-f"]);
    let deleted: Vec<_> = output.lines().filter(|l| l.len() == 64).collect();
    assert_eq!(deleted.len(), 1, "only the old RUN's record: {output}");
    let reclaimed = output.lines().find_map(|l| l.strip_prefix("Total reclaimed space: ")).unwrap_or_default();
    let kilobytes: f64 = reclaimed.strip_suffix("kB").and_then(|n| n.parse().ok()).unwrap_or_default();
    assert!((200.0..210.0).contains(&kilobytes), "its layer's 200 kB and the image's config: {output}");
    let again = build(&daemon, "new", new, "app");
    assert_eq!(cached_steps(&again), [2, 3], "shared records stay without --all: {again}");

    let (status, body) = support::unix_request(
        daemon.socket(),
        "POST",
        "/build/prune?all=1&filters=%7B%22id%22%3A%5B%22zz%22%5D%7D",
        None,
    )
    .unwrap();
    assert_eq!((status, body.as_str()), (200, r#"{"CachesDeleted":null,"SpaceReclaimed":0}"#), "no record has that id");

    let output = daemon.ok(&["builder", "prune", "-af"]);
    assert!(output.contains("Deleted build cache objects:"), "{output}");
    assert_eq!(output.lines().filter(|l| l.len() == 64).count(), 2, "{output}");
    assert_eq!(count(&df_row(&daemon, "Build Cache")), 0);
    // The tagged image stays, its step images go.
    assert_eq!(daemon.ok(&["run", "--rm", "app", "cat", "/f"]).trim(), "built");
    assert_eq!(lines(&daemon.ok(&["images", "-aq"])).len(), 2, "app and busybox");
    let rebuilt = build(&daemon, "new", new, "app");
    assert!(cached_steps(&rebuilt).is_empty(), "{rebuilt}");
    assert!(rebuilt.contains(" ---> Running in "), "the RUN runs again: {rebuilt}");

    let bad = daemon.docker(&["builder", "prune", "-f", "--filter", "until=soon"]);
    assert!(bad.stderr.contains("\"until\" filter expects a duration (e.g., '24h') or a timestamp"), "{bad:?}");
    let bad = daemon.docker(&["builder", "prune", "-f", "--filter", "foo=bar"]);
    assert!(bad.stderr.contains("invalid filter 'foo'"), "{bad:?}");
}
