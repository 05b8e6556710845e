//! Epoch seconds shown as RFC 3339 UTC, and ages in words.

/// Seconds since the Unix epoch (UTC) as RFC 3339 with microseconds: `2026-12-06T22:04:03.000000Z`.
pub fn rfc3339(epoch: f64) -> String {
    let micros_total = (epoch * 1e6).round() as i64;
    let secs = micros_total.div_euclid(1_000_000);
    let micros = micros_total.rem_euclid(1_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
    )
}

/// Now, as [`rfc3339`] shows it.
pub fn now_rfc3339() -> String {
    rfc3339(super::metrics::unix_now())
}

/// An age in words, to the second below an hour: `45s`, `12m 5s`, `2h 3m`, `3d 4h`.
pub fn age(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m {}s", s / 60, s % 60),
        3_600..86_400 => format!("{}h {}m", s / 3_600, (s % 3_600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3_600),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn epochs_are_shown_in_utc() {
        assert_eq!(super::rfc3339(0.0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            super::rfc3339(1_719_791_100.5),
            "2024-06-30T23:45:00.500000Z"
        );
    }

    #[test]
    fn ages_read_as_words() {
        assert_eq!(super::age(42.4), "42s");
        assert_eq!(super::age(725.0), "12m 5s");
        assert_eq!(super::age(7_380.0), "2h 3m");
        assert_eq!(super::age(273_600.0), "3d 4h");
    }
}
