//! Checks of `[[expect]]`: known metrics, bounds that make sense.

use super::{Check, bad};
use crate::metrics::registry::{self, Entry};
use crate::scenario::echo::shown;
use crate::scenario::*;

impl Scenario {
    pub(super) fn check_expectations(&self) -> Check {
        for (i, x) in self.expectations.iter().enumerate() {
            let f = |name: &str| format!("expect[{i}].{name}");
            self.check_metric(&f("metric"), &x.metric)?;
            match (x.min, x.max) {
                (None, None) => return bad(f("min"), "give min, max or both"),
                (Some(lo), Some(hi)) if lo > hi => return bad(f("min"), "min is above max"),
                _ => {}
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// A metric key of an expectation: a registry metric, or a family member naming one of
    /// this scenario's real servers.
    pub(super) fn check_metric(&self, field: &str, key: &str) -> Check {
        match registry::lookup(key) {
            Some(Entry::Metric(_)) => Ok(()),
            Some(Entry::Member(family, link)) if family.part() == "link" => {
                if self.link(link).is_some() {
                    return Ok(());
                }
                let names: Vec<&str> = self.links.iter().map(|l| l.name.as_str()).collect();
                bad(
                    field,
                    format!(
                        "`{}`: no [[link]] `{}` ({} exists for each [[link]]: {})",
                        shown(key),
                        shown(link),
                        family.pattern(),
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                )
            }
            Some(Entry::Member(family, server)) => {
                if self.real_servers.iter().any(|r| r.name == server) {
                    return Ok(());
                }
                let names: Vec<&str> = self.real_servers.iter().map(|r| r.name.as_str()).collect();
                bad(
                    field,
                    format!(
                        "`{}`: no real server `{}` ({} exists for each of: {})",
                        shown(key),
                        shown(server),
                        family.pattern(),
                        names.join(", ")
                    ),
                )
            }
            None => bad(
                field,
                format!(
                    "unknown metric `{}`; the closest known is `{}` (all of them: `tapvs metrics`, \
                     or README.md, \"Metrics\")",
                    shown(key),
                    registry::closest(key)
                ),
            ),
        }
    }
}
