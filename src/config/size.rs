//! Problem: memory limits are large numbers that people write with units
//! (`"256MiB"`), and a bare `268435456` is easy to get wrong by a digit.
//! [`ByteSize`] accepts a whole number of bytes or a string with a unit
//! (`B`, `KiB`, `MiB`, `GiB`, and `K`, `M`, `G`, `KB`, `MB`, `GB` meaning
//! the same powers of 1024, as MariaDB reads `max_allowed_packet`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A number of bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

impl ByteSize {
    pub const fn bytes(n: u64) -> Self {
        ByteSize(n)
    }

    pub const fn mib(n: u64) -> Self {
        ByteSize(n << 20)
    }

    pub fn get(&self) -> u64 {
        self.0
    }

    /// Parses `"1048576"`, `"512KiB"`, `"256MiB"`, `"1G"` (surrounding
    /// whitespace and a space before the unit are ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(end);
        if number.is_empty() {
            return Err(format!(
                "`{t}` is not a size: expected a number such as \"256MiB\""
            ));
        }
        let shift = match unit.trim() {
            "" | "B" => 0,
            "K" | "KB" | "KiB" | "k" => 10,
            "M" | "MB" | "MiB" => 20,
            "G" | "GB" | "GiB" => 30,
            "T" | "TB" | "TiB" => 40,
            other => {
                return Err(format!(
                    "`{t}` has an unknown unit `{other}` (use B, KiB, MiB, GiB or TiB)"
                ))
            }
        };
        let n: u64 = number.parse().map_err(|_| format!("`{t}` is too large"))?;
        n.checked_mul(1 << shift)
            .map(ByteSize)
            .ok_or_else(|| format!("`{t}` is too large"))
    }
}

impl fmt::Debug for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The largest exact unit: `268435456` shows as `256MiB`.
impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
            if n != 0 && n % (1u64 << shift) == 0 {
                return write!(f, "{}{unit}", n >> shift);
            }
        }
        write!(f, "{n}B")
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"256MiB\" or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size must not be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::ByteSize;

    #[test]
    fn sizes_read_with_and_without_units() {
        assert_eq!(ByteSize::parse("256MiB").unwrap().get(), 256 << 20);
        assert_eq!(ByteSize::parse(" 1 G ").unwrap().get(), 1 << 30);
        assert_eq!(ByteSize::parse("512KiB").unwrap().get(), 512 << 10);
        assert_eq!(ByteSize::parse("1000").unwrap().get(), 1000);
        assert!(ByteSize::parse("MiB").is_err());
        assert!(ByteSize::parse("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(ByteSize::parse("99999999999999999999").is_err());
        assert!(ByteSize::parse("20000000000TiB").is_err());
        assert_eq!(ByteSize::mib(256).to_string(), "256MiB");
        assert_eq!(ByteSize::bytes(1000).to_string(), "1000B");
    }

    #[test]
    fn toml_takes_numbers_and_strings() {
        #[derive(serde::Deserialize)]
        struct T {
            a: ByteSize,
            b: ByteSize,
        }
        let t: T = toml::from_str("a = 4096\nb = \"2MiB\"").unwrap();
        assert_eq!((t.a.get(), t.b.get()), (4096, 2 << 20));
        assert!(toml::from_str::<T>("a = -1\nb = 1").is_err());
    }
}
