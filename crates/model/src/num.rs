//! Decimal newtypes for prices, sizes, distances and money. Never `f64`.
//!
//! Allowed arithmetic: `Price - Price = Decimal` (a raw price difference), which an
//! [`crate::Instrument`] turns into [`Points`]; `Points * Size * value_per_point = Money`;
//! `Money + Money = Money`; `Price ± Decimal = Price`. Everything else goes through `value()`.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `d.normalize()` (trailing zeros stripped, `-0` made `0`), for mantissas within 64 bits
/// by multiplication-based division by 10 instead of rust_decimal's 96-bit long division
/// (a hardware division per word per digit): prices and amounts are normalised for every
/// trade report, hash line and displayed amount.
#[inline]
pub fn normalized(d: Decimal) -> Decimal {
    let u = d.unpack();
    if u.hi != 0 {
        return d.normalize();
    }
    let mut m = (u64::from(u.mid) << 32) | u64::from(u.lo);
    if m == 0 {
        return Decimal::ZERO;
    }
    let mut scale = u.scale;
    while scale > 0 && m % 10 == 0 {
        m /= 10;
        scale -= 1;
    }
    // `m` only shrank: it still fits the two low words.
    Decimal::from_parts(m as u32, (m >> 32) as u32, 0, u.negative, scale)
}

macro_rules! decimal_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Decimal);

        impl $name {
            pub const ZERO: Self = Self(Decimal::ZERO);
            pub const fn new(value: Decimal) -> Self {
                Self(value)
            }
            pub const fn value(self) -> Decimal {
                self.0
            }
            pub fn is_zero(self) -> bool {
                self.0.is_zero()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&normalized(self.0), f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = rust_decimal::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse::<Decimal>().map(Self)
            }
        }

        impl From<Decimal> for $name {
            fn from(d: Decimal) -> Self {
                Self(d)
            }
        }
    };
}

decimal_newtype!(
    /// A price level as IG quotes it (bid, offer, stop level...).
    Price
);
decimal_newtype!(
    /// A deal size in IG's units (contracts for CFDs, amount per point for spread bets).
    Size
);
decimal_newtype!(
    /// An amount of money in one currency.
    Money
);
decimal_newtype!(
    /// A distance in IG points (the instrument's point size, e.g. 0.0001 for EUR/USD).
    Points
);

impl Sub for Price {
    type Output = Decimal;
    fn sub(self, rhs: Self) -> Decimal {
        self.0 - rhs.0
    }
}

impl Add<Decimal> for Price {
    type Output = Price;
    fn add(self, rhs: Decimal) -> Price {
        Price(self.0 + rhs)
    }
}

impl Sub<Decimal> for Price {
    type Output = Price;
    fn sub(self, rhs: Decimal) -> Price {
        Price(self.0 - rhs)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Self) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Self) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Self) {
        self.0 += rhs.0;
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Self) {
        self.0 -= rhs.0;
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Add for Size {
    type Output = Size;
    fn add(self, rhs: Self) -> Size {
        Size(self.0 + rhs.0)
    }
}

impl Sub for Size {
    type Output = Size;
    fn sub(self, rhs: Self) -> Size {
        Size(self.0 - rhs.0)
    }
}

impl Money {
    /// Rounds to cents (two decimal places, banker's rounding avoided: half away from zero).
    #[must_use]
    pub fn round_cents(self) -> Money {
        Money(
            self.0
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        )
    }
}

impl Points {
    /// `Points * Size * value_per_point` (money per point per unit of size).
    pub fn money(self, size: Size, value_per_point: Decimal) -> Money {
        Money(self.0 * size.0 * value_per_point)
    }
}

impl Size {
    /// Rounds down to a multiple of `step` (a step of zero leaves the size as is).
    #[must_use]
    pub fn floor_to_step(self, step: Decimal) -> Size {
        if step <= Decimal::ZERO {
            return self;
        }
        Size((self.0 / step).floor() * step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn points_to_money() {
        let p = Points::new(dec!(12.5));
        assert_eq!(
            p.money(Size::new(dec!(2)), dec!(10)),
            Money::new(dec!(250.0))
        );
        assert_eq!(
            Money::new(dec!(1.005)).round_cents(),
            Money::new(dec!(1.01))
        );
        assert_eq!(
            Money::new(dec!(-1.005)).round_cents(),
            Money::new(dec!(-1.01))
        );
    }

    #[test]
    fn size_floor() {
        assert_eq!(
            Size::new(dec!(1.37)).floor_to_step(dec!(0.1)),
            Size::new(dec!(1.3))
        );
        assert_eq!(Size::new(dec!(0.5)).floor_to_step(dec!(1)), Size::ZERO);
    }

    #[test]
    fn normalized_strips_zeros_and_signs_of_zero() {
        for (d, want) in [
            (dec!(1.099920000), "1.09992"),
            (dec!(-2.50), "-2.5"),
            (dec!(100), "100"),
            (dec!(-0.000), "0"),
            (dec!(0), "0"),
            (Decimal::MAX, "79228162514264337593543950335"),
        ] {
            let n = normalized(d);
            assert_eq!(n.to_string(), want);
            assert_eq!(n.unpack(), d.normalize().unpack(), "{d}");
        }
    }

    proptest! {
        #[test]
        fn normalized_is_rust_decimals_normalize(
            lo in any::<u32>(),
            mid in any::<u32>(),
            hi in prop_oneof![Just(0u32), any::<u32>()],
            negative in any::<bool>(),
            scale in 0u32..=28,
            zeros in 0u32..12,
        ) {
            // Trailing zeros are the interesting case: multiply some in where they fit.
            let mut d = Decimal::from_parts(lo, mid, hi, negative, scale);
            for _ in 0..zeros {
                match (d.checked_mul(Decimal::TEN), d.scale() < 28) {
                    (Some(x), true) => d = x,
                    _ => break,
                }
                d.set_scale((d.scale() + 1).min(28)).unwrap();
            }
            let (fast, slow) = (normalized(d), d.normalize());
            prop_assert_eq!(fast.unpack(), slow.unpack(), "{}", d);
        }

        #[test]
        fn money_add_sub_roundtrip(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            let x = Money::new(Decimal::new(a, 2));
            let y = Money::new(Decimal::new(b, 2));
            prop_assert_eq!((x + y) - y, x);
            prop_assert_eq!(x + (-x), Money::ZERO);
        }

        #[test]
        fn floor_to_step_is_multiple_and_not_above(raw in 0i64..10_000_000, step_raw in 1i64..1000) {
            let size = Size::new(Decimal::new(raw, 3));
            let step = Decimal::new(step_raw, 3);
            let f = size.floor_to_step(step);
            prop_assert!(f <= size);
            prop_assert!((f.value() / step).fract().is_zero());
            prop_assert!(size.value() - f.value() < step);
        }
    }
}
