use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds so that every store (PostgreSQL keeps
/// microseconds) gives back exactly what was written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Parses the original's timestamps: RFC 3339 with an offset, or naive ISO-8601
/// (`2025-09-13T14:29:07.098618`), which is taken as UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc).trunc_subsecs(6));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| naive.and_utc().trunc_subsecs(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_original_forms() {
        let naive = parse_timestamp("2025-09-13T14:29:07.098618").unwrap();
        assert_eq!(naive.to_rfc3339(), "2025-09-13T14:29:07.098618+00:00");
        let offset = parse_timestamp("2025-10-05T16:29:55.066197+02:00").unwrap();
        assert_eq!(offset.to_rfc3339(), "2025-10-05T14:29:55.066197+00:00");
        assert!(parse_timestamp("yesterday").is_none());
    }
}
