//! Timestamps as stored in the database: RFC 3339, UTC, millisecond precision, so the
//! text sorts in time order.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

const RFC3339_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The current time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn now_rfc3339() -> String {
    format_rfc3339(OffsetDateTime::now_utc())
}

/// `at` as stored: `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn format_rfc3339(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    // Formatting a UTC date-time with numeric components only fails for years outside
    // 0..=9999, which `now_utc` cannot produce; fall back to the full RFC 3339 form.
    utc.format(RFC3339_MILLIS).unwrap_or_else(|_| {
        utc.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn millisecond_utc_rfc3339() {
        let at = time::macros::datetime!(2024-03-05 07:08:09.123456 +02:00);
        assert_eq!(format_rfc3339(at), "2024-03-05T05:08:09.123Z");
    }

    #[test]
    fn now_parses_back() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 24, "{now}");
        assert!(OffsetDateTime::parse(&now, &Rfc3339).is_ok(), "{now}");
    }
}
