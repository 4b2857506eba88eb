//! Several sandboxes (several test binaries, several developers) share one
//! machine, so fixed ports collide. This file hands out loopback ports that
//! are free right now, never the same one twice within a process, and from
//! below the kernel's ephemeral range so outgoing connections rarely take them.
//! A remaining race (someone binds the port before mariadbd does) is handled
//! by the caller retrying with another port.

use std::collections::HashSet;
use std::net::TcpListener;

use rand::Rng;

use super::error::SandboxError;

const LOW: u16 = 20_000;
const HIGH: u16 = 32_000;

static HANDED_OUT: parking_lot::Mutex<Option<HashSet<u16>>> = parking_lot::Mutex::new(None);

/// True if 127.0.0.1:`port` can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Picks a free loopback port not handed out before in this process.
pub fn pick_free_port() -> Result<u16, SandboxError> {
    let mut rng = rand::thread_rng();
    let mut guard = HANDED_OUT.lock();
    let used = guard.get_or_insert_with(HashSet::new);
    for _ in 0..500 {
        let port = rng.gen_range(LOW..HIGH);
        if used.contains(&port) || !port_is_free(port) {
            continue;
        }
        used.insert(port);
        return Ok(port);
    }
    Err(SandboxError::NoFreePort)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let a = pick_free_port().unwrap();
        let b = pick_free_port().unwrap();
        assert_ne!(a, b);
        assert!((LOW..HIGH).contains(&a));
        assert!(port_is_free(a));
        let held = TcpListener::bind(("127.0.0.1", b)).unwrap();
        assert!(!port_is_free(b));
        drop(held);
    }
}
