//! Seccomp: the spec's `linux.seccomp` compiled to a BPF program with libseccomp (as runc does) in the daemon,
//! once per distinct profile, and loaded by `berth init` with seccomp(2) as the last step before execve.
//!
//! libseccomp rather than seccompiler: it resolves syscall names for every architecture a profile names, and its
//! rule model (an action per rule, argument comparisons including masked equality) is the one Docker's and the
//! OCI's profiles are written in, so a profile means here what it means under runc.

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::sync::{Arc, Mutex, OnceLock};

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};
use serde::{Deserialize, Serialize};

use super::RuntimeError;

/// The errno of a rule or default action that names none: EPERM, as Docker's blocked calls fail.
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

/// One BPF instruction, as `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Instruction {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// A compiled filter, ready for seccomp(2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Program(Vec<Instruction>);

/// Programs already compiled, by the profile's JSON: every container of a daemon gets one of a few profiles.
fn cache() -> &'static Mutex<HashMap<String, Arc<Program>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Program>>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The program for `seccomp`, compiled on first use.
pub(crate) fn program(seccomp: &LinuxSeccomp) -> Result<Arc<Program>, RuntimeError> {
    let key = serde_json::to_string(seccomp).map_err(|e| invalid(format!("profile: {e}")))?;
    if let Some(found) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(Arc::clone(found));
    }
    let compiled = Arc::new(compile(seccomp)?);
    cache().lock().unwrap_or_else(|e| e.into_inner()).insert(key, Arc::clone(&compiled));
    Ok(compiled)
}

/// Compiles `seccomp` (or finds it compiled): a profile that cannot be loaded fails here, naming the problem.
pub fn check_seccomp(seccomp: &LinuxSeccomp) -> Result<(), RuntimeError> {
    program(seccomp).map(|_| ())
}

/// Whether libseccomp knows `name` on this machine's architecture (a custom profile naming an unknown call is
/// refused; Docker's default names calls of every architecture and those are skipped).
pub fn is_known_syscall(name: &str) -> bool {
    ScmpSyscall::from_name(name).is_ok()
}

fn invalid(message: impl Into<String>) -> RuntimeError {
    RuntimeError::InvalidSpec(format!("seccomp: {}", message.into()))
}

fn compile(seccomp: &LinuxSeccomp) -> Result<Program, RuntimeError> {
    let default = action(seccomp.default_action(), seccomp.default_errno_ret())?;
    let mut filter = ScmpFilterContext::new(default).map_err(|e| invalid(e.to_string()))?;
    // no_new_privs is init's to set (the spec says whether); libseccomp would set it on load, which we don't use.
    filter.set_ctl_nnp(false).map_err(|e| invalid(e.to_string()))?;
    for arch in seccomp.architectures().iter().flatten() {
        if let Some(arch) = scmp_arch(*arch) {
            filter.add_arch(arch).map_err(|e| invalid(format!("architecture {arch:?}: {e}")))?;
        }
    }
    for rule in seccomp.syscalls().iter().flatten() {
        add_rule(&mut filter, rule, default)?;
    }
    export(&filter)
}

fn add_rule(filter: &mut ScmpFilterContext, rule: &LinuxSyscall, default: ScmpAction) -> Result<(), RuntimeError> {
    let action = action(rule.action(), rule.errno_ret())?;
    // libseccomp refuses a rule that does what the default does; it would change nothing anyway.
    if action == default {
        return Ok(());
    }
    let args = rule.args().as_deref().unwrap_or_default();
    let comparisons: Vec<ScmpArgCompare> = args.iter().map(compare).collect::<Result<_, _>>()?;
    // As runc: arguments on distinct indexes must all match (one rule); several on one index are alternatives.
    let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
    indexes.sort_unstable();
    indexes.dedup();
    let all_at_once = indexes.len() == args.len();
    for name in rule.names() {
        // A name this architecture does not have (Docker's profile lists every architecture's) is skipped.
        let Ok(syscall) = ScmpSyscall::from_name(name) else {
            tracing::debug!(syscall = %name, "not a system call here; rule skipped");
            continue;
        };
        let added = if comparisons.is_empty() {
            filter.add_rule(action, syscall).map(|_| ())
        } else if all_at_once {
            filter.add_rule_conditional(action, syscall, &comparisons).map(|_| ())
        } else {
            comparisons.iter().try_for_each(|c| filter.add_rule_conditional(action, syscall, &[*c]).map(|_| ()))
        };
        added.map_err(|e| invalid(format!("rule for {name}: {e}")))?;
    }
    Ok(())
}

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, RuntimeError> {
    let errno = errno.unwrap_or(DEFAULT_ERRNO);
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno as i32),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(invalid("SCMP_ACT_NOTIFY needs a seccomp agent, which Berth does not have"))
        }
    })
}

fn compare(arg: &oci_spec::runtime::LinuxSeccompArg) -> Result<ScmpArgCompare, RuntimeError> {
    let index = u32::try_from(arg.index()).ok().filter(|i| *i < 6).ok_or_else(|| {
        invalid(format!("argument index {} is out of range (a system call has six arguments)", arg.index()))
    })?;
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // The OCI's masked equality: `value` is the mask, `valueTwo` what the masked argument must equal.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return Ok(ScmpArgCompare::new(
                index,
                ScmpCompareOp::MaskedEqual(arg.value()),
                arg.value_two().unwrap_or(0),
            ))
        }
    };
    Ok(ScmpArgCompare::new(index, op, arg.value()))
}

fn scmp_arch(arch: Arch) -> Option<ScmpArch> {
    Some(match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        // Architectures this build of Berth never runs on: a filter for them would never be consulted.
        _ => return None,
    })
}

/// The filter as BPF instructions: libseccomp 2.5 exports only to a file descriptor, so through a memfd.
fn export(filter: &ScmpFilterContext) -> Result<Program, RuntimeError> {
    let fd = nix::sys::memfd::memfd_create(c"berth-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(|e| invalid(format!("memfd: {e}")))?;
    let mut file = std::fs::File::from(fd);
    filter.export_bpf(&file).map_err(|e| invalid(format!("export: {e}")))?;
    let mut bytes = Vec::new();
    file.rewind().and_then(|_| file.read_to_end(&mut bytes)).map_err(|e| invalid(format!("export: {e}")))?;
    if bytes.is_empty() || bytes.len() % 8 != 0 {
        return Err(invalid(format!("libseccomp exported {} bytes, not whole instructions", bytes.len())));
    }
    let instructions = bytes
        .chunks_exact(8)
        .map(|c| Instruction {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    Ok(Program(instructions))
}

/// Installs `program` on the calling thread (and its future children). `berth init` calls it last before execve:
/// with no_new_privs set any process may; without, it needs CAP_SYS_ADMIN, which init still has at that point.
pub(crate) fn load(program: &Program) -> std::io::Result<()> {
    let mut filters: Vec<libc::sock_filter> =
        program.0.iter().map(|i| libc::sock_filter { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect();
    let prog = libc::sock_fprog {
        len: u16::try_from(filters.len()).map_err(|_| std::io::Error::other("seccomp program too long"))?,
        filter: filters.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `filters`, which lives across the call; the kernel copies the program.
    let rc =
        unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSyscallBuilder};

    use super::*;

    fn profile(rules: Vec<LinuxSyscall>) -> LinuxSeccomp {
        LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActAllow)
            .architectures(vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32])
            .syscalls(rules)
            .build()
            .expect("a profile")
    }

    #[test]
    fn profiles_compile_once_and_unknown_names_are_skipped() {
        let mkdir = LinuxSyscallBuilder::default()
            .names(vec!["mkdir".to_string(), "mkdirat".to_string(), "no_such_call".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .build()
            .expect("rule");
        let clone = LinuxSyscallBuilder::default()
            .names(vec!["clone".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .args(vec![LinuxSeccompArgBuilder::default()
                .index(0usize)
                .value(0x7e02_0000u64)
                .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
                .build()
                .expect("arg")])
            .build()
            .expect("rule");
        let seccomp = profile(vec![mkdir, clone]);
        let first = program(&seccomp).expect("compiles");
        assert!(first.0.len() > 10, "a real program: {} instructions", first.0.len());
        let second = program(&seccomp).expect("cached");
        assert!(Arc::ptr_eq(&first, &second), "the second container reuses the first's program");
        assert!(is_known_syscall("mkdir") && !is_known_syscall("no_such_call"));
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        let notify = LinuxSyscallBuilder::default()
            .names(vec!["mkdir".to_string()])
            .action(LinuxSeccompAction::ScmpActNotify)
            .build()
            .expect("rule");
        let error = program(&profile(vec![notify])).expect_err("no agent");
        assert!(error.to_string().contains("SCMP_ACT_NOTIFY"), "{error}");
        let far = LinuxSyscallBuilder::default()
            .names(vec!["mkdir".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .args(vec![LinuxSeccompArgBuilder::default()
                .index(7usize)
                .value(1u64)
                .op(LinuxSeccompOperator::ScmpCmpEq)
                .build()
                .expect("arg")])
            .build()
            .expect("rule");
        assert!(program(&profile(vec![far])).expect_err("index 7").to_string().contains("out of range"));
    }
}
