//! Unix seconds ⇄ the IMF-fixdate of the `Date` header, and the age checks both
//! signature schemes share.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

pub(crate) fn imf_fixdate(unix: i64) -> Result<String, Error> {
    let seconds = u64::try_from(unix).map_err(|_| Error::malformed("time: before 1970"))?;
    Ok(httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(seconds)))
}

pub(crate) fn parse_imf_fixdate(text: &str) -> Result<i64, Error> {
    let time = httpdate::parse_http_date(text.trim()).map_err(|_| Error::malformed("date: not an HTTP date"))?;
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| Error::malformed("date: before 1970"))?;
    i64::try_from(since.as_secs()).map_err(|_| Error::malformed("date: out of range"))
}

/// Refuses a `sent` time older than `max_age` or further than `future_skew` ahead of `now`.
pub(crate) fn check_age(sent: i64, now: i64, max_age: i64, future_skew: i64) -> Result<(), Error> {
    let age = now.saturating_sub(sent);
    if age > max_age {
        return Err(Error::StaleDate { age_seconds: age });
    }
    let ahead = age.saturating_neg();
    if ahead > future_skew {
        return Err(Error::FutureDate { ahead_seconds: ahead });
    }
    Ok(())
}

/// `(year, month)` of a Unix time, in UTC (Howard Hinnant's `civil_from_days`), for key
/// selectors; std has no calendar and this is all we need of one.
pub(crate) fn year_month(unix: i64) -> (i64, u32) {
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // month is in 1..=12 by construction
    (year, month as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_the_imf_fixdate_of_the_spec() {
        assert_eq!(imf_fixdate(1_388_957_500).unwrap(), "Sun, 05 Jan 2014 21:31:40 GMT");
        assert_eq!(
            parse_imf_fixdate("Sun, 05 Jan 2014 21:31:40 GMT").unwrap(),
            1_388_957_500
        );
        assert!(parse_imf_fixdate("yesterday").is_err());
    }

    #[test]
    fn year_month_matches_known_dates() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(1_388_957_500), (2014, 1));
        assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
        assert_eq!(year_month(1_780_271_999), (2026, 5)); // 2026-05-31 23:59:59
        assert_eq!(year_month(1_780_272_000), (2026, 6));
    }
}
