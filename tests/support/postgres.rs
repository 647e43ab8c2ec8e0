//! A real PostgreSQL server for a test: its own cluster (initdb) in a fresh directory, listening on a unix socket
//! there only (no TCP port), run as the `postgres` user (the server refuses root), stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Postgres {
    dir: PathBuf,
    server: Child,
}

/// Debian's server binaries: `/usr/lib/postgresql/<major>/bin`, the newest installed.
fn binaries() -> PathBuf {
    let mut majors: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (`cargo xtask setup` installs the postgresql package)")
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("postgres").is_file())
        .collect();
    majors.sort();
    majors.pop().expect("no PostgreSQL server binary under /usr/lib/postgresql/*/bin")
}

/// `program` run as the `postgres` user (the server refuses to run as root).
fn as_postgres(program: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    let user = nix::unistd::User::from_name("postgres")
        .expect("reading the user database")
        .expect("no postgres user (the postgresql package makes it)");
    let mut command = Command::new(program);
    command.uid(user.uid.as_raw()).gid(user.gid.as_raw()).env("HOME", &user.dir).current_dir("/");
    command
}

impl Postgres {
    /// A new cluster under `parent` (a directory the `postgres` user may enter), serving once this returns.
    pub fn start(parent: &Path) -> Postgres {
        let bin = binaries();
        let dir = parent.join("postgres");
        std::fs::create_dir_all(&dir).expect("creating the cluster's directory");
        // Every directory above must be enterable by the server's user.
        let mut up = Some(dir.as_path());
        while let Some(path) = up {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path) {
                let mode = meta.permissions().mode();
                if mode & 0o001 == 0 {
                    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o001));
                }
            }
            up = path.parent();
        }
        let status = Command::new("chown").arg("postgres:postgres").arg(&dir).status().expect("chown");
        assert!(status.success(), "chown of {} failed", dir.display());
        let data = dir.join("data");
        let output = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("running initdb");
        assert!(output.status.success(), "initdb failed: {}", String::from_utf8_lossy(&output.stderr));
        let log = std::fs::File::create(dir.join("server.log")).expect("creating the server log");
        let server = as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&dir)
            .args(["-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=50"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting postgres");
        let postgres = Postgres { dir, server };
        postgres.wait_until_ready(&bin);
        postgres
    }

    fn wait_until_ready(&self, bin: &Path) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .arg("-h")
                .arg(&self.dir)
                .arg("-q")
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "postgres did not come up: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new, empty database on this server, and its URL.
    pub fn database(&self, name: &str) -> String {
        let output = Command::new(binaries().join("createdb"))
            .arg("-h")
            .arg(&self.dir)
            .args(["-U", "postgres", name])
            .output()
            .expect("running createdb");
        assert!(output.status.success(), "createdb {name}: {}", String::from_utf8_lossy(&output.stderr));
        format!("postgres://postgres@localhost/{name}?host={}", self.dir.display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: the fast shutdown (clients are cut off, nothing waits for them).
        let _ = kill(Pid::from_raw(self.server.id() as i32), Signal::SIGINT);
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
