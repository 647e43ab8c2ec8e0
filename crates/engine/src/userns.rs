//! `--userns-remap`: which host ids a container's root and users are. As dockerd: a user's subordinate ranges
//! from /etc/subuid and /etc/subgid, `default` making a system user (`berth-remap`) and giving it a range. Beyond
//! dockerd, `--userns-private-ranges` gives each container a 65,536-id slice of the range of its own, kept in its
//! record and freed with it, so no two containers share host ids.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use berth_fs::id_shift::IdShift;
use bollard_stubs::models::HostConfig;

use super::EngineError;

/// What one container gets: dockerd's default size, enough for every id an image's /etc/passwd names.
pub const CONTAINER_IDS: u32 = 65_536;
/// The user `--userns-remap default` makes (dockerd's is `dockremap`).
pub const DEFAULT_USER: &str = "berth-remap";
/// The range `default` gives its user: room for this many private slices, so turning private ranges on later
/// needs no new range.
const DEFAULT_SLICES: u32 = 1024;
/// Where `default` starts looking for a free range (dockerd and shadow start there too).
const FIRST_SUBORDINATE_ID: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum RemapError {
    #[error("{file}: no subordinate range for {user}")]
    NoRange { file: &'static str, user: String },
    #[error(
        "{file}: the subordinate range of {user} holds {count} ids from {start}; a remapped container needs {needed}"
    )]
    TooSmall { file: &'static str, user: String, start: u32, count: u64, needed: u64 },
    #[error("--userns-remap {0}: no such user")]
    NoSuchUser(String),
    #[error("--userns-remap {0}: no such group")]
    NoSuchGroup(String),
    #[error("read {file}: {source}")]
    Read { file: &'static str, source: std::io::Error },
    #[error("make the remap user {user}: {command} failed: {message}")]
    Command { user: String, command: String, message: String },
}

/// The daemon's remapping: one range per kind, cut into 65,536-id slices.
#[derive(Debug)]
pub struct UsernsRemap {
    user: String,
    group: String,
    uid_start: u32,
    gid_start: u32,
    slices: u32,
    private: bool,
    taken: Mutex<BTreeSet<u32>>,
}

/// One `name:start:count` line of /etc/subuid or /etc/subgid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u32,
    count: u64,
}

impl UsernsRemap {
    /// Resolves `--userns-remap` (`default`, `USER`, `USER:GROUP`, names or numbers) against the host's files.
    pub fn resolve(setting: &str, private_ranges: bool) -> Result<UsernsRemap, RemapError> {
        Self::resolve_in(setting, private_ranges, Path::new("/etc"))
    }

    fn resolve_in(setting: &str, private: bool, etc: &Path) -> Result<UsernsRemap, RemapError> {
        let (user, group) = match setting.split_once(':') {
            Some((user, group)) => (user.to_string(), Some(group.to_string())),
            None => (setting.to_string(), None),
        };
        let user = if user == "default" {
            ensure_default_user(etc)?;
            DEFAULT_USER.to_string()
        } else {
            user
        };
        let (user_name, uid) = lookup_user(&user)?;
        let (group_name, gid) = match &group {
            Some(group) => lookup_group(group)?,
            None => (user_name.clone(), None),
        };
        let needed = u64::from(CONTAINER_IDS) * if private { 2 } else { 1 };
        let uids = pick_range(&read_ranges(etc, "subuid")?, &user_name, uid, "/etc/subuid", needed)?;
        let gids = pick_range(&read_ranges(etc, "subgid")?, &group_name, gid, "/etc/subgid", needed)?;
        let slices = (uids.count.min(gids.count) / u64::from(CONTAINER_IDS)).min(u64::from(u32::MAX)) as u32;
        Ok(UsernsRemap {
            user: user_name,
            group: group_name,
            uid_start: uids.start,
            gid_start: gids.start,
            slices,
            private,
            taken: Mutex::new(BTreeSet::new()),
        })
    }

    /// `USER:GROUP` as `docker info` shows the remapping.
    pub fn describe(&self) -> String {
        format!("{}:{}", self.user, self.group)
    }

    fn slice(&self, index: u32) -> IdShift {
        IdShift {
            uid: self.uid_start + index * CONTAINER_IDS,
            gid: self.gid_start + index * CONTAINER_IDS,
            size: CONTAINER_IDS,
        }
    }

    /// The ids for a new container: the first slice, or with private ranges the lowest one nobody holds.
    pub(crate) fn allocate(&self) -> Result<IdShift, EngineError> {
        if !self.private {
            return Ok(self.slice(0));
        }
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        let free = (0..self.slices).find(|i| !taken.contains(i)).ok_or_else(|| {
            EngineError::Conflict(format!(
                "every private id range of {} is in use ({} containers); remove a container or give {} a larger range",
                self.user, self.slices, self.user
            ))
        })?;
        taken.insert(free);
        Ok(self.slice(free))
    }

    /// A container loaded at start keeps its slice.
    pub(crate) fn hold(&self, ids: &IdShift) {
        if let Some(index) = self.index_of(ids) {
            self.taken.lock().unwrap_or_else(|p| p.into_inner()).insert(index);
        }
    }

    pub(crate) fn release(&self, ids: &IdShift) {
        if let Some(index) = self.index_of(ids).filter(|_| self.private) {
            self.taken.lock().unwrap_or_else(|p| p.into_inner()).remove(&index);
        }
    }

    fn index_of(&self, ids: &IdShift) -> Option<u32> {
        let offset = ids.uid.checked_sub(self.uid_start)?;
        (offset % CONTAINER_IDS == 0).then_some(offset / CONTAINER_IDS).filter(|i| *i < self.slices)
    }
}

/// dockerd's refusals of what a user namespace cannot give (daemon/daemon_unix.go), unless `--userns host`.
pub(crate) fn check_host_config(host: &HostConfig) -> Result<(), EngineError> {
    let invalid = |m: &str| Err(EngineError::InvalidArgument(m.to_string()));
    if host.privileged.unwrap_or(false) {
        return invalid(
            "privileged mode is incompatible with user namespaces.  You must run the container in the host namespace \
             when running privileged mode",
        );
    }
    if host.network_mode.as_deref() == Some("host") {
        return invalid("cannot share the host's network namespace when user namespaces are enabled");
    }
    if host.pid_mode.as_deref() == Some("host") {
        return invalid("cannot share the host PID namespace when user namespaces are enabled");
    }
    Ok(())
}

/// Whether the container asked to stay in the host's user namespace (`--userns host`); anything else but empty
/// is refused as dockerd does.
pub(crate) fn wants_host(host: &HostConfig) -> Result<bool, EngineError> {
    match host.userns_mode.as_deref().unwrap_or("") {
        "" => Ok(false),
        "host" => Ok(true),
        other => Err(EngineError::InvalidArgument(format!("invalid USER mode: {other}"))),
    }
}

fn lookup_user(user: &str) -> Result<(String, Option<u32>), RemapError> {
    let found = match user.parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        Err(_) => nix::unistd::User::from_name(user),
    };
    match found {
        Ok(Some(u)) => Ok((u.name, Some(u.uid.as_raw()))),
        _ => Err(RemapError::NoSuchUser(user.to_string())),
    }
}

fn lookup_group(group: &str) -> Result<(String, Option<u32>), RemapError> {
    let found = match group.parse::<u32>() {
        Ok(gid) => nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)),
        Err(_) => nix::unistd::Group::from_name(group),
    };
    match found {
        Ok(Some(g)) => Ok((g.name, Some(g.gid.as_raw()))),
        _ => Err(RemapError::NoSuchGroup(group.to_string())),
    }
}

/// Every `name:start:count` line; a file that does not exist holds none.
fn read_ranges(etc: &Path, file: &'static str) -> Result<Vec<(String, Range)>, RemapError> {
    let shown = if file == "subuid" { "/etc/subuid" } else { "/etc/subgid" };
    let text = match std::fs::read_to_string(etc.join(file)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(RemapError::Read { file: shown, source }),
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let name = fields.next()?.to_string();
            let start = fields.next()?.parse().ok()?;
            let count = fields.next()?.parse().ok()?;
            Some((name, Range { start, count }))
        })
        .collect())
}

/// The owner's largest range (by name or by number), refused if it holds fewer than `needed` ids.
fn pick_range(
    ranges: &[(String, Range)],
    name: &str,
    id: Option<u32>,
    file: &'static str,
    needed: u64,
) -> Result<Range, RemapError> {
    let number = id.map(|i| i.to_string());
    let range = ranges
        .iter()
        .filter(|(owner, _)| owner == name || Some(owner) == number.as_ref())
        .map(|(_, range)| *range)
        // Ids past u32 cannot be mapped: count only what fits.
        .map(|r| Range { count: r.count.min(u64::from(u32::MAX) - u64::from(r.start)), ..r })
        .max_by_key(|r| r.count)
        .ok_or_else(|| RemapError::NoRange { file, user: name.to_string() })?;
    if range.count < needed {
        return Err(RemapError::TooSmall {
            file,
            user: name.to_string(),
            start: range.start,
            count: range.count,
            needed,
        });
    }
    Ok(range)
}

/// `default`: the system user and its ranges, made with shadow's tools as dockerd does for `dockremap`.
fn ensure_default_user(etc: &Path) -> Result<(), RemapError> {
    if !matches!(nix::unistd::User::from_name(DEFAULT_USER), Ok(Some(_))) {
        run(&[
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            DEFAULT_USER,
        ])?;
    }
    let uids = read_ranges(etc, "subuid")?;
    let gids = read_ranges(etc, "subgid")?;
    let has = |ranges: &[(String, Range)]| ranges.iter().any(|(owner, _)| owner == DEFAULT_USER);
    if has(&uids) && has(&gids) {
        return Ok(());
    }
    // After every range either file hands out, so no other user's ids are shared.
    let start = uids
        .iter()
        .chain(gids.iter())
        .map(|(_, r)| u64::from(r.start) + r.count)
        .max()
        .unwrap_or(0)
        .max(FIRST_SUBORDINATE_ID);
    let end = start + u64::from(DEFAULT_SLICES) * u64::from(CONTAINER_IDS) - 1;
    for file in ["subuid", "subgid"] {
        let path = etc.join(file);
        if !path.exists() {
            std::fs::write(&path, b"").map_err(|source| RemapError::Read { file: "/etc/subuid", source })?;
        }
    }
    let range = format!("{start}-{end}");
    let mut args = vec!["usermod"];
    if !has(&uids) {
        args.extend(["--add-subuids", &range]);
    }
    if !has(&gids) {
        args.extend(["--add-subgids", &range]);
    }
    args.push(DEFAULT_USER);
    run(&args)
}

fn run(args: &[&str]) -> Result<(), RemapError> {
    let failed =
        |message: String| RemapError::Command { user: DEFAULT_USER.to_string(), command: args.join(" "), message };
    let output = std::process::Command::new(args[0]).args(&args[1..]).output().map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(text: &str) -> Vec<(String, Range)> {
        let dir = tempfile::tempdir().expect("a dir");
        std::fs::write(dir.path().join("subuid"), text).expect("write");
        read_ranges(dir.path(), "subuid").expect("ranges")
    }

    #[test]
    fn a_range_is_found_by_name_or_number() {
        let all = ranges("alice:100000:65536\n1001:300000:131072\nbroken line\n");
        assert_eq!(pick_range(&all, "alice", Some(1000), "/etc/subuid", 65_536).expect("alice").start, 100_000);
        assert_eq!(pick_range(&all, "bob", Some(1001), "/etc/subuid", 65_536).expect("bob").start, 300_000);
        assert_eq!(
            pick_range(&all, "carol", Some(7), "/etc/subuid", 65_536).unwrap_err().to_string(),
            "/etc/subuid: no subordinate range for carol"
        );
    }

    #[test]
    fn a_range_too_small_names_file_and_user() {
        let all = ranges("alice:3000000000:1000\n");
        assert_eq!(
            pick_range(&all, "alice", None, "/etc/subuid", 65_536).unwrap_err().to_string(),
            "/etc/subuid: the subordinate range of alice holds 1000 ids from 3000000000; a remapped container \
             needs 65536"
        );
    }

    fn remap(private: bool, slices: u32) -> UsernsRemap {
        UsernsRemap {
            user: "u".into(),
            group: "u".into(),
            uid_start: 100_000,
            gid_start: 500_000,
            slices,
            private,
            taken: Mutex::new(BTreeSet::new()),
        }
    }

    #[test]
    fn private_ranges_are_each_containers_own_until_freed() {
        let shared = remap(false, 4);
        assert_eq!(shared.allocate().expect("ids"), shared.allocate().expect("ids"), "one range for all");
        let private = remap(true, 2);
        let first = private.allocate().expect("first");
        let second = private.allocate().expect("second");
        assert_eq!((first.uid, first.gid), (100_000, 500_000));
        assert_eq!((second.uid, second.gid), (165_536, 565_536));
        assert!(private.allocate().is_err(), "two slices, two containers");
        private.release(&first);
        assert_eq!(private.allocate().expect("again"), first);
        let reloaded = remap(true, 2);
        reloaded.hold(&second);
        assert_eq!(reloaded.allocate().expect("free one"), first, "a held slice is not handed out");
    }

    #[test]
    fn what_a_user_namespace_cannot_give_is_refused_with_dockerds_words() {
        let host = |f: fn(&mut HostConfig)| {
            let mut h = HostConfig::default();
            f(&mut h);
            check_host_config(&h).map_err(|e| e.to_string())
        };
        assert!(host(|_| {}).is_ok());
        assert!(host(|h| h.privileged = Some(true)).unwrap_err().starts_with("privileged mode is incompatible"));
        assert_eq!(
            host(|h| h.network_mode = Some("host".into())).unwrap_err(),
            "cannot share the host's network namespace when user namespaces are enabled"
        );
        assert_eq!(
            host(|h| h.pid_mode = Some("host".into())).unwrap_err(),
            "cannot share the host PID namespace when user namespaces are enabled"
        );
        let mode = |m: &str| wants_host(&HostConfig { userns_mode: Some(m.into()), ..Default::default() });
        assert!(!mode("").expect("empty"));
        assert!(mode("host").expect("host"));
        assert_eq!(mode("private").unwrap_err().to_string(), "invalid USER mode: private");
    }
}
