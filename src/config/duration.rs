//! Durations in the config must be unambiguous: a bare `5` could mean
//! seconds or milliseconds. [`DurationSetting`] accepts only strings with a
//! unit (`"500ms"`, `"5s"`, `"2m"`, `"1h"`, `"1.5s"`) and rejects numbers,
//! zero, negative values and garbage with a message that says why.
//! [`Bounds`] describes the range a key accepts; values outside it are
//! clamped during validation (see `validate.rs`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

const NANOS_PER_MS: u128 = 1_000_000;
const NANOS_PER_S: u128 = 1_000_000_000;
const NANOS_PER_M: u128 = 60 * NANOS_PER_S;
const NANOS_PER_H: u128 = 60 * NANOS_PER_M;

/// A positive duration read from a string with a unit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DurationSetting(Duration);

impl DurationSetting {
    /// Wraps a duration (no bounds are applied here).
    pub const fn new(duration: Duration) -> Self {
        DurationSetting(duration)
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        DurationSetting(Duration::from_millis(ms))
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        DurationSetting(Duration::from_secs(secs))
    }

    /// The duration.
    pub fn get(&self) -> Duration {
        self.0
    }

    /// Parses `"500ms"`, `"5s"`, `"2m"`, `"1h"`, `"1.5s"` (units ms, s, m, h).
    /// Surrounding whitespace is ignored. Values too large for a `Duration`
    /// saturate (validation clamps them afterwards).
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(DurationError::Empty);
        }
        if t.starts_with('-') {
            return Err(DurationError::Negative { text: t.to_owned() });
        }
        let number_end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(number_end);
        if number.is_empty() {
            return Err(DurationError::BadNumber { text: t.to_owned() });
        }
        if unit.is_empty() {
            return Err(DurationError::MissingUnit { text: t.to_owned() });
        }
        let unit_nanos = match unit {
            "ms" => NANOS_PER_MS,
            "s" => NANOS_PER_S,
            "m" => NANOS_PER_M,
            "h" => NANOS_PER_H,
            _ => {
                return Err(DurationError::UnknownUnit {
                    text: t.to_owned(),
                    unit: unit.to_owned(),
                })
            }
        };
        let (whole, fraction) = match number.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (number, None),
        };
        let bad = || DurationError::BadNumber { text: t.to_owned() };
        if whole.is_empty() || fraction.is_some_and(|f| f.is_empty() || f.contains('.')) {
            return Err(bad());
        }
        let mut nanos: u128 = 0;
        for digit in whole.bytes() {
            nanos = nanos
                .saturating_mul(10)
                .saturating_add(u128::from(digit - b'0'));
        }
        nanos = nanos.saturating_mul(unit_nanos);
        if let Some(fraction) = fraction {
            // 18 digits are far below one nanosecond even for hours.
            let digits = &fraction.as_bytes()[..fraction.len().min(18)];
            let mut value: u128 = 0;
            let mut scale: u128 = 1;
            for digit in digits {
                value = value * 10 + u128::from(digit - b'0');
                scale *= 10;
            }
            nanos = nanos.saturating_add(value * unit_nanos / scale);
        }
        if nanos == 0 {
            return Err(DurationError::Zero { text: t.to_owned() });
        }
        let secs = nanos / NANOS_PER_S;
        let duration = match u64::try_from(secs) {
            // `nanos % NANOS_PER_S` is below 10^9, so it fits in a u32.
            Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_S) as u32),
            Err(_) => Duration::MAX,
        };
        Ok(DurationSetting(duration))
    }
}

impl From<Duration> for DurationSetting {
    fn from(d: Duration) -> Self {
        DurationSetting(d)
    }
}

/// Prints the value the way it would be written in the config: the largest
/// unit that divides it exactly (`"10m"`, `"1500ms"`).
impl fmt::Display for DurationSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 || nanos % NANOS_PER_MS != 0 {
            return write!(f, "{:?}", self.0);
        }
        for (unit, size) in [("h", NANOS_PER_H), ("m", NANOS_PER_M), ("s", NANOS_PER_S)] {
            if nanos % size == 0 {
                return write!(f, "{}{unit}", nanos / size);
            }
        }
        write!(f, "{}ms", nanos / NANOS_PER_MS)
    }
}

impl fmt::Debug for DurationSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DurationSetting({self})")
    }
}

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("durations are strings with a unit, e.g. \"500ms\" (got the number {got})")]
    NotAString { got: String },
    #[error("empty duration: durations are strings with a unit, e.g. \"500ms\"")]
    Empty,
    #[error("missing unit in \"{text}\": durations are strings with a unit, e.g. \"500ms\"")]
    MissingUnit { text: String },
    #[error("unknown unit `{unit}` in \"{text}\" (use ms, s, m or h)")]
    UnknownUnit { text: String, unit: String },
    #[error(
        "\"{text}\" is not a duration: expected a number and a unit, e.g. \"500ms\" or \"1.5s\""
    )]
    BadNumber { text: String },
    #[error("durations must be positive, got \"{text}\"")]
    Negative { text: String },
    #[error("durations must be greater than zero, got \"{text}\"")]
    Zero { text: String },
}

impl<'de> Deserialize<'de> for DurationSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = DurationSetting;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string with a unit, e.g. \"500ms\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        DurationSetting::parse(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(E::custom(DurationError::NotAString { got: v.to_string() }))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Err(E::custom(DurationError::NotAString { got: v.to_string() }))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(E::custom(DurationError::NotAString { got: v.to_string() }))
    }
}

/// The range a duration key accepts. Values outside it are clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: DurationSetting,
    pub max: DurationSetting,
}

impl Bounds {
    /// One millisecond to 24 hours: the range of ordinary timeouts.
    pub const TIMEOUT: Bounds = Bounds {
        min: DurationSetting::from_millis(1),
        max: DurationSetting::from_secs(24 * 3600),
    };
    /// One second to 365 days: idle timeouts and long windows.
    pub const LONG: Bounds = Bounds {
        min: DurationSetting::from_secs(1),
        max: DurationSetting::from_secs(365 * 24 * 3600),
    };
    /// 50 ms to 60 s: polling intervals.
    pub const INTERVAL: Bounds = Bounds {
        min: DurationSetting::from_millis(50),
        max: DurationSetting::from_secs(60),
    };
    /// 100 ms to 1 h: replication heartbeat periods.
    pub const HEARTBEAT: Bounds = Bounds {
        min: DurationSetting::from_millis(100),
        max: DurationSetting::from_secs(3600),
    };

    /// The value brought into range.
    pub fn clamp(&self, value: DurationSetting) -> DurationSetting {
        value.clamp(self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u128 {
        DurationSetting::parse(text).unwrap().get().as_millis()
    }

    #[test]
    fn every_unit_parses() {
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("5s"), 5_000);
        assert_eq!(ms("2m"), 120_000);
        assert_eq!(ms("1h"), 3_600_000);
        assert_eq!(ms("1.5s"), 1_500);
        assert_eq!(ms("0.5m"), 30_000);
        assert_eq!(ms(" 10s "), 10_000);
        assert_eq!(
            DurationSetting::parse("1.5ms").unwrap().get(),
            Duration::from_micros(1500)
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        use DurationError::*;
        type Check = fn(&DurationError) -> bool;
        let cases: [(&str, Check); 11] = [
            ("", |e| matches!(e, Empty)),
            ("500", |e| matches!(e, MissingUnit { .. })),
            ("5 s", |e| matches!(e, UnknownUnit { .. })),
            ("5sec", |e| matches!(e, UnknownUnit { .. })),
            ("5d", |e| matches!(e, UnknownUnit { .. })),
            ("-5s", |e| matches!(e, Negative { .. })),
            ("0s", |e| matches!(e, Zero { .. })),
            ("0.0ms", |e| matches!(e, Zero { .. })),
            (".5s", |e| matches!(e, BadNumber { .. })),
            ("1.2.3s", |e| matches!(e, BadNumber { .. })),
            ("ms", |e| matches!(e, BadNumber { .. })),
        ];
        for (text, check) in cases {
            let err = DurationSetting::parse(text).unwrap_err();
            assert!(check(&err), "{text:?} gave {err:?}");
        }
        assert!(DurationSetting::parse("5.s").is_err());
    }

    #[test]
    fn huge_values_saturate_instead_of_failing() {
        let d = DurationSetting::parse("999999999999999999999999999999999999999999h").unwrap();
        assert_eq!(d.get(), Duration::MAX);
    }

    #[test]
    fn display_uses_the_largest_exact_unit() {
        assert_eq!(DurationSetting::from_secs(600).to_string(), "10m");
        assert_eq!(DurationSetting::from_secs(3600 * 8).to_string(), "8h");
        assert_eq!(DurationSetting::from_millis(1500).to_string(), "1500ms");
        assert_eq!(DurationSetting::from_secs(5).to_string(), "5s");
        assert_eq!(DurationSetting::from_secs(90).to_string(), "90s");
    }

    #[test]
    fn numbers_are_refused_when_deserializing() {
        #[derive(Debug, Deserialize)]
        struct T {
            #[allow(dead_code)]
            d: DurationSetting,
        }
        let err = toml::from_str::<T>("d = 5").unwrap_err();
        assert!(
            err.message()
                .contains("durations are strings with a unit, e.g. \"500ms\""),
            "{err}"
        );
        assert!(toml::from_str::<T>("d = 1.5").is_err());
        let ok: T = toml::from_str("d = \"250ms\"").unwrap();
        assert_eq!(ok.d, DurationSetting::from_millis(250));
    }

    #[test]
    fn bounds_clamp() {
        let b = Bounds::INTERVAL;
        assert_eq!(b.clamp(DurationSetting::from_millis(1)), b.min);
        assert_eq!(b.clamp(DurationSetting::from_secs(3600)), b.max);
        let inside = DurationSetting::from_millis(500);
        assert_eq!(b.clamp(inside), inside);
    }
}
