//! TLS with rustls (the `ring` provider: no C toolchain beyond a compiler, no CMake): the server
//! side from PEM certificate and key files, the client side trusting the system's roots plus an
//! optional CA file (private PKI between data centres), and the rule that a secret never travels
//! over plain HTTP to an address that is not loopback unless the operator opted in.

pub use rustls;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key or CA file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable certificate or key.
    #[error("{path}: {what}")]
    Content {
        /// The file.
        path: String,
        /// What is missing or wrong.
        what: String,
    },
    /// rustls refused the combination (a key that does not match the certificate, say).
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: shown.clone(),
        source,
    })?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Content {
            path: shown.clone(),
            what: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Content {
            path: shown,
            what: "no PEM certificate in it".into(),
        });
    }
    Ok(certs)
}

/// A server configuration from a PEM certificate chain and its PEM private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certificates(cert)?;
    let shown = key.display().to_string();
    let pem = std::fs::read(key).map_err(|source| TlsError::Read {
        path: shown.clone(),
        source,
    })?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| TlsError::Content {
            path: shown.clone(),
            what: e.to_string(),
        })?
        .ok_or_else(|| TlsError::Content {
            path: shown,
            what: "no PEM private key in it".into(),
        })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration trusting the system's root certificates and, if given, the
/// certificates in `ca_file` (for a private CA between the data centres).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: a machine with none still trusts the CA file.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        for cert in certificates(path)? {
            roots.add(cert)?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Refuses a `url` that would carry a secret in clear: `http://` (or `ws://`) to a host that is
/// not loopback, unless `allow_plain` (a private network the operator vouches for). `what` names
/// the secret and the setting in the sentence.
pub fn secret_may_travel_to(url: &str, what: &str, allow_plain: bool) -> Result<(), String> {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))
    else {
        return Ok(());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_plain {
        return Ok(());
    }
    Err(format!(
        "{what} would travel in clear to {url}: use https://, or set allow_plain_http_secrets = true \
         for a network you trust"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_off_plain_http_except_on_loopback_or_by_choice() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "https://a.example",
        ] {
            assert!(
                secret_may_travel_to(url, "the secret", false).is_ok(),
                "{url}"
            );
        }
        let refused = secret_may_travel_to("http://chat-b.example:8080", "the secret", false);
        assert!(refused.unwrap_err().contains("allow_plain_http_secrets"));
        assert!(secret_may_travel_to("http://10.0.0.2", "the secret", true).is_ok());
    }
}
