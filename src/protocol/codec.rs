//! Problem: MySQL frames every message as packets of at most 16 MiB with a
//! sequence id, and splits larger payloads. This is the buffered packet
//! reader/writer both sides of sqlyard use.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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
/// Read size towards clients, which mostly send small requests; small so
/// that thousands of idle clients cost little memory.
pub const CLIENT_READ_CHUNK: usize = 4 * 1024;

/// One logical packet: payload joined across 16 MiB splits.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Sequence id of the last physical packet.
    pub seq: u8,
    pub payload: Bytes,
}

/// A framed, buffered MySQL connection (client or server side).
pub struct PacketIo<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    max_packet: usize,
    chunk: usize,
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
        }
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
    /// A clean EOF between packets gives [`ProtocolError::Closed`].
    pub async fn read_packet(&mut self) -> Result<Packet, ProtocolError> {
        // Fast path: one complete physical packet already buffered.
        let mut joined: Option<BytesMut> = None;
        loop {
            let (len, seq) = loop {
                if let Some(h) = header(&self.rbuf) {
                    break h;
                }
                if self.fill().await? == 0 {
                    return Err(if self.rbuf.is_empty() && joined.is_none() {
                        ProtocolError::Closed
                    } else {
                        ProtocolError::Truncated
                    });
                }
            };
            let total = joined.as_ref().map_or(0, |j| j.len()) + len;
            if total > self.max_packet {
                return Err(ProtocolError::TooLarge(total, self.max_packet));
            }
            while self.rbuf.len() < 4 + len {
                self.rbuf.reserve(4 + len - self.rbuf.len());
                if self.fill().await? == 0 {
                    return Err(ProtocolError::Truncated);
                }
            }
            self.rbuf.advance(4);
            let body = self.rbuf.split_to(len);
            if len < MAX_PAYLOAD && joined.is_none() {
                return Ok(Packet {
                    seq,
                    payload: body.freeze(),
                });
            }
            let j = joined.get_or_insert_with(BytesMut::new);
            j.extend_from_slice(&body);
            if len < MAX_PAYLOAD {
                let payload = joined.take().unwrap_or_default().freeze();
                return Ok(Packet { seq, payload });
            }
        }
    }

    /// Queues `payload` as packet(s) starting at `seq`; returns the next seq.
    pub fn queue(&mut self, seq: u8, payload: &[u8]) -> u8 {
        frame_into(&mut self.wbuf, seq, payload)
    }

    /// Queues already-framed bytes.
    pub fn queue_raw(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), ProtocolError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
            if self.wbuf.capacity() > 256 * 1024 {
                self.wbuf.shrink_to(self.chunk);
            }
        }
        Ok(())
    }

    /// Writes already-framed bytes directly, bypassing the queue.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        self.flush().await?;
        self.stream.write_all(bytes).await?;
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
