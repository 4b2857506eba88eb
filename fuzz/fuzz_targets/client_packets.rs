//! The client packet codec and the packets a client sends before and at
//! login: whatever bytes arrive, the codec returns packets or an error, and
//! the handshake-response and COM_CHANGE_USER parsers never panic.
#![no_main]

use std::io::Cursor;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sqlyard::frontend::commands::parse_change_user;
use sqlyard::protocol::handshake::{parse_greeting, parse_handshake_response};
use sqlyard::protocol::PacketIo;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit, stream)) = data.split_first() else {
        return;
    };
    // a packet limit from tiny to 64 KiB, so the limit is hit often
    let max_packet = 1usize << (limit % 17);
    let mut io = PacketIo::with_chunk(Cursor::new(stream.to_vec()), 64);
    io.set_max_packet(max_packet);
    runtime().block_on(async {
        let mut first = true;
        while let Ok(pkt) = io.read_packet().await {
            assert!(pkt.payload.len() <= max_packet);
            if first {
                if let Ok(resp) = parse_handshake_response(&pkt.payload) {
                    let _ = format!("{resp:?}");
                }
                let _ = parse_greeting(&pkt.payload);
                first = false;
            } else if let Some((&cmd, rest)) = pkt.payload.split_first() {
                let caps = u32::from(cmd) << 8 | u32::from(limit);
                let _ = parse_change_user(rest, caps);
            }
        }
    });
});
