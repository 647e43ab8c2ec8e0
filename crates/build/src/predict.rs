//! Which steps of a build would come from the cache: the executor walks the Dockerfile in prediction mode, which
//! computes every step's cache key with the very code a build uses (parent image, evaluated instruction, COPY/ADD
//! source checksums) and looks it up, moving on along cached images; the first miss stops the walk, because the
//! step would make a new image and every later key depends on it.

use std::sync::Arc;

use berth_shared::api::build::BuildEvent;
use berth_shared::api::build_jobs::{BuildPrediction, PredictedStep, StepPrediction};

use super::executor::{plan, Executor};
use super::{BuildContext, BuildError, BuildOptions, Progress};
use berth_engine::Engine;

/// Predicts a build of `context` with `options`. A Dockerfile that does not parse (or a missing one) is an error;
/// a step that would fail is reported in [`BuildPrediction::error`].
pub async fn predict(
    engine: &Arc<Engine>,
    context: &BuildContext,
    options: &BuildOptions,
) -> Result<BuildPrediction, BuildError> {
    let text = context.prepare(&options.dockerfile)?;
    let dockerfile = berth_shared::dockerfile::parse(&text)?;
    let planned = plan(&dockerfile, options)?;
    let (progress, mut events) = Progress::new();
    let outcome = {
        let mut executor = Executor::predicting(engine, context.root(), options, &progress);
        executor.execute(&dockerfile).await.map(|_| ())
    };
    drop(progress);
    let mut recorded = Vec::new();
    while let Some(event) = events.recv().await {
        recorded.push(event);
    }
    let error = match outcome {
        Ok(()) | Err(BuildError::WouldRun) => None,
        Err(error) => Some(error.to_string()),
    };
    Ok(BuildPrediction { steps: steps(&planned, &recorded), error })
}

/// Folds the walk's events into one prediction per planned step: a step that finished from the cache is cached,
/// one that finished without an image of its own (FROM, a global ARG) is a no-op, and the step the walk stopped in
/// and all after it will run.
fn steps(planned: &[(String, Option<usize>)], events: &[BuildEvent]) -> Vec<PredictedStep> {
    let mut finished: Vec<Option<StepPrediction>> = vec![None; planned.len()];
    for event in events {
        if let BuildEvent::StepDone { number, image_id, cached, .. } = event {
            let prediction =
                if *cached { StepPrediction::Cached { image_id: image_id.clone() } } else { StepPrediction::NoOp };
            if let Some(slot) = number.checked_sub(1).and_then(|index| finished.get_mut(index)) {
                *slot = Some(prediction);
            }
        }
    }
    planned
        .iter()
        .zip(finished)
        .enumerate()
        .map(|(index, ((instruction, line), prediction))| PredictedStep {
            number: index + 1,
            instruction: instruction.clone(),
            line: *line,
            prediction: prediction.unwrap_or(StepPrediction::WillRun),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_after_the_walk_stopped_will_run() {
        let planned = vec![
            ("FROM busybox".to_string(), Some(1)),
            ("RUN a".to_string(), Some(2)),
            ("RUN b".to_string(), Some(3)),
            ("CMD x".to_string(), Some(4)),
        ];
        let done = |number, cached| BuildEvent::StepDone {
            number,
            image_id: format!("sha256:{number}"),
            cached,
            duration_ms: 0,
            layer_size: None,
        };
        let predicted = steps(&planned, &[done(1, false), done(2, true)]);
        let outcomes: Vec<_> = predicted.iter().map(|step| step.prediction.clone()).collect();
        assert_eq!(
            outcomes,
            vec![
                StepPrediction::NoOp,
                StepPrediction::Cached { image_id: "sha256:2".into() },
                StepPrediction::WillRun,
                StepPrediction::WillRun,
            ]
        );
        assert_eq!(predicted[3].line, Some(4));
    }
}
