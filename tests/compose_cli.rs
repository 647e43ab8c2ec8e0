//! `berth compose` against a real daemon: a project with a service built from a Dockerfile, a published port, a bind-mounted site, a service that
//! `extends` one from another file with a named volume, DNS by service name, then ps, logs, stop and `down -v`
//! leaving nothing behind.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{free_port, http_get, Daemon};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// `berth compose ARGS` in `project_dir` against `daemon`.
fn compose(daemon: &Daemon, project_dir: &Path, args: &[&str]) -> Output {
    Command::new(BERTH)
        .arg("compose")
        .args(args)
        .current_dir(project_dir)
        .env("DOCKER_HOST", format!("unix://{}", daemon.socket().display()))
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .output()
        .expect("running berth compose")
}

/// `berth compose ARGS` that must succeed; its stdout.
fn compose_ok(daemon: &Daemon, project_dir: &Path, args: &[&str]) -> String {
    let output = compose(daemon, project_dir, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "berth compose {} exited with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n{}",
        args.join(" "),
        output.status,
        daemon.log_tail()
    );
    stdout
}

/// Retries `check` for a few seconds: a server in a container may still be starting.
fn eventually(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match check() {
            Ok(()) => return,
            Err(error) if Instant::now() > deadline => panic!("{what}: {error}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

const COMPOSE_FILE: &str = r#"
services:
  web:
    build: ./web
    ports:
      - "127.0.0.1:${WEB_PORT}:80"
    volumes:
      - ./site:/site:ro
    links:
      - backend
    depends_on:
      - backend
  backend:
    extends:
      file: common.yaml
      service: api
    volumes:
      - data:/data
volumes:
  data:
"#;

/// The web image: the page server as its CMD, and the build context (minus .dockerignore's) under /app.
const WEB_DOCKERFILE: &str = r#"
FROM busybox
COPY . /app/
CMD ["httpd", "-f", "-p", "80", "-h", "/site"]
"#;

const COMMON_FILE: &str = r#"
services:
  api:
    image: busybox
    command: ["sh", "-c", "echo backend-data > /data/index.html && echo backend ready && exec httpd -f -p 8080 -h /data"]
"#;

#[test]
fn compose_project_runs_answers_and_leaves_nothing_behind() {
    let daemon = Daemon::start();
    let project_dir = daemon.scratch_dir("shop");
    let port = free_port();
    std::fs::write(project_dir.join("compose.yaml"), COMPOSE_FILE).expect("writing compose.yaml");
    std::fs::write(project_dir.join("common.yaml"), COMMON_FILE).expect("writing common.yaml");
    std::fs::write(project_dir.join(".env"), format!("WEB_PORT={port}\n")).expect("writing .env");
    std::fs::create_dir_all(project_dir.join("site")).expect("creating site");
    std::fs::create_dir_all(project_dir.join("web")).expect("creating web");
    std::fs::write(project_dir.join("web/Dockerfile"), WEB_DOCKERFILE).expect("writing the Dockerfile");
    std::fs::write(project_dir.join("web/built.txt"), "built by compose\n").expect("writing built.txt");
    std::fs::write(project_dir.join("web/secret.txt"), "not for the image\n").expect("writing secret.txt");
    std::fs::write(project_dir.join("web/.dockerignore"), "secret.txt\n").expect("writing .dockerignore");
    std::fs::write(project_dir.join("site/index.html"), "hello from compose\n").expect("writing the page");

    compose_ok(&daemon, &project_dir, &["up", "-d"]);

    // The page through the published port, from the bind-mounted directory.
    let response = http_get(&format!("127.0.0.1:{port}"), "/index.html");
    assert!(response.contains("hello from compose"), "{response}");

    // The backend by its service name and by its container name, on the project's default network.
    for host in ["backend", "shop_backend_1"] {
        let url = format!("http://{host}:8080/");
        eventually(&format!("wget {url} from web"), || {
            let output = compose(&daemon, &project_dir, &["exec", "-T", "web", "wget", "-qO-", &url]);
            let stdout = String::from_utf8_lossy(&output.stdout);
            if output.status.success() && stdout.contains("backend-data") {
                Ok(())
            } else {
                Err(format!("{}: {stdout} {}", output.status, String::from_utf8_lossy(&output.stderr)))
            }
        });
    }

    // The image was built from web/, without what .dockerignore leaves out.
    let listing = compose_ok(&daemon, &project_dir, &["exec", "-T", "web", "ls", "/app"]);
    assert!(listing.contains("built.txt") && !listing.contains("secret.txt"), "{listing}");

    // Labels as docker-compose puts them.
    let inspected = daemon.get_json("/containers/shop_web_1/json");
    let labels = &inspected["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.project"], "shop");
    assert_eq!(labels["com.docker.compose.service"], "web");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert_eq!(labels["com.docker.compose.project.working_dir"], project_dir.display().to_string());
    assert!(labels["com.docker.compose.config-hash"].as_str().is_some_and(|hash| hash.len() >= 16), "{labels}");
    let web_id = inspected["Id"].clone();

    let ps = compose_ok(&daemon, &project_dir, &["ps"]);
    assert!(ps.contains("shop_web_1") && ps.contains("shop_backend_1"), "{ps}");
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");

    let logs = compose_ok(&daemon, &project_dir, &["logs", "backend"]);
    assert!(logs.contains("backend_1 | backend ready"), "{logs}");

    // Nothing changed: the containers stay.
    compose_ok(&daemon, &project_dir, &["up", "-d"]);
    assert_eq!(daemon.get_json("/containers/shop_web_1/json")["Id"], web_id);

    let config = compose_ok(&daemon, &project_dir, &["config"]);
    assert!(config.contains("backend") && config.contains("shop_data"), "{config}");

    compose_ok(&daemon, &project_dir, &["stop"]);
    let stopped = daemon.get_json("/containers/shop_backend_1/json");
    assert_eq!(stopped["State"]["Running"], false, "{stopped}");

    compose_ok(&daemon, &project_dir, &["down", "-v", "--rmi", "local"]);
    let containers = daemon.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!containers.contains("shop_"), "{containers}");
    let networks = daemon.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("shop_"), "{networks}");
    let volumes = daemon.ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(!volumes.contains("shop_"), "{volumes}");
    let images = daemon.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains("shop_web"), "{images}");
}

#[test]
fn compose_reports_positioned_errors_and_exits_1() {
    let daemon = Daemon::start();
    let project_dir = daemon.scratch_dir("broken");
    std::fs::write(project_dir.join("compose.yaml"), "services:\n  web:\n    image: busybox\n    portz: []\n")
        .expect("writing compose.yaml");
    let output = compose(&daemon, &project_dir, &["up", "-d"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let file = project_dir.join("compose.yaml");
    assert!(stderr.contains(&format!("{}:4:5: error: services.web", file.display())), "{stderr}");
}
