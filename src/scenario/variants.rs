//! The runs a scenario stands for: one per swept advert interval or deadtime, per compared
//! mode, per compared checker.

use super::{Scenario, duration};

impl Scenario {
    /// The runs this scenario stands for: itself, or one per mode of `lab.compare_modes`
    /// (named `<name>-<mode>`, keeping only the expectations for that mode).
    pub fn variants(&self) -> Vec<Scenario> {
        if let Some(f) = self
            .failover
            .as_ref()
            .filter(|f| !f.sweep_deadtimes.is_empty())
        {
            return f
                .sweep_deadtimes
                .iter()
                .map(|&deadtime| {
                    let mut s = self.clone();
                    let f = s.failover.as_mut().expect("checked above");
                    f.sweep_deadtimes.clear();
                    if let Some(hb) = &mut f.heartbeat {
                        hb.deadtime = deadtime;
                    }
                    s.name = format!("{}-deadtime-{}", self.name, duration::format(deadtime));
                    s
                })
                .collect();
        }
        if let Some(sweep) = self
            .failover
            .as_ref()
            .filter(|f| !f.sweep_advert_intervals.is_empty())
        {
            return sweep
                .sweep_advert_intervals
                .iter()
                .map(|&interval| {
                    let mut s = self.clone();
                    let f = s.failover.as_mut().expect("checked above");
                    f.advert_interval = interval;
                    f.sweep_advert_intervals.clear();
                    s.name = format!("{}-{}", self.name, duration::format(interval));
                    s
                })
                .collect();
        }
        let by_mode = if self.lab.compare_modes.is_empty() {
            vec![self.clone()]
        } else {
            self.lab
                .compare_modes
                .iter()
                .map(|&mode| {
                    let mut s = self.clone();
                    s.lab.mode = mode;
                    s.lab.compare_modes.clear();
                    s.name = format!("{}-{}", self.name, mode.name());
                    s.expectations.retain(|x| x.mode.is_none_or(|m| m == mode));
                    s
                })
                .collect()
        };
        by_mode.iter().flat_map(Scenario::by_checker).collect()
    }

    /// One run per checker of `[health] compare_checkers` (named `<name>-<checker>`, keeping
    /// only the expectations for that checker), or the scenario itself.
    fn by_checker(&self) -> Vec<Scenario> {
        let checkers = self
            .health
            .as_ref()
            .map(|h| h.compare_checkers.clone())
            .unwrap_or_default();
        if checkers.is_empty() {
            return vec![self.clone()];
        }
        checkers
            .into_iter()
            .map(|checker| {
                let mut s = self.clone();
                let h = s.health.as_mut().expect("checkers come from [health]");
                h.checker = checker;
                h.compare_checkers.clear();
                s.name = format!("{}-{}", self.name, checker.name());
                s.expectations
                    .retain(|x| x.checker.is_none_or(|c| c == checker));
                s
            })
            .collect()
    }
}
