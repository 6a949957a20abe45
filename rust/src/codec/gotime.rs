//! Go's text forms of times and durations, as the API server's JSON writes them.

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

/// Seconds of Go's zero time (January 1, year 1, UTC) since the Unix epoch.
pub const ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// `t.UTC().Format(layout)` for RFC3339 ("…05Z") and, with `micros`, RFC3339Micro ("…05.000000Z"),
/// into `out` (a stack buffer: every object has timestamps, so this is hot).
pub fn format(secs: i64, nanos: i64, micros: bool, out: &mut [u8; 40]) -> &str {
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let mut n = 0;
    if y < 0 {
        out[0] = b'-';
        n = 1;
    }
    let fields: [(u64, usize, u8); 6] = [
        (y.unsigned_abs(), 4, b'-'),
        (mo as u64, 2, b'-'),
        (d as u64, 2, b'T'),
        ((s / 3600) as u64, 2, b':'),
        ((s / 60 % 60) as u64, 2, b':'),
        ((s % 60) as u64, 2, b'.'),
    ];
    for (k, (v, width, after)) in fields.into_iter().enumerate() {
        n = digits(out, n, v, width);
        if k < 5 || micros {
            out[n] = after;
            n += 1;
        }
    }
    if micros {
        n = digits(out, n, (nanos / 1000) as u64, 6);
    }
    out[n] = b'Z';
    std::str::from_utf8(&out[..n + 1]).expect("ASCII digits")
}

/// Writes `v` zero-padded to `width` digits at `out[n..]`; returns the new end.
fn digits(out: &mut [u8; 40], n: usize, v: u64, width: usize) -> usize {
    let width = width.max(if v == 0 { 1 } else { v.ilog10() as usize + 1 });
    let mut v = v;
    for k in (n..n + width).rev() {
        out[k] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    n + width
}

/// Go's `time.Duration.String()`: "1h0m0s", "1.5s", "300ms", "0s".
pub fn duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            u if u < 1_000 => (0, "ns"),
            u if u < 1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (frac, whole) = fraction(u, prec);
        out = format!("{whole}{frac}{unit}");
    } else {
        let (frac, secs) = fraction(u, 9);
        u = secs;
        let mut s = format!("{}{frac}s", u % 60);
        u /= 60;
        if u > 0 {
            s = format!("{}m{s}", u % 60);
            u /= 60;
            if u > 0 {
                s = format!("{u}h{s}");
            }
        }
        out.push_str(&s);
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// The fraction of `v / 10^prec` as ".123" without trailing zeros ("" when zero), and the whole part.
fn fraction(v: u64, prec: u32) -> (String, u64) {
    let p = 10u64.pow(prec);
    let f = v % p;
    if f == 0 {
        return (String::new(), v / p);
    }
    let digits = format!("{f:0width$}", width = prec as usize);
    (format!(".{}", digits.trim_end_matches('0')), v / p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(duration(1_500_000_000), "1.5s");
        assert_eq!(duration(300_000_000), "300ms");
        assert_eq!(duration(1_500), "1.5µs");
        assert_eq!(duration(-90_000_000_000), "-1m30s");
        assert_eq!(duration(i64::MIN), "-2562047h47m16.854775808s");
    }

    #[test]
    fn times_read_like_go() {
        let b = &mut [0u8; 40];
        assert_eq!(format(0, 0, false, b), "1970-01-01T00:00:00Z");
        assert_eq!(format(1_777_636_800, 0, false, b), "2026-05-01T12:00:00Z");
        assert_eq!(format(ZERO_TIME_UNIX, 0, false, b), "0001-01-01T00:00:00Z");
        assert_eq!(
            format(1_777_636_800, 123_456_789, true, b),
            "2026-05-01T12:00:00.123456Z"
        );
        assert_eq!(format(-62_198_755_200, 0, false, b), "-0001-01-01T00:00:00Z");
        assert_eq!(format(253_402_300_800, 0, false, b), "10000-01-01T00:00:00Z");
    }
}
