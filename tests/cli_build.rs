//! `docker build` (the legacy builder the 28.x CLI falls back to without buildx) against Berth: instructions,
//! .dockerignore, build args, the cache, multi-stage targets, heredocs, the backtick escape, ONBUILD, failures with
//! their line, and a git context through the builder's own API.

mod support;

use std::path::Path;

use support::Daemon;

fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, content).unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
}

fn build(daemon: &Daemon, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    daemon.ok(&args)
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

const APP_DOCKERFILE: &str = r#"FROM busybox
ARG GREETING=hello
ENV APP_HOME=/app
LABEL org.example.team=berth version="1.0"
WORKDIR $APP_HOME
COPY . .
RUN echo "$GREETING from $APP_HOME" > greeting && ls -a /app > listing
EXPOSE 8080
USER nobody
CMD ["cat", "/app/greeting"]
"#;

#[test]
fn build_run_inspect_cache_and_rebuild() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("app");
    write(&dir, "Dockerfile", APP_DOCKERFILE);
    write(&dir, "data.txt", "one\n");
    write(&dir, "other.txt", "other\n");
    write(&dir, "debug.log", "ignored\n");
    write(&dir, ".dockerignore", "*.log\n");

    let first = build(&daemon, &dir, &["-t", "app:1"]);
    assert!(first.contains("Step 1/10 : FROM busybox"), "{first}");
    assert!(first.contains(" ---> Running in "), "{first}");
    assert!(first.contains("Removing intermediate container "), "{first}");
    assert!(first.contains("Successfully built "), "{first}");
    assert!(first.contains("Successfully tagged app:1"), "{first}");
    assert!(cached_steps(&first).is_empty(), "{first}");

    assert_eq!(daemon.ok(&["run", "--rm", "app:1"]).trim(), "hello from /app");
    let listing = daemon.ok(&["run", "--rm", "app:1", "cat", "/app/listing"]);
    assert!(listing.contains("data.txt") && !listing.contains("debug.log"), ".dockerignore applies: {listing}");
    let inspect = |format: &str| daemon.ok(&["inspect", "-f", format, "app:1"]).trim().to_string();
    assert_eq!(
        inspect("{{index .Config.Labels \"org.example.team\"}} {{index .Config.Labels \"version\"}}"),
        "berth 1.0"
    );
    assert_eq!(inspect("{{json .Config.ExposedPorts}}"), r#"{"8080/tcp":{}}"#);
    assert_eq!(inspect("{{.Config.User}}"), "nobody");
    assert_eq!(inspect("{{json .Config.Cmd}}"), r#"["cat","/app/greeting"]"#);
    assert_eq!(inspect("{{.Config.WorkingDir}}"), "/app");
    assert!(inspect("{{json .Config.Env}}").contains("APP_HOME=/app"));

    // --build-arg changes the result.
    build(&daemon, &dir, &["--build-arg", "GREETING=bonjour", "-t", "app:fr"]);
    assert_eq!(daemon.ok(&["run", "--rm", "app:fr"]).trim(), "bonjour from /app");

    // The same build again: every step after FROM comes from the cache, and the image is the same.
    let second = build(&daemon, &dir, &["-t", "app:1"]);
    assert_eq!(cached_steps(&second), (2..=10).collect::<Vec<_>>(), "{second}");
    let id_of = |output: &str| {
        output.lines().find_map(|l| l.strip_prefix("Successfully built ")).map(str::to_string).unwrap_or_default()
    };
    assert_eq!(id_of(&first), id_of(&second));

    // A changed file rebuilds from its COPY on.
    write(&dir, "data.txt", "two\n");
    let third = build(&daemon, &dir, &["-t", "app:1"]);
    assert_eq!(cached_steps(&third), vec![2, 3, 4, 5], "{third}");
    assert_eq!(daemon.ok(&["run", "--rm", "app:1", "cat", "/app/data.txt"]).trim(), "two");
    // A file that .dockerignore excludes does not invalidate anything.
    write(&dir, "debug.log", "changed\n");
    let fourth = build(&daemon, &dir, &["-t", "app:1"]);
    assert_eq!(cached_steps(&fourth), (2..=10).collect::<Vec<_>>(), "{fourth}");

    // docker history shows every step.
    let history = daemon.ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", "app:1"]);
    for expected in [
        "CMD [\"cat\",\"/app/greeting\"]",
        "USER nobody",
        "EXPOSE 8080/tcp",
        "|1 GREETING=hello /bin/sh -c echo",
        "COPY ",
        "WORKDIR /app",
        "LABEL org.example.team=berth",
        "ENV APP_HOME=/app",
        "ARG GREETING=hello",
    ] {
        assert!(history.contains(expected), "{expected:?} in history:\n{history}");
    }

    // docker commit --change on a container of the built image.
    daemon.ok(&["run", "--name", "tocommit", "app:1", "sh", "-c", "echo committed > /tmp/c"]);
    daemon.ok(&[
        "commit",
        "--change",
        "CMD [\"cat\", \"/tmp/c\"]",
        "--change",
        "USER root",
        "tocommit",
        "app:committed",
    ]);
    assert_eq!(daemon.ok(&["run", "--rm", "app:committed"]).trim(), "committed");
    let user = daemon.ok(&["inspect", "-f", "{{.Config.User}}", "app:committed"]);
    assert_eq!(user.trim(), "root");
}

#[test]
fn unknown_build_args_are_warned_about_and_labels_added() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("args");
    write(&dir, "Dockerfile", "FROM busybox\nARG USED\nRUN echo \"used=$USED\"\n");
    let output = build(
        &daemon,
        &dir,
        &["--build-arg", "USED=yes", "--build-arg", "UNUSED=1", "--label", "extra=1", "-t", "args"],
    );
    assert!(output.contains("used=yes"), "{output}");
    assert!(output.contains("[Warning] One or more build-args [UNUSED] were not consumed"), "{output}");
    let label = daemon.ok(&["inspect", "-f", "{{index .Config.Labels \"extra\"}}", "args"]);
    assert_eq!(label.trim(), "1");
    let quiet = build(&daemon, &dir, &["-q", "--build-arg", "USED=yes"]);
    assert!(quiet.trim().starts_with("sha256:") && quiet.trim().lines().count() == 1, "{quiet}");
}

#[test]
fn bad_instruction_fails_with_its_line() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("bad");
    write(&dir, "Dockerfile", "FROM busybox\nRUN true\n\nFROBNICATE the widgets\n");
    let output = daemon.docker(&["build", "-t", "bad:1", dir.to_str().unwrap()]);
    assert_eq!(output.code, Some(1), "{output:?}");
    assert!(output.stderr.contains("dockerfile parse error on line 4: unknown instruction: FROBNICATE"), "{output:?}");
    assert!(daemon.docker(&["inspect", "bad:1"]).code != Some(0), "nothing is tagged");
}

#[test]
fn failing_run_uses_dockers_wording_and_tags_nothing() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("failing");
    write(&dir, "Dockerfile", "FROM busybox\nRUN echo before\nRUN false\nRUN echo never\n");
    let output = daemon.docker(&["build", "-t", "failing:1", dir.to_str().unwrap()]);
    assert_eq!(output.code, Some(1), "{output:?}");
    assert!(output.stderr.contains("The command '/bin/sh -c false' returned a non-zero code: 1"), "{output:?}");
    assert!(!output.stdout.contains("never"), "{output:?}");
    assert!(daemon.docker(&["inspect", "failing:1"]).code != Some(0), "nothing is tagged");
    // The last good step's image is kept and named, for debugging.
    let last_good = output.stderr.split("last successful step: ").nth(1).map(|s| s.trim_end_matches([')', '\n']));
    let last_good = last_good.unwrap_or_else(|| panic!("no last step named: {output:?}"));
    assert_eq!(daemon.ok(&["run", "--rm", last_good, "echo", "debuggable"]).trim(), "debuggable");
    // The daemon is still fine.
    assert_eq!(daemon.ok(&["run", "--rm", "busybox", "echo", "alive"]).trim(), "alive");

    write(&dir, "Dockerfile", "FROM busybox\nRUN --mount=type=cache,target=/root/.cache true\n");
    let output = daemon.docker(&["build", dir.to_str().unwrap()]);
    assert_eq!(output.code, Some(1), "{output:?}");
    assert!(output.stderr.contains("--mount") && output.stderr.contains("line 2"), "{output:?}");

    write(&dir, "Dockerfile", "FROM busybox\nCOPY ../outside /x\n");
    let output = daemon.docker(&["build", dir.to_str().unwrap()]);
    assert_eq!(output.code, Some(1), "{output:?}");
    assert!(output.stderr.contains("outside the build context") && output.stderr.contains("line 2"), "{output:?}");
}

#[test]
fn multi_stage_with_target() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("multi");
    write(
        &dir,
        "Dockerfile",
        "FROM busybox AS builder\nRUN mkdir /out && echo built-artifact > /out/artifact\n\n\
         FROM busybox AS test\nCOPY --from=builder /out/artifact /artifact\nRUN echo tested > /tested\n\n\
         FROM busybox\nCOPY --from=builder /out/artifact /final-artifact\nCMD [\"cat\", \"/final-artifact\"]\n",
    );
    build(&daemon, &dir, &["-t", "multi:final"]);
    assert_eq!(daemon.ok(&["run", "--rm", "multi:final"]).trim(), "built-artifact");
    let missing = daemon.docker(&["run", "--rm", "multi:final", "ls", "/out"]);
    assert_ne!(missing.code, Some(0), "only the final stage's layers: {missing:?}");

    let output = build(&daemon, &dir, &["--target", "test", "-t", "multi:test"]);
    assert!(output.contains("Step 1/5"), "steps up to the target only: {output}");
    assert_eq!(
        daemon.ok(&["run", "--rm", "multi:test", "cat", "/tested", "/artifact"]).trim(),
        "tested\nbuilt-artifact"
    );
    let missing = daemon.docker(&["run", "--rm", "multi:test", "ls", "/final-artifact"]);
    assert_ne!(missing.code, Some(0), "{missing:?}");

    let output = daemon.docker(&["build", "--target", "nosuch", dir.to_str().unwrap()]);
    assert_eq!(output.code, Some(1), "{output:?}");
    assert!(output.stderr.contains("failed to reach build target nosuch"), "{output:?}");
}

#[test]
fn heredoc_run_and_backtick_escape() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("heredoc");
    write(
        &dir,
        "Dockerfile",
        "FROM busybox\nRUN <<EOF\necho first > /heredoc\necho second >> /heredoc\nEOF\n\
         RUN cat <<DATA > /data\nliteral line\nDATA\n",
    );
    build(&daemon, &dir, &["-t", "heredoc"]);
    assert_eq!(daemon.ok(&["run", "--rm", "heredoc", "cat", "/heredoc"]).trim(), "first\nsecond");
    assert_eq!(daemon.ok(&["run", "--rm", "heredoc", "cat", "/data"]).trim(), "literal line");
    // Step images are kept but, like Docker's, hidden from `docker images` unless -a.
    let images = daemon.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.lines().count(), 2, "{images}");
    let all = daemon.ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(all.contains("<none>:<none>"), "{all}");

    let dir = daemon.scratch_dir("backtick");
    write(
        &dir,
        "Dockerfile",
        "# escape=`\nFROM busybox\nENV WINPATH=C:\\Users\\berth\nRUN echo one > /lines && `\n    echo two >> /lines\n",
    );
    build(&daemon, &dir, &["-t", "backtick"]);
    assert_eq!(daemon.ok(&["run", "--rm", "backtick", "cat", "/lines"]).trim(), "one\ntwo");
    assert_eq!(daemon.ok(&["run", "--rm", "backtick", "sh", "-c", "echo $WINPATH"]).trim(), "C:\\Users\\berth");
}

#[test]
fn onbuild_triggers_run_in_the_child() {
    let daemon = Daemon::start();
    let parent = daemon.scratch_dir("parent");
    write(
        &parent,
        "Dockerfile",
        "FROM busybox\nONBUILD COPY marker.txt /from-trigger\nONBUILD RUN echo triggered > /ran\n",
    );
    build(&daemon, &parent, &["-t", "onbuild-base"]);
    let missing = daemon.docker(&["run", "--rm", "onbuild-base", "ls", "/ran"]);
    assert_ne!(missing.code, Some(0), "triggers do not run in the parent: {missing:?}");

    let child = daemon.scratch_dir("child");
    write(&child, "Dockerfile", "FROM onbuild-base\nCMD [\"cat\", \"/ran\", \"/from-trigger\"]\n");
    write(&child, "marker.txt", "from the child's context\n");
    let output = build(&daemon, &child, &["-t", "onbuild-child"]);
    assert!(output.contains("# Executing 2 build triggers"), "{output}");
    assert_eq!(daemon.ok(&["run", "--rm", "onbuild-child"]).trim(), "triggered\nfrom the child's context");

    // Triggers run once: a grandchild does not run them again.
    let grandchild = daemon.scratch_dir("grandchild");
    write(&grandchild, "Dockerfile", "FROM onbuild-child\nRUN echo grandchild\n");
    let output = build(&daemon, &grandchild, &[]);
    assert!(!output.contains("build trigger"), "{output}");
}

#[test]
fn dockerfile_outside_the_context() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("ctx");
    let elsewhere = daemon.scratch_dir("elsewhere");
    write(&dir, "hello.txt", "from context\n");
    write(&elsewhere, "Build.dockerfile", "FROM busybox\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n");
    let file = elsewhere.join("Build.dockerfile");
    build(&daemon, &dir, &["-f", file.to_str().unwrap(), "-t", "outside"]);
    assert_eq!(daemon.ok(&["run", "--rm", "outside"]).trim(), "from context");
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=Berth Test", "-c", "user.email=test@berth.invalid", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("running git");
    assert!(status.success(), "git {args:?} failed");
}

/// The builder's own API (what the playground calls), with a file:// git repository as the context: the branch named
/// after `#` is checked out, `.dockerignore` applies, and RUN works in the engine's containers.
#[test]
fn git_url_context_through_the_build_module() {
    let scratch = tempfile::Builder::new().prefix("build-git-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let repo = scratch.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "--quiet"]);
    write(&repo, "Dockerfile", "FROM busybox\nCOPY msg.txt /msg.txt\n");
    write(&repo, "msg.txt", "from main\n");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "main"]);
    git(&repo, &["checkout", "--quiet", "-b", "feature"]);
    write(&repo, "Dockerfile", "FROM busybox\nCOPY . /src/\nRUN cat /src/msg.txt > /copied\n");
    write(&repo, "msg.txt", "from feature\n");
    write(&repo, "notes.tmp", "ignored\n");
    write(&repo, ".dockerignore", "*.tmp\n");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "feature"]);
    git(&repo, &["checkout", "--quiet", "main"]);

    berth_runtime::set_init_executable(env!("CARGO_BIN_EXE_berth"));
    berth_runtime::set_monitor_executable(env!("CARGO_BIN_EXE_berth-monitor"));
    let _ = berth_runtime::become_subreaper();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let root = scratch.path().join("root");
    runtime.block_on(async {
        // A bridge of its own, so this engine never meets the daemons other tests run in parallel.
        let network = berth_network::NetworkConfig {
            bridge_name: format!("btgit{}", std::process::id() % 100_000),
            bridge_subnet: "10.254.77.0/24".parse().expect("a subnet"),

            ..Default::default()
        };
        let engine = berth_engine::Engine::open(&root, network).await.expect("engine");
        let url = format!("file://{}#feature", repo.display());
        let source = berth_build::ContextSource::detect(&url);
        assert_eq!(source, berth_build::ContextSource::Git(url.clone()));
        let context = berth_build::open_context(&engine, source).await.expect("git context");
        let (progress, mut events) = berth_build::Progress::new();
        let options = berth_build::BuildOptions { tags: vec!["from-git:1".into()], ..Default::default() };
        let id = berth_build::build(&engine, &context, &options, &progress).await;
        drop(progress);
        let mut log = Vec::new();
        while let Some(event) = events.recv().await {
            log.push(event);
        }
        let id = id.unwrap_or_else(|error| panic!("{error}: {log:#?}"));
        let image = engine.image("from-git:1").expect("tagged");
        assert_eq!(image.id, id);
        let layers = engine.image_store().layer_dirs(&image).unwrap();
        let top = layers.last().unwrap();
        assert_eq!(std::fs::read_to_string(top.join("copied")).unwrap(), "from feature\n");
        let copy_layer = &layers[layers.len() - 2];
        assert!(copy_layer.join("src/Dockerfile").exists());
        assert!(!copy_layer.join("src/notes.tmp").exists(), ".dockerignore applies to git contexts");
        assert!(!copy_layer.join("src/.git").exists(), ".git is not part of the context");
        assert!(log.iter().any(|e| matches!(e, berth_shared::api::build::BuildEvent::Built { .. })));
        drop(context);
        engine.shutdown().await;
    });
    // The engine pins its init executable with a bind mount, which a clean shutdown leaves for containers that
    // outlive it; this one is the test's own.
    support::unmount_everything_under(scratch.path());
}

#[test]
fn layer_endpoint_reports_wasted_bytes() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("wasted");
    write(&dir, "Dockerfile", "FROM busybox\nRUN dd if=/dev/zero of=/big bs=1M count=5\nRUN rm /big\n");
    build(&daemon, &dir, &["-t", "wasted"]);
    let layers = daemon.get_json("/berth/images/wasted/layers");
    let list = layers["layers"].as_array().expect("layers");
    let dd = list
        .iter()
        .find(|l| l["instruction"].as_str().is_some_and(|i| i.starts_with("RUN dd")))
        .unwrap_or_else(|| panic!("the dd layer: {layers:#}"));
    assert_eq!(dd["line"], 2, "{dd:#}");
    assert_eq!(dd["wasted_bytes"], 5 * 1024 * 1024, "{dd:#}");
    assert!(dd["files"].as_array().unwrap().iter().any(|f| f["path"] == "/big" && f["kind"] == "added"), "{dd:#}");
    let rm = list.last().unwrap();
    assert_eq!(rm["line"], 3, "{rm:#}");
    assert!(rm["files"].as_array().unwrap().iter().any(|f| f["path"] == "/big" && f["kind"] == "deleted"), "{rm:#}");
    assert!(layers["wasted_bytes"].as_u64().unwrap() >= 5 * 1024 * 1024, "{layers:#}");
    assert!(layers["efficiency"].as_f64().unwrap() < 1.0, "{layers:#}");

    let diff = daemon.get_json("/berth/images/diff?from=busybox&to=wasted");
    let changes = diff["changes"].as_array().unwrap();
    assert!(!changes.iter().any(|c| c["path"] == "/big"), "/big is gone in the end: {diff:#}");
    let (status, _) = daemon.get("/berth/images/nosuch/layers").unwrap();
    assert_eq!(status, 404);
}

#[test]
fn save_rmi_load_round_trips() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("save");
    write(&dir, "Dockerfile", "FROM busybox\nRUN echo saved > /marker\nCMD [\"cat\", \"/marker\"]\n");
    build(&daemon, &dir, &["-t", "saved:1"]);
    let id = daemon.ok(&["inspect", "-f", "{{.Id}}", "saved:1"]);
    let archive = dir.join("saved.tar");
    daemon.ok(&["save", "-o", archive.to_str().unwrap(), "saved:1"]);
    let listing = std::process::Command::new("tar").arg("tf").arg(&archive).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("manifest.json") && listing.contains("index.json"), "{listing}");
    daemon.ok(&["rmi", "saved:1"]);
    assert!(daemon.docker(&["inspect", "saved:1"]).code != Some(0));
    let loaded = daemon.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(loaded.contains("Loaded image: saved:1"), "{loaded}");
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.Id}}", "saved:1"]), id);
    assert_eq!(daemon.ok(&["run", "--rm", "saved:1"]).trim(), "saved");
    // Through stdin too, with the image still there: loading is idempotent.
    let bytes = std::fs::read(&archive).unwrap();
    let again = daemon.docker_with_input(&["load"], &bytes);
    assert!(again.success() && again.stdout.contains("Loaded image: saved:1"), "{again:?}");
}

/// `docker rmi` of a built image takes the untagged step images under it along, as dockerd does, and stops at one
/// that is tagged; `--no-prune` deletes the image alone.
#[test]
fn rmi_of_a_built_image_removes_its_step_images() {
    let daemon = Daemon::start();
    let all_images = || -> Vec<String> {
        let mut ids: Vec<String> =
            daemon.ok(&["images", "-a", "-q", "--no-trunc"]).lines().map(str::to_string).collect();
        ids.sort();
        ids
    };
    let before = all_images();
    let base = daemon.scratch_dir("base");
    write(&base, "Dockerfile", "FROM busybox\nRUN echo a > /a\n");
    build(&daemon, &base, &["-t", "keep:1"]);
    let steps = daemon.scratch_dir("steps");
    write(&steps, "Dockerfile", "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\nENV X=1\n");
    build(&daemon, &steps, &["-t", "steps:1"]);
    let built = all_images();
    assert_eq!(built.len(), before.len() + 3, "RUN a (keep:1), RUN b and ENV each made an image: {built:?}");

    let output = daemon.ok(&["rmi", "steps:1"]);
    let deleted = output.lines().filter(|line| line.starts_with("Deleted: sha256:")).count();
    assert!(output.lines().next() == Some("Untagged: steps:1"), "{output}");
    assert_eq!(deleted, 2, "the image and its untagged RUN b parent, not keep:1 below them:\n{output}");
    let keep = daemon.ok(&["inspect", "-f", "{{.Id}}", "keep:1"]).trim().to_string();
    let mut expected = before.clone();
    expected.push(keep);
    expected.sort();
    assert_eq!(all_images(), expected, "exactly keep:1 is left of the build");

    build(&daemon, &steps, &["-t", "steps:2"]);
    let output = daemon.ok(&["rmi", "--no-prune", "steps:2"]);
    let deleted = output.lines().filter(|line| line.starts_with("Deleted: sha256:")).count();
    assert_eq!(deleted, 1, "--no-prune deletes the image alone:\n{output}");
    assert_eq!(all_images().len(), before.len() + 2, "keep:1 and the RUN b step image are left");
}
