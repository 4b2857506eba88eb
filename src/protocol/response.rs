//! Problem: sqlyard must read the server's own signals (status flags,
//! warnings, session-state tracking) out of OK/EOF/ERR packets, and build
//! its own OK/ERR packets for clients. These are the parsers and builders.

use super::constants::{status, track};
use super::lenenc;

/// The parts of an OK packet (or a DEPRECATE_EOF terminator) sqlyard uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OkInfo<'a> {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub status: u16,
    pub warnings: u16,
    pub info: &'a [u8],
    /// Raw session-state-change block (only with CLIENT_SESSION_TRACK).
    pub session_state: &'a [u8],
}

/// Parses an OK packet payload (header 0x00 or 0xFE). `session_track` says
/// whether CLIENT_SESSION_TRACK was negotiated on that connection.
pub fn parse_ok(payload: &[u8], session_track: bool) -> Option<OkInfo<'_>> {
    let (&hdr, mut rest) = payload.split_first()?;
    if hdr != 0x00 && hdr != 0xfe {
        return None;
    }
    let affected_rows = lenenc::read_int(&mut rest)?;
    let last_insert_id = lenenc::read_int(&mut rest)?;
    if rest.len() < 4 {
        return None;
    }
    let status = u16::from_le_bytes([rest[0], rest[1]]);
    let warnings = u16::from_le_bytes([rest[2], rest[3]]);
    rest = &rest[4..];
    let mut info: &[u8] = &[];
    let mut session_state: &[u8] = &[];
    if !rest.is_empty() {
        if session_track {
            info = lenenc::read_bytes(&mut rest).unwrap_or(&[]);
            if status & status::SESSION_STATE_CHANGED != 0 {
                session_state = lenenc::read_bytes(&mut rest).unwrap_or(&[]);
            }
        } else {
            let mut r = rest;
            info = lenenc::read_bytes(&mut r).unwrap_or(rest);
        }
    }
    Some(OkInfo {
        affected_rows,
        last_insert_id,
        status,
        warnings,
        info,
        session_state,
    })
}

/// Parses a classic EOF packet payload: (warnings, status).
pub fn parse_eof(payload: &[u8]) -> Option<(u16, u16)> {
    if payload.len() < 5 || payload[0] != 0xfe {
        return None;
    }
    Some((
        u16::from_le_bytes([payload[1], payload[2]]),
        u16::from_le_bytes([payload[3], payload[4]]),
    ))
}

/// A parsed ERR packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrInfo {
    pub code: u16,
    pub state: [u8; 5],
    pub message: String,
}

/// Parses an ERR packet payload (header 0xFF, protocol 41).
pub fn parse_err(payload: &[u8]) -> Option<ErrInfo> {
    if payload.len() < 3 || payload[0] != 0xff {
        return None;
    }
    let code = u16::from_le_bytes([payload[1], payload[2]]);
    let rest = &payload[3..];
    let (state, msg) = if rest.first() == Some(&b'#') && rest.len() >= 6 {
        let mut s = [0u8; 5];
        s.copy_from_slice(&rest[1..6]);
        (s, &rest[6..])
    } else {
        (*b"HY000", rest)
    };
    Some(ErrInfo {
        code,
        state,
        message: String::from_utf8_lossy(msg).into_owned(),
    })
}

/// Builds an ERR packet payload.
pub fn err_payload(code: u16, state: &[u8; 5], message: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(9 + message.len());
    p.push(0xff);
    p.extend_from_slice(&code.to_le_bytes());
    p.push(b'#');
    p.extend_from_slice(state);
    p.extend_from_slice(message.as_bytes());
    p
}

/// An ERR sent instead of the greeting (too many connections): the client
/// has announced no capabilities yet, so, as servers do, it carries no
/// SQL state.
pub fn err_payload_before_greeting(code: u16, message: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(3 + message.len());
    p.push(0xff);
    p.extend_from_slice(&code.to_le_bytes());
    p.extend_from_slice(message.as_bytes());
    p
}

/// Builds an OK packet payload (no session-state block).
pub fn ok_payload(affected_rows: u64, last_insert_id: u64, status: u16, warnings: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(11);
    p.push(0x00);
    lenenc::write_int(&mut p, affected_rows);
    lenenc::write_int(&mut p, last_insert_id);
    p.extend_from_slice(&status.to_le_bytes());
    p.extend_from_slice(&warnings.to_le_bytes());
    p
}

/// Builds a result-set terminator: an EOF packet, or with DEPRECATE_EOF an
/// OK packet with the 0xFE header.
pub fn eof_payload(deprecate_eof: bool, status: u16, warnings: u16) -> Vec<u8> {
    if deprecate_eof {
        let mut p = ok_payload(0, 0, status, warnings);
        p[0] = 0xfe;
        p
    } else {
        let mut p = vec![0xfe];
        p.extend_from_slice(&warnings.to_le_bytes());
        p.extend_from_slice(&status.to_le_bytes());
        p
    }
}

/// Rewrites an OK packet from a session-tracking backend for a client that
/// did not negotiate CLIENT_SESSION_TRACK: drops the state block and its flag.
pub fn strip_session_state(ok: &OkInfo<'_>, header: u8) -> Vec<u8> {
    let mut p = Vec::with_capacity(16 + ok.info.len());
    p.push(header);
    lenenc::write_int(&mut p, ok.affected_rows);
    lenenc::write_int(&mut p, ok.last_insert_id);
    p.extend_from_slice(&(ok.status & !status::SESSION_STATE_CHANGED).to_le_bytes());
    p.extend_from_slice(&ok.warnings.to_le_bytes());
    if !ok.info.is_empty() {
        lenenc::write_bytes(&mut p, ok.info);
    }
    p
}

/// One entry of the session-state-change block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange<'a> {
    SystemVariable { name: &'a [u8], value: &'a [u8] },
    Schema(&'a [u8]),
    StateChanged,
    Gtids(&'a [u8]),
    TransactionCharacteristics(&'a [u8]),
    TransactionState(&'a [u8]),
    Other(u8),
}

/// Iterates over a session-state-change block. Malformed tails end the
/// iteration instead of failing.
pub fn session_changes(mut block: &[u8]) -> impl Iterator<Item = StateChange<'_>> {
    std::iter::from_fn(move || {
        let (&kind, mut rest) = block.split_first()?;
        let mut data = lenenc::read_bytes(&mut rest)?;
        block = rest;
        Some(match kind {
            track::SYSTEM_VARIABLES => {
                let name = lenenc::read_bytes(&mut data)?;
                let value = lenenc::read_bytes(&mut data).unwrap_or(&[]);
                StateChange::SystemVariable { name, value }
            }
            track::SCHEMA => StateChange::Schema(lenenc::read_bytes(&mut data).unwrap_or(&[])),
            track::STATE_CHANGE => StateChange::StateChanged,
            track::GTIDS => {
                // one byte encoding specification, then the set
                let mut d = data.get(1..).unwrap_or(&[]);
                StateChange::Gtids(lenenc::read_bytes(&mut d).unwrap_or(&[]))
            }
            track::TRANSACTION_CHARACTERISTICS => StateChange::TransactionCharacteristics(
                lenenc::read_bytes(&mut data).unwrap_or(&[]),
            ),
            track::TRANSACTION_STATE => {
                StateChange::TransactionState(lenenc::read_bytes(&mut data).unwrap_or(&[]))
            }
            other => StateChange::Other(other),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_own_gtid_block() {
        // An OK packet as MySQL sends it with session_track_gtids=OWN_GTID
        // (protocol docs, "Session State Information"): type
        // SESSION_TRACK_GTIDS (3), length, encoding specification 0, then
        // the GTID set as a length-encoded string.
        let gtid = b"3e11fa47-71ca-11e1-9e33-c80aa9429562:23";
        let mut entry = vec![0u8];
        crate::protocol::lenenc::write_bytes(&mut entry, gtid);
        let mut block = vec![track::GTIDS];
        crate::protocol::lenenc::write_bytes(&mut block, &entry);
        let mut ok = vec![0x00, 1, 0];
        ok.extend_from_slice(&(status::AUTOCOMMIT | status::SESSION_STATE_CHANGED).to_le_bytes());
        ok.extend_from_slice(&[0, 0]);
        crate::protocol::lenenc::write_bytes(&mut ok, b"");
        crate::protocol::lenenc::write_bytes(&mut ok, &block);
        let parsed = parse_ok(&ok, true).expect("valid OK");
        let changes: Vec<_> = session_changes(parsed.session_state).collect();
        // (that the router reads this text as a GTID set is tested in
        // router::consistency)
        assert_eq!(changes, vec![StateChange::Gtids(&gtid[..])]);
    }

    #[test]
    fn ok_with_session_state() {
        // OK, 0 rows, 0 id, status AUTOCOMMIT|STATE_CHANGED, 0 warnings, info "",
        // state: sysvar autocommit=OFF, schema "test", state change "1".
        let mut state = Vec::new();
        let mut var = Vec::new();
        lenenc::write_bytes(&mut var, b"autocommit");
        lenenc::write_bytes(&mut var, b"OFF");
        state.push(0);
        lenenc::write_bytes(&mut state, &var);
        let mut sch = Vec::new();
        lenenc::write_bytes(&mut sch, b"test");
        state.push(1);
        lenenc::write_bytes(&mut state, &sch);
        state.push(2);
        lenenc::write_bytes(&mut state, &[1, b'1']);
        let mut p = vec![0, 0, 0];
        p.extend_from_slice(&(status::AUTOCOMMIT | status::SESSION_STATE_CHANGED).to_le_bytes());
        p.extend_from_slice(&[0, 0]);
        p.push(0);
        lenenc::write_bytes(&mut p, &state);
        let ok = parse_ok(&p, true).unwrap();
        let changes: Vec<_> = session_changes(ok.session_state).collect();
        assert_eq!(
            changes,
            vec![
                StateChange::SystemVariable {
                    name: b"autocommit",
                    value: b"OFF"
                },
                StateChange::Schema(b"test"),
                StateChange::StateChanged
            ]
        );
        let stripped = strip_session_state(&ok, 0);
        let ok2 = parse_ok(&stripped, false).unwrap();
        assert_eq!(ok2.status, status::AUTOCOMMIT);
        assert!(ok2.session_state.is_empty());
    }

    #[test]
    fn err_before_greeting_has_no_sql_state() {
        let p = err_payload_before_greeting(1040, "sqlyard: too many");
        assert_eq!(&p[..3], &[0xff, 0x10, 0x04]);
        assert_eq!(&p[3..], b"sqlyard: too many");
    }

    #[test]
    fn err_round_trip() {
        let p = err_payload(1045, b"28000", "sqlyard: access denied");
        let e = parse_err(&p).unwrap();
        assert_eq!(e.code, 1045);
        assert_eq!(&e.state, b"28000");
        assert_eq!(e.message, "sqlyard: access denied");
    }

    #[test]
    fn garbage_does_not_panic() {
        for p in [&[][..], &[0], &[0xfe], &[0xff, 1], &[0, 0xfc]] {
            let _ = parse_ok(p, true);
            let _ = parse_err(p);
            let _ = parse_eof(p);
            let _: Vec<_> = session_changes(p).collect();
        }
    }
}
