//! Problem: a connection starts as plain TCP and may turn into TLS in the
//! middle of the MySQL handshake (after an SSLRequest), while the packet
//! reader on top of it stays the same. [`Transport`] is that stream: plain,
//! TLS as a server (towards clients) or TLS as a client (towards servers).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP stream that first gives back bytes already read from it (a
/// client may send its TLS ClientHello right behind the SSLRequest, into
/// the packet reader's buffer).
pub struct Rewind {
    pre: Bytes,
    inner: TcpStream,
}

impl Rewind {
    pub fn new(pre: Bytes, inner: TcpStream) -> Self {
        Rewind { pre, inner }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.pre.is_empty() {
            let n = self.pre.len().min(buf.remaining());
            buf.put_slice(&self.pre[..n]);
            self.pre.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A connection's stream.
pub enum Transport {
    Plain(TcpStream),
    /// TLS towards a client (sqlyard is the TLS server).
    Accepted(Box<tokio_rustls::server::TlsStream<Rewind>>),
    /// TLS towards a server (sqlyard is the TLS client).
    Connected(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// In the middle of an upgrade that failed: every operation errors.
    Broken,
}

/// The TLS version and cipher suite in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    pub version: &'static str,
    pub cipher: String,
}

impl Transport {
    /// Takes the TCP stream out for an upgrade, leaving `Broken`.
    pub fn take_plain(&mut self) -> io::Result<TcpStream> {
        match std::mem::replace(self, Transport::Broken) {
            Transport::Plain(s) => Ok(s),
            other => {
                *self = other;
                Err(io::Error::other("the connection is already encrypted"))
            }
        }
    }

    /// The TCP socket underneath.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Transport::Plain(s) => Some(s),
            Transport::Accepted(s) => Some(&s.get_ref().0.inner),
            Transport::Connected(s) => Some(s.get_ref().0),
            Transport::Broken => None,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Accepted(_) | Transport::Connected(_))
    }

    /// The TLS version and cipher, when encrypted.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        let (version, suite) = match self {
            Transport::Accepted(s) => {
                let c = s.get_ref().1;
                (c.protocol_version(), c.negotiated_cipher_suite())
            }
            Transport::Connected(s) => {
                let c = s.get_ref().1;
                (c.protocol_version(), c.negotiated_cipher_suite())
            }
            _ => return None,
        };
        let version = match version? {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "TLS",
        };
        let cipher = suite.map_or_else(String::new, |s| {
            s.suite().as_str().unwrap_or("unknown").to_string()
        });
        Some(TlsInfo { version, cipher })
    }

    /// The end of validity of the certificate the peer presented.
    pub fn peer_not_after(&self) -> Option<i64> {
        let certs = match self {
            Transport::Accepted(s) => s.get_ref().1.peer_certificates(),
            Transport::Connected(s) => s.get_ref().1.peer_certificates(),
            _ => None,
        }?;
        certs.first().and_then(super::expiry::not_after)
    }

    /// Whether the client presented a certificate (checked against
    /// `[tls] client_ca` during the handshake).
    pub fn peer_has_certificate(&self) -> bool {
        match self {
            Transport::Accepted(s) => s
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|c| !c.is_empty()),
            _ => false,
        }
    }

    fn broken() -> io::Error {
        io::Error::new(io::ErrorKind::NotConnected, "TLS upgrade failed")
    }
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Transport::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            Transport::Accepted($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
            Transport::Connected($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
            Transport::Broken => Poll::Ready(Err(Transport::broken())),
        }
    };
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_shutdown(cx))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write_vectored(cx, bufs))
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Accepted(s) => s.is_write_vectored(),
            Transport::Connected(s) => s.is_write_vectored(),
            Transport::Broken => false,
        }
    }
}
