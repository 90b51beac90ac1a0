//! Expectations over seeds (`[[expect]] over = "p99"`): checked once, on a statistic of the
//! metric's values over the seeds of a `tapvs run --seeds N`, instead of on each run.

use super::Expectation;
use crate::results::{ExpectationOutcome, RunRecord, Stats};
use serde::{Deserialize, Serialize};

/// The statistic of the seeds' values an expectation bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Over {
    Max,
    Min,
    Mean,
    P50,
    P90,
    P99,
}

impl Over {
    pub fn name(self) -> &'static str {
        match self {
            Over::Max => "max",
            Over::Min => "min",
            Over::Mean => "mean",
            Over::P50 => "p50",
            Over::P90 => "p90",
            Over::P99 => "p99",
        }
    }

    /// The statistic of `values`; NaN when there are none or any is not finite (a seed that
    /// did not measure the metric cannot be vouched for).
    pub fn of(self, values: &[f64]) -> f64 {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return f64::NAN;
        }
        let s = Stats::of(values);
        match self {
            Over::Max => s.max,
            Over::Min => s.min,
            Over::Mean => s.mean,
            Over::P50 => s.p50,
            Over::P90 => s.p90,
            Over::P99 => s.p99,
        }
    }
}

/// Checks every expectation with `over` on `runs` (the seeds of one scenario variant); the
/// others are each run's own and are skipped here.
pub fn check_over(expectations: &[Expectation], runs: &[RunRecord]) -> Vec<ExpectationOutcome> {
    expectations
        .iter()
        .filter_map(|x| {
            let over = x.over?;
            let values: Vec<f64> = runs
                .iter()
                .map(|r| r.metrics.get(&x.metric).copied().unwrap_or(f64::NAN))
                .collect();
            let value = over.of(&values);
            Some(ExpectationOutcome {
                metric: x.metric.clone(),
                bound: format!("{} {}", over.name(), x.bound_text()),
                value,
                pass: x.holds(value),
            })
        })
        .collect()
}

impl super::Scenario {
    /// A copy keeping only the expectations each run checks by itself (not those `over` seeds).
    pub fn per_run(&self) -> super::Scenario {
        let mut s = self.clone();
        s.expectations.retain(|x| x.over.is_none());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(expect: &str) -> Result<super::super::Scenario, crate::file_error::FileError> {
        let text = format!(
            "[service]\nscheduler = \"rr\"\n[[real_server]]\nname = \"rs1\"\n[[load]]\n\
             name = \"web\"\nmode = \"open\"\nrate = 10\nconnection = \"new\"\n\
             duration = \"10s\"\n[[expect]]\nmetric = \"failed_requests\"\n{expect}"
        );
        super::super::Scenario::parse(Path::new("over.toml"), &text)
    }

    fn runs(values: &[f64]) -> Vec<RunRecord> {
        values
            .iter()
            .map(|&v| {
                let mut r = RunRecord::default();
                if !v.is_nan() {
                    r.metrics.insert("failed_requests".into(), v);
                }
                r
            })
            .collect()
    }

    #[test]
    fn each_statistic_is_taken_over_the_seeds() {
        let v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let got: Vec<f64> = [
            Over::Max,
            Over::Min,
            Over::Mean,
            Over::P50,
            Over::P90,
            Over::P99,
        ]
        .map(|o| o.of(&v))
        .to_vec();
        assert_eq!(got, [100.0, 1.0, 50.5, 50.0, 90.0, 99.0]);
        assert!(Over::Max.of(&[1.0, f64::NAN]).is_nan());
        assert!(Over::Min.of(&[]).is_nan());
    }

    #[test]
    fn over_expectations_pass_or_fail_on_the_distribution_only() {
        let s = scenario("max = 5\nover = \"p90\"").unwrap();
        assert_eq!(s.expectations[0].over, Some(Over::P90));
        assert!(s.per_run().expectations.is_empty());
        // Nine seeds at 0 and one at 50: the p90 is 0, the max 50.
        let mut v = vec![0.0; 9];
        v.push(50.0);
        let out = check_over(&s.expectations, &runs(&v));
        assert_eq!(out.len(), 1);
        assert!(out[0].pass, "{out:?}");
        assert_eq!(out[0].bound, "p90 <= 5");
        v.push(50.0);
        assert!(
            !check_over(&s.expectations, &runs(&v))[0].pass,
            "p90 of 11 is 50"
        );
        // A seed that measured nothing fails it.
        assert!(!check_over(&s.expectations, &runs(&[0.0, f64::NAN]))[0].pass);
        // An expectation without `over` is each run's, not checked here.
        let plain = scenario("max = 5").unwrap();
        assert!(check_over(&plain.expectations, &runs(&[9.0])).is_empty());
        assert_eq!(plain.per_run().expectations.len(), 1);
    }

    #[test]
    fn an_unknown_statistic_is_refused_with_the_field() {
        let err = scenario("max = 5\nover = \"p95\"").unwrap_err().to_string();
        assert!(err.contains("over.toml") && err.contains("p95"), "{err}");
    }
}
