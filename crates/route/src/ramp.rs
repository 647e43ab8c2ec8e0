//! A ramp's progress: the step it is at, and whether it still ramps. The route's ramp task steps it on the
//! schedule and asks [`trips`] about the new backend's recent outcomes between steps.

use berth_shared::api::routes::{OnFailure, RampGuard, RampPhase, RampView};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ramp {
    pub step: u32,
    pub steps: u32,
    pub phase: RampPhase,
    pub reason: Option<String>,
}

impl Ramp {
    /// A new ramp starts on its first step: 1/steps of the traffic to the new backend.
    pub fn start(steps: u32) -> Self {
        let mut ramp = Ramp { step: 1, steps, phase: RampPhase::Ramping, reason: None };
        if steps <= 1 {
            ramp.phase = RampPhase::Done;
        }
        ramp
    }

    pub fn resume(view: &RampView, steps: u32) -> Self {
        Ramp { step: view.step.min(steps), steps, phase: view.phase, reason: view.reason.clone() }
    }

    /// The new backend's weight, in percent.
    pub fn weight(&self) -> u32 {
        match self.phase {
            RampPhase::RolledBack => 0,
            _ => self.step * 100 / self.steps.max(1),
        }
    }

    pub fn advance(&mut self) {
        if self.phase != RampPhase::Ramping {
            return;
        }
        self.step = (self.step + 1).min(self.steps);
        if self.step == self.steps {
            self.phase = RampPhase::Done;
        }
    }

    pub fn fail(&mut self, on_failure: OnFailure, reason: String) {
        self.phase = match on_failure {
            OnFailure::Pause => RampPhase::Paused,
            OnFailure::Rollback => RampPhase::RolledBack,
        };
        self.reason = Some(reason);
    }

    pub fn view(&self) -> RampView {
        RampView {
            step: self.step,
            steps: self.steps,
            weight: self.weight(),
            phase: self.phase,
            reason: self.reason.clone(),
        }
    }
}

/// Why the guard stops the ramp, if it does: enough requests in the window and too large a share failed.
pub(crate) fn trips(guard: &RampGuard, requests: u64, errors: u64) -> Option<String> {
    if requests == 0 || requests < guard.min_requests {
        return None;
    }
    let rate = errors as f64 / requests as f64;
    (rate > guard.error_rate).then(|| {
        format!(
            "error rate {:.0} % ({errors} of {requests} in {} ms) passed {:.0} %",
            rate * 100.0,
            guard.window_ms,
            guard.error_rate * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_climb_to_100_and_stop() {
        let mut ramp = Ramp::start(4);
        let mut weights = vec![ramp.weight()];
        for _ in 0..5 {
            ramp.advance();
            weights.push(ramp.weight());
        }
        assert_eq!(weights, vec![25, 50, 75, 100, 100, 100]);
        assert_eq!(ramp.phase, RampPhase::Done);
    }

    #[test]
    fn the_guard_trips_past_the_threshold_with_enough_requests() {
        let guard = RampGuard { error_rate: 0.2, window_ms: 1000, min_requests: 10, on_failure: OnFailure::Rollback };
        assert_eq!(trips(&guard, 5, 5), None, "too few requests to judge");
        assert_eq!(trips(&guard, 10, 2), None, "at the threshold is not past it");
        assert!(trips(&guard, 10, 3).unwrap().contains("30 %"));
        let mut ramp = Ramp::start(4);
        ramp.advance();
        ramp.fail(guard.on_failure, "bad".into());
        assert_eq!((ramp.weight(), ramp.phase), (0, RampPhase::RolledBack));
        ramp.advance();
        assert_eq!(ramp.weight(), 0, "a rolled back ramp no longer steps");
        let mut paused = Ramp::start(4);
        paused.fail(OnFailure::Pause, "bad".into());
        assert_eq!((paused.weight(), paused.phase), (25, RampPhase::Paused));
    }
}
