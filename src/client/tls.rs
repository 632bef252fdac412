//! TLS for the client: the rustls `ClientConfig` built from the command line (CA files and
//! directories, the OS store, a client certificate, one TLS version, ALPN, `--insecure`), and TLS
//! errors in words.
//!
//! The config is built here rather than by rumqttc: its default config panics on an odd
//! certificate in the OS store, and it has no way to skip only the host name check.

use std::error::Error as StdError;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

use crate::exit::{Code, Fatal};

/// The TLS versions `--tls-version` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsVersion {
    #[value(name = "tlsv1.2")]
    Tls12,
    #[value(name = "tlsv1.3")]
    Tls13,
}

/// What the command line says about TLS, once TLS is known to be on.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    /// Trust the OS store too (--tls-use-os-certs, or no CA option at all).
    pub os_certs: bool,
    /// --cert and --key, both or neither.
    pub client_auth: Option<(PathBuf, PathBuf)>,
    pub version: Option<TlsVersion>,
    pub insecure: bool,
    pub alpn: Option<String>,
}

fn input(message: impl Into<String>) -> anyhow::Error {
    Fatal::new(Code::Input, message).into()
}

fn tls_failure(message: impl Into<String>) -> anyhow::Error {
    Fatal::new(Code::Tls, message).into()
}

/// The ring provider, chosen explicitly: no process-wide default is needed or installed.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Build the client config. Unreadable or invalid files exit 10 (`Code::Input`).
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    if let Some(path) = &options.cafile {
        let certs = read_certs(path, "--cafile")?;
        for cert in certs {
            roots.add(cert).map_err(|err| {
                input(format!(
                    "--cafile {}: not a usable CA certificate: {err}",
                    path.display()
                ))
            })?;
        }
    }
    if let Some(dir) = &options.capath {
        add_capath(&mut roots, dir)?;
    }
    if options.os_certs {
        // One certificate the store holds but rustls cannot parse is skipped, never fatal.
        let found = rustls_native_certs::load_native_certs();
        let (added, _skipped) = roots.add_parsable_certificates(found.certs);
        if added == 0 && roots.is_empty() {
            let why = found
                .errors
                .first()
                .map_or_else(|| "it holds no certificate".to_owned(), |e| e.to_string());
            return Err(tls_failure(format!(
                "cannot use the system's CA certificates: {why}; give --cafile or --capath"
            )));
        }
    }
    let roots = Arc::new(roots);

    let versions: &[&'static rustls::SupportedProtocolVersion] = match options.version {
        Some(TlsVersion::Tls12) => &[&rustls::version::TLS12],
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        None => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|err| anyhow::anyhow!("cannot set up TLS: {err}"))?;
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
        .build()
        .map_err(|err| anyhow::anyhow!("cannot set up TLS certificate checks: {err}"))?;
    let builder = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipNameCheck(webpki)))
    } else {
        builder.with_webpki_verifier(webpki)
    };
    let mut config = match &options.client_auth {
        Some((cert_path, key_path)) => {
            let certs = read_certs(cert_path, "--cert")?;
            let key = PrivateKeyDer::from_pem_file(key_path).map_err(|err| {
                input(format!(
                    "--key {}: {}",
                    key_path.display(),
                    pem_error(&err, "private key (RSA, EC or PKCS#8)")
                ))
            })?;
            builder.with_client_auth_cert(certs, key).map_err(|err| {
                input(format!(
                    "--cert {} and --key {}: {}",
                    cert_path.display(),
                    key_path.display(),
                    describe(&err)
                ))
            })?
        }
        None => builder.with_no_client_auth(),
    };
    if let Some(alpn) = &options.alpn {
        config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    }
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file; none at all is an error.
fn read_certs(path: &Path, option: &str) -> Result<Vec<CertificateDer<'static>>> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|err| {
            input(format!(
                "{option} {shown}: {}",
                pem_error(&err, "certificate")
            ))
        })?;
    if certs.is_empty() {
        return Err(input(format!(
            "{option} {shown}: no PEM certificate (BEGIN CERTIFICATE) in the file"
        )));
    }
    Ok(certs)
}

/// --capath: every file of the directory that holds PEM certificates (others are skipped).
fn add_capath(roots: &mut RootCertStore, dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| input(format!("--capath {}: {err}", dir.display())))?;
    let mut added = 0usize;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let Ok(iter) = CertificateDer::pem_file_iter(&path) else {
            continue;
        };
        for cert in iter.flatten() {
            if roots.add(cert).is_ok() {
                added += 1;
            }
        }
    }
    if added == 0 {
        return Err(input(format!(
            "--capath {}: no PEM CA certificate in the directory",
            dir.display()
        )));
    }
    Ok(())
}

/// A PEM parsing error in words.
fn pem_error(err: &rustls::pki_types::pem::Error, what: &str) -> String {
    use rustls::pki_types::pem::Error as E;
    match err {
        E::Io(err) => err.to_string(),
        E::NoItemsFound => format!("no PEM {what} in the file"),
        other => format!("not a valid PEM file: {other}"),
    }
}

/// `--insecure`: the chain is verified as usual; only a certificate issued for another name is
/// accepted, as mosquitto's --insecure does.
#[derive(Debug)]
struct SkipNameCheck(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for SkipNameCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The rustls error somewhere in an error's chain (rumqttc and tokio-rustls wrap it in
/// `io::Error`s), if there is one.
pub fn find_rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<io::Error>()
            && let Some(inner) = io.get_ref()
        {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            current = Some(inner);
            continue;
        }
        current = err.source();
    }
    None
}

/// A time as seconds since 1970, in words.
fn utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map_or_else(
            || format!("{secs} s after 1970"),
            |time| time.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

/// `wrong.example` of rustls's `DnsName("wrong.example")`, `127.0.0.1` of `IpAddress(127.0.0.1)`.
fn bare_name(presented: &str) -> &str {
    for (start, end) in [("DnsName(\"", "\")"), ("IpAddress(", ")")] {
        if let Some(name) = presented
            .strip_prefix(start)
            .and_then(|rest| rest.strip_suffix(end))
        {
            return name;
        }
    }
    presented
}

/// A TLS failure in words: what is wrong with the certificate, or what the broker refused.
pub fn describe(err: &rustls::Error) -> String {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                "the broker's certificate is signed by an unknown authority (not by the CA of \
                 --cafile/--capath)"
                    .into()
            }
            CertificateError::ExpiredContext { not_after, .. } => format!(
                "the broker's certificate has expired (on {})",
                utc(not_after.as_secs())
            ),
            CertificateError::Expired => "the broker's certificate has expired".into(),
            CertificateError::NotValidYetContext { not_before, .. } => format!(
                "the broker's certificate is not valid yet (from {}; is the clock right?)",
                utc(not_before.as_secs())
            ),
            CertificateError::NotValidYet => "the broker's certificate is not valid yet".into(),
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => {
                let names: Vec<&str> = presented.iter().map(|name| bare_name(name)).collect();
                let names = if names.is_empty() {
                    "no host name".to_owned()
                } else {
                    names.join(", ")
                };
                format!(
                    "the broker's certificate is for {names}, not {} (--insecure skips this check)",
                    expected.to_str()
                )
            }
            CertificateError::NotValidForName => {
                "the broker's certificate is for another host name (--insecure skips this check)"
                    .into()
            }
            CertificateError::BadSignature => "the broker's certificate has a bad signature".into(),
            other => format!("the broker's certificate is not acceptable: {other}"),
        },
        E::AlertReceived(alert) => match alert {
            AlertDescription::CertificateRequired => {
                "the broker requires a client certificate (--cert and --key)".into()
            }
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate => {
                format!("the broker refused our client certificate (TLS alert {alert:?})")
            }
            AlertDescription::ProtocolVersion => {
                "the broker does not accept this TLS version (see --tls-version)".into()
            }
            AlertDescription::HandshakeFailure => {
                "the broker refused the TLS handshake (a client certificate required, or no \
                 version or cipher in common?)"
                    .into()
            }
            AlertDescription::NoApplicationProtocol => {
                "the broker does not accept the ALPN protocol of --tls-alpn".into()
            }
            other => format!("the broker refused the TLS handshake (alert {other:?})"),
        },
        E::PeerIncompatible(why) => {
            format!("the broker and skeeter have no TLS version or cipher in common ({why:?})")
        }
        E::InconsistentKeys(_) => "the key is not the certificate's".into(),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the broker does not speak TLS on this port (or the connection is broken)".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_error_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = io::Error::new(io::ErrorKind::InvalidData, tls);
        let outer = io::Error::other(io);
        assert!(matches!(
            find_rustls_error(&outer),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ));
        assert!(find_rustls_error(&io::Error::other("plain")).is_none());
    }

    #[test]
    fn names_in_words() {
        assert_eq!(bare_name("DnsName(\"wrong.example\")"), "wrong.example");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("other"), "other");
        assert_eq!(utc(1_577_836_800), "2020-01-01 00:00:00 UTC");
    }

    #[test]
    fn unknown_authority_in_words() {
        let text = describe(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(text.contains("unknown authority"), "{text}");
    }
}
