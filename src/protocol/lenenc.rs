//! Problem: MySQL encodes many integers and strings with a variable-length
//! prefix; these helpers read and write them without allocating.

/// Reads a length-encoded integer from the front of `buf`, advancing it.
/// Returns `None` if `buf` is too short or holds the NULL marker 0xFB.
pub fn read_int(buf: &mut &[u8]) -> Option<u64> {
    let (&first, rest) = buf.split_first()?;
    let (n, len) = match first {
        0..=0xfa => (first as u64, 0),
        0xfc => (0, 2),
        0xfd => (0, 3),
        0xfe => (0, 8),
        _ => return None,
    };
    if len == 0 {
        *buf = rest;
        return Some(n);
    }
    if rest.len() < len {
        return None;
    }
    let mut v: u64 = 0;
    for (i, b) in rest[..len].iter().enumerate() {
        v |= (*b as u64) << (8 * i);
    }
    *buf = &rest[len..];
    Some(v)
}

/// Reads a length-encoded string from the front of `buf`, advancing it.
pub fn read_bytes<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(read_int(buf)?).ok()?;
    if buf.len() < len {
        return None;
    }
    let (s, rest) = buf.split_at(len);
    *buf = rest;
    Some(s)
}

/// Reads a NUL-terminated string from the front of `buf`, advancing it.
pub fn read_null_terminated<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let pos = buf.iter().position(|&b| b == 0)?;
    let s = &buf[..pos];
    *buf = &buf[pos + 1..];
    Some(s)
}

/// Appends a length-encoded integer.
pub fn write_int(out: &mut Vec<u8>, v: u64) {
    if v < 0xfb {
        out.push(v as u8);
    } else if v <= 0xffff {
        out.push(0xfc);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= 0xff_ffff {
        out.push(0xfd);
        out.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
    } else {
        out.push(0xfe);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends a length-encoded string.
pub fn write_bytes(out: &mut Vec<u8>, s: &[u8]) {
    write_int(out, s.len() as u64);
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_ints() {
        for v in [
            0u64,
            1,
            250,
            251,
            0xffff,
            0x10000,
            0xff_ffff,
            0x100_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_int(&mut out, v);
            let mut s = out.as_slice();
            assert_eq!(read_int(&mut s), Some(v));
            assert!(s.is_empty());
        }
    }

    #[test]
    fn short_input_is_none() {
        let mut s: &[u8] = &[0xfc, 1];
        assert_eq!(read_int(&mut s), None);
        let mut s: &[u8] = &[5, b'a'];
        assert_eq!(read_bytes(&mut s), None);
        let mut s: &[u8] = &[0xfb];
        assert_eq!(read_int(&mut s), None);
    }
}
