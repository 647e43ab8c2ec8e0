//! The compose projects both compose clients are tested with (`berth compose` in compose_cli.rs, Debian's
//! docker-compose 1.29 in compose_v1.rs), and the scenarios run against them. A client is a function from arguments
//! to the finished process, run in the project's directory with DOCKER_HOST set.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use super::{free_port, http_get, Daemon};

/// Runs one compose command (`up -d`, `ps`...) of some client in the project directory.
pub type Client<'a> = dyn Fn(&Path, &[&str]) -> Output + 'a;

/// The project of the issue's "Done when": `web` built from a Dockerfile, publishing 127.0.0.1:PORT:80 and
/// bind-mounting the site, linked to a `backend` that extends a service of another file and uses a named volume.
const SHOP_FILE: &str = r#"
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
    # httpd as PID 1 ignores SIGTERM; a short grace keeps the recreate below quick.
    stop_grace_period: 1s
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

/// `app` waits for `db`, which becomes healthy a second after it starts.
const HEALTHY_FILE: &str = r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 300"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 200ms
      retries: 30
  app:
    image: busybox
    command: ["sleep", "300"]
    depends_on:
      db:
        condition: service_healthy
"#;

/// `app` depends on a healthy `db` that has no healthcheck.
const NO_HEALTHCHECK_FILE: &str = r#"
services:
  db:
    image: busybox
    command: ["sleep", "300"]
  app:
    image: busybox
    command: ["sleep", "300"]
    depends_on:
      db:
        condition: service_healthy
"#;

/// `app` depends on a `db` whose check always fails.
const UNHEALTHY_FILE: &str = r#"
services:
  db:
    image: busybox
    command: ["sleep", "300"]
    healthcheck:
      test: ["CMD-SHELL", "exit 1"]
      interval: 200ms
      retries: 2
  app:
    image: busybox
    command: ["sleep", "300"]
    depends_on:
      db:
        condition: service_healthy
"#;

fn write(path: PathBuf, content: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("creating {}: {error}", parent.display()));
    }
    std::fs::write(&path, content).unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
}

/// Runs a command that must succeed; its stdout.
pub fn ok(daemon: &Daemon, client: &Client, dir: &Path, args: &[&str]) -> String {
    let output = client(dir, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "compose {} exited with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n{}",
        args.join(" "),
        output.status,
        daemon.log_tail()
    );
    stdout
}

/// Retries `check` for a few seconds: a server in a container may still be starting.
pub fn eventually(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match check() {
            Ok(()) => return,
            Err(error) if Instant::now() > deadline => panic!("{what}: {error}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Writes the shop project into `<scratch>/<project>`; returns its directory and the published port.
pub fn write_shop(daemon: &Daemon, project: &str) -> (PathBuf, u16) {
    let dir = daemon.scratch_dir(project);
    let port = free_port();
    write(dir.join("compose.yaml"), SHOP_FILE);
    write(dir.join("common.yaml"), COMMON_FILE);
    write(dir.join(".env"), &format!("WEB_PORT={port}\n"));
    write(dir.join("web/Dockerfile"), WEB_DOCKERFILE);
    write(dir.join("web/built.txt"), "built by compose\n");
    write(dir.join("web/secret.txt"), "not for the image\n");
    write(dir.join("web/.dockerignore"), "secret.txt\n");
    write(dir.join("site/index.html"), "hello from compose\n");
    (dir, port)
}

/// The "Done when" scenario with one client: up, the page through the published port, the backend by name from
/// `exec -T web`, labels, ps, logs, an idempotent second up, stop, and `down -v --rmi local` leaving nothing.
pub fn shop_scenario(daemon: &Daemon, client: &Client, project: &str) {
    let (dir, port) = write_shop(daemon, project);
    ok(daemon, client, &dir, &["up", "-d"]);

    // The page through the published port, from the bind-mounted directory.
    let response = http_get(&format!("127.0.0.1:{port}"), "/index.html");
    assert!(response.contains("hello from compose"), "{response}");

    // The backend by its service name and by its container name, on the project's default network.
    for host in ["backend".to_string(), format!("{project}_backend_1")] {
        let url = format!("http://{host}:8080/");
        eventually(&format!("wget {url} from web"), || {
            let output = client(&dir, &["exec", "-T", "web", "wget", "-qO-", &url]);
            let stdout = String::from_utf8_lossy(&output.stdout);
            if output.status.success() && stdout.contains("backend-data") {
                Ok(())
            } else {
                Err(format!("{}: {stdout} {}", output.status, String::from_utf8_lossy(&output.stderr)))
            }
        });
    }

    // The image was built from web/, without what .dockerignore leaves out.
    let listing = ok(daemon, client, &dir, &["exec", "-T", "web", "ls", "/app"]);
    assert!(listing.contains("built.txt") && !listing.contains("secret.txt"), "{listing}");

    // Labels as docker-compose puts them.
    let web = format!("{project}_web_1");
    let inspected = daemon.get_json(&format!("/containers/{web}/json"));
    let labels = &inspected["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.project"], project);
    assert_eq!(labels["com.docker.compose.service"], "web");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert_eq!(labels["com.docker.compose.project.working_dir"], dir.display().to_string());
    assert!(labels["com.docker.compose.config-hash"].as_str().is_some_and(|hash| hash.len() >= 16), "{labels}");
    let web_id = inspected["Id"].clone();

    let ps = ok(daemon, client, &dir, &["ps"]);
    assert!(ps.contains(&web) && ps.contains(&format!("{project}_backend_1")), "{ps}");
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");

    // docker-compose 1.29 colours the prefix even into a pipe.
    let logs = strip_colours(&ok(daemon, client, &dir, &["logs", "backend"]));
    assert!(logs.lines().any(|line| line.starts_with("backend_1") && line.ends_with("| backend ready")), "{logs}");

    // Nothing changed: the containers stay.
    ok(daemon, client, &dir, &["up", "-d"]);
    assert_eq!(daemon.get_json(&format!("/containers/{web}/json"))["Id"], web_id);

    // A forced recreate of one service (docker-compose 1.29 reads the image's ContainerConfig for it).
    let backend = format!("/containers/{project}_backend_1/json");
    let backend_id = daemon.get_json(&backend)["Id"].clone();
    ok(daemon, client, &dir, &["up", "-d", "--force-recreate", "--no-deps", "backend"]);
    let recreated = daemon.get_json(&backend);
    assert_ne!(recreated["Id"], backend_id);
    assert_eq!(recreated["State"]["Running"], true, "{recreated}");

    ok(daemon, client, &dir, &["stop"]);
    let stopped = daemon.get_json(&format!("/containers/{project}_backend_1/json"));
    assert_eq!(stopped["State"]["Running"], false, "{stopped}");

    ok(daemon, client, &dir, &["down", "-v", "--rmi", "local"]);
    assert_nothing_left(daemon, project);
    assert!(!daemon.ok(&["images", "--format", "{{.Repository}}"]).contains(&format!("{project}_web")));
}

/// `text` without ANSI SGR sequences (`ESC [ ... m`).
fn strip_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// No container, network or volume of `project` is left.
pub fn assert_nothing_left(daemon: &Daemon, project: &str) {
    let prefix = format!("{project}_");
    let containers = daemon.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!containers.contains(&prefix), "{containers}");
    let networks = daemon.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains(&prefix), "{networks}");
    let volumes = daemon.ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(!volumes.contains(&prefix), "{volumes}");
}

/// `depends_on: condition: service_healthy` with one client: `up -d` returns only once `db` is healthy and then
/// starts `app`. Returns the stderr of `up` for a dependency without a healthcheck and for an unhealthy one, whose
/// wording differs per client.
pub fn healthy_dependency_scenario(daemon: &Daemon, client: &Client, project: &str) -> (String, String) {
    let dir = daemon.scratch_dir(project);
    write(dir.join("compose.yaml"), HEALTHY_FILE);
    ok(daemon, client, &dir, &["up", "-d"]);
    let db = daemon.get_json(&format!("/containers/{project}_db_1/json"));
    assert_eq!(db["State"]["Health"]["Status"], "healthy", "{db}");
    let app = daemon.get_json(&format!("/containers/{project}_app_1/json"));
    assert_eq!(app["State"]["Running"], true, "{app}");
    ok(daemon, client, &dir, &["down", "-v", "-t", "1"]);

    let mut failures = Vec::new();
    for file in [NO_HEALTHCHECK_FILE, UNHEALTHY_FILE] {
        write(dir.join("compose.yaml"), file);
        let output = client(&dir, &["up", "-d"]);
        assert!(!output.status.success(), "up -d with {file}\n{}", String::from_utf8_lossy(&output.stdout));
        // The dependent service was never created.
        assert_eq!(daemon.get(&format!("/containers/{project}_app_1/json")).map(|(status, _)| status), Some(404));
        failures.push(String::from_utf8_lossy(&output.stderr).into_owned());
        ok(daemon, client, &dir, &["down", "-v", "-t", "1"]);
    }
    assert_nothing_left(daemon, project);
    let unhealthy = failures.pop().unwrap_or_default();
    let no_healthcheck = failures.pop().unwrap_or_default();
    (no_healthcheck, unhealthy)
}
