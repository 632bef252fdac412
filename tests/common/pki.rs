//! Certificates for TLS tests, made with rcgen in a directory the user mosquitto can read:
//! `ca.pem`; `server.pem`/`.key` (localhost and 127.0.0.1), `wrong.pem`/`.key` (another name),
//! `expired.pem`/`.key`; `client.pem`/`.key` (CN client); `other-ca.pem`, a CA nobody used.
//! More client certificates, from either CA and with any common name, on request.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use super::set_mode;

/// Certificates made for one test: a CA, server certificates signed by it (good, for another
/// name, expired), a client certificate, and a CA nobody used (until [`Pki::other_client`]).
pub struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    other_ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        set_mode(dir.path(), 0o755);
        let ca = make_ca(dir.path(), "skeeter test CA", "ca");
        let other_ca = make_ca(dir.path(), "someone else's CA", "other-ca");
        let pki = Pki { dir, ca, other_ca };
        pki.leaf(&pki.ca, "server", &["localhost", "127.0.0.1"], false);
        pki.leaf(&pki.ca, "wrong", &["wrong.example"], false);
        pki.leaf(&pki.ca, "expired", &["localhost", "127.0.0.1"], true);
        pki.leaf(&pki.ca, "client", &["client"], false);
        pki
    }

    /// A client certificate signed by the CA with the common name given (for
    /// use_identity_as_username), for client authentication only: `NAME.pem` and `NAME.key`,
    /// replacing any made before under that name.
    pub fn client(&self, name: &str, common_name: &str) {
        self.client_cert(&self.ca, name, common_name);
    }

    /// The same, signed by the other CA (a certificate the broker must refuse).
    pub fn other_client(&self, name: &str, common_name: &str) {
        self.client_cert(&self.other_ca, name, common_name);
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The path as a string, for arguments and mosquitto.conf.
    pub fn file(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    pub fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        // mosquitto started as root reads its files as the user mosquitto.
        set_mode(&path, 0o644);
    }

    fn client_cert(&self, ca: &CertifiedIssuer<'static, KeyPair>, name: &str, common_name: &str) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, ca).unwrap();
        self.write(&format!("{name}.pem"), &cert.pem());
        self.write(&format!("{name}.key"), &key.serialize_pem());
    }

    fn leaf(
        &self,
        ca: &CertifiedIssuer<'static, KeyPair>,
        name: &str,
        names: &[&str],
        expired: bool,
    ) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, ca).unwrap();
        self.write(&format!("{name}.pem"), &cert.pem());
        self.write(&format!("{name}.key"), &key.serialize_pem());
    }
}

/// A self-signed CA, written as `NAME.pem` (readable by all) in `dir`.
fn make_ca(dir: &Path, common_name: &str, name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let ca = CertifiedIssuer::self_signed(params, key).unwrap();
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, ca.pem()).unwrap();
    // mosquitto started as root reads its files as the user mosquitto.
    set_mode(&path, 0o644);
    ca
}
