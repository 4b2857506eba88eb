//! Authentication can fail for reasons other than a wrong password: a server may
//! send a public key we cannot parse, a packet we did not expect, or a nonce that
//! is unusable. This file names those failures in one error type for the auth layer.

use thiserror::Error;

/// Everything that can go wrong while computing or checking an authentication
/// exchange. A wrong password is *not* an error: verification functions return
/// `false` for that.
#[derive(Debug, Error)]
pub enum AuthError {
    /// The server's public key was labelled `RSA PUBLIC KEY` but is not valid PKCS#1.
    #[error("server public key is not a valid PKCS#1 RSA public key")]
    InvalidPkcs1PublicKey(#[source] rsa::pkcs1::Error),

    /// The server's public key is not a valid SubjectPublicKeyInfo (`PUBLIC KEY`) PEM.
    #[error("server public key is not a valid SPKI RSA public key")]
    InvalidSpkiPublicKey(#[source] rsa::pkcs8::spki::Error),

    /// The public-key packet was not text.
    #[error("server public key is not valid UTF-8")]
    PublicKeyNotUtf8,

    /// RSA-OAEP encryption failed (most often: the password is longer than the key allows).
    #[error("RSA encryption of the password failed")]
    RsaEncrypt(#[source] rsa::Error),

    /// The nonce (scramble) the server sent is empty, so nothing can be derived from it.
    #[error("the server sent an empty nonce")]
    EmptyNonce,

    /// A packet that should have been AuthMoreData (leading byte 0x01) was something else.
    #[error("expected an AuthMoreData packet (0x01), got first byte {first:#04x}")]
    NotAuthMoreData {
        /// First byte of the offending packet, or 0 if it was empty.
        first: u8,
    },

    /// An AuthMoreData packet arrived that makes no sense in the current step of
    /// the caching_sha2_password exchange.
    #[error("unexpected caching_sha2_password data in state {state}: first data byte {first:#04x}, {len} bytes")]
    UnexpectedSha2Data {
        /// Name of the client state when the packet arrived.
        state: &'static str,
        /// First byte after the 0x01 marker (0 if none).
        first: u8,
        /// Length of the data after the 0x01 marker.
        len: usize,
    },

    /// The server side was asked to verify a plugin sqlyard cannot verify with the
    /// credential it holds (for example caching_sha2_password with only a native hash).
    /// Full authentication over plaintext with no trusted public key:
    /// asking the server for its key would let a man in the middle answer.
    #[error("caching_sha2_password full authentication over plaintext needs the server's RSA public key from a file, or key retrieval allowed")]
    InsecureFullAuth,
    #[error("cannot verify plugin {plugin} with the stored credential")]
    CannotVerify {
        /// Wire name of the plugin.
        plugin: String,
    },
}
