//! Pure-ish path logic: resolving a path inside a root without escaping it, and the `$PATH` lookup of the program.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::config::ErrorKind;
use berth_fs::in_root::Root;

/// The `$PATH` Docker uses when the image sets none.
pub(crate) const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Resolves `unsafe_path` as if `root` were `/`: symlinks (absolute or relative) and `..` are followed but can
/// never leave `root`. Components that do not exist are kept as they are. The result starts with `root`.
/// A path string, resolved again by whoever uses it: what must hold against a tree changing meanwhile (mount
/// destinations) opens the entry with [`Root`] instead.
pub(crate) fn resolve_in_root(root: &Path, unsafe_path: &Path) -> io::Result<PathBuf> {
    let inside = Root::open(root)?.resolve_name(unsafe_path)?;
    Ok(root.join(inside.strip_prefix("/").unwrap_or(&inside)))
}

/// The value of `PATH` in an environment list (`KEY=VALUE`), or Docker's default.
pub(crate) fn path_from_env(env: &[String]) -> &str {
    env.iter().rev().find_map(|kv| kv.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH)
}

/// Finds the program like Go's `exec.LookPath` (what runc and Docker use), with Docker's error wording.
///
/// A name containing `/` is taken as is: it must exist (`stat ...: no such file or directory`) and be a regular
/// file with an execute bit (else `permission denied`). Otherwise each `$PATH` entry is tried and the first
/// executable regular file wins (`executable file not found in $PATH`).
pub(crate) fn lookup_program(cmd: &str, path_env: &str) -> Result<PathBuf, (ErrorKind, String)> {
    if cmd.is_empty() {
        return Err((ErrorKind::NotFound, "exec: \"\": executable file not found in $PATH".to_string()));
    }
    if cmd.contains('/') {
        return match std::fs::metadata(cmd) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(PathBuf::from(cmd)),
            Ok(_) => Err((ErrorKind::PermissionDenied, format!("exec: \"{cmd}\": permission denied"))),
            Err(e) => Err(stat_error(cmd, &e)),
        };
    }
    for dir in path_env.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(cmd);
        if let Ok(m) = std::fs::metadata(&candidate) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err((ErrorKind::NotFound, format!("exec: \"{cmd}\": executable file not found in $PATH")))
}

fn stat_error(cmd: &str, e: &io::Error) -> (ErrorKind, String) {
    let kind = match e.raw_os_error() {
        Some(libc::EACCES) => ErrorKind::PermissionDenied,
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    };
    (kind, format!("exec: \"{cmd}\": stat {cmd}: {}", errno_text(e)))
}

/// The bare `strerror` text (`no such file or directory`), lower-cased like Go prints it.
pub(crate) fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// Classifies an `execve` failure, with Docker's wording.
pub(crate) fn exec_error(cmd: &str, errno: i32) -> (ErrorKind, String) {
    let e = io::Error::from_raw_os_error(errno);
    let kind = match errno {
        libc::ENOENT | libc::ENOTDIR => ErrorKind::NotFound,
        libc::EACCES | libc::EPERM | libc::EISDIR => ErrorKind::PermissionDenied,
        _ => ErrorKind::Other,
    };
    (kind, format!("exec: \"{cmd}\": {}", errno_text(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn resolve_keeps_symlinks_inside() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("real/dir")).unwrap();
        symlink("/real", root.join("abs")).unwrap();
        symlink("../../../../etc", root.join("real/escape")).unwrap();
        symlink("dir", root.join("real/rel")).unwrap();
        assert_eq!(resolve_in_root(root, Path::new("/abs/dir/x")).unwrap(), root.join("real/dir/x"));
        assert_eq!(resolve_in_root(root, Path::new("/real/escape/passwd")).unwrap(), root.join("etc/passwd"));
        assert_eq!(resolve_in_root(root, Path::new("/real/rel")).unwrap(), root.join("real/dir"));
        assert_eq!(resolve_in_root(root, Path::new("/../../x")).unwrap(), root.join("x"));
        assert_eq!(resolve_in_root(root, Path::new("/")).unwrap(), root.to_path_buf());
    }

    #[test]
    fn resolve_detects_loops() {
        let t = tempfile::tempdir().unwrap();
        symlink("b", t.path().join("a")).unwrap();
        symlink("a", t.path().join("b")).unwrap();
        let e = resolve_in_root(t.path(), Path::new("/a")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn path_env_default_and_override() {
        assert_eq!(path_from_env(&[]), DEFAULT_PATH);
        assert_eq!(path_from_env(&["A=1".into(), "PATH=/x:/y".into()]), "/x:/y");
    }

    #[test]
    fn lookup_like_docker() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        let other = t.path().join("other");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(bin.join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(bin.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(other.join("noexec"), "x").unwrap();
        std::fs::set_permissions(other.join("noexec"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::create_dir(other.join("tool")).unwrap();
        let path = format!("{}:{}", other.display(), bin.display());

        assert_eq!(lookup_program("tool", &path).unwrap(), bin.join("tool"));
        let (kind, msg) = lookup_program("nosuchcmd", &path).unwrap_err();
        assert_eq!(kind, ErrorKind::NotFound);
        assert_eq!(msg, "exec: \"nosuchcmd\": executable file not found in $PATH");
        let (kind, _) = lookup_program("noexec", &path).unwrap_err();
        assert_eq!(kind, ErrorKind::NotFound);

        let dir = other.display().to_string();
        let (kind, msg) = lookup_program(&dir, &path).unwrap_err();
        assert_eq!(kind, ErrorKind::PermissionDenied);
        assert!(msg.contains("permission denied"), "{msg}");
        let noexec = other.join("noexec").display().to_string();
        assert_eq!(lookup_program(&noexec, &path).unwrap_err().0, ErrorKind::PermissionDenied);
        let (kind, msg) = lookup_program("/nonexistent/x", &path).unwrap_err();
        assert_eq!(kind, ErrorKind::NotFound);
        assert_eq!(msg, "exec: \"/nonexistent/x\": stat /nonexistent/x: no such file or directory");
    }

    #[test]
    fn exec_errors_are_classified() {
        assert_eq!(exec_error("x", libc::ENOENT).0, ErrorKind::NotFound);
        assert_eq!(exec_error("x", libc::EACCES).1, "exec: \"x\": permission denied");
        assert_eq!(exec_error("x", libc::ENOEXEC).0, ErrorKind::Other);
    }
}
