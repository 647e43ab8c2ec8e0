//! Docker's restart policies as decisions: whether a container comes back after its process exits or after the
//! daemon starts, and how long it waits first. Pure, so every branch is tested without a container.

use std::time::Duration;

use bollard_stubs::models::{RestartPolicy, RestartPolicyNameEnum};

/// What the decision needs of a container's record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct History {
    /// Restarts the policy made so far.
    pub restart_count: i64,
    /// `docker stop` or `kill` ended it: only `always` brings it back, and only at daemon start.
    pub manually_stopped: bool,
}

/// After the process exited with `exit_code` (not during a daemon shutdown: the caller checks that).
pub(crate) fn after_exit(policy: &RestartPolicy, exit_code: i32, history: History) -> bool {
    if history.manually_stopped {
        return false;
    }
    match policy.name {
        Some(RestartPolicyNameEnum::ALWAYS) | Some(RestartPolicyNameEnum::UNLESS_STOPPED) => true,
        Some(RestartPolicyNameEnum::ON_FAILURE) => exit_code != 0 && retries_left(policy, history),
        _ => false,
    }
}

/// At daemon start, for a container the old daemon had running (its exit code was lost with it).
pub(crate) fn at_daemon_start(policy: &RestartPolicy, history: History) -> bool {
    match policy.name {
        Some(RestartPolicyNameEnum::ALWAYS) => true,
        Some(RestartPolicyNameEnum::UNLESS_STOPPED) => !history.manually_stopped,
        Some(RestartPolicyNameEnum::ON_FAILURE) => retries_left(policy, history),
        _ => false,
    }
}

/// `on-failure:N`: N restarts at most; 0 (or none given) is no limit.
fn retries_left(policy: &RestartPolicy, history: History) -> bool {
    let max = policy.maximum_retry_count.unwrap_or(0);
    max == 0 || history.restart_count < max
}

/// Docker's backoff: 100 ms doubling per quick crash, reset once a run lasted 10 s, at most a minute.
pub(crate) fn delay(ran_for: Duration, restart_count: i64) -> Duration {
    let quick_failures = if ran_for >= Duration::from_secs(10) { 0 } else { restart_count.clamp(0, 10) };
    Duration::from_millis((100u64 << quick_failures).min(60_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: RestartPolicyNameEnum, max: Option<i64>) -> RestartPolicy {
        RestartPolicy { name: Some(name), maximum_retry_count: max }
    }

    const FRESH: History = History { restart_count: 0, manually_stopped: false };
    const STOPPED: History = History { restart_count: 0, manually_stopped: true };

    #[test]
    fn exits_restart_as_each_policy_says() {
        use RestartPolicyNameEnum::*;
        assert!(after_exit(&policy(ALWAYS, None), 0, FRESH));
        assert!(after_exit(&policy(UNLESS_STOPPED, None), 0, FRESH));
        assert!(!after_exit(&policy(NO, None), 1, FRESH));
        assert!(!after_exit(&RestartPolicy::default(), 1, FRESH));
        assert!(!after_exit(&policy(ON_FAILURE, None), 0, FRESH), "success is not a failure");
        assert!(after_exit(&policy(ON_FAILURE, None), 3, History { restart_count: 1000, manually_stopped: false }));
        assert!(after_exit(&policy(ON_FAILURE, Some(2)), 1, History { restart_count: 1, manually_stopped: false }));
        assert!(!after_exit(&policy(ON_FAILURE, Some(2)), 1, History { restart_count: 2, manually_stopped: false }));
        assert!(!after_exit(&policy(ALWAYS, None), 0, STOPPED), "docker stop wins over always");
    }

    #[test]
    fn daemon_start_brings_back_what_was_running() {
        use RestartPolicyNameEnum::*;
        assert!(at_daemon_start(&policy(ALWAYS, None), STOPPED), "always: even after docker stop");
        assert!(!at_daemon_start(&policy(UNLESS_STOPPED, None), STOPPED));
        assert!(at_daemon_start(&policy(UNLESS_STOPPED, None), FRESH));
        assert!(at_daemon_start(&policy(ON_FAILURE, Some(3)), History { restart_count: 2, manually_stopped: false }));
        assert!(!at_daemon_start(&policy(ON_FAILURE, Some(3)), History { restart_count: 3, manually_stopped: false }));
        assert!(!at_daemon_start(&policy(NO, None), FRESH));
    }

    #[test]
    fn backoff_doubles_resets_and_caps() {
        let quick = Duration::from_secs(1);
        assert_eq!(delay(quick, 0), Duration::from_millis(100));
        assert_eq!(delay(quick, 3), Duration::from_millis(800));
        assert_eq!(delay(quick, 9), Duration::from_millis(51_200));
        assert_eq!(delay(quick, 10), Duration::from_secs(60));
        assert_eq!(delay(quick, 500), Duration::from_secs(60));
        assert_eq!(delay(Duration::from_secs(10), 7), Duration::from_millis(100), "a long run resets the backoff");
    }
}
