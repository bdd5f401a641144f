//! An HTTPS front for the embedded fixture (wiremock speaks plain HTTP only): a freshly generated
//! self-signed certificate, and a TLS listener that forwards each connection's bytes to the
//! fixture. The `Host` header passes through unchanged, so the fixture's Hrefs name the address
//! the client called, as a real Enterprise Manager's do (spec §6.5).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::ServeError;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A self-signed certificate and its key.
pub struct SelfSigned {
    pub pem: String,
    der: CertificateDer<'static>,
    key: Vec<u8>,
}

/// Generates a certificate for `localhost`, the loopback addresses and `host`.
pub fn self_signed(host: IpAddr) -> Result<SelfSigned, ServeError> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !host.is_unspecified() && !host.is_loopback() {
        names.push(host.to_string());
    }
    let mut params = rcgen::CertificateParams::new(names)
        .map_err(|e| ServeError(format!("cannot make a certificate: {e}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "emconform serve");
    let key =
        rcgen::KeyPair::generate().map_err(|e| ServeError(format!("cannot make a key: {e}")))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| ServeError(format!("cannot sign the certificate: {e}")))?;
    Ok(SelfSigned {
        pem: cert.pem(),
        der: cert.der().clone(),
        key: key.serialize_der(),
    })
}

impl SelfSigned {
    /// Writes the certificate (not the key) as PEM.
    pub fn write(&self, path: &Path) -> Result<(), ServeError> {
        std::fs::write(path, &self.pem).map_err(|e| {
            ServeError(format!(
                "cannot write the certificate to {}: {e}",
                path.display()
            ))
        })
    }

    fn server_config(&self) -> Result<Arc<ServerConfig>, ServeError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth().with_single_cert(
                    vec![self.der.clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone())),
                )
            })
            .map_err(|e| ServeError(format!("cannot set up TLS: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The running front; dropping it stops accepting connections.
pub struct TlsFront {
    accept_loop: JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// Serves TLS on `listener`, forwarding every connection to `backend` (must run in a runtime).
pub fn start(
    listener: TcpListener,
    certificate: &SelfSigned,
    backend: SocketAddr,
) -> Result<TlsFront, ServeError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(certificate.server_config()?);
    let accept_loop = tokio::spawn(async move {
        loop {
            let tcp = match listener.accept().await {
                // No Nagle: a response is written as several TLS records, and waiting to
                // coalesce them meets the client's delayed ACK (about 40 ms per answer).
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    tcp
                }
                // E.g. out of file descriptors: try again shortly rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate ends here; that is its business.
                let Ok(Ok(mut tls)) =
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = upstream.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    Ok(TlsFront { accept_loop })
}
