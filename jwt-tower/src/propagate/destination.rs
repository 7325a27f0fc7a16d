//! Where a [`PropagateLayer`](super::PropagateLayer) may send credentials: origins
//! (scheme, host, port), and the check of each outgoing request against them.

use std::fmt;
use std::str::FromStr;

use http::Uri;

use super::PropagateError;

/// An origin (RFC 6454): scheme, host and port, the unit a [`PropagateLayer`] is allowed
/// to send credentials to. Only `http` and `https`; the port defaults to 80 and 443, and
/// the host is compared without regard to ASCII case.
///
/// From a string (an allow-list entry) the origin is all there is: a path other than `/`,
/// a query or user information is an error, since paths are not what is checked. From an
/// [`http::Uri`] (e.g. a tonic `Endpoint::uri()`) it is the URI's origin, whatever its
/// path.
///
/// ```
/// use jwt_tower::propagate::Origin;
/// let origin: Origin = "https://Orders.Internal".parse()?;
/// assert_eq!(origin, "https://orders.internal:443".parse()?);
/// assert_eq!(origin.to_string(), "https://orders.internal:443");
/// assert!("https://orders.internal/v1".parse::<Origin>().is_err());
/// assert!("ftp://orders.internal".parse::<Origin>().is_err());
///
/// let uri: http::Uri = "http://127.0.0.1:50051/identity.v1.Identity/WhoAmI".parse()?;
/// assert_eq!(Origin::try_from(&uri)?.to_string(), "http://127.0.0.1:50051");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`PropagateLayer`]: super::PropagateLayer
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    https: bool,
    host: Box<str>,
    port: u16,
}

/// A string or URI that is not an origin a [`PropagateLayer`](super::PropagateLayer)
/// can be bound to, or an empty list of destinations. Its message names the input and
/// what is wrong with it.
///
/// ```
/// use jwt_tower::propagate::{InvalidOrigin, Origin, PropagateLayer};
///
/// let error: InvalidOrigin = "https://orders.internal/v1".parse::<Origin>().unwrap_err();
/// assert!(error.to_string().starts_with("invalid propagation destination \"https://orders.internal/v1\""));
///
/// let error = PropagateLayer::forward().to(Vec::<&str>::new()).unwrap_err();
/// assert_eq!(error.to_string(), "no propagation destination: at least one origin is required");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct InvalidOrigin(Problem);

#[derive(Debug, Clone, thiserror::Error)]
enum Problem {
    #[error("invalid propagation destination {input:?}: {reason}")]
    NotAnOrigin { input: String, reason: &'static str },
    #[error("no propagation destination: at least one origin is required")]
    NoDestination,
}

impl InvalidOrigin {
    fn new(input: impl fmt::Display, reason: &'static str) -> Self {
        Self(Problem::NotAnOrigin {
            input: input.to_string(),
            reason,
        })
    }

    pub(super) fn no_destination() -> Self {
        Self(Problem::NoDestination)
    }
}

/// What a [`PropagateLayer`](super::PropagateLayer) can be bound to: an [`Origin`], a
/// string naming one (`"https://orders.internal"`), or an [`http::Uri`] whose origin it
/// takes (a tonic `Endpoint::uri()`). Sealed: implemented by this crate only.
pub trait IntoOrigin: sealed::Sealed {
    /// The origin, or why it is not one.
    ///
    /// # Errors
    /// If this is not an `http`/`https` origin (see [`Origin`]).
    fn into_origin(self) -> Result<Origin, InvalidOrigin>;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! into_origin {
    ($($t:ty),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl IntoOrigin for $t {
            fn into_origin(self) -> Result<Origin, InvalidOrigin> {
                Origin::try_from(self)
            }
        }
    )*};
}

into_origin!(&str, String, &String, Uri, &Uri);

impl sealed::Sealed for Origin {}
impl IntoOrigin for Origin {
    fn into_origin(self) -> Result<Origin, InvalidOrigin> {
        Ok(self)
    }
}

impl sealed::Sealed for &Origin {}
impl IntoOrigin for &Origin {
    fn into_origin(self) -> Result<Origin, InvalidOrigin> {
        Ok(self.clone())
    }
}

impl Origin {
    /// The origin of a request URI, if it has a scheme and an authority (an
    /// `http`/`https` one): `None` for a relative URI.
    fn of_request(uri: &Uri) -> Option<Result<Self, InvalidOrigin>> {
        uri.authority()?;
        Some(Self::try_from(uri))
    }
}

impl TryFrom<&Uri> for Origin {
    type Error = InvalidOrigin;

    fn try_from(uri: &Uri) -> Result<Self, Self::Error> {
        let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => true,
            Some("http") => false,
            Some(_) => return Err(InvalidOrigin::new(uri, "the scheme must be http or https")),
            None => {
                return Err(InvalidOrigin::new(
                    uri,
                    "a scheme (http or https) is required",
                ));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| InvalidOrigin::new(uri, "a host is required"))?;
        let host = authority.host();
        if host.is_empty() {
            return Err(InvalidOrigin::new(uri, "a host is required"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Self {
            https,
            host: host.to_ascii_lowercase().into(),
            port,
        })
    }
}

impl TryFrom<Uri> for Origin {
    type Error = InvalidOrigin;

    fn try_from(uri: Uri) -> Result<Self, Self::Error> {
        Self::try_from(&uri)
    }
}

impl FromStr for Origin {
    type Err = InvalidOrigin;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uri: Uri = s.parse().map_err(|_| InvalidOrigin::new(s, "not a URI"))?;
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(InvalidOrigin::new(s, "user information is not allowed"));
        }
        if uri.query().is_some() || !matches!(uri.path(), "" | "/") {
            return Err(InvalidOrigin::new(
                s,
                "an origin has no path or query: the destination is checked by scheme, host and port",
            ));
        }
        Self::try_from(&uri)
    }
}

impl TryFrom<&str> for Origin {
    type Error = InvalidOrigin;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<String> for Origin {
    type Error = InvalidOrigin;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<&String> for Origin {
    type Error = InvalidOrigin;

    fn try_from(s: &String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

impl Origin {
    /// The origin as a URL's start, the way clients write it: without the scheme's
    /// default port (RFC 3986 §6.2.3), so that a server comparing a DPoP proof's `htu`
    /// as text, not normalised, still matches it.
    pub(crate) fn url_base(&self) -> String {
        let (scheme, default_port) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        if self.port == default_port {
            format!("{scheme}://{}", self.host)
        } else {
            self.to_string()
        }
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({self})")
    }
}

/// Where a layer's requests may go.
#[derive(Clone, Debug)]
pub(super) enum Destinations {
    /// Clients that take absolute URIs (a hyper client, reqwest behind a tower service):
    /// each request's URI must name one of these origins.
    AllowList(Box<[Origin]>),
    /// A client bound to one origin whatever the request URI says (a tonic `Channel`):
    /// a relative URI goes there; an absolute one must name it.
    Fixed(Origin),
}

impl Destinations {
    /// The one origin of a client bound to one, where relative URIs go.
    pub(super) fn fixed(&self) -> Option<&Origin> {
        match self {
            Self::Fixed(origin) => Some(origin),
            Self::AllowList(_) => None,
        }
    }

    /// Whether a request to `uri` may carry the layer's credentials.
    pub(super) fn check(&self, uri: &Uri) -> Result<(), PropagateError> {
        let origin = match Origin::of_request(uri) {
            Some(Ok(origin)) => origin,
            Some(Err(_)) => {
                return Err(PropagateError::DestinationNotAllowed {
                    origin: redacted(uri),
                });
            }
            None => {
                return match self {
                    Self::Fixed(_) => Ok(()),
                    Self::AllowList(_) => Err(PropagateError::NoDestination),
                };
            }
        };
        let allowed = match self {
            Self::AllowList(origins) => origins.contains(&origin),
            Self::Fixed(fixed) => *fixed == origin,
        };
        if allowed {
            Ok(())
        } else {
            Err(PropagateError::DestinationNotAllowed {
                origin: origin.to_string(),
            })
        }
    }
}

/// A URI's scheme and host, for an error message: never its user information, path or
/// query, which may hold credentials.
fn redacted(uri: &Uri) -> String {
    format!(
        "{}://{}",
        uri.scheme_str().unwrap_or_default(),
        uri.host().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(origins: &[&str]) -> Destinations {
        Destinations::AllowList(origins.iter().map(|o| o.parse().unwrap()).collect())
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn an_allow_list_matches_scheme_host_and_port() {
        let d = allow(&[
            "https://orders.internal",
            "http://127.0.0.1:8080",
            "http://[::1]:9000",
        ]);
        for ok in [
            "https://orders.internal/v1/orders?x=1",
            "https://ORDERS.internal:443/",
            "http://127.0.0.1:8080/a",
            "http://[::1]:9000/a",
        ] {
            assert!(d.check(&uri(ok)).is_ok(), "{ok}");
        }
        for refused in [
            "http://orders.internal/",
            "https://orders.internal:8443/",
            "https://orders.internal.evil.example/",
            "https://evil.example/",
            "http://127.0.0.1:8081/",
            "http://localhost:8080/",
            "http://[::1]:8080/",
        ] {
            assert!(
                matches!(
                    d.check(&uri(refused)),
                    Err(PropagateError::DestinationNotAllowed { .. })
                ),
                "{refused}"
            );
        }
        assert!(matches!(
            d.check(&uri("/relative")),
            Err(PropagateError::NoDestination)
        ));
    }

    #[test]
    fn authority_tricks_are_judged_by_the_host_the_request_goes_to() {
        let d = allow(&["https://orders.internal"]);
        // The allowed name as user information: the request goes to evil.example.
        for refused in [
            "https://orders.internal@evil.example/",
            "https://orders.internal:443@evil.example/",
            "https://user:orders.internal@evil.example/v1",
        ] {
            assert!(
                matches!(
                    d.check(&uri(refused)),
                    Err(PropagateError::DestinationNotAllowed { .. })
                ),
                "{refused}"
            );
        }
        // User information before the allowed host, and the default port spelled out:
        // the request goes to orders.internal:443.
        for ok in [
            "https://user@orders.internal/",
            "https://orders.internal:443/",
            "https://user:pw@orders.internal:443/v1",
        ] {
            assert!(d.check(&uri(ok)).is_ok(), "{ok}");
        }
    }

    #[test]
    fn an_empty_destination_list_is_named_as_such() {
        let error = InvalidOrigin::no_destination().to_string();
        assert_eq!(
            error,
            "no propagation destination: at least one origin is required"
        );
    }

    #[test]
    fn origins_strings_and_uris_all_bind() {
        let origin: Origin = "https://orders.internal".parse().unwrap();
        let uri = uri("https://orders.internal/v1");
        for bound in [
            origin.clone().into_origin(),
            (&origin).into_origin(),
            "https://orders.internal".into_origin(),
            String::from("https://orders.internal").into_origin(),
            (&uri).into_origin(),
            uri.clone().into_origin(),
        ] {
            assert_eq!(bound.unwrap(), origin);
        }
    }

    #[test]
    fn a_fixed_origin_takes_relative_uris_and_refuses_others() {
        let d = Destinations::Fixed(Origin::try_from(&uri("http://127.0.0.1:50051")).unwrap());
        assert!(d.check(&uri("/identity.v1.Identity/WhoAmI")).is_ok());
        assert!(d.check(&uri("http://127.0.0.1:50051/x")).is_ok());
        assert!(d.check(&uri("http://127.0.0.1:50052/x")).is_err());
    }

    #[test]
    fn errors_never_carry_paths_or_user_information() {
        let d = allow(&["https://orders.internal"]);
        let error = d
            .check(&uri("https://user:pw@evil.example/p?access_token=secret"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("evil.example"), "{error}");
        assert!(
            !error.contains("pw") && !error.contains("secret"),
            "{error}"
        );
    }

    #[test]
    fn allow_list_entries_are_origins_only() {
        for bad in [
            "orders.internal",
            "/path",
            "https://orders.internal/v1",
            "https://orders.internal?x",
            "https://u:p@orders.internal",
            "ftp://orders.internal",
        ] {
            assert!(bad.parse::<Origin>().is_err(), "{bad}");
        }
    }
}
