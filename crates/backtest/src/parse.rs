//! Fast, allocation-free field parsers: decimal text to fixed-point integers (9 decimal
//! places, see [`PRICE_SCALE`]) and timestamps (epoch s/ms/µs/ns or ISO-8601) to epoch ms.

use rust_decimal::Decimal;

/// Decimal places of the fixed-point prices used by loaders and the cache. Inputs with more
/// decimals (e.g. pandas float noise such as `1.0812300000000001`) are rounded half-even.
pub const PRICE_SCALE: u32 = 9;
const TEN_POW: [i64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Parses `-12.345`, `1e-3`-free decimal text into an integer scaled by 10^9.
/// Returns `None` for anything else (empty, exponent, letters, overflow).
pub fn parse_fixed(s: &[u8]) -> Option<i64> {
    parse_plain_fixed(s).or_else(|| parse_fixed_general(s))
}

fn parse_fixed_general(s: &[u8]) -> Option<i64> {
    let s = trim(s);
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut int: i64 = 0;
    let mut frac: i64 = 0;
    let mut frac_digits = 0u32;
    let mut seen_dot = false;
    let mut any = false;
    // First digit dropped beyond the scale, and whether anything non-zero follows it.
    let mut round_digit: Option<u8> = None;
    let mut sticky = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                any = true;
                let d = i64::from(c - b'0');
                if !seen_dot {
                    int = int.checked_mul(10)?.checked_add(d)?;
                } else if frac_digits < PRICE_SCALE {
                    frac = frac * 10 + d;
                    frac_digits += 1;
                } else if round_digit.is_none() {
                    round_digit = Some(c - b'0');
                } else if c != b'0' {
                    sticky = true;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if !any {
        return None;
    }
    let mut v = int
        .checked_mul(TEN_POW[PRICE_SCALE as usize])?
        .checked_add(frac * TEN_POW[(PRICE_SCALE - frac_digits) as usize])?;
    if let Some(r) = round_digit {
        if r > 5 || (r == 5 && (sticky || v % 2 == 1)) {
            v = v.checked_add(1)?;
        }
    }
    Some(if neg { -v } else { v })
}

/// The common shape `123.456` (1-9 integer digits, optionally a dot and 1-9 decimals, no
/// sign, no padding): the same value as the general parser, with fewer branches per byte.
#[inline]
fn parse_plain_fixed(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    let mut dot = usize::MAX;
    for (i, &c) in s.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d <= 9 {
            // Too many digits wrap here and are refused below.
            v = v.wrapping_mul(10).wrapping_add(i64::from(d));
        } else if c == b'.' && dot == usize::MAX {
            dot = i;
        } else {
            return None;
        }
    }
    let frac = if dot == usize::MAX {
        0
    } else {
        s.len() - dot - 1
    };
    let int = s.len() - frac - usize::from(dot != usize::MAX);
    // 1-9 integer digits ("12." and ".5" keep the general path), at most 9 decimals.
    if int == 0 || int > 9 || frac > PRICE_SCALE as usize || (dot != usize::MAX && frac == 0) {
        return None;
    }
    Some(v * TEN_POW[PRICE_SCALE as usize - frac])
}

/// A fixed-point value as a decimal (exact).
#[inline]
pub fn to_decimal(v: i64) -> Decimal {
    // The same value as `Decimal::new(v, PRICE_SCALE)`, without its checks (per quote).
    let a = v.unsigned_abs();
    Decimal::from_parts(a as u32, (a >> 32) as u32, 0, v < 0, PRICE_SCALE)
}

/// A decimal as a fixed-point value (rounded half-even beyond 9 places); `None` on overflow.
pub fn from_decimal(d: Decimal) -> Option<i64> {
    let r = d.round_dp(PRICE_SCALE);
    let m = r.mantissa();
    let scaled = m.checked_mul(i128::from(TEN_POW[(PRICE_SCALE - r.scale()) as usize]))?;
    i64::try_from(scaled).ok()
}

fn trim(s: &[u8]) -> &[u8] {
    let mut a = 0;
    let mut b = s.len();
    while a < b && (s[a].is_ascii_whitespace() || s[a] == b'"') {
        a += 1;
    }
    while b > a && (s[b - 1].is_ascii_whitespace() || s[b - 1] == b'"') {
        b -= 1;
    }
    &s[a..b]
}

/// True when the field is empty or a usual "missing" marker (`NaN`, `null`, `NA`).
pub fn is_missing(s: &[u8]) -> bool {
    // Numbers (the common case) start with a digit: none of the markers does.
    if s.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let t = trim(s);
    t.is_empty()
        || t.eq_ignore_ascii_case(b"nan")
        || t.eq_ignore_ascii_case(b"null")
        || t.eq_ignore_ascii_case(b"na")
        || t.eq_ignore_ascii_case(b"none")
}

/// Parses a timestamp into epoch milliseconds: an integer (seconds below 10^11, ms below
/// 10^14, µs below 10^17, else ns), a decimal number of seconds, or ISO-8601 text
/// (`2024-01-02T08:00:00.123Z`, `2024-01-02 08:00:00`, `2024/01/02 08:00:00+01:00`,
/// IG v1's `2020:09:01-05:00:00`, or a bare date). Text without an offset is UTC.
pub fn parse_ts(s: &[u8]) -> Option<i64> {
    // Epoch milliseconds, the common case: 13 digits.
    if let (Some(head), Some(tail)) = (s.get(..8), s.get(8..)) {
        if tail.len() == 5 {
            let mut w = [0u8; 8];
            w.copy_from_slice(head);
            if let Some(h) = eight_digits(u64::from_le_bytes(w)) {
                let mut v = i64::from(h);
                let mut ok = true;
                for &c in tail {
                    let d = c.wrapping_sub(b'0');
                    ok &= d <= 9;
                    v = v * 10 + i64::from(d);
                }
                // 10^11 <= v < 10^14 unless it starts with 0: milliseconds as they are.
                if ok && v >= 100_000_000_000 {
                    return Some(v);
                }
            }
        }
    }
    let s = trim(s);
    if s.is_empty() {
        return None;
    }
    if s.iter().all(u8::is_ascii_digit) && s.len() <= 19 {
        let mut v: i64 = 0;
        for &c in s {
            v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
        }
        return Some(match v {
            v if v < 100_000_000_000 => v * 1000,
            v if v < 100_000_000_000_000 => v,
            v if v < 100_000_000_000_000_000 => v / 1000,
            v => v / 1_000_000,
        });
    }
    if s.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        // Seconds with a fraction, e.g. 1700000000.123
        let v = parse_fixed(s)?;
        return Some(v / 1_000_000);
    }
    parse_iso(s)
}

/// The value of eight ASCII digits (little-endian bytes of `w`), `None` if any is not one.
#[inline]
fn eight_digits(w: u64) -> Option<u32> {
    const NIBBLE: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    if w & NIBBLE != ZEROS || (w.wrapping_add(0x0606_0606_0606_0606) & NIBBLE) != ZEROS {
        return None;
    }
    let x = w - ZEROS;
    let x = (x.wrapping_mul(10) + (x >> 8)) & 0x00FF_00FF_00FF_00FF;
    let x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some(((x.wrapping_mul(10_000) + (x >> 32)) & 0xFFFF_FFFF) as u32)
}

fn num(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |a, &c| a * 10 + i64::from(c - b'0')))
}

fn parse_iso(s: &[u8]) -> Option<i64> {
    // Date: YYYY?MM?DD with ? in - / :
    if s.len() < 10 {
        return None;
    }
    let sep = s[4];
    if !matches!(sep, b'-' | b'/' | b':') || s[7] != sep {
        return None;
    }
    let (year, month, day) = (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    if !matches!(rest[0], b'T' | b't' | b' ' | b'-') || rest.len() < 9 {
        return None;
    }
    let t = &rest[1..];
    if t[2] != b':' || t[5] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(&t[0..2])?, num(&t[3..5])?, num(&t[6..8])?);
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    ms += (h * 3600 + mi * 60 + sec) * 1000;
    let mut tail = &t[8..];
    if let Some(b'.' | b',') = tail.first() {
        let digits = tail[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let frac = &tail[1..=digits];
        let mut f = 0i64;
        for (i, &c) in frac.iter().take(3).enumerate() {
            f += i64::from(c - b'0') * [100, 10, 1][i];
        }
        ms += f;
        tail = &tail[1 + digits..];
    }
    match tail {
        [] | [b'Z' | b'z'] => Some(ms),
        [sign @ (b'+' | b'-'), off @ ..] => {
            let (oh, om) = match off.len() {
                2 => (num(off)?, 0),
                4 => (num(&off[0..2])?, num(&off[2..4])?),
                5 if off[2] == b':' => (num(&off[0..2])?, num(&off[3..5])?),
                _ => return None,
            };
            let off_ms = (oh * 60 + om) * 60_000;
            Some(if *sign == b'+' {
                ms - off_ms
            } else {
                ms + off_ms
            })
        }
        _ => None,
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_parsing() {
        let table: &[(&str, Option<i64>)] = &[
            ("1.08123", Some(1_081_230_000)),
            (" 1.1 ", Some(1_100_000_000)),
            ("-0.5", Some(-500_000_000)),
            ("42", Some(42_000_000_000)),
            ("\"7.25\"", Some(7_250_000_000)),
            ("1.0812300000000001", Some(1_081_230_000)),
            ("0.0000000005", Some(0)),
            ("0.0000000015", Some(2)),
            ("0.00000000051", Some(1)),
            ("", None),
            ("-", None),
            (".", None),
            ("1.2.3", None),
            ("1e5", None),
            ("abc", None),
            ("99999999999999999999", None),
        ];
        for (s, want) in table {
            assert_eq!(parse_fixed(s.as_bytes()), *want, "{s:?}");
        }
        assert_eq!(to_decimal(1_081_230_000).to_string(), "1.081230000");
        assert_eq!(from_decimal(to_decimal(1_081_230_000)), Some(1_081_230_000));
        for v in [
            0,
            1,
            -1,
            1_081_230_000,
            -7,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            1 << 40,
        ] {
            let d = to_decimal(v);
            let want = Decimal::new(v, PRICE_SCALE);
            assert_eq!(
                (d, d.scale(), d.to_string()),
                (want, want.scale(), want.to_string())
            );
        }
    }

    #[test]
    fn eight_digits_parse() {
        let w = |s: &[u8; 8]| u64::from_le_bytes(*s);
        assert_eq!(eight_digits(w(b"12345678")), Some(12_345_678));
        assert_eq!(eight_digits(w(b"00000000")), Some(0));
        assert_eq!(eight_digits(w(b"99999999")), Some(99_999_999));
        assert_eq!(eight_digits(w(b"1234567:")), None);
        assert_eq!(eight_digits(w(b"/2345678")), None);
        assert_eq!(eight_digits(w(b"1234 678")), None);
    }

    #[test]
    fn fast_paths_agree_with_the_general_parsers() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let alphabet = b"0123456789..-+ e\"x";
        for _ in 0..300_000 {
            let len = rng.gen_range(0..22);
            let s: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.gen_bool(0.8) {
                        b'0' + rng.gen_range(0..10)
                    } else {
                        alphabet[rng.gen_range(0..alphabet.len())]
                    }
                })
                .collect();
            if let Some(v) = parse_plain_fixed(&s) {
                assert_eq!(
                    Some(v),
                    parse_fixed_general(&s),
                    "{:?}",
                    String::from_utf8_lossy(&s)
                );
            }
            let ts = parse_ts(&s);
            let mut general = s.clone();
            general.insert(0, b' '); // defeats the 13-digit fast path
            assert_eq!(ts, parse_ts(&general), "{:?}", String::from_utf8_lossy(&s));
        }
    }

    #[test]
    fn timestamps() {
        let t = 1_704_182_400_000; // 2024-01-02T08:00:00Z
        let table: &[(&str, Option<i64>)] = &[
            ("1704182400000", Some(t)),
            ("1704182400", Some(t)),
            ("1704182400000000", Some(t)),
            ("1704182400000000000", Some(t)),
            ("1704182400.5", Some(t + 500)),
            ("2024-01-02T08:00:00Z", Some(t)),
            ("2024-01-02T08:00:00.123Z", Some(t + 123)),
            ("2024-01-02 08:00:00.1234567", Some(t + 123)),
            ("2024-01-02T09:00:00+01:00", Some(t)),
            ("2024-01-02T07:30:00-0030", Some(t)),
            ("2024/01/02 08:00:00", Some(t)),
            ("2024:01:02-08:00:00", Some(t)),
            ("2024-01-02", Some(t - 8 * 3_600_000)),
            ("2024-02-30", None),
            ("2024-01-02T25:00:00", None),
            ("yesterday", None),
            ("", None),
            ("2024-01-02T08:00", None),
        ];
        for (s, want) in table {
            assert_eq!(parse_ts(s.as_bytes()), *want, "{s:?}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
