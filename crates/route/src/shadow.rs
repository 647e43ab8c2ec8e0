//! Shadow mode's comparison: each request's two answers (status, SHA-256 of the body, latency), the differences
//! counted and the newest mismatches kept, a bounded number, for a person to look at.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use berth_shared::api::routes::{ShadowSample, ShadowView};

/// Mismatching requests kept.
pub(crate) const SAMPLES: usize = 32;

/// One backend's answer to a shadowed request. `status` 0: none came (refused, broke off, too slow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub body_sha256: String,
    pub ms: u64,
}

impl Answer {
    pub fn none(ms: u64) -> Self {
        Answer { status: 0, body_sha256: String::new(), ms }
    }
}

#[derive(Default)]
pub(crate) struct Shadow {
    view: Mutex<ShadowView>,
}

impl Shadow {
    pub fn compare(&self, method: &str, path: &str, primary: &Answer, shadow: &Answer) {
        let mut view = self.view.lock().unwrap_or_else(|p| p.into_inner());
        view.compared += 1;
        view.primary_latency_sum_ms += primary.ms as f64;
        view.shadow_latency_sum_ms += shadow.ms as f64;
        let status_differs = primary.status != shadow.status;
        let body_differs = primary.body_sha256 != shadow.body_sha256;
        if !status_differs && !body_differs {
            return;
        }
        view.differences += 1;
        view.status_differences += u64::from(status_differs);
        view.body_differences += u64::from(body_differs);
        if view.samples.len() == SAMPLES {
            view.samples.remove(0);
        }
        let at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        view.samples.push(ShadowSample {
            method: method.to_string(),
            path: path.to_string(),
            primary_status: primary.status,
            shadow_status: shadow.status,
            primary_body_sha256: primary.body_sha256.clone(),
            shadow_body_sha256: shadow.body_sha256.clone(),
            primary_ms: primary.ms,
            shadow_ms: shadow.ms,
            at_ms,
        });
    }

    pub fn skipped(&self) {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).skipped += 1;
    }

    pub fn view(&self) -> ShadowView {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, body_sha256: body.into(), ms: 1 }
    }

    #[test]
    fn only_differences_are_sampled_and_the_samples_are_bounded() {
        let shadow = Shadow::default();
        shadow.compare("GET", "/", &answer(200, "a"), &answer(200, "a"));
        shadow.compare("GET", "/x", &answer(200, "a"), &answer(404, "b"));
        for i in 0..SAMPLES + 5 {
            shadow.compare("GET", &format!("/{i}"), &answer(200, "a"), &answer(200, "c"));
        }
        let view = shadow.view();
        assert_eq!(view.compared, 2 + SAMPLES as u64 + 5);
        assert_eq!(
            (view.differences, view.status_differences, view.body_differences),
            (SAMPLES as u64 + 6, 1, SAMPLES as u64 + 6)
        );
        assert_eq!(view.samples.len(), SAMPLES);
        assert_eq!(view.samples.last().unwrap().path, format!("/{}", SAMPLES + 4));
    }
}
