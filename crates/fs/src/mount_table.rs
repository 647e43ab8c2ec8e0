//! The kernel's table of mounts (`/proc/self/mountinfo`), read once per question and unescaped.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::path::PathBuf;

/// One line of mountinfo: where it is mounted and what filesystem it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: PathBuf,
    pub fs_type: String,
}

/// Every mount of this process's mount namespace; empty if the table cannot be read.
pub fn mounts() -> Vec<Mount> {
    // Lossy only in the lines that hold non-UTF-8 paths, rather than losing the whole table to one of them.
    parse(&String::from_utf8_lossy(&std::fs::read("/proc/self/mountinfo").unwrap_or_default()))
}

/// Every mount point of this process's mount namespace.
pub fn mount_points() -> Vec<PathBuf> {
    mounts().into_iter().map(|m| m.mount_point).collect()
}

/// Parses mountinfo text: field 5 is the mount point; after the ` - ` separator comes the filesystem type.
pub fn parse(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = unescape(left.split(' ').nth(4)?);
            let fs_type = right.split(' ').next()?.to_string();
            Some(Mount { mount_point, fs_type })
        })
        .collect()
}

/// The kernel writes space, tab, newline and backslash in paths as three-digit octal escapes (`\040`); the bytes
/// in between are the path's own, UTF-8 or not.
pub fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_escapes_are_decoded() {
        assert_eq!(unescape("/a\\040b"), PathBuf::from("/a b"));
        assert_eq!(unescape("/tab\\011x\\134"), PathBuf::from("/tab\tx\\"));
        assert_eq!(unescape("/plain"), PathBuf::from("/plain"));
        assert_eq!(unescape("/short\\04"), PathBuf::from("/short\\04"));
        assert_eq!(unescape("/latin\\377"), PathBuf::from(OsString::from_vec(b"/latin\xff".to_vec())));
    }

    #[test]
    fn lines_give_mount_point_and_type() {
        let text = "36 35 98:0 / /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    40 25 0:35 / /sys/fs/cgroup/cpu,cpuacct rw shared:16 - cgroup cgroup rw,cpu,cpuacct\n\
                    garbage\n";
        assert_eq!(
            parse(text),
            vec![
                Mount { mount_point: "/mnt/with space".into(), fs_type: "ext3".into() },
                Mount { mount_point: "/sys/fs/cgroup/cpu,cpuacct".into(), fs_type: "cgroup".into() },
            ]
        );
    }
}
