//! Real containers from a busybox rootfs: needs root (CI is root) and /bin/busybox. Nothing is skipped silently:
//! without root or busybox these tests fail.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_runtime::{Cgroup, ProcessHandle, RuntimeError, Stdio};
use nix::sys::signal::Signal;
use oci_spec::runtime::{LinuxResources, Process, Spec};
use serde_json::json;

const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn setup() {
    assert!(nix::unistd::geteuid().is_root(), "the runtime tests must run as root");
    assert!(Path::new("/bin/busybox").exists(), "the runtime tests need /bin/busybox (busybox-static)");
    static INIT_EXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // Hold the binary open and exec it through /proc/self/fd: a later rebuild of target/debug/berth (another
    // checkout sharing the target dir) cannot swap it under a running test.
    let exe = INIT_EXE.get_or_init(|| {
        let f = File::open(env!("CARGO_BIN_EXE_berth")).expect("the berth binary");
        format!("/proc/self/fd/{}", std::os::fd::IntoRawFd::into_raw_fd(f))
    });
    berth_runtime::set_init_executable(exe);
    berth_runtime::become_subreaper().unwrap();
}

/// A busybox layer, overlay-mounted with a fresh upper dir.
struct Rootfs {
    dir: tempfile::TempDir,
    merged: PathBuf,
}

impl Rootfs {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer");
        let bin = layer.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for d in ["etc", "tmp", "root", "mnt", "proc", "sys", "dev", "usr/bin"] {
            std::fs::create_dir_all(layer.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        let out = std::process::Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&out.stdout).lines() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
            }
        }
        std::fs::write(layer.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
            .unwrap();
        std::fs::write(layer.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let merged = dir.path().join("merged");
        berth_runtime::mount_rootfs(
            &[layer],
            &dir.path().join("upper"),
            &dir.path().join("work"),
            &merged,
            berth_image::vfs::apply_layer,
            None,
        )
        .unwrap();
        Rootfs { dir, merged }
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = berth_runtime::unmount_rootfs(&self.merged);
        let _ = self.dir.path();
    }
}

fn process_json(args: &[&str], uid: u32) -> serde_json::Value {
    let caps = DEFAULT_CAPS;
    let (eff, perm): (&[&str], &[&str]) = if uid == 0 { (caps, caps) } else { (&[], &[]) };
    json!({
        "terminal": false,
        "user": {"uid": uid, "gid": uid},
        "args": args,
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=testhost"],
        "cwd": "/",
        "capabilities": {"bounding": caps, "effective": eff, "permitted": perm},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576u64, "soft": 1048576u64}],
        "noNewPrivileges": false
    })
}

/// Close to what Docker generates for `docker run busybox ARGS`.
fn docker_like_spec(root: &Path, args: &[&str]) -> Spec {
    let v = json!({
        "ociVersion": "1.0.2",
        "process": process_json(args, 0),
        "root": {"path": root, "readonly": false},
        "hostname": "testhost",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}
        ],
        "linux": {
            "namespaces": [{"type": "mount"}, {"type": "network"}, {"type": "uts"}, {"type": "pid"}, {"type": "ipc"}],
            "maskedPaths": ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    serde_json::from_value(v).unwrap()
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

/// Reads a pipe to EOF in a thread.
fn collect(fd: OwnedFd) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = File::from(fd).read_to_string(&mut s);
        s
    })
}

struct Started {
    handle: ProcessHandle,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Started {
    async fn finish(self) -> (i32, String, String) {
        let handle = self.handle;
        let waiting = tokio::task::spawn_blocking(move || handle.wait_blocking());
        let code = tokio::time::timeout(Duration::from_secs(60), waiting).await.expect("container timed out").unwrap();
        (code, self.stdout.join().unwrap(), self.stderr.join().unwrap())
    }
}

fn start(id: &str, spec: &Spec, cg: &Cgroup) -> Result<Started, RuntimeError> {
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let handle =
        berth_runtime::start_container(id, spec, cg, Stdio::Pipes { stdin: None, stdout: out_w, stderr: err_w })?;
    Ok(Started { handle, stdout: collect(out_r), stderr: collect(err_r) })
}

fn resources(v: serde_json::Value) -> LinuxResources {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn first_process_is_pid_1_in_its_rootfs() {
    setup();
    let rootfs = Rootfs::new();
    let cg = Cgroup::create("rt-test-pid1", None).unwrap();
    let spec = docker_like_spec(&rootfs.merged, &["sh", "-c", "echo $$; ls /; hostname; cat /proc/self/status"]);
    let (code, out, err) = start("rt-test-pid1", &spec, &cg).unwrap().finish().await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1"), "{out}");
    assert!(out.contains("bin") && out.contains("proc"), "{out}");
    assert!(out.contains("testhost"), "{out}");
    // Docker's default capabilities exactly.
    assert!(out.contains("CapEff:\t00000000a80425fb"), "{out}");
    assert!(out.contains("CapBnd:\t00000000a80425fb"), "{out}");

    // Nothing ignored or blocked leaks from the Rust runtime (which ignores SIGPIPE) into the program.
    let spec = docker_like_spec(&rootfs.merged, &["grep", "^Sig", "/proc/self/status"]);
    let (code, out, err) = start("rt-test-pid1", &spec, &cg).unwrap().finish().await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("SigIgn:\t0000000000000000"), "{out}");
    assert!(out.contains("SigBlk:\t0000000000000000"), "{out}");
    cg.destroy().unwrap();
}

#[tokio::test]
async fn missing_or_unexecutable_program_has_docker_wording() {
    setup();
    let rootfs = Rootfs::new();
    let cg = Cgroup::create("rt-test-notfound", None).unwrap();
    let spec = docker_like_spec(&rootfs.merged, &["nosuchcmd"]);
    let err = start("rt-test-notfound", &spec, &cg).err().expect("must fail");
    assert!(matches!(err, RuntimeError::ExecNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("exec: \"nosuchcmd\": executable file not found in $PATH"), "{err}");

    let spec = docker_like_spec(&rootfs.merged, &["/etc"]);
    let err = start("rt-test-notfound", &spec, &cg).err().expect("must fail");
    assert!(matches!(err, RuntimeError::ExecPermissionDenied { .. }), "{err:?}");
    assert!(err.to_string().contains("permission denied"), "{err}");
    assert!(cg.pids().is_empty(), "{:?}", cg.pids());
    cg.destroy().unwrap();
}

#[tokio::test]
async fn memory_limit_oom_kills_with_137() {
    setup();
    let rootfs = Rootfs::new();
    let res = resources(json!({"memory": {"limit": 32 * 1024 * 1024}}));
    let cg = Cgroup::create("rt-test-oom", Some(&res)).unwrap();
    let stats = cg.stats();
    assert_eq!(stats.memory_limit, 32 * 1024 * 1024);
    let spec = docker_like_spec(
        &rootfs.merged,
        &["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; head -c 200000000 /dev/zero | tail"],
    );
    let (code, out, err) = start("rt-test-oom", &spec, &cg).unwrap().finish().await;
    assert_eq!(code, 137, "stdout: {out}\nstderr: {err}");
    assert_eq!(out.trim(), "33554432", "the container sees its own limit");
    let stats = cg.stats();
    assert!(stats.oom_kills >= 1 || stats.memory_failcnt > 0, "{stats:?}");
    cg.destroy().unwrap();
}

#[tokio::test]
async fn pids_limit_stops_a_fork_loop() {
    setup();
    let rootfs = Rootfs::new();
    let res = resources(json!({"pids": {"limit": 10}}));
    let cg = Cgroup::create("rt-test-pids", Some(&res)).unwrap();
    let script = "i=0; while [ $i -lt 30 ]; do sleep 5 & i=$((i+1)); done; echo spawned";
    let spec = docker_like_spec(&rootfs.merged, &["sh", "-c", script]);
    let started = start("rt-test-pids", &spec, &cg).unwrap();
    let (_code, _out, err) = started.finish().await;
    assert!(err.contains("fork"), "stderr: {err}");
    cg.destroy().unwrap();
}

#[tokio::test]
async fn default_privileges_are_limited() {
    setup();
    let rootfs = Rootfs::new();
    let cg = Cgroup::create("rt-test-privs", None).unwrap();
    let script = "mount -t tmpfs t /mnt && echo MOUNTED; \
                  echo x > /proc/sys/kernel/hostname && echo WROTE_SYS; \
                  cat /proc/kcore && echo READ_KCORE; \
                  ls /sys/firmware | wc -l; \
                  touch /newfile && echo ROOT_RW; \
                  ls -l /dev/null; \
                  mknod /tmp/fuse c 10 229 && true </tmp/fuse && echo OPENED_FUSE; \
                  echo ok";
    // /dev/fuse opens for anyone on the host; the container's device rules (Docker's defaults) forbid it.
    assert!(std::fs::File::open("/dev/fuse").is_ok() || !Path::new("/dev/fuse").exists());
    let spec = docker_like_spec(&rootfs.merged, &["sh", "-c", script]);
    let (code, out, err) = start("rt-test-privs", &spec, &cg).unwrap().finish().await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(!out.contains("MOUNTED"), "{out}");
    assert!(!out.contains("WROTE_SYS"), "{out}");
    assert!(!out.contains("OPENED_FUSE"), "{out}\n{err}");
    assert!(err.contains("/tmp/fuse") && err.contains("Operation not permitted"), "{err}");
    assert!(out.contains("ROOT_RW"), "{out}");
    assert!(out.contains("crw-rw-rw-"), "{out}");
    assert!(out.trim_end().ends_with("ok"), "{out}");

    // Read-only root and a non-root user with no capabilities.
    let mut spec =
        docker_like_spec(&rootfs.merged, &["sh", "-c", "id -u; grep CapEff /proc/self/status; touch /x || echo RO"]);
    let mut v = serde_json::to_value(&spec).unwrap();
    v["root"]["readonly"] = json!(true);
    v["process"] = process_json(&["sh", "-c", "id -u; grep CapEff /proc/self/status; touch /x || echo RO"], 65534);
    spec = serde_json::from_value(v).unwrap();
    let (code, out, err) = start("rt-test-privs", &spec, &cg).unwrap().finish().await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.starts_with("65534\n"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("RO"), "{out}");
    cg.destroy().unwrap();
}

#[tokio::test]
async fn loopback_works_and_exit_codes_pass_through() {
    setup();
    let rootfs = Rootfs::new();
    let cg = Cgroup::create("rt-test-net", None).unwrap();
    let spec = docker_like_spec(&rootfs.merged, &["sh", "-c", "ping -c 1 -W 2 127.0.0.1 && exit 42"]);
    let (code, out, err) = start("rt-test-net", &spec, &cg).unwrap().finish().await;
    assert_eq!(code, 42, "stdout: {out}\nstderr: {err}");
    cg.destroy().unwrap();
}

fn exec_process(args: &[&str]) -> Process {
    serde_json::from_value(process_json(args, 0)).unwrap()
}

#[tokio::test]
async fn exec_joins_the_running_container() {
    setup();
    let rootfs = Rootfs::new();
    let cg = Cgroup::create("rt-test-exec", None).unwrap();
    let spec = docker_like_spec(&rootfs.merged, &["sleep", "60"]);
    let started = start("rt-test-exec", &spec, &cg).unwrap();
    let pid = started.handle.pid();

    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let exec = berth_runtime::start_exec(
        pid,
        &exec_process(&["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; echo $$"]),
        None,
        &cg,
        Stdio::Pipes { stdin: None, stdout: out_w, stderr: err_w },
    )
    .unwrap();
    let (out, err) = (collect(out_r), collect(err_r));
    let code = tokio::task::spawn_blocking(move || exec.wait_blocking()).await.unwrap();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first().map(|s| s.trim()), Some("sleep 60"), "{out}");
    assert_eq!(lines.get(1), Some(&"testhost"), "{out}");
    assert_ne!(lines.get(2), Some(&"1"), "{out}");
    assert!(cg.pids().contains(&pid));

    let err = berth_runtime::start_exec(
        pid,
        &exec_process(&["nosuchcmd"]),
        None,
        &cg,
        Stdio::Pipes { stdin: None, stdout: pipe().1, stderr: pipe().1 },
    )
    .expect_err("must fail");
    assert!(err.to_string().contains("executable file not found in $PATH"), "{err}");

    started.handle.signal(Signal::SIGKILL).unwrap();
    let (code, _, _) = started.finish().await;
    assert_eq!(code, 137);
    cg.destroy().unwrap();
}

#[tokio::test]
async fn tty_mode() {
    setup();
    let rootfs = Rootfs::new();
    let cg = Cgroup::create("rt-test-tty", None).unwrap();
    let pty = berth_runtime::open_pty(30, 100).unwrap();
    let spec = docker_like_spec(
        &rootfs.merged,
        &["sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo IS_TTY; stty size; ls -l /dev/console"],
    );
    let handle = berth_runtime::start_container("rt-test-tty", &spec, &cg, Stdio::Tty { slave: pty.slave }).unwrap();
    let master = pty.master;
    let reader = std::thread::spawn(move || {
        let mut f = File::from(master);
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // EIO once the last slave fd is closed.
        while let Ok(n) = f.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&buf).into_owned()
    });
    let code =
        tokio::time::timeout(Duration::from_secs(30), tokio::task::spawn_blocking(move || handle.wait_blocking()))
            .await
            .unwrap()
            .unwrap();
    let out = reader.join().unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("IS_TTY"), "{out}");
    assert!(out.contains("30 100"), "{out}");
    assert!(out.contains("/dev/console"), "{out}");
    cg.destroy().unwrap();
}

#[tokio::test]
async fn init_annotation_keeps_berth_init_as_pid_1() {
    setup();
    let rootfs = Rootfs::new();
    let cg = Cgroup::create("rt-test-init", None).unwrap();
    let mut spec =
        docker_like_spec(&rootfs.merged, &["sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; exit 3"]);
    spec.set_annotations(Some([(berth_runtime::INIT_ANNOTATION.to_string(), "true".to_string())].into()));
    let (code, out, err) = start("rt-test-init", &spec, &cg).unwrap().finish().await;
    assert_eq!(code, 3, "stdout: {out}\nstderr: {err}");
    assert!(!out.starts_with("1\n"), "{out}");
    assert!(out.contains("init"), "{out}");

    // Signals reach the program through PID 1.
    let mut spec = docker_like_spec(&rootfs.merged, &["sleep", "60"]);
    spec.set_annotations(Some([(berth_runtime::INIT_ANNOTATION.to_string(), "true".to_string())].into()));
    let started = start("rt-test-init", &spec, &cg).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    started.handle.signal(Signal::SIGTERM).unwrap();
    let (code, _, _) = started.finish().await;
    assert_eq!(code, 128 + 15);

    // A failing program still reports Docker's error.
    let mut spec = docker_like_spec(&rootfs.merged, &["nosuchcmd"]);
    spec.set_annotations(Some([(berth_runtime::INIT_ANNOTATION.to_string(), "true".to_string())].into()));
    let err = start("rt-test-init", &spec, &cg).err().expect("must fail");
    assert!(matches!(err, RuntimeError::ExecNotFound { .. }), "{err:?}");
    cg.destroy().unwrap();
}

#[tokio::test]
async fn cgroup_stats_freeze_and_adopt() {
    setup();
    let rootfs = Rootfs::new();
    let res = resources(json!({"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 50}, "cpu": {"shares": 512}}));
    let cg = Cgroup::create("rt-test-stats", Some(&res)).unwrap();
    let spec = docker_like_spec(&rootfs.merged, &["sh", "-c", "while true; do :; done"]);
    let started = start("rt-test-stats", &spec, &cg).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = cg.stats();
    assert!(s.cpu_total_ns > 0, "{s:?}");
    assert!(s.memory_usage > 0, "{s:?}");
    assert_eq!(s.memory_limit, 64 * 1024 * 1024);
    assert_eq!(s.pids_limit, Some(50));
    assert!(s.pids_current >= 1);
    let host = berth_runtime::host_cpu().expect("/proc/stat");
    assert!(host.usage_ns > 0 && host.online_cpus > 0, "{host:?}");
    let net = berth_runtime::net_dev_stats(started.handle.pid());
    assert!(net.iter().any(|n| n.iface == "lo"), "{net:?}");
    assert_eq!(cg.pids(), vec![started.handle.pid()]);

    cg.freeze().unwrap();
    let before = cg.stats().cpu_total_ns;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(cg.stats().cpu_total_ns, before);
    cg.thaw().unwrap();

    cg.update(&resources(json!({"memory": {"limit": 128 * 1024 * 1024}}))).unwrap();
    assert_eq!(cg.stats().memory_limit, 128 * 1024 * 1024);

    // A second handle on the same process (as after a daemon restart) resolves too.
    let adopted = ProcessHandle::adopt(started.handle.pid()).unwrap();
    let loaded = Cgroup::load("rt-test-stats");
    assert_eq!(loaded.pids(), vec![started.handle.pid()]);
    loaded.kill_all(Signal::SIGKILL);
    let (code, _, _) = started.finish().await;
    assert_eq!(code, 137);
    let code =
        tokio::time::timeout(Duration::from_secs(5), tokio::task::spawn_blocking(move || adopted.wait_blocking()))
            .await
            .unwrap()
            .unwrap();
    assert!(code == 137 || code == berth_runtime::UNKNOWN_EXIT_CODE, "{code}");
    loaded.destroy().unwrap();
    drop(cg);
    assert!(!Path::new("/sys/fs/cgroup/memory/berth/rt-test-stats").exists());
}

fn mount_count(p: &Path) -> usize {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let p = p.to_str().unwrap();
    info.lines().filter(|l| l.split(' ').nth(4) == Some(p)).count()
}

#[test]
fn rootfs_mounts_are_idempotent_and_handle_many_layers() {
    setup();
    let rootfs = Rootfs::new();
    let t = rootfs.dir.path();
    berth_runtime::mount_rootfs(
        &[t.join("layer")],
        &t.join("upper"),
        &t.join("work"),
        &rootfs.merged,
        berth_image::vfs::apply_layer,
        None,
    )
    .unwrap();
    assert_eq!(mount_count(&rootfs.merged), 1);
    berth_runtime::unmount_rootfs(&rootfs.merged).unwrap();
    assert_eq!(mount_count(&rootfs.merged), 0);
    berth_runtime::unmount_rootfs(&rootfs.merged).unwrap();

    // More layers than fit in one page of mount options: the new mount API takes them one by one.
    let dir = tempfile::tempdir().unwrap();
    let long = "l".repeat(150);
    let layers: Vec<PathBuf> = (0..40).map(|i| dir.path().join(format!("{long}{i:02}"))).collect();
    for (i, l) in layers.iter().enumerate() {
        std::fs::create_dir_all(l).unwrap();
        std::fs::write(l.join(format!("f{i}")), "x").unwrap();
        std::fs::write(l.join("top"), format!("{i}")).unwrap();
    }
    let merged = dir.path().join("m");
    berth_runtime::mount_rootfs(
        &layers,
        &dir.path().join("u"),
        &dir.path().join("w"),
        &merged,
        berth_image::vfs::apply_layer,
        None,
    )
    .unwrap();
    let top = std::fs::read_to_string(merged.join("top"));
    let all = (0..40).all(|i| merged.join(format!("f{i}")).exists());
    let is_vfs = dir.path().join("w/berth-vfs").exists();
    berth_runtime::unmount_rootfs(&merged).unwrap();
    assert_eq!(top.unwrap(), "39");
    assert!(all);
    assert!(!is_vfs, "overlay should have mounted");
}

#[test]
fn rootfs_falls_back_to_copying_layers() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let (l1, l2) = (dir.path().join("l1"), dir.path().join("l2"));
    std::fs::create_dir_all(l1.join("etc")).unwrap();
    std::fs::create_dir_all(l2.join("etc")).unwrap();
    std::fs::write(l1.join("etc/keep"), "1").unwrap();
    std::fs::write(l1.join("etc/old"), "1").unwrap();
    std::fs::write(l2.join("etc/.wh.old"), "").unwrap();
    std::fs::write(l2.join("etc/new"), "2").unwrap();
    // Work dir on another filesystem than upper: overlay refuses, so the layers are copied.
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    nix::mount::mount(Some("tmpfs"), &work, Some("tmpfs"), nix::mount::MsFlags::empty(), None::<&str>).unwrap();
    let (upper, merged) = (dir.path().join("upper"), dir.path().join("merged"));
    let layers = [l1, l2];
    let r = berth_runtime::mount_rootfs(&layers, &upper, &work, &merged, berth_image::vfs::apply_layer, None);
    let keep = std::fs::read_to_string(merged.join("etc/keep")).ok();
    let old = merged.join("etc/old").exists();
    let new = std::fs::read_to_string(merged.join("etc/new")).ok();
    let vfs = work.join("berth-vfs").exists();
    // A change in the container survives a remount: the copy is not redone.
    let _ = std::fs::write(merged.join("etc/keep"), "changed");
    let _ = berth_runtime::unmount_rootfs(&merged);
    let r2 = berth_runtime::mount_rootfs(&layers, &upper, &work, &merged, berth_image::vfs::apply_layer, None);
    let keep2 = std::fs::read_to_string(merged.join("etc/keep")).ok();
    let _ = berth_runtime::unmount_rootfs(&merged);
    let _ = nix::mount::umount2(&work, nix::mount::MntFlags::MNT_DETACH);
    r.unwrap();
    r2.unwrap();
    assert!(vfs);
    assert_eq!(keep.as_deref(), Some("1"));
    assert!(!old);
    assert_eq!(new.as_deref(), Some("2"));
    assert_eq!(keep2.as_deref(), Some("changed"));
}

#[tokio::test]
async fn setup_failures_are_reported() {
    setup();
    let rootfs = Rootfs::new();
    let cg = Cgroup::create("rt-test-setupfail", None).unwrap();
    let mut v = serde_json::to_value(docker_like_spec(&rootfs.merged, &["true"])).unwrap();
    v["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": "/nonexistent/berth-test", "options": ["rbind", "ro"]
    }));
    let spec: Spec = serde_json::from_value(v).unwrap();
    let err = start("rt-test-setupfail", &spec, &cg).err().expect("must fail");
    assert!(matches!(err, RuntimeError::ContainerSetup { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/berth-test"), "{err}");
    assert!(cg.pids().is_empty());
    cg.destroy().unwrap();
}

#[tokio::test]
async fn bind_mounts_host_network_and_exec_tty() {
    setup();
    let rootfs = Rootfs::new();
    let cg = Cgroup::create("rt-test-binds", None).unwrap();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("hostname"), "from-host\n").unwrap();
    std::fs::create_dir(host.path().join("vol")).unwrap();
    let mut v =
        serde_json::to_value(docker_like_spec(&rootfs.merged, &["sh", "-c", "echo data > /vol/x; exec sleep 60"]))
            .unwrap();
    let mounts = v["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/etc/hostname", "type": "bind",
        "source": host.path().join("hostname"), "options": ["rbind", "ro"]}));
    mounts
        .push(json!({"destination": "/vol", "type": "bind", "source": host.path().join("vol"), "options": ["rbind"]}));
    // Host networking: no network namespace.
    let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "network");
    let spec: Spec = serde_json::from_value(v).unwrap();
    let started = start("rt-test-binds", &spec, &cg).unwrap();

    let pty = berth_runtime::open_pty(24, 80).unwrap();
    let mut p = process_json(
        &[
            "sh",
            "-c",
            "cat /etc/hostname; cat /vol/x; echo x >> /etc/hostname || echo RO; \
           readlink /proc/self/ns/net; [ -t 0 ] && echo IS_TTY; id -u",
        ],
        65534,
    );
    p["terminal"] = json!(true);
    let process: Process = serde_json::from_value(p).unwrap();
    let exec =
        berth_runtime::start_exec(started.handle.pid(), &process, None, &cg, Stdio::Tty { slave: pty.slave }).unwrap();
    let master = pty.master;
    let reader = std::thread::spawn(move || {
        let mut f = File::from(master);
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = f.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&buf).into_owned()
    });
    let code = tokio::time::timeout(Duration::from_secs(30), tokio::task::spawn_blocking(move || exec.wait_blocking()))
        .await
        .unwrap()
        .unwrap();
    let out = reader.join().unwrap();
    started.handle.signal(Signal::SIGKILL).unwrap();
    let _ = started.finish().await;
    cg.destroy().unwrap();

    assert_eq!(code, 0, "{out}");
    assert!(out.contains("from-host"), "{out}");
    assert!(out.contains("RO"), "{out}");
    assert!(out.contains("IS_TTY"), "{out}");
    assert!(out.contains("65534"), "{out}");
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert!(out.contains(host_net.to_str().unwrap()), "{out} vs {host_net:?}");
    assert!(out.contains("data"), "{out}");
    assert_eq!(std::fs::read_to_string(host.path().join("vol/x")).unwrap(), "data\n");
}
