//! What a server sends back, through the same scanner the relay uses: OK,
//! ERR and EOF packets, result sets, session-state blocks and prepare
//! answers. Any bytes end in a summary or an error, never a panic, and the
//! client is never sent more than the server sent plus rewritten packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sqlyard::backend::relay::{relay_buffer, RelayOpts};
use sqlyard::protocol::response::{parse_eof, parse_err, parse_ok, session_changes};
use sqlyard::protocol::stream::ResponseKind;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let kind = match mode % 6 {
        0 => ResponseKind::Query,
        1 => ResponseKind::Execute,
        2 => ResponseKind::Fetch,
        3 => ResponseKind::FieldList,
        4 => ResponseKind::Prepare,
        _ => ResponseKind::Single,
    };
    let opts = RelayOpts {
        strip_state: mode & 0x08 != 0,
        client_stmt_id: (mode & 0x10 != 0).then_some(7),
        may_write: mode & 0x40 != 0,
    };
    if let Ok(r) = relay_buffer(bytes, kind, mode & 0x20 != 0, opts) {
        if !opts.strip_state && opts.client_stmt_id.is_none() {
            assert!(bytes.starts_with(&r.sent));
        }
    }
    // the packet parsers on their own
    let _ = parse_err(bytes);
    let _ = parse_eof(bytes);
    if let Some(ok) = parse_ok(bytes, true) {
        for change in session_changes(ok.session_state) {
            let _ = format!("{change:?}");
        }
    }
});
