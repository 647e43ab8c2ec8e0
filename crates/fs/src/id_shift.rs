//! A user namespace's id map as files on disk see it: the container's ids `0..size` are the host's
//! `uid..uid+size` (and `gid..gid+size`). Whatever writes a container's files from outside (cp, builds, a layer
//! copied for the vfs fallback) adds the shift, whatever reads them into a layer or an archive takes it off.

use serde::{Deserialize, Serialize};

/// One contiguous range per kind, as Docker's `--userns-remap` gives a container (runc writes the same single
/// line to `uid_map` and `gid_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdShift {
    /// The host uid the container's uid 0 is.
    pub uid: u32,
    /// The host gid the container's gid 0 is.
    pub gid: u32,
    /// How many ids the range holds (65,536 as dockerd's default).
    pub size: u32,
}

impl IdShift {
    /// The host uid of the container's `uid`; one outside the map is the kernel's overflow uid, as the
    /// container itself would be refused it.
    pub fn host_uid(&self, uid: u32) -> u32 {
        shift_in(uid, self.uid, self.size)
    }

    pub fn host_gid(&self, gid: u32) -> u32 {
        shift_in(gid, self.gid, self.size)
    }

    /// The container's uid for a host `uid`. One outside the range (a mount point the daemon made as host root)
    /// is kept as it is, so what the daemon made reads as it would without a user namespace.
    pub fn container_uid(&self, uid: u32) -> u32 {
        shift_out(uid, self.uid, self.size)
    }

    pub fn container_gid(&self, gid: u32) -> u32 {
        shift_out(gid, self.gid, self.size)
    }

    /// The line for `/proc/<pid>/uid_map`.
    pub fn uid_map(&self) -> String {
        format!("0 {} {}\n", self.uid, self.size)
    }

    /// The line for `/proc/<pid>/gid_map`.
    pub fn gid_map(&self) -> String {
        format!("0 {} {}\n", self.gid, self.size)
    }
}

/// The kernel's `overflowuid`/`overflowgid` default: what an unmapped id reads as.
pub const OVERFLOW_ID: u32 = 65534;

fn shift_in(id: u32, start: u32, size: u32) -> u32 {
    if id < size {
        start.saturating_add(id)
    } else {
        start.saturating_add(OVERFLOW_ID.min(size.saturating_sub(1)))
    }
}

fn shift_out(id: u32, start: u32, size: u32) -> u32 {
    match id.checked_sub(start) {
        Some(inside) if inside < size => inside,
        _ => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIFT: IdShift = IdShift { uid: 100_000, gid: 200_000, size: 65_536 };

    #[test]
    fn ids_round_trip_through_the_range() {
        for id in [0, 1, 1000, 65_535] {
            assert_eq!(SHIFT.container_uid(SHIFT.host_uid(id)), id);
            assert_eq!(SHIFT.container_gid(SHIFT.host_gid(id)), id);
        }
        assert_eq!(SHIFT.host_uid(0), 100_000);
        assert_eq!(SHIFT.host_gid(5), 200_005);
    }

    #[test]
    fn ids_outside_the_range_are_not_shifted_out_of_it() {
        assert_eq!(SHIFT.host_uid(70_000), 100_000 + OVERFLOW_ID, "an unmapped id reads as nobody");
        assert_eq!(SHIFT.container_uid(0), 0, "host root stays root");
        assert_eq!(SHIFT.container_uid(165_536), 165_536);
        assert_eq!(SHIFT.uid_map(), "0 100000 65536\n");
    }
}
