//! apimachinery's resource.Quantity, as the scheduler reads it: the parse (suffixes n u m k M G
//! T P E, Ki … Ei, exponents e/E), every value held exactly in units of 10^-9, sums kept exact,
//! and Value() / MilliValue() rounding up (away from zero) only at the end, as Quantity does.

/// A quantity in nano units (value × 10^9): exact for everything ParseQuantity keeps.
pub(crate) type Nano = i128;

const NANO: i128 = 1_000_000_000;
/// The cap ParseQuantity puts on binary-SI quantities: 2^63 - 1.
const MAX_ALLOWED: i128 = i64::MAX as i128 * NANO;

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

/// Quantity.Value(): the integer value, rounded up away from zero.
pub(crate) fn value(q: Nano) -> i64 {
    scaled(q, NANO)
}

/// Quantity.MilliValue(): thousandths, rounded up away from zero.
pub(crate) fn milli_value(q: Nano) -> i64 {
    scaled(q, 1_000_000)
}

fn scaled(q: Nano, unit: i128) -> i64 {
    let magnitude = (q.abs() + unit - 1) / unit;
    let v = if q < 0 { -magnitude } else { magnitude };
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// ParseQuantity: `[+-]digits[.digits][suffix]`.
pub(crate) fn parse(s: &str) -> Result<Nano, String> {
    let bad = |why: &str| Err(format!("quantity {s:?}: {why}"));
    if s.is_empty() {
        return bad("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    }
    let b = s.as_bytes();
    let mut pos = 0;
    let negative = match b[0] {
        b'-' => {
            pos = 1;
            true
        }
        b'+' => {
            pos = 1;
            false
        }
        _ => false,
    };
    let digits = |from: usize| from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let num_end = digits(pos);
    let num = &s[pos..num_end];
    let (denom, value_end) = if num_end < b.len() && b[num_end] == b'.' {
        let end = digits(num_end + 1);
        (&s[num_end + 1..end], end)
    } else {
        ("", num_end)
    };
    // The suffix: letters of "eEinumkKMGTP", then an optional sign and digits, then the end.
    let mut p = value_end;
    while p < b.len() && b"eEinumkKMGTP".contains(&b[p]) {
        p += 1;
    }
    if p < b.len() && (b[p] == b'-' || b[p] == b'+') {
        p += 1;
    }
    if digits(p) != b.len() {
        return bad("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    }
    let suffix = &s[value_end..];
    let (base, exponent): (u32, i64) = match suffix {
        "" => (10, 0),
        "n" => (10, -9),
        "u" => (10, -6),
        "m" => (10, -3),
        "k" => (10, 3),
        "M" => (10, 6),
        "G" => (10, 9),
        "T" => (10, 12),
        "P" => (10, 15),
        "E" => (10, 18),
        "Ki" => (2, 10),
        "Mi" => (2, 20),
        "Gi" => (2, 30),
        "Ti" => (2, 40),
        "Pi" => (2, 50),
        "Ei" => (2, 60),
        _ if suffix.len() > 1 && (suffix.starts_with('e') || suffix.starts_with('E')) => {
            match suffix[1..].parse::<i64>() {
                Ok(e) => (10, e),
                Err(_) => return bad("unable to parse quantity's suffix"),
            }
        }
        _ => return bad("unable to parse quantity's suffix"),
    };
    let too_large = || format!("quantity {s:?} is too large for kcore's scheduler");
    // The digits as one integer, and the power of ten that scales it to units.
    let all_digits = format!("{num}{denom}");
    let all_digits = all_digits.trim_start_matches('0');
    if all_digits.len() > 36 {
        return Err(too_large());
    }
    let mantissa: i128 = if all_digits.is_empty() {
        0
    } else {
        all_digits.parse().map_err(|_| too_large())?
    };
    let mut exp10 = -(denom.len() as i64);
    let mut magnitude = mantissa;
    if base == 2 {
        magnitude = magnitude.checked_mul(1i128 << exponent).ok_or_else(too_large)?;
    } else {
        exp10 += exponent;
    }
    // To nano units, rounding up (away from zero) what lies below 10^-9.
    let shift = exp10 + 9;
    let nano = if shift >= 0 {
        if magnitude == 0 {
            0
        } else {
            let f = u32::try_from(shift).ok().and_then(pow10).ok_or_else(too_large)?;
            magnitude.checked_mul(f).ok_or_else(too_large)?
        }
    } else {
        match u32::try_from(-shift).ok().and_then(pow10) {
            Some(f) => (magnitude + f - 1) / f,
            // Smaller than 10^-38: any non-zero amount rounds up to one nano unit.
            None => (magnitude != 0) as i128,
        }
    };
    let nano = if base == 2 { nano.min(MAX_ALLOWED) } else { nano };
    Ok(if negative { -nano } else { nano })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_apimachinery_does() {
        assert_eq!(parse("100m").unwrap(), 100_000_000);
        assert_eq!(parse("1Ki").unwrap(), 1024 * NANO);
        assert_eq!(parse("1.5Gi").unwrap(), 1_610_612_736 * NANO);
        assert_eq!(parse("1e3").unwrap(), 1000 * NANO);
        assert_eq!(parse("2E").unwrap(), 2_000_000_000_000_000_000 * NANO);
        assert_eq!(parse("0.1n").unwrap(), 1); // rounded up to the nano
        assert_eq!(parse(".5").unwrap(), NANO / 2);
        assert_eq!(parse("-1m").unwrap(), -1_000_000);
        assert!(parse("1K").is_err());
        assert!(parse("1e").is_err());
        assert!(parse("abc").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn value_and_milli_value_round_up_after_an_exact_sum() {
        let half_milli = parse("0.5m").unwrap();
        assert_eq!(milli_value(half_milli), 1);
        assert_eq!(milli_value(half_milli + half_milli), 1);
        assert_eq!(value(parse("1500m").unwrap()), 2);
    }
}
