//! Problem: `sqlyard sandbox --tls` and the TLS tests need a private CA
//! and certificates for the router, the servers and a client, valid for
//! 127.0.0.1 and localhost, made on the spot (ECDSA P-256, via rcgen).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

use super::error::SandboxError;

/// The PEM files of a sandbox's TLS setup (all in one directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub dir: PathBuf,
    /// The CA certificate everything is signed by.
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    pub router_cert: PathBuf,
    pub router_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// The file names used under `dir`.
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            dir: dir.to_path_buf(),
            ca: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
            router_cert: dir.join("router-cert.pem"),
            router_key: dir.join("router-key.pem"),
            server_cert: dir.join("server-cert.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("client-cert.pem"),
            client_key: dir.join("client-key.pem"),
        }
    }

    /// Makes a CA and router, server and client certificates in `dir`.
    pub fn generate(dir: &Path) -> Result<TlsFiles, SandboxError> {
        std::fs::create_dir_all(dir).map_err(|source| SandboxError::Io {
            action: "create",
            path: dir.to_path_buf(),
            source,
        })?;
        let files = TlsFiles::in_dir(dir);
        let fail = |what: &str, e: rcgen::Error| SandboxError::Tls(format!("{what}: {e}"));
        let ca_key = KeyPair::generate().map_err(|e| fail("CA key", e))?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = name("sqlyard sandbox CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params
            .self_signed(&ca_key)
            .map_err(|e| fail("CA certificate", e))?;
        write(&files.ca, &ca.pem())?;
        write(&files.ca_key, &ca_key.serialize_pem())?;
        let leaf =
            |cn: &str, usage: ExtendedKeyUsagePurpose| -> Result<(String, String), SandboxError> {
                let key = KeyPair::generate().map_err(|e| fail(cn, e))?;
                let mut params = CertificateParams::new(vec!["localhost".to_string()])
                    .map_err(|e| fail(cn, e))?;
                params
                    .subject_alt_names
                    .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
                params.distinguished_name = name(cn);
                params.extended_key_usages = vec![usage];
                let cert = params
                    .signed_by(&key, &ca, &ca_key)
                    .map_err(|e| fail(cn, e))?;
                Ok((cert.pem(), key.serialize_pem()))
            };
        for (cn, usage, cert_path, key_path) in [
            (
                "sqlyard router",
                ExtendedKeyUsagePurpose::ServerAuth,
                &files.router_cert,
                &files.router_key,
            ),
            (
                "sqlyard sandbox server",
                ExtendedKeyUsagePurpose::ServerAuth,
                &files.server_cert,
                &files.server_key,
            ),
            (
                "sqlyard sandbox client",
                ExtendedKeyUsagePurpose::ClientAuth,
                &files.client_cert,
                &files.client_key,
            ),
        ] {
            let (cert, key) = leaf(cn, usage)?;
            write(cert_path, &cert)?;
            write(key_path, &key)?;
        }
        Ok(files)
    }
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn write(path: &Path, text: &str) -> Result<(), SandboxError> {
    std::fs::write(path, text).map_err(|source| SandboxError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_chain_to_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::generate(dir.path()).unwrap();
        let ca = crate::tls::pem::certs(&files.ca).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca[0].clone()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            crate::tls::provider(),
        )
        .build()
        .unwrap();
        use rustls::client::danger::ServerCertVerifier;
        for cert in [&files.router_cert, &files.server_cert] {
            let leaf = crate::tls::pem::certs(cert).unwrap();
            for name in ["127.0.0.1", "localhost"] {
                let name = rustls::pki_types::ServerName::try_from(name).unwrap();
                verifier
                    .verify_server_cert(
                        &leaf[0],
                        &[],
                        &name,
                        &[],
                        rustls::pki_types::UnixTime::now(),
                    )
                    .unwrap();
            }
        }
        assert!(crate::tls::pem::key(&files.client_key).is_ok());
    }
}
