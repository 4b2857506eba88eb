//! Problem: an expired certificate breaks every new connection at once;
//! operators must see the date coming (a metric, a warning at startup).

use rustls::pki_types::CertificateDer;

/// The certificate's notAfter, in seconds since the Unix epoch.
pub fn not_after(cert: &CertificateDer<'_>) -> Option<i64> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(parsed.validity().not_after.timestamp())
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_end_of_validity() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 1, 2);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        // 2031-01-02T00:00:00Z
        assert_eq!(not_after(cert.der()), Some(1_925_078_400));
        assert_eq!(not_after(&CertificateDer::from(vec![1, 2, 3])), None);
    }
}
