//! Value parsers for flags: human durations and speed factors.

use std::time::Duration;

/// Parses a human duration such as `90s`, `5m`, `1h 30m` or `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (examples: 90s, 5m, 1h30m, 250ms)"))
}

/// Parses a positive, finite speed factor.
pub fn parse_speed(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

/// Parses the sandbox's speed factor: positive and finite, or 0 (a paused market).
pub fn parse_sandbox_speed(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v.abs()),
        _ => Err(format!(
            "{s:?} is not a positive number or 0 (0 pauses the market: quotes move only through the admin API)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_speeds() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_speed("0").is_err());
        assert_eq!(parse_sandbox_speed("0"), Ok(0.0));
        assert!(parse_sandbox_speed("-1").is_err());
        assert!(parse_sandbox_speed("inf").is_err());
        assert!((parse_sandbox_speed("30").unwrap() - 30.0).abs() < f64::EPSILON);
        assert!(parse_speed("NaN").is_err());
        assert!((parse_speed("2.5").unwrap() - 2.5).abs() < f64::EPSILON);
    }
}
