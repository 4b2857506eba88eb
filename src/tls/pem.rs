//! Problem: certificates and keys come as PEM files that may be missing,
//! empty, of the wrong kind or corrupt; each case must say which.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Reads every certificate of a PEM file (at least one).
pub fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = read(path)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&text).collect();
    let certs = certs.map_err(|e| format!("not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("holds no certificate (no BEGIN CERTIFICATE block)".into());
    }
    for (i, c) in certs.iter().enumerate() {
        if x509_parser::parse_x509_certificate(c).is_err() {
            return Err(format!(
                "certificate {} is not a valid X.509 certificate",
                i + 1
            ));
        }
    }
    Ok(certs)
}

/// Reads CA certificates into a trust store.
pub fn roots(path: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(path)? {
        roots
            .add(c)
            .map_err(|e| format!("not a usable CA certificate: {e}"))?;
    }
    Ok(roots)
}

/// Reads the private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let text = read(path)?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            "holds no private key (no BEGIN PRIVATE KEY block)".to_string()
        }
        e => format!("not a valid private key: {e}"),
    })
}

/// Reads a PEM file as text (an RSA public key, say), checking its kind.
pub fn public_key(path: &Path) -> Result<String, String> {
    let text = read(path)?;
    let text = String::from_utf8(text).map_err(|_| "is not text".to_string())?;
    if !text.contains("-----BEGIN PUBLIC KEY-----")
        && !text.contains("-----BEGIN RSA PUBLIC KEY-----")
    {
        return Err("holds no public key (no BEGIN PUBLIC KEY block)".into());
    }
    crate::protocol::auth::rsa::parse_public_key_pem(&text)
        .map_err(|e| format!("not a usable RSA public key: {e}"))?;
    Ok(text)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if text.is_empty() {
        return Err("is empty".into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_file_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert!(certs(&missing).unwrap_err().starts_with("cannot read"));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(certs(&empty).unwrap_err(), "is empty");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello\n").unwrap();
        assert!(certs(&junk).unwrap_err().contains("no certificate"));
        assert!(key(&junk).unwrap_err().contains("no private key"));
        let bad = dir.path().join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(certs(&bad).unwrap_err().contains("not a valid X.509"));
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let good = dir.path().join("good.pem");
        std::fs::write(&good, generated.cert.pem()).unwrap();
        assert_eq!(certs(&good).unwrap().len(), 1);
        let k = dir.path().join("key.pem");
        std::fs::write(&k, generated.key_pair.serialize_pem()).unwrap();
        assert!(key(&k).is_ok());
        // a certificate is not a key
        assert!(key(&good).unwrap_err().contains("no private key"));
    }
}
