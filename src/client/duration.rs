//! Durations on the command line: a number with a `ms`, `s` or `m` suffix (`250ms`, `10s`, `1.5m`).

use std::time::Duration;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duration {0:?}: expected a number with a unit: ms, s or m (e.g. 250ms, 10s, 2m)")]
pub struct DurationError(String);

/// Parses `250ms`, `10s`, `1.5m` (and `0`). Negative, missing unit or absurd values are errors.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(text.to_owned());
    let t = text.trim();
    let (number, unit_secs) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if t == "0" {
        ("0", 1.0)
    } else {
        return Err(err());
    };
    let number = number.trim_end();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(err());
    }
    let value: f64 = number.parse().map_err(|_| err())?;
    Duration::try_from_secs_f64(value * unit_secs).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 3 s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_inputs_are_errors() {
        for bad in [
            "", "10", "s", "ms", "-1s", "1h", "1e3s", "1.2.3s", "nans", "inf s", "1 000s", "9e99m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("99999999999999999999999m").is_err());
    }
}
