//! The daemon's cache prediction (berth-shared `BuildPrediction`) as marks for the build panel: one per step, by
//! Dockerfile line, and a one-line summary.

use berth_shared::api::build_jobs::{BuildPrediction, StepPrediction};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Cached,
    WillRun,
    /// FROM and global ARG: nothing to run or cache.
    NoOp,
}

impl Mark {
    pub fn of(prediction: &StepPrediction) -> Mark {
        match prediction {
            StepPrediction::Cached { .. } => Mark::Cached,
            StepPrediction::WillRun => Mark::WillRun,
            StepPrediction::NoOp => Mark::NoOp,
        }
    }

    /// The `data-prediction` value and CSS class.
    pub fn name(self) -> &'static str {
        match self {
            Mark::Cached => "cached",
            Mark::WillRun => "will-run",
            Mark::NoOp => "no-op",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Mark::Cached => "from cache",
            Mark::WillRun => "will run",
            Mark::NoOp => "",
        }
    }
}

/// "3 of 5 steps from the cache, 2 will run", or "Every step will come from the cache (5)" (FROM and global ARGs not counted).
pub fn summary(prediction: &BuildPrediction) -> String {
    let marks: Vec<Mark> = prediction.steps.iter().map(|step| Mark::of(&step.prediction)).collect();
    let cached = marks.iter().filter(|mark| **mark == Mark::Cached).count();
    let will_run = marks.iter().filter(|mark| **mark == Mark::WillRun).count();
    match (cached, will_run) {
        (0, 0) => "Nothing to build".to_string(),
        (_, 0) => format!("Every step will come from the cache ({cached})"),
        (0, _) => format!("No step is in the cache: {will_run} will run"),
        _ => format!("{cached} of {} steps from the cache, {will_run} will run", cached + will_run),
    }
}

#[cfg(test)]
mod tests {
    use berth_shared::api::build_jobs::PredictedStep;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn step(line: usize, prediction: StepPrediction) -> PredictedStep {
        PredictedStep { number: line, instruction: format!("step {line}"), line: Some(line), prediction }
    }

    #[wasm_bindgen_test]
    fn marks_and_summary() {
        let cached = StepPrediction::Cached { image_id: "sha256:ab".into() };
        let prediction = BuildPrediction {
            steps: vec![step(1, StepPrediction::NoOp), step(2, cached.clone()), step(3, StepPrediction::WillRun)],
            error: None,
        };
        assert_eq!(prediction.for_line(3).map(Mark::of), Some(Mark::WillRun));
        assert_eq!(prediction.for_line(2).map(|p| Mark::of(p).name()), Some("cached"));
        assert_eq!(summary(&prediction), "1 of 2 steps from the cache, 1 will run");
        let all = BuildPrediction { steps: vec![step(1, StepPrediction::NoOp), step(2, cached)], error: None };
        assert_eq!(summary(&all), "Every step will come from the cache (1)");
    }
}
