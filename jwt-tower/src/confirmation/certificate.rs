//! [`ClientCertificate`]: the certificate a client presented on its TLS connection (or
//! that a trusted TLS-terminating proxy forwarded), reduced to what RFC 8705 binds a
//! token to: the SHA-256 thumbprint of its DER encoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The client certificate of a request, as its RFC 8705 `x5t#S256` thumbprint (the
/// base64url SHA-256 of the certificate's DER encoding).
///
/// The server puts it in the request's extensions: an axum server over rustls for the
/// connection's peer certificate, a tonic server from its TLS peer certificates, or a
/// layer that reads a trusted proxy's header with
/// [`from_forwarded_pem`](Self::from_forwarded_pem). The authenticator then accepts a
/// token carrying `cnf["x5t#S256"]` only when this thumbprint matches it.
///
/// ```
/// use jwt_tower::confirmation::ClientCertificate;
///
/// let certificate = ClientCertificate::from_der(b"not really DER, but hashed all the same");
/// assert_eq!(certificate.thumbprint().len(), 43);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientCertificate {
    thumbprint: String,
}

/// Why a forwarded certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The header is not valid UTF-8 once percent-decoded.
    #[error("the certificate header is not percent-encoded UTF-8")]
    Encoding,
    /// The header does not hold exactly one PEM `CERTIFICATE`.
    #[error("the certificate header does not hold one PEM certificate")]
    Pem,
}

impl ClientCertificate {
    /// The certificate whose DER encoding is `der`.
    #[must_use]
    pub fn from_der(der: &[u8]) -> Self {
        Self {
            thumbprint: URL_SAFE_NO_PAD.encode(Sha256::digest(der)),
        }
    }

    /// The certificate in a PEM `CERTIFICATE` block.
    ///
    /// # Errors
    /// [`CertificateError::Pem`] unless `pem` holds exactly one certificate.
    pub fn from_pem(pem: &str) -> Result<Self, CertificateError> {
        let blocks = pem::parse_many(pem).map_err(|_| CertificateError::Pem)?;
        match blocks.as_slice() {
            [block] if block.tag() == "CERTIFICATE" => Ok(Self::from_der(block.contents())),
            _ => Err(CertificateError::Pem),
        }
    }

    /// The certificate a TLS-terminating proxy forwarded in a header as URL-encoded PEM
    /// (nginx's `$ssl_client_escaped_cert`, Envoy's `XFCC` `Cert=` value). Read it only
    /// from a header the proxy sets and clients cannot.
    ///
    /// ```
    /// use jwt_tower::confirmation::{CertificateError, ClientCertificate};
    ///
    /// let pem = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
    /// let forwarded = pem.replace('\n', "%0A").replace(' ', "%20");
    /// assert_eq!(
    ///     ClientCertificate::from_forwarded_pem(forwarded.as_bytes()),
    ///     ClientCertificate::from_pem(pem),
    /// );
    /// assert_eq!(
    ///     ClientCertificate::from_forwarded_pem(b"nonsense"),
    ///     Err(CertificateError::Pem)
    /// );
    /// ```
    ///
    /// # Errors
    /// [`CertificateError`] when the value is not one percent-encoded PEM certificate.
    pub fn from_forwarded_pem(value: &[u8]) -> Result<Self, CertificateError> {
        let pem = percent_encoding::percent_decode(value)
            .decode_utf8()
            .map_err(|_| CertificateError::Encoding)?;
        Self::from_pem(&pem)
    }

    /// The RFC 8705 `x5t#S256` thumbprint: base64url (no padding) of the SHA-256 of the
    /// certificate's DER encoding.
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_the_base64url_sha256_of_the_der() {
        // SHA-256 of the empty string, base64url without padding.
        assert_eq!(
            ClientCertificate::from_der(b"").thumbprint(),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn pem_must_hold_exactly_one_certificate() {
        let one = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        assert_eq!(
            ClientCertificate::from_pem(one),
            Ok(ClientCertificate::from_der(&[0, 1, 2]))
        );
        assert_eq!(
            ClientCertificate::from_pem(&format!("{one}{one}")),
            Err(CertificateError::Pem)
        );
        let key = "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";
        assert_eq!(ClientCertificate::from_pem(key), Err(CertificateError::Pem));
        assert_eq!(
            ClientCertificate::from_forwarded_pem(b"%FF%FE"),
            Err(CertificateError::Encoding)
        );
    }
}
