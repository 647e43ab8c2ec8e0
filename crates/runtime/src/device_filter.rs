//! Device access rules, and their cgroup v2 form: an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`.
//!
//! cgroup v1 takes the rules as lines written to `devices.allow` / `devices.deny`, and the kernel keeps a default
//! (allow or deny everything) plus a list of exceptions. cgroup v2 has no devices controller: a program attached
//! to the cgroup decides each `mknod` and each open of a device node. To make both behave the same, the rules are
//! first folded into the state v1 would end up in ([`Ruleset::from_rules`], the kernel's
//! `devcgroup_update_access` and runc's devices emulator), and the program tests exactly those exceptions, with
//! the checks v1 makes (`match_exception` and `match_exception_partial` in security/device_cgroup.c).
//!
//! The generator follows runc's libcontainer/cgroups/devices/devicefilter.go (itself from crun's ebpf.c): load
//! the context into registers, one block per exception that falls through to the next on any mismatch, and the
//! default verdict at the end.

use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::RuntimeError;

/// Access bits, as the kernel numbers them in `bpf_cgroup_dev_ctx.access_type >> 16` (`BPF_DEVCG_ACC_*`);
/// v1's `DEVCG_ACC_*` use the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Access(u8);

impl Access {
    pub(crate) const MKNOD: Access = Access(1);
    pub(crate) const READ: Access = Access(2);
    pub(crate) const WRITE: Access = Access(4);
    pub(crate) const ALL: Access = Access(7);

    /// `rwm`-style text; each letter at most once, nothing else.
    pub(crate) fn parse(text: &str) -> Result<Access, RuntimeError> {
        let mut a = Access(0);
        for c in text.chars() {
            let bit = match c {
                'r' => Access::READ,
                'w' => Access::WRITE,
                'm' => Access::MKNOD,
                _ => {
                    return Err(RuntimeError::InvalidDeviceRule {
                        rule: text.to_string(),
                        reason: format!("unknown access {c:?} (only r, w and m)"),
                    })
                }
            };
            a = a.union(bit);
        }
        Ok(a)
    }

    fn union(self, o: Access) -> Access {
        Access(self.0 | o.0)
    }

    fn minus(self, o: Access) -> Access {
        Access(self.0 & !o.0)
    }

    fn intersects(self, o: Access) -> bool {
        self.0 & o.0 != 0
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn bits(self) -> u32 {
        u32::from(self.0)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [(Access::READ, 'r'), (Access::WRITE, 'w'), (Access::MKNOD, 'm')] {
            if self.0 & bit.0 != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Which devices a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceKind {
    /// `a`: every device. As in v1, such a rule resets everything, whatever its numbers and access say.
    All,
    /// `b`: block devices.
    Block,
    /// `c`: character devices.
    Char,
}

impl DeviceKind {
    /// `BPF_DEVCG_DEV_BLOCK` / `BPF_DEVCG_DEV_CHAR`, the low 16 bits of `access_type`.
    fn bpf_type(self) -> Option<i32> {
        match self {
            DeviceKind::All => None,
            DeviceKind::Block => Some(1),
            DeviceKind::Char => Some(2),
        }
    }
}

/// One device cgroup rule, in the order the spec gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceRule {
    /// Allow (`devices.allow`) or deny (`devices.deny`).
    pub allow: bool,
    /// Block, character or all.
    pub kind: DeviceKind,
    /// `None` is `*`.
    pub major: Option<u32>,
    /// `None` is `*`.
    pub minor: Option<u32>,
    /// What is allowed or denied.
    pub access: Access,
}

impl DeviceRule {
    pub(crate) const fn new(
        allow: bool,
        kind: DeviceKind,
        major: Option<u32>,
        minor: Option<u32>,
        access: Access,
    ) -> Self {
        DeviceRule { allow, kind, major, minor, access }
    }
}

/// The v1 line (`c 1:3 rwm`), without the allow/deny that v1 puts in the file name.
impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeviceKind::All => 'a',
            DeviceKind::Block => 'b',
            DeviceKind::Char => 'c',
        };
        let num = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
        write!(f, "{kind} {}:{} {}", num(self.major), num(self.minor), self.access)
    }
}

/// One exception to a [`Ruleset`]'s default, on one (type, major, minor); its verdict is the opposite of the
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exception {
    kind: DeviceKind,
    major: Option<u32>,
    minor: Option<u32>,
    access: Access,
}

/// What a v1 devices cgroup holds after a list of rules: a default verdict and exceptions to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ruleset {
    /// Allow everything not excepted (else deny everything not excepted).
    pub default_allow: bool,
    exceptions: Vec<Exception>,
}

impl Ruleset {
    /// Applies `rules` in order to a fresh cgroup, which (like a child of the root cgroup in v1) allows all.
    ///
    /// A rule that agrees with the default removes what it names from the exception on exactly the same
    /// numbers, as v1 does; one that would have to cut a hole in a wildcard exception (deny `c 136:5` below an
    /// allowed `c 136:*`) is refused, like runc does, because v1 silently ignores it.
    pub(crate) fn from_rules(rules: &[DeviceRule]) -> Result<Ruleset, RuntimeError> {
        let mut set = Ruleset { default_allow: true, exceptions: Vec::new() };
        for rule in rules {
            if rule.kind == DeviceKind::All {
                set = Ruleset { default_allow: rule.allow, exceptions: Vec::new() };
            } else if rule.allow == set.default_allow {
                set.remove(rule)?;
            } else {
                set.add(rule);
            }
        }
        Ok(set)
    }

    fn position(&self, kind: DeviceKind, major: Option<u32>, minor: Option<u32>) -> Option<usize> {
        self.exceptions.iter().position(|e| e.kind == kind && e.major == major && e.minor == minor)
    }

    fn add(&mut self, rule: &DeviceRule) {
        match self.position(rule.kind, rule.major, rule.minor) {
            Some(i) => self.exceptions[i].access = self.exceptions[i].access.union(rule.access),
            None => self.exceptions.push(Exception {
                kind: rule.kind,
                major: rule.major,
                minor: rule.minor,
                access: rule.access,
            }),
        }
    }

    fn remove(&mut self, rule: &DeviceRule) -> Result<(), RuntimeError> {
        for (major, minor) in [(None, rule.minor), (rule.major, None), (None, None)] {
            if (major, minor) == (rule.major, rule.minor) {
                continue;
            }
            if let Some(i) = self.position(rule.kind, major, minor) {
                let wider = self.exceptions[i];
                if rule.access.intersects(wider.access) {
                    let wider = DeviceRule::new(!rule.allow, wider.kind, wider.major, wider.minor, wider.access);
                    return Err(RuntimeError::InvalidDeviceRule {
                        rule: rule.to_string(),
                        reason: format!("cannot cut a hole in the wildcard rule {wider}"),
                    });
                }
            }
        }
        if let Some(i) = self.position(rule.kind, rule.major, rule.minor) {
            let left = self.exceptions[i].access.minus(rule.access);
            if left.is_empty() {
                self.exceptions.remove(i);
            } else {
                self.exceptions[i].access = left;
            }
        }
        Ok(())
    }

    /// The v1 verdict for one access, computed directly (the reference the program is tested against).
    #[cfg(test)]
    pub(crate) fn allows(&self, kind: DeviceKind, major: u32, minor: u32, access: Access) -> bool {
        let on =
            |e: &Exception| e.kind == kind && e.major.is_none_or(|m| m == major) && e.minor.is_none_or(|m| m == minor);
        if self.default_allow {
            // Denied by any exception that shares one bit of the access (match_exception_partial).
            !self.exceptions.iter().any(|e| on(e) && access.intersects(e.access))
        } else {
            // Allowed by one exception that covers the whole access (match_exception).
            self.exceptions.iter().any(|e| on(e) && access.minus(e.access).is_empty())
        }
    }
}

/// eBPF registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Reg {
    R0 = 0,
    R1 = 1,
    R2 = 2,
    R3 = 3,
    R4 = 4,
    R5 = 5,
}

/// One eBPF instruction (`struct bpf_insn`). Only the handful the filter needs have constructors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    dst: Reg,
    src: Reg,
    off: i16,
    imm: i32,
}

// Opcode parts, from include/uapi/linux/bpf_common.h and bpf.h.
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_JMP32: u8 = 0x06;
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_JSET: u8 = 0x40;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

impl Insn {
    /// `dst = *(u32 *)(src + off)`.
    fn load_u32(dst: Reg, src: Reg, off: i16) -> Insn {
        Insn { code: BPF_LDX | BPF_MEM | BPF_W, dst, src, off, imm: 0 }
    }

    /// `w_dst &= imm` (32-bit ALU: the upper half is zeroed).
    fn and32(dst: Reg, imm: i32) -> Insn {
        Insn { code: BPF_ALU | BPF_AND | BPF_K, dst, src: Reg::R0, off: 0, imm }
    }

    /// `w_dst >>= imm`.
    fn rsh32(dst: Reg, imm: i32) -> Insn {
        Insn { code: BPF_ALU | BPF_RSH | BPF_K, dst, src: Reg::R0, off: 0, imm }
    }

    /// `w_dst = imm`.
    fn mov32_imm(dst: Reg, imm: i32) -> Insn {
        Insn { code: BPF_ALU | BPF_MOV | BPF_K, dst, src: Reg::R0, off: 0, imm }
    }

    /// `w_dst = w_src`.
    fn mov32_reg(dst: Reg, src: Reg) -> Insn {
        Insn { code: BPF_ALU | BPF_MOV | BPF_X, dst, src, off: 0, imm: 0 }
    }

    /// `if w_dst != imm goto +off`. 32-bit compares, so a major or minor above `i32::MAX` is compared as the
    /// u32 it is rather than sign-extended to 64 bits.
    fn jne32(dst: Reg, imm: u32, off: i16) -> Insn {
        Insn { code: BPF_JMP32 | BPF_JNE | BPF_K, dst, src: Reg::R0, off, imm: imm as i32 }
    }

    /// `if w_dst == imm goto +off`.
    fn jeq32(dst: Reg, imm: u32, off: i16) -> Insn {
        Insn { code: BPF_JMP32 | BPF_JEQ | BPF_K, dst, src: Reg::R0, off, imm: imm as i32 }
    }

    /// `if w_dst & imm goto +off`.
    fn jset32(dst: Reg, imm: u32, off: i16) -> Insn {
        Insn { code: BPF_JMP32 | BPF_JSET | BPF_K, dst, src: Reg::R0, off, imm: imm as i32 }
    }

    /// `return r0`.
    fn exit() -> Insn {
        Insn { code: BPF_JMP | BPF_EXIT, dst: Reg::R0, src: Reg::R0, off: 0, imm: 0 }
    }

    /// The 8 bytes of `struct bpf_insn` (little-endian: `dst_reg` is the low nibble of byte 1).
    pub(crate) fn encode(&self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [self.code, (self.src as u8) << 4 | self.dst as u8, off[0], off[1], imm[0], imm[1], imm[2], imm[3]]
    }
}

/// A conditional jump to the end of the block it is in ("not this rule"), before the offset is known.
enum Step {
    Insn(Insn),
    SkipIfNe(Reg, u32),
    SkipIfEq(Reg, u32),
    SkipIfAny(Reg, u32),
}

/// The program for `set`: returns 1 to allow, 0 to deny.
///
/// Registers after the prologue: r2 = device type, r3 = requested access, r4 = major, r5 = minor; r1 (the
/// context pointer, not needed once read) is scratch. Each exception is one block; every check jumps past the
/// block's end on a mismatch, and the block ends by returning the exception's verdict.
pub(crate) fn program(set: &Ruleset) -> Result<Vec<Insn>, RuntimeError> {
    let mut insns = vec![
        Insn::load_u32(Reg::R2, Reg::R1, 0),
        Insn::and32(Reg::R2, 0xffff),
        Insn::load_u32(Reg::R3, Reg::R1, 0),
        Insn::rsh32(Reg::R3, 16),
        Insn::load_u32(Reg::R4, Reg::R1, 4),
        Insn::load_u32(Reg::R5, Reg::R1, 8),
    ];
    let verdict = i32::from(!set.default_allow);
    for e in &set.exceptions {
        let Some(typ) = e.kind.bpf_type() else {
            // from_rules never keeps an `a` exception: it resets the whole set instead.
            return Err(RuntimeError::InvalidDeviceRule {
                rule: DeviceRule::new(!set.default_allow, e.kind, e.major, e.minor, e.access).to_string(),
                reason: "a rule for all devices cannot be an exception".into(),
            });
        };
        let mut block = vec![Step::SkipIfNe(Reg::R2, typ as u32)];
        if set.default_allow {
            // A deny exception refuses an access that shares any bit with it.
            block.push(Step::Insn(Insn::mov32_reg(Reg::R1, Reg::R3)));
            block.push(Step::Insn(Insn::and32(Reg::R1, e.access.bits() as i32)));
            block.push(Step::SkipIfEq(Reg::R1, 0));
        } else {
            // An allow exception grants an access only if it covers all of it; unknown bits are never covered.
            block.push(Step::SkipIfAny(Reg::R3, 0xffff & !e.access.bits()));
        }
        if let Some(major) = e.major {
            block.push(Step::SkipIfNe(Reg::R4, major));
        }
        if let Some(minor) = e.minor {
            block.push(Step::SkipIfNe(Reg::R5, minor));
        }
        block.push(Step::Insn(Insn::mov32_imm(Reg::R0, verdict)));
        block.push(Step::Insn(Insn::exit()));
        let len = block.len();
        for (i, step) in block.into_iter().enumerate() {
            // Jumps are relative to the next instruction; the target is the first one after the block.
            let off = i16::try_from(len - i - 1).map_err(|_| RuntimeError::InvalidDeviceRule {
                rule: "(program)".into(),
                reason: "block too long".into(),
            })?;
            insns.push(match step {
                Step::Insn(insn) => insn,
                Step::SkipIfNe(r, v) => Insn::jne32(r, v, off),
                Step::SkipIfEq(r, v) => Insn::jeq32(r, v, off),
                Step::SkipIfAny(r, v) => Insn::jset32(r, v, off),
            });
        }
    }
    insns.push(Insn::mov32_imm(Reg::R0, i32::from(set.default_allow)));
    insns.push(Insn::exit());
    Ok(insns)
}

/// The program as the bytes `BPF_PROG_LOAD` takes.
pub(crate) fn bytecode(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(Insn::encode).collect()
}

// bpf(2) commands, program and attach types, flags (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Several programs per cgroup, all of which must allow; a nested runtime can then add its own (as runc does).
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

/// The license the program declares. It calls no GPL-only helper, so any string the kernel knows would do; this
/// is the project's.
const LICENSE: &std::ffi::CStr = c"Apache-2.0";

/// `union bpf_attr` for `BPF_PROG_LOAD`, up to `expected_attach_type`; the kernel takes a shorter attr and reads
/// the fields it lacks as zero. These layouts have no padding bytes: the kernel sees only initialised memory.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for `BPF_PROG_ATTACH` / `BPF_PROG_DETACH`.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for `BPF_PROG_QUERY`.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    /// The kernel's unnamed `__u32 :32`, spelled out so the struct has no uninitialised padding.
    _hole: u32,
}

/// `union bpf_attr` for `BPF_PROG_GET_FD_BY_ID`.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`.
///
/// # Safety
/// `T` must be one of the `bpf_attr` layouts above, matching `cmd`, and every pointer it holds must be valid for
/// what the kernel does with it during the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: the caller guarantees attr's layout and pointers; the size passed is the struct's own.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>() as libc::c_uint) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn owned_fd(rc: libc::c_long) -> std::io::Result<OwnedFd> {
    let raw = i32::try_from(rc).map_err(|_| std::io::Error::other(format!("bpf returned {rc}, not an fd")))?;
    // SAFETY: a successful BPF_PROG_LOAD / BPF_PROG_GET_FD_BY_ID returns a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// A verifier's refusal: the error and the verifier's last words.
#[derive(Debug)]
pub(crate) struct LoadError {
    pub source: std::io::Error,
    pub log: String,
}

/// Loads `insns` as a `BPF_PROG_TYPE_CGROUP_DEVICE` program (close-on-exec fd). Loading needs no cgroup, so this
/// also proves on any host that the kernel's verifier accepts the program.
pub(crate) fn load(insns: &[Insn]) -> Result<OwnedFd, LoadError> {
    let code = bytecode(insns);
    let insn_cnt = u32::try_from(insns.len())
        .map_err(|_| LoadError { source: std::io::Error::other("program too long"), log: String::new() })?;
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"berth_device");
    let attr = |log: &mut Vec<u8>| ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt,
        insns: code.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() { 0 } else { log.as_mut_ptr() as u64 },
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    let mut no_log = Vec::new();
    let mut a = attr(&mut no_log);
    // SAFETY: a ProgLoadAttr for BPF_PROG_LOAD; `code` and LICENSE outlive the call, and no log buffer is given.
    let first = unsafe { bpf(BPF_PROG_LOAD, &mut a) };
    let source = match first.and_then(owned_fd) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    // Again with the verifier's log, only to say why (asking for it up front makes every load slower).
    let mut log = vec![0u8; 64 * 1024];
    let mut a = attr(&mut log);
    // SAFETY: as above; the log buffer is `log_size` bytes, alive across the call.
    match unsafe { bpf(BPF_PROG_LOAD, &mut a) }.and_then(owned_fd) {
        Ok(fd) => Ok(fd),
        Err(_) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            let log = tail.into_iter().rev().collect::<Vec<_>>().join("; ");
            Err(LoadError { source, log })
        }
    }
}

/// Ids of the device programs attached directly to the cgroup `dir_fd`.
fn attached(dir_fd: &OwnedFd) -> std::io::Result<Vec<u32>> {
    let mut ids = [0u32; 64];
    let mut a = QueryAttr {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    // SAFETY: a QueryAttr for BPF_PROG_QUERY; `ids` has room for `prog_cnt` ids and outlives the call.
    unsafe { bpf(BPF_PROG_QUERY, &mut a) }?;
    let n = (a.prog_cnt as usize).min(ids.len());
    Ok(ids[..n].to_vec())
}

/// Loads the program for `rules` and attaches it to the cgroup v2 directory `dir`, replacing the device programs
/// Berth attached there before (so `docker update` can loosen rules too: attached programs all must allow).
pub(crate) fn install(dir: &Path, rules: &[DeviceRule]) -> Result<(), RuntimeError> {
    let set = Ruleset::from_rules(rules)?;
    let insns = program(&set)?;
    let err = |op: &'static str, source: std::io::Error, log: String| RuntimeError::DeviceFilter {
        op,
        cgroup: dir.to_path_buf(),
        source,
        log,
    };
    let prog = load(&insns).map_err(|e| err("load the eBPF program", e.source, e.log))?;
    let dir_fd: OwnedFd = std::fs::File::open(dir).map_err(|e| err("open the cgroup", e, String::new()))?.into();
    let before = attached(&dir_fd).map_err(|e| err("query attached programs", e, String::new()))?;
    let mut a = AttachAttr {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    // SAFETY: an AttachAttr for BPF_PROG_ATTACH; both fds are open for the duration of the call.
    unsafe { bpf(BPF_PROG_ATTACH, &mut a) }.map_err(|e| err("attach the eBPF program", e, String::new()))?;
    // The new program is in force before the old ones go, so no access slips through in between.
    for id in before {
        let mut g = GetFdAttr { prog_id: id, ..Default::default() };
        // SAFETY: a GetFdAttr for BPF_PROG_GET_FD_BY_ID; it holds no pointers.
        let old = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut g) }
            .and_then(owned_fd)
            .map_err(|e| err("open a previous program", e, String::new()))?;
        let mut d = AttachAttr {
            target_fd: dir_fd.as_raw_fd() as u32,
            attach_bpf_fd: old.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        // SAFETY: an AttachAttr for BPF_PROG_DETACH; both fds are open for the duration of the call.
        unsafe { bpf(BPF_PROG_DETACH, &mut d) }.map_err(|e| err("detach a previous program", e, String::new()))?;
    }
    // The attachment holds the program; our fd can go.
    drop(prog);
    tracing::debug!(cgroup = %dir.display(), default_allow = set.default_allow, exceptions = set.exceptions.len(),
        instructions = insns.len(), "device filter attached");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{device_rules, DEFAULT_DEVICE_RULES};

    const B: DeviceKind = DeviceKind::Block;
    const C: DeviceKind = DeviceKind::Char;
    const M: Access = Access::MKNOD;
    const R: Access = Access::READ;
    const W: Access = Access::WRITE;
    const RW: Access = Access(6);

    /// Runs the program in rbpf against one `bpf_cgroup_dev_ctx`.
    fn run(insns: &[Insn], kind: DeviceKind, major: u32, minor: u32, access: Access) -> u64 {
        let code = bytecode(insns);
        let vm = rbpf::EbpfVmRaw::new(Some(&code)).expect("rbpf accepts the program");
        let typ = kind.bpf_type().expect("a device type") as u32;
        let mut ctx = Vec::new();
        ctx.extend_from_slice(&((access.bits() << 16) | typ).to_le_bytes());
        ctx.extend_from_slice(&major.to_le_bytes());
        ctx.extend_from_slice(&minor.to_le_bytes());
        vm.execute_program(&mut ctx).expect("the program runs")
    }

    fn docker_default() -> Vec<Insn> {
        let rules = device_rules(&[]).expect("default rules");
        program(&Ruleset::from_rules(&rules).expect("a ruleset")).expect("a program")
    }

    #[test]
    fn docker_defaults_allow_the_standard_devices_and_nothing_else() {
        let p = docker_default();
        for (kind, major, minor, access, want, what) in [
            (C, 1, 3, R, 1, "read /dev/null"),
            (C, 1, 3, W, 1, "write /dev/null"),
            (C, 1, 3, RW, 1, "open /dev/null O_RDWR"),
            (C, 1, 3, M, 1, "mknod /dev/null"),
            (C, 1, 5, RW, 1, "/dev/zero"),
            (C, 1, 7, RW, 1, "/dev/full"),
            (C, 1, 8, R, 1, "/dev/random"),
            (C, 1, 9, R, 1, "/dev/urandom"),
            (C, 5, 0, RW, 1, "/dev/tty"),
            (C, 5, 1, RW, 1, "/dev/console"),
            (C, 5, 2, RW, 1, "/dev/ptmx"),
            (C, 136, 0, RW, 1, "/dev/pts/0"),
            (C, 136, 4711, RW, 1, "/dev/pts/4711 (136:* wildcard)"),
            (C, 10, 200, RW, 1, "/dev/net/tun"),
            // Docker's "b *:* m" and "c *:* m": creating any node is allowed, using it is not.
            (B, 8, 0, M, 1, "mknod /dev/sda"),
            (B, 8, 0, R, 0, "read /dev/sda"),
            (B, 8, 0, W, 0, "write /dev/sda"),
            (B, 254, 0, RW, 0, "open /dev/vda"),
            (C, 1, 1, M, 1, "mknod /dev/mem"),
            (C, 1, 1, R, 0, "read /dev/mem"),
            (C, 1, 4, R, 0, "read /dev/port"),
            (C, 10, 229, RW, 0, "/dev/fuse"),
            (C, 137, 0, R, 0, "a char major next to the pts one"),
            (C, 1, 0x8000_0003, R, 0, "a minor that only matches 3 when truncated to 16 bits or sign-extended"),
        ] {
            assert_eq!(run(&p, kind, major, minor, access), want, "{what}");
        }
    }

    #[test]
    fn without_the_mknod_wildcard_mknod_of_a_block_device_is_refused() {
        // What `--device-cgroup-rule` style specs without Docker's "b *:* m" look like: deny all, allow a few.
        let rules = [
            DeviceRule::new(false, DeviceKind::All, None, None, Access::ALL),
            DeviceRule::new(true, C, Some(1), Some(3), Access::ALL),
        ];
        let p = program(&Ruleset::from_rules(&rules).unwrap()).unwrap();
        assert_eq!(run(&p, B, 8, 0, M), 0, "mknod /dev/sda");
        assert_eq!(run(&p, C, 1, 3, M), 1, "mknod /dev/null");
        assert_eq!(run(&p, C, 1, 5, R), 0, "/dev/zero is not in the list");
    }

    #[test]
    fn wildcard_rules() {
        let rules = [
            DeviceRule::new(false, DeviceKind::All, None, None, Access::ALL),
            DeviceRule::new(true, B, Some(8), None, R),
            DeviceRule::new(true, C, None, Some(7), W),
        ];
        let p = program(&Ruleset::from_rules(&rules).unwrap()).unwrap();
        assert_eq!(run(&p, B, 8, 0, R), 1, "b 8:* r covers 8:0");
        assert_eq!(run(&p, B, 8, 16, R), 1, "and 8:16");
        assert_eq!(run(&p, B, 8, 0, W), 0, "but not writing");
        assert_eq!(run(&p, B, 8, 0, RW), 0, "nor reading and writing at once");
        assert_eq!(run(&p, C, 8, 0, R), 0, "nor a char device 8:0");
        assert_eq!(run(&p, C, 42, 7, W), 1, "c *:7 w covers any major");
        assert_eq!(run(&p, C, 42, 8, W), 0, "one minor only");
        let allow_all = [DeviceRule::new(true, DeviceKind::All, None, None, Access::ALL)];
        let p = program(&Ruleset::from_rules(&allow_all).unwrap()).unwrap();
        assert_eq!(p.len(), 8, "prologue and `return 1`: {p:?}");
        assert_eq!(run(&p, B, 8, 0, RW), 1, "--privileged's a *:* rwm");
        // An `a` rule is all devices whatever else it says (v1 ignores its numbers and access).
        let odd = [DeviceRule::new(false, DeviceKind::All, Some(1), Some(3), R)];
        let p = program(&Ruleset::from_rules(&odd).unwrap()).unwrap();
        assert_eq!(run(&p, C, 4, 4, M), 0, "a 1:3 r denies everything");
    }

    #[test]
    fn a_later_deny_overrides_an_allow() {
        let mut rules = device_rules(&[]).unwrap();
        rules.push(DeviceRule::new(false, C, Some(1), Some(3), W));
        // Not rwm: the m bit is in the wildcard `c *:* m`, which v1 cannot cut a hole in.
        rules.push(DeviceRule::new(false, C, Some(10), Some(200), RW));
        let p = program(&Ruleset::from_rules(&rules).unwrap()).unwrap();
        assert_eq!(run(&p, C, 1, 3, R), 1, "/dev/null can still be read");
        assert_eq!(run(&p, C, 1, 3, W), 0, "but no longer written");
        assert_eq!(run(&p, C, 1, 3, RW), 0, "nor opened read-write");
        assert_eq!(run(&p, C, 10, 200, R), 0, "/dev/net/tun is gone");
        assert_eq!(run(&p, C, 10, 200, M), 1, "c *:* m still allows creating it");
        assert_eq!(run(&p, C, 1, 5, RW), 1, "the others stay");
    }

    #[test]
    fn deny_list_mode_refuses_any_overlap() {
        // Allow all, deny writing to 8:*: like v1's match_exception_partial, an O_RDWR open shares the w bit.
        let rules = [
            DeviceRule::new(true, DeviceKind::All, None, None, Access::ALL),
            DeviceRule::new(false, B, Some(8), None, W),
        ];
        let set = Ruleset::from_rules(&rules).unwrap();
        assert!(set.default_allow);
        let p = program(&set).unwrap();
        assert_eq!(run(&p, B, 8, 1, R), 1);
        assert_eq!(run(&p, B, 8, 1, W), 0);
        assert_eq!(run(&p, B, 8, 1, RW), 0);
        assert_eq!(run(&p, B, 9, 1, RW), 1);
        assert_eq!(run(&p, C, 8, 1, W), 1);
    }

    #[test]
    fn holes_in_wildcards_are_refused() {
        let mut rules = device_rules(&[]).unwrap();
        rules.push(DeviceRule::new(false, C, Some(136), Some(5), Access::ALL));
        let e = Ruleset::from_rules(&rules).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid device rule c 136:5 rwm: cannot cut a hole in the wildcard rule c 136:* rwm",
            "{e:?}"
        );
        // Under `c *:* m`, denying 10:200's m bit is such a hole too.
        let mut rules = device_rules(&[]).unwrap();
        rules.push(DeviceRule::new(false, C, Some(10), Some(200), Access::ALL));
        assert!(Ruleset::from_rules(&rules).is_err());
        // Taking rw from the wildcard `c 136:*` itself is fine, and so is a deny that shares no bit with a wider
        // rule (b 8:0 r under b *:* m: nothing to remove, 8:0 stays unreadable).
        let mut rules = device_rules(&[]).unwrap();
        rules.push(DeviceRule::new(false, C, Some(136), None, RW));
        rules.push(DeviceRule::new(false, B, Some(8), Some(0), R));
        let p = program(&Ruleset::from_rules(&rules).unwrap()).unwrap();
        assert_eq!(run(&p, C, 136, 0, R), 0);
        assert_eq!(run(&p, C, 136, 0, M), 1);
        assert_eq!(run(&p, B, 8, 0, M), 1);
        assert_eq!(run(&p, B, 8, 0, R), 0);
    }

    #[test]
    fn the_program_agrees_with_the_v1_model_everywhere() {
        let mut rules = device_rules(&[]).unwrap();
        rules.push(DeviceRule::new(true, B, Some(7), None, RW));
        rules.push(DeviceRule::new(false, C, Some(1), Some(9), W));
        let set = Ruleset::from_rules(&rules).unwrap();
        let p = program(&set).unwrap();
        let accesses = [M, R, W, RW, Access::ALL];
        for kind in [B, C] {
            for major in [0, 1, 5, 7, 8, 10, 136, 254] {
                for minor in [0, 1, 2, 3, 5, 7, 8, 9, 200, 229] {
                    for access in accesses {
                        let want = u64::from(set.allows(kind, major, minor, access));
                        assert_eq!(run(&p, kind, major, minor, access), want, "{kind:?} {major}:{minor} {access}");
                    }
                }
            }
        }
    }

    #[test]
    fn instructions_encode_as_struct_bpf_insn() {
        assert_eq!(Insn::load_u32(Reg::R4, Reg::R1, 4).encode(), [0x61, 0x14, 4, 0, 0, 0, 0, 0]);
        assert_eq!(Insn::jne32(Reg::R5, 200, 3).encode(), [0x56, 0x05, 3, 0, 200, 0, 0, 0]);
        assert_eq!(Insn::jset32(Reg::R3, 0xfff8, 1).encode(), [0x46, 0x03, 1, 0, 0xf8, 0xff, 0, 0]);
        assert_eq!(Insn::mov32_imm(Reg::R0, 1).encode(), [0xb4, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(Insn::exit().encode(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn rules_print_as_v1_lines() {
        let lines: Vec<String> = DEFAULT_DEVICE_RULES.iter().map(|r| r.to_string()).collect();
        assert_eq!(lines[0], "c *:* m");
        assert!(lines.contains(&"c 136:* rwm".to_string()));
        assert_eq!(Access::parse("mwr").unwrap(), Access::ALL);
        assert!(Access::parse("rx").is_err());
    }

    /// The kernel's verifier is the judge that counts: it must accept the default program and a deny-list one.
    /// Loading needs CAP_BPF (or CAP_SYS_ADMIN) but no cgroup v2, so this runs on v1 hosts too; it fails, rather
    /// than skips, when the kernel refuses.
    #[test]
    fn the_kernel_verifier_accepts_the_programs() {
        let deny_list = [
            DeviceRule::new(true, DeviceKind::All, None, None, Access::ALL),
            DeviceRule::new(false, B, Some(8), None, W),
        ];
        for p in [docker_default(), program(&Ruleset::from_rules(&deny_list).unwrap()).unwrap()] {
            if let Err(e) = load(&p) {
                panic!(
                    "BPF_PROG_LOAD refused the device filter: {} (verifier: {}). This test needs root on Linux \
                     >= 5.1 (JMP32); without them it cannot prove the program is valid.",
                    e.source, e.log
                );
            }
        }
    }

    /// The whole path on a real cgroup2 hierarchy (on a hybrid v1 host the unified one is still mounted, and
    /// device programs attached there apply): a shell moved into the cgroup may mknod a block device, as under
    /// Docker, but opening it fails with EPERM; /dev/null still works; a second install replaces the first.
    #[test]
    fn an_attached_filter_guards_a_real_cgroup() {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let Some(unified) = mountinfo.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split(' ').next() == Some("cgroup2"))
                .then(|| left.split(' ').nth(4).map(std::path::PathBuf::from))?
        }) else {
            panic!("no cgroup2 hierarchy is mounted on this host: the attach path cannot be exercised");
        };
        let dir = unified.join(format!("berth-device-filter-test-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e} (this test needs root)", dir.display()));
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir(&self.0);
            }
        }
        let _cleanup = Cleanup(dir.clone());
        let scratch = tempfile::tempdir().unwrap();
        let run_in_cgroup = |script: &str| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("echo $$ > {}/cgroup.procs && cd {} && {script}", dir.display(), scratch.path().display()))
                .output()
                .unwrap();
            (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
        };

        install(&dir, &device_rules(&[]).unwrap()).unwrap();
        let file = std::fs::File::open(&dir).unwrap();
        assert_eq!(attached(&OwnedFd::from(file)).unwrap().len(), 1);
        let (code, err) = run_in_cgroup("mknod disk b 8 0 && head -c1 disk");
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("Operation not permitted"), "open of b 8:0 refused with EPERM: {err}");
        let (code, err) = run_in_cgroup("rm -f disk; mknod null c 1 3 && echo x > null && head -c1 null");
        assert_eq!((code, err.as_str()), (Some(0), ""), "c 1:3 is usable");

        // Re-installing a looser set replaces the program instead of stacking (stacked programs all must allow).
        let loose = [DeviceRule::new(true, DeviceKind::All, None, None, Access::ALL)];
        install(&dir, &loose).unwrap();
        let file = std::fs::File::open(&dir).unwrap();
        assert_eq!(attached(&OwnedFd::from(file)).unwrap().len(), 1, "the old program is detached");
        let (_, err) = run_in_cgroup("rm -f disk; mknod disk b 8 0 && head -c1 disk");
        assert!(!err.contains("Operation not permitted"), "no filter refuses it now: {err}");
    }
}
