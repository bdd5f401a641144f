//! The TLS policy of a run, built once and shared by every connection.
//!
//! Certificates are verified against the platform's trust store unless the user says otherwise:
//! `--ca-cert FILE` trusts exactly the certificates in FILE (the usual way to trust an Enterprise
//! Manager's self-signed certificate), `--insecure` skips verification altogether.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Which certificates a run trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Trust {
    /// The platform's trust store (the default).
    #[default]
    Platform,
    /// Only the certificates in this PEM file.
    CaCert(PathBuf),
    /// No verification (`--insecure`).
    Insecure,
}

/// Why a TLS policy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read the CA certificate {path}: {reason}")]
    CaCert { path: PathBuf, reason: String },
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What to do about a failed TLS handshake, from rustls' reason.
pub fn advice(reason: &str) -> &'static str {
    let has = |words: &[&str]| words.iter().any(|w| reason.contains(w));
    if has(&[
        "UnknownIssuer",
        "unknown issuer",
        "SelfSigned",
        "self-signed",
        "self signed",
    ]) {
        "The certificate is not signed by an authority this machine trusts (Enterprise Manager's \
         own certificate is self-signed): export the server's certificate (README: \"Trusting the \
         server's certificate\") and pass it with --ca-cert FILE; --insecure skips verification \
         altogether"
    } else if has(&["NotValidForName", "not valid for name"]) {
        "The certificate does not name the host in --target: use a host name the certificate lists \
         in its Subject Alternative Names (often the server's full DNS name), or reissue the \
         certificate for the name you use; --insecure skips verification altogether"
    } else if has(&["Expired", "expired", "NotValidYet"]) {
        "The certificate is outside its validity period (or this machine's clock is wrong): renew \
         it on the server; --insecure skips verification altogether"
    } else if has(&["No CA certificates"]) {
        "This machine's trust store holds no certificate emconform can read: install the CA \
         certificates (on Debian and Ubuntu, the ca-certificates package) or point SSL_CERT_FILE or \
         SSL_CERT_DIR at them; to trust just the server's certificate, pass it with --ca-cert FILE"
    } else if has(&["InvalidContentType", "corrupt message", "InvalidMessage"]) {
        "The server did not answer with TLS: check the port, or use http:// if it serves plain HTTP"
    } else {
        "To trust the server's certificate, pass it with --ca-cert FILE (PEM); --insecure skips \
         verification altogether"
    }
}

/// Reads every certificate in a PEM file.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let err = |reason: String| TlsSetupError::CaCert {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(err("no `-----BEGIN CERTIFICATE-----` block in it".into()));
    }
    Ok(certs)
}

/// Builds the client TLS configuration for `trust`. HTTP/1.1 only: that is what EM speaks.
///
/// The platform's is built once per process and shared, and its verifier reads the system's
/// trust store only when it checks its first certificate ([`LazyPlatformVerifier`]): reading and
/// parsing every certificate there costs more than a whole run of the suite against the fixture,
/// which never speaks TLS.
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, TlsSetupError> {
    static PLATFORM: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if *trust != Trust::Platform {
        return build_client_config(trust);
    }
    if let Some(config) = PLATFORM.get() {
        return Ok(config.clone());
    }
    let config = build_client_config(trust)?;
    Ok(PLATFORM.get_or_init(|| config).clone())
}

fn build_client_config(trust: &Trust) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match trust {
        Trust::Platform => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LazyPlatformVerifier::new(provider)))
            .with_no_client_auth(),
        Trust::CaCert(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certificates(path)? {
                roots.add(cert).map_err(|e| TlsSetupError::CaCert {
                    path: path.clone(),
                    reason: format!("the certificate cannot be used as a trust anchor: {e}"),
                })?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The platform's verifier (`rustls-platform-verifier`: the system's trust store and WebPKI),
/// made when the first certificate is to be checked. Making it reads the whole trust store (on
/// Linux, every file of `/etc/ssl/certs`): a run that speaks only plain HTTP (the embedded
/// fixture, each of nextest's one-trial processes) never pays for it. When the store cannot be
/// read, the handshake fails with the reason ([`advice`] says what to do), and the next one reads
/// it again.
#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: Arc<CryptoProvider>,
    made: OnceLock<rustls_platform_verifier::Verifier>,
}

impl LazyPlatformVerifier {
    fn new(provider: Arc<CryptoProvider>) -> Self {
        LazyPlatformVerifier {
            provider,
            made: OnceLock::new(),
        }
    }

    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        if let Some(made) = self.made.get() {
            return Ok(made);
        }
        // Two first handshakes at once may both read the store; one of the verifiers is kept.
        let made = rustls_platform_verifier::Verifier::new(self.provider.clone())?;
        Ok(self.made.get_or_init(|| made))
    }

    /// Whether the trust store has been read.
    #[cfg(test)]
    fn is_made(&self) -> bool {
        self.made.get().is_some()
    }
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        (self.verifier()?).verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        (self.verifier()?).verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        (self.verifier()?).verify_tls13_signature(message, cert, dss)
    }

    /// What the platform's verifier says too (WebPKI checks with the provider's algorithms), without
    /// reading the trust store to say it: a client hello asks before any certificate arrives.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The verifier behind `--insecure`: accepts any certificate, still checks handshake signatures.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_each_policy() {
        assert!(client_config(&Trust::Platform).is_ok());
        assert!(client_config(&Trust::Insecure).is_ok());
    }

    #[test]
    fn the_trust_store_is_read_at_the_first_certificate_and_then_checks_it() {
        let verifier = LazyPlatformVerifier::new(provider());
        let platform = rustls_platform_verifier::Verifier::new(provider()).unwrap();
        assert_eq!(
            verifier.supported_verify_schemes(),
            platform.supported_verify_schemes()
        );
        assert!(!verifier.is_made(), "a client hello needs no trust store");

        // A self-signed certificate, as Enterprise Manager's own: the platform does not trust it.
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["em.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let name = ServerName::try_from("em.example").unwrap();
        let verdict = verifier.verify_server_cert(cert.der(), &[], &name, &[], UnixTime::now());
        assert!(verifier.is_made());
        let err = verdict.unwrap_err().to_string();
        assert!(
            err.contains("UnknownIssuer") || err.contains("unknown issuer"),
            "{err}"
        );
    }

    #[test]
    fn advice_fits_the_reason() {
        assert!(advice("invalid peer certificate: UnknownIssuer").contains("--ca-cert FILE"));
        assert!(
            advice("invalid peer certificate: certificate not valid for name \"127.0.0.1\"")
                .contains("Subject Alternative Names")
        );
        assert!(advice("invalid peer certificate: Expired").contains("validity period"));
        assert!(advice("received corrupt message of type InvalidContentType").contains("http://"));
        assert!(
            advice("unexpected error: No CA certificates were loaded from the system")
                .contains("SSL_CERT_FILE")
        );
        assert!(advice("something else").starts_with("To trust"));
    }

    #[test]
    fn a_bad_ca_file_says_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("emconform-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("not-a-cert.pem");
        std::fs::write(&file, "hello").unwrap();
        let err = client_config(&Trust::CaCert(file.clone()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `-----BEGIN CERTIFICATE-----`"), "{err}");
        let missing = client_config(&Trust::CaCert(dir.join("missing.pem")))
            .unwrap_err()
            .to_string();
        assert!(
            missing.starts_with("cannot read the CA certificate"),
            "{missing}"
        );
    }
}
