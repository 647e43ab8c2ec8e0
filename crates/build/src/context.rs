//! Build contexts: the files a Dockerfile's COPY and ADD read. Whatever the source (a tar stream from the docker
//! CLI, a directory, a tar / tar.gz / tar.xz / tar.bz2 archive, a git repository), the context is materialised
//! into a private directory under the daemon's root, with `.dockerignore` applied, and removed when dropped.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::dockerignore::IgnoreRules;
use super::error::BuildError;
use berth_fs::decompress::{self, Compression};
use berth_image::{archive, ImageError};

/// Why a git context could not be prepared: the text after `unable to prepare git context <url>: `.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The repository or the reference starts with `-` (it would reach git as an option).
    #[error("invalid repository or reference")]
    InvalidArgument,
    /// git could not be started.
    #[error("cannot run git: {0}")]
    Spawn(#[source] io::Error),
    /// git failed; what it wrote on standard error, trimmed.
    #[error("{stderr}")]
    Failed { stderr: String },
    /// The `:subdir` of the URL does not resolve inside the clone.
    #[error(transparent)]
    Subdirectory(ImageError),
    /// The `:subdir` of the URL is not a directory of the clone.
    #[error("subdirectory {subdir} not found")]
    NoSubdirectory { subdir: String },
}

/// Where a context comes from, as a client names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextSource {
    Directory(PathBuf),
    /// A tar archive, plain or compressed with gzip, xz or bzip2.
    Archive(PathBuf),
    /// A git repository URL (`https://...git`, `git@...`, `git://`, `file://`, or a local repository path),
    /// optionally with `#ref[:subdir]`.
    Git(String),
}

impl ContextSource {
    /// Decides what `source` names, the way `docker build <source>` does.
    pub fn detect(source: &str) -> ContextSource {
        if let Some(remote) = Self::detect_remote(source) {
            return remote;
        }
        if source.starts_with("file://") {
            return ContextSource::Git(source.to_string());
        }
        let without_fragment = source.split('#').next().unwrap_or(source);
        let path = Path::new(without_fragment);
        let is_repo = path.join(".git").exists() || (path.join("HEAD").is_file() && path.join("objects").is_dir());
        if path.is_dir() && is_repo && (source.contains('#') || without_fragment.ends_with(".git")) {
            return ContextSource::Git(source.to_string());
        }
        if path.is_file() {
            return ContextSource::Archive(path.to_path_buf());
        }
        ContextSource::Directory(path.to_path_buf())
    }

    /// A git repository on another machine (`git://`, `git@`, `github.com/`, `http(s)://...git`), as dockerd
    /// recognises one in `remote=`; None for anything else, local paths and `file://` included.
    pub fn detect_remote(source: &str) -> Option<ContextSource> {
        let without_fragment = source.split('#').next().unwrap_or(source);
        let remote_git = source.starts_with("git://")
            || source.starts_with("git@")
            || source.starts_with("github.com/")
            || ((source.starts_with("https://") || source.starts_with("http://"))
                && without_fragment.ends_with(".git"));
        remote_git.then(|| ContextSource::Git(source.to_string()))
    }
}

/// A materialised build context; its directory is deleted on drop.
#[derive(Debug)]
pub struct BuildContext {
    /// The private directory holding the context (and, for git, the clone).
    holder: PathBuf,
    /// The context root (a subdirectory of `holder`).
    root: PathBuf,
}

impl Drop for BuildContext {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_dir_all(&self.holder) {
            tracing::warn!(dir = %self.holder.display(), %error, "cannot remove build context");
        }
    }
}

fn new_holder(work: &Path) -> Result<(PathBuf, PathBuf), BuildError> {
    let holder = work.join(format!("context-{:016x}", rand::random::<u64>()));
    let root = holder.join("context");
    fs::create_dir_all(&root).map_err(|e| BuildError::io(format!("create {}", root.display()), e))?;
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
        .map_err(|e| BuildError::io(format!("chmod {}", root.display()), e))?;
    Ok((holder, root))
}

impl BuildContext {
    /// Materialises `source` under `work` (a directory of the daemon's own).
    pub fn from_source(work: &Path, source: &ContextSource) -> Result<BuildContext, BuildError> {
        match source {
            ContextSource::Directory(dir) => BuildContext::from_dir(work, dir),
            ContextSource::Archive(path) => {
                let file = fs::File::open(path).map_err(|e| BuildError::io(format!("open {}", path.display()), e))?;
                BuildContext::from_tar(work, file, None)
            }
            ContextSource::Git(url) => BuildContext::from_git(work, url),
        }
    }

    /// A tar stream (what `POST /build` receives), plain or compressed with gzip, xz or bzip2.
    /// `max_unpacked`: the most its files may add up to (the daemon's `--max-unpacked-size`).
    pub fn from_tar(work: &Path, reader: impl Read, max_unpacked: Option<u64>) -> Result<BuildContext, BuildError> {
        let (holder, root) = new_holder(work)?;
        let context = BuildContext { holder, root };
        // The first 512 bytes (a tar header) decide what the body is; HTTP chunks may be smaller.
        let (head, whole) = decompress::peek(reader, 512).map_err(|e| BuildError::Context(e.to_string()))?;
        let compression = Compression::detect(&head);
        let decoded = decompress::decoder(compression, whole);
        let compressed = compression != Compression::Uncompressed;
        if !head.is_empty() && !compressed && head.get(257..262) != Some(b"ustar") {
            // Not an archive: the body is the Dockerfile itself (`curl --data-binary @Dockerfile`), as dockerd
            // accepts it.
            let mut text = Vec::new();
            let mut decoded = decoded;
            decoded.read_to_end(&mut text).map_err(|e| BuildError::Context(e.to_string()))?;
            let path = context.root.join("Dockerfile");
            fs::write(&path, text).map_err(|e| BuildError::io(format!("write {}", path.display()), e))?;
            return Ok(context);
        }
        if head.is_empty() {
            // An empty body is an empty context (`docker build - < Dockerfile` is handled by the caller).
            return Ok(context);
        }
        let mut decoded = PaddedTar { inner: decoded, read: 0, padding: None };
        archive::extract_build_context(&context.root, &mut decoded, max_unpacked)
            .map_err(|e| BuildError::Context(e.to_string()))?;
        // Read what follows the end-of-archive marker too: a client still writing it must not see a closed pipe.
        let _ = std::io::copy(&mut decoded, &mut std::io::sink());
        Ok(context)
    }

    /// A local directory, copied without what its `.dockerignore` excludes.
    pub fn from_dir(work: &Path, dir: &Path) -> Result<BuildContext, BuildError> {
        let meta = fs::metadata(dir).map_err(|e| BuildError::Context(format!("{}: {e}", dir.display())))?;
        if !meta.is_dir() {
            return Err(BuildError::Context(format!("{}: not a directory", dir.display())));
        }
        let rules = read_rules(dir);
        let (holder, root) = new_holder(work)?;
        let context = BuildContext { holder, root };
        copy_filtered(dir, &context.root, "", &rules)?;
        Ok(context)
    }

    /// `git clone` of `url` (`#ref[:subdir]` picks a branch, tag or commit and a subdirectory). `.git` is not part
    /// of the context.
    pub fn from_git(work: &Path, url: &str) -> Result<BuildContext, BuildError> {
        let (repo, fragment) = match url.split_once('#') {
            Some((repo, fragment)) => (repo, fragment),
            None => (url, ""),
        };
        let (reference, subdir) = match fragment.split_once(':') {
            Some((reference, subdir)) => (reference, subdir),
            None => (fragment, ""),
        };
        let git_error = |source: GitError| BuildError::Git { url: url.to_string(), source };
        if repo.starts_with('-') || reference.starts_with('-') {
            return Err(git_error(GitError::InvalidArgument));
        }
        let (holder, root) = new_holder(work)?;
        let context = BuildContext { holder: holder.clone(), root: root.clone() };
        let clone = holder.join("clone");
        run_git(
            Command::new("git").arg("clone").arg("--quiet").arg("--recurse-submodules").arg("--").arg(repo).arg(&clone),
        )
        .map_err(git_error)?;
        if !reference.is_empty() {
            run_git(Command::new("git").arg("-C").arg(&clone).arg("checkout").arg("--quiet").arg(reference).arg("--"))
                .map_err(git_error)?;
        }
        let source = if subdir.is_empty() {
            clone.clone()
        } else {
            let resolved =
                archive::resolve_in_root(&clone, subdir).map_err(|e| git_error(GitError::Subdirectory(e)))?;
            if !resolved.is_dir() {
                return Err(git_error(GitError::NoSubdirectory { subdir: subdir.to_string() }));
            }
            resolved
        };
        let rules = read_rules(&source);
        let git_dir = source.join(".git");
        copy_filtered_skipping(&source, &context.root, "", &rules, Some(&git_dir))?;
        fs::remove_dir_all(&clone).map_err(|e| BuildError::io(format!("remove {}", clone.display()), e))?;
        Ok(context)
    }

    /// The context root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads the Dockerfile (`name`, relative to the root), then removes what `.dockerignore` excludes, the
    /// Dockerfile and `.dockerignore` themselves included when they are excluded (as moby does).
    pub fn prepare(&self, name: &str) -> Result<String, BuildError> {
        let path = archive::resolve_in_root(&self.root, name).map_err(|e| BuildError::Context(e.to_string()))?;
        let dockerfile = match fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => return Err(BuildError::NoDockerfile(name.to_string())),
        };
        let rules = read_rules(&self.root);
        if !rules.is_empty() {
            remove_excluded(&self.root, "", &rules)?;
        }
        Ok(dockerfile)
    }
}

/// Completes a tar stream cut short after its last entry's data. The docker CLI 28's legacy builder sends such
/// streams when `-f` names a Dockerfile outside the context (its tar wrapper is not closed: no padding, no
/// end-of-archive blocks); dockerd accepts them, so Berth does too. A complete stream is left as it is: readers stop
/// at its end-of-archive blocks before any padding.
struct PaddedTar<R> {
    inner: R,
    read: u64,
    /// Zero bytes still to produce once `inner` has ended.
    padding: Option<u64>,
}

impl<R: Read> Read for PaddedTar<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(left) = self.padding.as_mut() {
            let n = (*left).min(buf.len() as u64) as usize;
            buf[..n].fill(0);
            *left -= n as u64;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let to_block = (512 - self.read % 512) % 512;
            self.padding = Some(to_block + 1024);
            return self.read(buf);
        }
        self.read += n as u64;
        Ok(n)
    }
}

fn run_git(command: &mut Command) -> Result<(), GitError> {
    let output =
        command.env("GIT_TERMINAL_PROMPT", "0").stdin(std::process::Stdio::null()).output().map_err(GitError::Spawn)?;
    if output.status.success() {
        return Ok(());
    }
    Err(GitError::Failed { stderr: String::from_utf8_lossy(&output.stderr).trim().to_string() })
}

fn read_rules(root: &Path) -> IgnoreRules {
    match fs::read_to_string(root.join(".dockerignore")) {
        Ok(text) => IgnoreRules::parse(&text),
        Err(_) => IgnoreRules::default(),
    }
}

fn join_rel(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

fn sorted_names(dir: &Path) -> Result<Vec<String>, BuildError> {
    let entries = fs::read_dir(dir).map_err(|e| BuildError::io(format!("read {}", dir.display()), e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| BuildError::io(format!("read {}", dir.display()), e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

fn copy_filtered(src: &Path, dst: &Path, rel: &str, rules: &IgnoreRules) -> Result<(), BuildError> {
    copy_filtered_skipping(src, dst, rel, rules, None)
}

/// Copies the tree under `src/rel` into `dst/rel`, keeping modes and ownership, leaving out excluded paths.
fn copy_filtered_skipping(
    src: &Path,
    dst: &Path,
    rel: &str,
    rules: &IgnoreRules,
    skip: Option<&Path>,
) -> Result<(), BuildError> {
    let dir = src.join(rel);
    for name in sorted_names(&dir)? {
        let child_rel = join_rel(rel, &name);
        let from = src.join(&child_rel);
        if skip.is_some_and(|s| s == from) {
            continue;
        }
        let to = dst.join(&child_rel);
        let meta = fs::symlink_metadata(&from).map_err(|e| BuildError::io(format!("stat {}", from.display()), e))?;
        let excluded = rules.is_excluded(&child_rel);
        let io = |what: &str, e| BuildError::io(format!("{what} {}", to.display()), e);
        if meta.is_dir() {
            if excluded && !rules.has_exceptions() {
                continue;
            }
            fs::create_dir(&to).map_err(|e| io("create", e))?;
            copy_filtered_skipping(src, dst, &child_rel, rules, skip)?;
            if excluded && fs::read_dir(&to).map(|mut d| d.next().is_none()).unwrap_or(false) {
                fs::remove_dir(&to).map_err(|e| io("remove", e))?;
                continue;
            }
            fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777)).map_err(|e| io("chmod", e))?;
        } else if excluded {
            continue;
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&from).map_err(|e| BuildError::io(format!("readlink {}", from.display()), e))?;
            std::os::unix::fs::symlink(&target, &to).map_err(|e| io("symlink", e))?;
        } else if meta.is_file() {
            fs::copy(&from, &to).map_err(|e| io("copy to", e))?;
        } else {
            // Sockets, fifos and devices have no place in a build context.
            continue;
        }
        let _ = std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()));
    }
    Ok(())
}

/// Removes, under `root/rel`, every path the rules exclude.
fn remove_excluded(root: &Path, rel: &str, rules: &IgnoreRules) -> Result<(), BuildError> {
    let dir = root.join(rel);
    for name in sorted_names(&dir)? {
        let child_rel = join_rel(rel, &name);
        let path = root.join(&child_rel);
        let meta = fs::symlink_metadata(&path).map_err(|e| BuildError::io(format!("stat {}", path.display()), e))?;
        let excluded = rules.is_excluded(&child_rel);
        let io = |e| BuildError::io(format!("remove {}", path.display()), e);
        if meta.is_dir() {
            if excluded && !rules.has_exceptions() {
                fs::remove_dir_all(&path).map_err(io)?;
                continue;
            }
            remove_excluded(root, &child_rel, rules)?;
            if excluded && fs::read_dir(&path).map(|mut d| d.next().is_none()).unwrap_or(false) {
                fs::remove_dir(&path).map_err(io)?;
            }
        } else if excluded {
            fs::remove_file(&path).map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_context_honours_dockerignore() {
        let work = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join(".dockerignore"), "*.log\nsecret\n!secret/public\n").unwrap();
        fs::write(src.path().join("Dockerfile"), "FROM busybox\n").unwrap();
        fs::write(src.path().join("a.log"), "x").unwrap();
        fs::write(src.path().join("app.txt"), "x").unwrap();
        fs::create_dir_all(src.path().join("secret/public")).unwrap();
        fs::write(src.path().join("secret/key"), "x").unwrap();
        fs::write(src.path().join("secret/public/ok"), "x").unwrap();
        let context =
            BuildContext::from_source(work.path(), &ContextSource::detect(src.path().to_str().unwrap())).unwrap();
        let dockerfile = context.prepare("Dockerfile").unwrap();
        assert_eq!(dockerfile, "FROM busybox\n");
        let root = context.root();
        assert!(root.join("app.txt").exists());
        assert!(!root.join("a.log").exists());
        assert!(!root.join("secret/key").exists());
        assert!(root.join("secret/public/ok").exists());
        let holder = context.holder.clone();
        drop(context);
        assert!(!holder.exists());
    }

    #[test]
    fn a_body_that_is_not_an_archive_is_the_dockerfile() {
        let work = tempfile::tempdir().unwrap();
        let context = BuildContext::from_tar(work.path(), &b"FROM busybox\nRUN true\n"[..], None).unwrap();
        assert_eq!(context.prepare("Dockerfile").unwrap(), "FROM busybox\nRUN true\n");
    }

    #[test]
    fn compressed_tar_contexts() {
        let work = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(13);
        builder.append_data(&mut header, "Dockerfile", &b"FROM busybox\n"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
        std::io::Write::write_all(&mut xz, &tar).unwrap();
        let xz = xz.finish().unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        std::io::Write::write_all(&mut bz, &tar).unwrap();
        let bz = bz.finish().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        for archive in [tar, xz, bz, gz] {
            let context = BuildContext::from_tar(work.path(), &archive[..], None).unwrap();
            assert_eq!(context.prepare("Dockerfile").unwrap(), "FROM busybox\n");
        }
    }

    /// Decoded once: a gzip context whose first entry's name starts like bzip2's magic stays a tar.
    #[test]
    fn a_decoded_context_is_not_sniffed_again() {
        let work = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        for (name, text) in [("BZh-notes.txt", &b"notes\n"[..]), ("Dockerfile", &b"FROM busybox\n"[..])] {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_size(text.len() as u64);
            builder.append_data(&mut header, name, text).unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &builder.into_inner().unwrap()).unwrap();
        let context = BuildContext::from_tar(work.path(), &gz.finish().unwrap()[..], None).unwrap();
        assert_eq!(context.prepare("Dockerfile").unwrap(), "FROM busybox\n");
        assert_eq!(std::fs::read_to_string(context.root.join("BZh-notes.txt")).unwrap(), "notes\n");
    }

    #[test]
    fn missing_dockerfile_is_named() {
        let work = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        let context = BuildContext::from_dir(work.path(), src.path()).unwrap();
        let error = context.prepare("Dockerfile.dev").unwrap_err();
        assert_eq!(error.to_string(), "Cannot locate specified Dockerfile: Dockerfile.dev");
    }
}
