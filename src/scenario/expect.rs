//! `[[expect]]`: bounds on a run's metrics.

use super::{Checker, Mode, over};
use serde::{Deserialize, Serialize};

/// A bound on one metric of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub metric: String,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Why the bound is what it is (printed when it fails).
    #[serde(default)]
    pub why: String,
    /// Applies only to runs in this mode (for scenarios that compare modes).
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Applies only to runs with this checker (for scenarios that compare checkers).
    #[serde(default)]
    pub checker: Option<Checker>,
    /// Checked once on this statistic of the metric over the seeds of the run (`tapvs run
    /// --seeds N`): `max`, `min`, `mean`, `p50`, `p90` or `p99`; none: on each run by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<over::Over>,
}

impl Expectation {
    /// The bound as text: `<= 0`, `>= 0.9`, `in [0.2, 0.4]`.
    pub fn bound_text(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("in [{lo}, {hi}]"),
            (Some(lo), None) => format!(">= {lo}"),
            (None, Some(hi)) => format!("<= {hi}"),
            (None, None) => "any".into(),
        }
    }

    pub fn holds(&self, value: f64) -> bool {
        value.is_finite()
            && self.min.is_none_or(|lo| value >= lo)
            && self.max.is_none_or(|hi| value <= hi)
    }
}
