//! COM_STMT_EXECUTE as a client may send it: the statement-id rewrite and
//! the replay of parameter types never panic, and what goes to the server
//! is the client's packet with only the id changed and, at most, the types
//! added.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sqlyard::frontend::stmt::rewrite_execute;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let params = u16::from_le_bytes([data[0], data[1]]) % 600;
    let known = data[2];
    let pkt = &data[3..];
    // what the client bound before, and what the connection has bound
    let mut client_types = (known & 1 != 0).then(|| vec![known; 2 * params as usize]);
    let mut on_conn = (known & 2 != 0).then(|| vec![7u8; 2 * params as usize]);
    let mut head = Vec::new();
    match rewrite_execute(pkt, 0xdead_beef, params, &mut client_types, &mut on_conn, &mut head) {
        Ok(tail) => {
            let sent = [&head[..], &pkt[tail..]].concat();
            assert_eq!(&sent[1..5], &0xdead_beef_u32.to_le_bytes());
            assert_eq!(sent[0], pkt[0]);
            assert_eq!(&sent[5..10], &pkt[5..10]);
            if sent.len() == pkt.len() {
                assert_eq!(&sent[5..], &pkt[5..]);
            } else {
                // the types were added after the null bitmap, nothing else changed
                let added = 2 * params as usize;
                assert_eq!(sent.len(), pkt.len() + added);
                let flag = 10 + (params as usize).div_ceil(8);
                assert_eq!(&sent[5..flag], &pkt[5..flag]);
                assert_eq!(sent[flag], 1);
                assert_eq!(&sent[flag + 1 + added..], &pkt[flag + 1..]);
                assert_eq!(on_conn.as_deref(), client_types.as_deref());
            }
        }
        Err(what) => assert!(!what.is_empty()),
    }
});
