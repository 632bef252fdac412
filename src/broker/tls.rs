//! TLS for the mqtts and wss listeners: the rustls server configuration from PEM files (ring
//! provider, TLS 1.2 and 1.3), client certificates verified against a CA, and the identity (the
//! subject CN) of a verified client certificate.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::Tls;

/// Load the certificate, key and CA files and build the acceptor. Err is one line naming the file,
/// with kind `InvalidInput`.
pub(crate) fn acceptor(tls: &Tls) -> io::Result<TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = load_certs(&tls.certfile, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(&tls.keyfile).map_err(|err| {
        invalid(format!(
            "cannot load key file {}: {err}",
            tls.keyfile.display()
        ))
    })?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|err| invalid(format!("TLS setup: {err}")))?;
    let builder = match &tls.cafile {
        Some(cafile) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs(cafile, "CA certificate")? {
                roots.add(cert).map_err(|err| {
                    invalid(format!("bad CA certificate in {}: {err}", cafile.display()))
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if tls.require_certificate {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|err| invalid(format!("CA file {}: {err}", cafile.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None if tls.require_certificate => {
            return Err(invalid(
                "a required client certificate needs a CA file".into(),
            ));
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(certs, key).map_err(|err| {
        invalid(format!(
            "certificate {} and key {}: {err}",
            tls.certfile.display(),
            tls.keyfile.display()
        ))
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn load_certs(path: &Path, what: &str) -> io::Result<Vec<CertificateDer<'static>>> {
    let cannot =
        |why: String| invalid(format!("cannot load {what} file {}: {why}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|err| cannot(err.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| cannot(err.to_string()))?;
    if certs.is_empty() {
        return Err(cannot("no PEM certificate in it".into()));
    }
    Ok(certs)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The first common name (CN) of a DER certificate's subject, as mosquitto's
/// use_identity_as_username takes it. None if absent or not text.
pub(crate) fn common_name(cert: &[u8]) -> Option<String> {
    const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03]; // 2.5.4.3
    let Some((SEQUENCE, cert, _)) = tlv(cert) else {
        return None;
    };
    let Some((SEQUENCE, tbs, _)) = tlv(cert) else {
        return None;
    };
    let mut fields = tbs;
    if let Some((0xa0, _, rest)) = tlv(fields) {
        fields = rest; // [0] version
    }
    // serial number, signature algorithm, issuer, validity
    for _ in 0..4 {
        fields = tlv(fields)?.2;
    }
    let Some((SEQUENCE, mut name, _)) = tlv(fields) else {
        return None;
    };
    while !name.is_empty() {
        let Some((SET, mut attributes, rest)) = tlv(name) else {
            return None;
        };
        name = rest;
        while !attributes.is_empty() {
            let Some((SEQUENCE, attribute, rest)) = tlv(attributes) else {
                return None;
            };
            attributes = rest;
            let Some((OID, oid, value)) = tlv(attribute) else {
                return None;
            };
            if oid == COMMON_NAME {
                let (tag, text, _) = tlv(value)?;
                return match tag {
                    // UTF8String, PrintableString, TeletexString, IA5String
                    0x0c | 0x13 | 0x14 | 0x16 => String::from_utf8(text.to_vec()).ok(),
                    // BMPString: UTF-16BE
                    0x1e if text.len() % 2 == 0 => {
                        let units = text
                            .chunks(2)
                            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
                        char::decode_utf16(units)
                            .collect::<Result<String, _>>()
                            .ok()
                    }
                    _ => None,
                };
            }
        }
    }
    None
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// One DER element: (tag, contents, what follows it). Single-byte tags only (all X.509 needs).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| len << 8 | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(name: rcgen::DistinguishedName) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.distinguished_name = name;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn common_name_is_read_from_the_subject() {
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::OrganizationName, "Acme");
        name.push(rcgen::DnType::CommonName, "sensor-7 é");
        assert_eq!(common_name(&cert_with(name)).as_deref(), Some("sensor-7 é"));
    }

    #[test]
    fn no_common_name_is_none() {
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::OrganizationName, "Acme");
        assert_eq!(common_name(&cert_with(name)), None);
        assert_eq!(common_name(b"\x30\x03\x30\x01"), None);
        assert_eq!(common_name(b""), None);
    }
}
