//! Problem: MySQL frames every message as packets of at most 16 MiB with a
//! sequence id, and splits larger payloads. This is the buffered packet
//! reader/writer both sides of sqlyard use.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::budget::{BufferBudget, Charge, FREE};
use super::ProtocolError;

/// Largest payload of one physical packet.
pub const MAX_PAYLOAD: usize = 0xff_ffff;
/// Default largest logical packet sqlyard accepts from a peer (1 GiB, like
/// MariaDB's maximum `max_allowed_packet`).
pub const DEFAULT_MAX_PACKET: usize = 1 << 30;
/// Largest packet accepted from a client that has not logged in yet.
pub const MAX_HANDSHAKE_PACKET: usize = 64 * 1024;
/// Read size towards servers, where results come from.
pub const BACKEND_READ_CHUNK: usize = 64 * 1024;
/// Logical packets at least this large are written straight from the
/// caller's buffers instead of being copied into the write buffer.
pub const DIRECT_WRITE: usize = 256 * 1024;
/// Read size towards clients, which mostly send small requests; small so
/// that thousands of idle clients cost little memory.
pub const CLIENT_READ_CHUNK: usize = 4 * 1024;

/// One logical packet: payload joined across 16 MiB splits.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Sequence id of the last physical packet.
    pub seq: u8,
    pub payload: Bytes,
    /// What the payload holds of the shared buffer budget (client
    /// packets above [`FREE`] bytes); given back when the last clone of the
    /// packet is dropped.
    pub charge: Option<std::sync::Arc<Charge>>,
}

/// A framed, buffered MySQL connection (client or server side).
pub struct PacketIo<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    max_packet: usize,
    chunk: usize,
    budget: Option<BufferBudget>,
    /// The command byte of the last packet refused for want of budget.
    refused_command: Option<u8>,
    /// A packet of 16 MiB or more being read (see [`PacketIo::read_packet`]).
    partial: Option<Partial>,
    /// What the packet being read holds of the budget.
    charge: Option<Charge>,
    /// The header at the front of the read buffer is already paid for.
    header_charged: bool,
}

/// The parts of a large packet read so far.
struct Partial {
    joined: BytesMut,
    /// Bytes of the current physical packet still to read.
    left: usize,
    /// The current physical packet is the last one.
    last: bool,
    seq: u8,
}

/// Reads the 4-byte packet header at the front of `buf`: (length, seq).
#[inline]
pub fn header(buf: &[u8]) -> Option<(usize, u8)> {
    if buf.len() < 4 {
        return None;
    }
    let len = buf[0] as usize | (buf[1] as usize) << 8 | (buf[2] as usize) << 16;
    Some((len, buf[3]))
}

/// Appends the concatenation of `parts` framed as one logical packet
/// starting at `seq`, splitting at 16 MiB. Returns the next sequence id.
pub fn frame_parts_into(out: &mut Vec<u8>, mut seq: u8, parts: &[&[u8]]) -> u8 {
    let mut remaining: usize = parts.iter().map(|p| p.len()).sum();
    let mut pieces = Pieces::new(parts);
    loop {
        let n = remaining.min(MAX_PAYLOAD);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        out.push(seq);
        pieces.take(n, |slice| out.extend_from_slice(slice));
        seq = seq.wrapping_add(1);
        remaining -= n;
        if n < MAX_PAYLOAD {
            return seq;
        }
    }
}

/// Walks the bytes of several slices in order, in runs.
struct Pieces<'a> {
    parts: &'a [&'a [u8]],
    part: usize,
    offset: usize,
}

impl<'a> Pieces<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        Pieces {
            parts,
            part: 0,
            offset: 0,
        }
    }

    /// The next run of at most `n` bytes (empty at the end).
    fn next_run(&mut self, n: usize) -> &'a [u8] {
        while let Some(p) = self.parts.get(self.part) {
            if self.offset < p.len() {
                let k = (p.len() - self.offset).min(n);
                let run = &p[self.offset..self.offset + k];
                self.offset += k;
                return run;
            }
            self.part += 1;
            self.offset = 0;
        }
        &[]
    }

    /// Passes the next `n` bytes to `f`, run by run.
    fn take(&mut self, mut n: usize, mut f: impl FnMut(&'a [u8])) {
        while n > 0 {
            let run = self.next_run(n);
            if run.is_empty() {
                return;
            }
            n -= run.len();
            f(run);
        }
    }
}

/// Appends `payload` framed as packets starting at `seq`, splitting at 16 MiB.
/// Returns the next sequence id.
pub fn frame_into(out: &mut Vec<u8>, mut seq: u8, payload: &[u8]) -> u8 {
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_PAYLOAD);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        out.push(seq);
        out.extend_from_slice(&rest[..n]);
        seq = seq.wrapping_add(1);
        rest = &rest[n..];
        if n < MAX_PAYLOAD {
            return seq;
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketIo<S> {
    /// A connection to a server (large reads).
    pub fn new(stream: S) -> Self {
        Self::with_chunk(stream, BACKEND_READ_CHUNK)
    }

    /// A connection reading `chunk` bytes at a time.
    pub fn with_chunk(stream: S, chunk: usize) -> Self {
        PacketIo {
            stream,
            rbuf: BytesMut::with_capacity(chunk),
            wbuf: Vec::new(),
            max_packet: DEFAULT_MAX_PACKET,
            chunk,
            budget: None,
            refused_command: None,
            partial: None,
            charge: None,
            header_charged: false,
        }
    }

    /// Counts large packets read from here against `budget`.
    pub fn set_budget(&mut self, budget: BufferBudget) {
        self.budget = Some(budget);
    }

    pub fn set_max_packet(&mut self, n: usize) {
        self.max_packet = n;
    }

    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes read but not yet consumed.
    pub fn rbuf(&mut self) -> &mut BytesMut {
        &mut self.rbuf
    }

    /// Reads more bytes into the read buffer; returns how many (0 = EOF).
    pub async fn fill(&mut self) -> Result<usize, ProtocolError> {
        if self.rbuf.capacity() - self.rbuf.len() < self.chunk / 4 {
            self.rbuf.reserve(self.chunk);
        }
        Ok(self.stream.read_buf(&mut self.rbuf).await?)
    }

    /// Reads one logical packet, joining 16 MiB continuations.
    /// A clean EOF between packets gives [`ProtocolError::Closed`]. With a
    /// budget, a packet above [`FREE`] bytes takes its size from it before
    /// its body is read.
    ///
    /// Cancel-safe: the session reads inside `select!`, and a packet
    /// interrupted there resumes where it stopped at the next call (the
    /// parts of a large packet read so far, and what they hold of the
    /// budget, are kept in `self`).
    pub async fn read_packet(&mut self) -> Result<Packet, ProtocolError> {
        let r = self.read_packet_inner().await;
        if r.is_err() {
            self.partial = None;
            self.charge = None;
            self.header_charged = false;
        }
        r
    }

    async fn read_packet_inner(&mut self) -> Result<Packet, ProtocolError> {
        loop {
            if let Some(p) = &mut self.partial {
                if p.left > 0 {
                    // the rest of a physical packet of a large one: straight
                    // into the joined payload, not through the read buffer
                    let have = self.rbuf.len().min(p.left);
                    if have > 0 {
                        p.joined.extend_from_slice(&self.rbuf[..have]);
                        self.rbuf.advance(have);
                        p.left -= have;
                        continue;
                    }
                    let n = (&mut self.stream)
                        .take(p.left as u64)
                        .read_buf(&mut p.joined)
                        .await?;
                    if n == 0 {
                        return Err(ProtocolError::Truncated);
                    }
                    p.left -= n;
                    continue;
                }
                if p.last {
                    let (seq, payload) = match self.partial.take() {
                        Some(p) => (p.seq, p.joined.freeze()),
                        None => return Err(ProtocolError::Truncated),
                    };
                    return Ok(Packet {
                        seq,
                        payload,
                        charge: self.charge.take().map(std::sync::Arc::new),
                    });
                }
            }
            let (len, seq) = loop {
                if let Some(h) = header(&self.rbuf) {
                    break h;
                }
                if self.fill().await? == 0 {
                    return Err(if self.rbuf.is_empty() && self.partial.is_none() {
                        ProtocolError::Closed
                    } else {
                        ProtocolError::Truncated
                    });
                }
            };
            let so_far = self.partial.as_ref().map_or(0, |p| p.joined.len());
            let total = so_far + len;
            if total > self.max_packet {
                return Err(ProtocolError::TooLarge(total, self.max_packet));
            }
            let large = len == MAX_PAYLOAD || self.partial.is_some();
            let counted = (len > FREE || self.partial.is_some()) && !self.header_charged;
            if let Some(budget) = self.budget.as_ref().filter(|_| counted).cloned() {
                let c = self.charge.get_or_insert_with(Charge::default);
                let mut taken = Ok(());
                if len == MAX_PAYLOAD && !c.in_lane() {
                    taken = budget.enter_lane(c, total).await;
                }
                if taken.is_ok() {
                    taken = budget.take(c, len, total).await;
                }
                if let Err(e) = taken {
                    self.refused_command = match &self.partial {
                        Some(p) => p.joined.first().copied(),
                        None => self.peek_command().await,
                    };
                    return Err(e);
                }
                self.header_charged = true;
            }
            if large {
                self.rbuf.advance(4);
                self.header_charged = false;
                let last = len < MAX_PAYLOAD;
                if last {
                    if let Some(c) = &mut self.charge {
                        c.leave_lane();
                    }
                }
                let p = self.partial.get_or_insert_with(|| Partial {
                    joined: BytesMut::new(),
                    left: 0,
                    last: false,
                    seq,
                });
                p.joined.reserve(len);
                p.left = len;
                p.last = last;
                p.seq = seq;
                continue;
            }
            while self.rbuf.len() < 4 + len {
                self.rbuf.reserve(4 + len - self.rbuf.len());
                if self.fill().await? == 0 {
                    return Err(ProtocolError::Truncated);
                }
            }
            self.rbuf.advance(4);
            self.header_charged = false;
            let body = self.rbuf.split_to(len);
            return Ok(Packet {
                seq,
                payload: body.freeze(),
                charge: self.charge.take().map(std::sync::Arc::new),
            });
        }
    }

    /// The first payload byte of the packet whose header is at the front
    /// of the read buffer (read if need be).
    async fn peek_command(&mut self) -> Option<u8> {
        while self.rbuf.len() < 5 {
            if !matches!(self.fill().await, Ok(n) if n > 0) {
                return None;
            }
        }
        self.rbuf.get(4).copied()
    }

    /// The command byte of the last packet refused for want of buffer
    /// budget ([`ProtocolError::OverBudget`]).
    pub fn refused_command(&self) -> Option<u8> {
        self.refused_command
    }

    /// Queues `payload` as packet(s) starting at `seq`; returns the next seq.
    pub fn queue(&mut self, seq: u8, payload: &[u8]) -> u8 {
        frame_into(&mut self.wbuf, seq, payload)
    }

    /// Queues the concatenation of `parts` as one logical packet.
    pub fn queue_parts(&mut self, seq: u8, parts: &[&[u8]]) -> u8 {
        frame_parts_into(&mut self.wbuf, seq, parts)
    }

    /// Sends the concatenation of `parts` as one logical packet (after
    /// what is queued): a small one through the write buffer, a large one
    /// straight from `parts`, so it is never copied. Returns the next seq.
    pub async fn send_parts(&mut self, seq: u8, parts: &[&[u8]]) -> Result<u8, ProtocolError> {
        let mut remaining: usize = parts.iter().map(|p| p.len()).sum();
        if remaining < DIRECT_WRITE {
            let next = self.queue_parts(seq, parts);
            self.flush().await?;
            return Ok(next);
        }
        self.flush().await?;
        let mut pieces = Pieces::new(parts);
        let mut seq = seq;
        loop {
            let n = remaining.min(MAX_PAYLOAD);
            let h = (n as u32).to_le_bytes();
            self.stream.write_all(&[h[0], h[1], h[2], seq]).await?;
            let mut left = n;
            while left > 0 {
                let run = pieces.next_run(left);
                if run.is_empty() {
                    return Err(ProtocolError::Malformed(
                        "packet parts shorter than their sum",
                    ));
                }
                self.stream.write_all(run).await?;
                left -= run.len();
            }
            seq = seq.wrapping_add(1);
            remaining -= n;
            if n < MAX_PAYLOAD {
                break;
            }
        }
        self.stream.flush().await?;
        Ok(seq)
    }

    /// Queues already-framed bytes.
    pub fn queue_raw(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    /// Writes everything queued.
    /// Writes the queued bytes, and flushes the stream: over TLS, a write
    /// may leave its last records in the TLS layer until flushed (the
    /// socket was full), and the peer would wait for them forever. On plain
    /// TCP the stream's flush does nothing.
    pub async fn flush(&mut self) -> Result<(), ProtocolError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
            if self.wbuf.capacity() > 256 * 1024 {
                self.wbuf.shrink_to(self.chunk);
            }
            self.stream.flush().await?;
        }
        Ok(())
    }

    /// Writes already-framed bytes directly, bypassing the queue.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        self.flush().await?;
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Queues and flushes one packet.
    pub async fn send(&mut self, seq: u8, payload: &[u8]) -> Result<u8, ProtocolError> {
        let next = self.queue(seq, payload);
        self.flush().await?;
        Ok(next)
    }

    /// Reads and drops what the peer still sends, up to `max` bytes or
    /// until `within` has passed, without buffering it. Closing a socket
    /// with unread data resets the connection, and the peer may then lose
    /// the error it was just sent (a refused oversized packet).
    pub async fn discard(&mut self, max: usize, within: std::time::Duration) {
        self.rbuf.clear();
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = [0u8; 8192];
        let mut seen = 0;
        while seen < max {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => seen += n,
                _ => break,
            }
        }
    }

    /// Skips the rest of a logical packet whose next physical header is at
    /// the front of the read buffer: reads and drops its bytes without
    /// keeping them, so the connection can go on after a refused packet.
    /// Returns the sequence id of its last physical packet.
    pub async fn skip_packet(&mut self, within: std::time::Duration) -> Result<u8, ProtocolError> {
        const SKIP_CHUNK: usize = 64 * 1024;
        let skip = async {
            loop {
                let (len, seq) = loop {
                    if let Some(h) = header(&self.rbuf) {
                        break h;
                    }
                    if self.fill().await? == 0 {
                        return Err(ProtocolError::Truncated);
                    }
                };
                self.rbuf.advance(4);
                let mut left = len;
                while left > 0 {
                    if self.rbuf.is_empty() {
                        self.rbuf.reserve(SKIP_CHUNK);
                        if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                            return Err(ProtocolError::Truncated);
                        }
                    }
                    let k = left.min(self.rbuf.len());
                    self.rbuf.advance(k);
                    left -= k;
                }
                if len < MAX_PAYLOAD {
                    return Ok(seq);
                }
            }
        };
        match tokio::time::timeout(within, skip).await {
            Ok(r) => r,
            Err(_) => Err(ProtocolError::Truncated),
        }
    }

    /// Gives back buffer memory after a large transfer, so idle
    /// connections stay small.
    pub fn shrink(&mut self) {
        if self.rbuf.is_empty() && self.rbuf.capacity() > 4 * self.chunk {
            self.rbuf = BytesMut::with_capacity(self.chunk);
        }
        if self.wbuf.is_empty() && self.wbuf.capacity() > 4 * self.chunk {
            self.wbuf = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn split_and_join_large_packet() {
        let payload: Vec<u8> = (0..(MAX_PAYLOAD * 2 + 10)).map(|i| i as u8).collect();
        let mut framed = Vec::new();
        let next = frame_into(&mut framed, 3, &payload);
        assert_eq!(next, 6);
        let (a, b) = tokio::io::duplex(1 << 16);
        let writer = tokio::spawn(async move {
            let mut a = a;
            a.write_all(&framed).await.unwrap();
        });
        let mut io = PacketIo::new(b);
        let p = io.read_packet().await.unwrap();
        assert_eq!(p.seq, 5);
        assert_eq!(p.payload.len(), payload.len());
        assert_eq!(&p.payload[..], &payload[..]);
        writer.await.unwrap();
        assert!(matches!(io.read_packet().await, Err(ProtocolError::Closed)));
    }

    #[tokio::test]
    async fn large_packets_between_small_ones_with_a_budget() {
        let big: Vec<u8> = (0..(MAX_PAYLOAD + 4 * 1024 * 1024))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut framed = Vec::new();
        frame_into(&mut framed, 0, b"\x03SELECT 1");
        frame_into(&mut framed, 0, &big);
        frame_into(&mut framed, 0, &vec![9u8; 100_000]);
        frame_into(&mut framed, 0, b"\x0e");
        let (a, b) = tokio::io::duplex(1 << 16);
        let writer = tokio::spawn(async move {
            let mut a = a;
            a.write_all(&framed).await.unwrap();
        });
        let budget = BufferBudget::new(64 << 20, std::time::Duration::from_secs(1));
        let mut io = PacketIo::with_chunk(b, CLIENT_READ_CHUNK);
        io.set_budget(budget.clone());
        assert_eq!(
            &io.read_packet().await.unwrap().payload[..],
            b"\x03SELECT 1"
        );
        let p = io.read_packet().await.unwrap();
        assert_eq!(p.payload.len(), big.len());
        assert!(p.payload[..] == big[..], "payload intact");
        assert_eq!(p.seq, 1);
        assert_eq!(budget.in_use(), big.len());
        drop(p);
        assert_eq!(budget.in_use(), 0);
        let p = io.read_packet().await.unwrap();
        assert_eq!(p.payload.len(), 100_000);
        assert_eq!(budget.in_use(), 100_000);
        drop(p);
        assert_eq!(&io.read_packet().await.unwrap().payload[..], b"\x0e");
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn parts_are_sent_as_one_packet() {
        for size in [
            10,
            DIRECT_WRITE + 3,
            MAX_PAYLOAD - 1,
            MAX_PAYLOAD,
            MAX_PAYLOAD + 1,
            2 * MAX_PAYLOAD + 7,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
            let (a, b) = tokio::io::duplex(1 << 16);
            let parts: [&[u8]; 3] = [&data[..1], &data[1..5], &data[5..]];
            let sender = {
                let data = data.clone();
                tokio::spawn(async move {
                    let mut io = PacketIo::new(a);
                    let parts: [&[u8]; 3] = [&data[..1], &data[1..5], &data[5..]];
                    io.send_parts(3, &parts).await.unwrap()
                })
            };
            let mut expected = Vec::new();
            let next = frame_parts_into(&mut expected, 3, &parts);
            let mut io = PacketIo::with_chunk(b, CLIENT_READ_CHUNK);
            io.set_budget(BufferBudget::new(
                64 << 20,
                std::time::Duration::from_secs(1),
            ));
            let p = io.read_packet().await.unwrap();
            assert!(p.payload[..] == data[..], "size {size}");
            assert_eq!(p.seq.wrapping_add(1), next, "size {size}");
            assert_eq!(sender.await.unwrap(), next, "size {size}");
        }
    }

    /// The session reads inside `select!`: a read interrupted by a timer
    /// resumes at the next call, losing nothing and paying once.
    #[tokio::test]
    async fn an_interrupted_read_resumes() {
        let big: Vec<u8> = (0..(MAX_PAYLOAD + 300_000))
            .map(|i| (i % 241) as u8)
            .collect();
        let mid = vec![5u8; 200_000];
        let mut framed = Vec::new();
        frame_into(&mut framed, 0, &big);
        frame_into(&mut framed, 0, &mid);
        frame_into(&mut framed, 0, b"\x0e");
        let (a, b) = tokio::io::duplex(1 << 12);
        let writer = tokio::spawn(async move {
            let mut a = a;
            for chunk in framed.chunks(1 << 20) {
                a.write_all(chunk).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        });
        let budget = BufferBudget::new(64 << 20, std::time::Duration::from_secs(5));
        let mut io = PacketIo::with_chunk(b, CLIENT_READ_CHUNK);
        io.set_budget(budget.clone());
        let mut interrupted = 0;
        let mut got = Vec::new();
        while got.len() < 3 {
            tokio::select! {
                r = io.read_packet() => got.push(r.unwrap()),
                _ = tokio::time::sleep(std::time::Duration::from_micros(300)) => interrupted += 1,
            }
            if got.len() == 1 {
                assert_eq!(budget.in_use(), big.len());
            }
        }
        assert!(interrupted > 0);
        assert!(got[0].payload[..] == big[..], "large packet intact");
        assert!(got[1].payload[..] == mid[..], "middle packet intact");
        assert_eq!(&got[2].payload[..], b"\x0e");
        assert_eq!(budget.in_use(), big.len() + mid.len());
        drop(got);
        assert_eq!(budget.in_use(), 0);
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn exact_multiple_needs_empty_trailer() {
        let payload = vec![7u8; MAX_PAYLOAD];
        let mut framed = Vec::new();
        frame_into(&mut framed, 0, &payload);
        assert_eq!(framed.len(), MAX_PAYLOAD + 8);
    }

    #[tokio::test]
    async fn truncated_packet_is_an_error() {
        let (mut a, b) = tokio::io::duplex(1024);
        a.write_all(&[10, 0, 0, 0, 1, 2]).await.unwrap();
        drop(a);
        let mut io = PacketIo::new(b);
        assert!(matches!(
            io.read_packet().await,
            Err(ProtocolError::Truncated)
        ));
    }

    #[tokio::test]
    async fn oversized_claim_is_refused() {
        let (mut a, b) = tokio::io::duplex(1024);
        a.write_all(&[0xff, 0xff, 0xff, 0, 1]).await.unwrap();
        let mut io = PacketIo::new(b);
        io.set_max_packet(1024);
        assert!(matches!(
            io.read_packet().await,
            Err(ProtocolError::TooLarge(..))
        ));
    }
}
