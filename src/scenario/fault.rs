//! Which event of a scenario is its failover: the first fault (kill, freeze, stop, cut link)
//! of the director that starts as master, not a backup's restart before it.

use super::{Action, EventSpec, Scenario};

impl Action {
    /// Takes a director out of service (it may come back later).
    pub fn is_director_fault(self) -> bool {
        matches!(
            self,
            Action::KillDirector | Action::FreezeDirector | Action::StopDirector | Action::CutLink
        )
    }
}

impl Scenario {
    /// The director meant to start as master: the one with the higher priority, else d1.
    pub fn initial_master(&self) -> &'static str {
        match &self.failover {
            Some(f) if f.priorities[1] > f.priorities[0] => "d2",
            _ => "d1",
        }
    }

    /// The failover event: the first fault of the initial master, else the first director
    /// event of any kind.
    pub fn failover_event(&self) -> Option<&EventSpec> {
        let master = self.initial_master();
        (self.events.iter())
            .find(|e| e.action.is_director_fault() && e.director == master)
            .or_else(|| self.events.iter().find(|e| e.action.is_director_action()))
    }

    /// Index (0 for d1) of the director that takes over at the failover event.
    pub fn takeover_index(&self) -> usize {
        let hit = self.failover_event().map_or("d1", |e| e.director.as_str());
        usize::from(hit == "d1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(priorities: &str, events: &[(&str, &str, &str)]) -> Scenario {
        let mut text = format!(
            "[failover]\npriorities = {priorities}\n[service]\nscheduler = \"rr\"\n\
             [[real_server]]\nname = \"rs1\"\n[[load]]\nname = \"web\"\nmode = \"open\"\n\
             rate = 10\nconnection = \"new\"\nduration = \"10s\"\n"
        );
        for (at, action, director) in events {
            text += &format!(
                "[[event]]\nat = \"{at}\"\naction = \"{action}\"\ndirector = \"{director}\"\n"
            );
        }
        Scenario::parse(Path::new("fault.toml"), &text).unwrap()
    }

    #[test]
    fn a_backups_restart_before_the_masters_kill_is_not_the_failover() {
        let s = scenario(
            "[150, 100]",
            &[
                ("1s", "kill_director", "d2"),
                ("2s", "restart_director", "d2"),
                ("5s", "kill_director", "d1"),
            ],
        );
        assert_eq!(s.failover_event().unwrap().director, "d1");
        assert_eq!(s.takeover_index(), 1, "d2 takes over");
    }

    #[test]
    fn the_initial_master_follows_the_priorities() {
        let s = scenario(
            "[100, 150]",
            &[("1s", "kill_director", "d1"), ("5s", "kill_director", "d2")],
        );
        assert_eq!(s.initial_master(), "d2");
        assert_eq!(s.takeover_index(), 0, "d1 takes over from d2");
        let none = scenario("[150, 100]", &[]);
        assert!(none.failover_event().is_none());
    }
}
