//! HTTP plumbing shared by bde-heat's BDE, vSphere and OpenStack clients.
//!
//! One place decides how a remote call is made: TLS is verified (against a
//! given CA bundle, or the system's roots), skipping verification is an
//! explicit, logged opt-in, every request has a timeout, and transient
//! failures are retried a bounded number of times with backoff.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

/// How a client verifies the server's certificate.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// A PEM bundle of CA certificates to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Only ever set from an explicit user setting.
    pub insecure: bool,
}

/// Settings for one HTTP client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Certificate verification.
    pub tls: TlsOptions,
    /// Upper bound for a whole request, answer included.
    pub timeout: Duration,
    /// Upper bound for establishing a connection.
    pub connect_timeout: Duration,
    /// Keep cookies between requests (session cookies of BDE and vCenter).
    pub cookies: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            tls: TlsOptions::default(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            cookies: false,
        }
    }
}

/// Why an HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The CA bundle could not be read or holds no certificate.
    #[error("CA file {path}: {reason} (give a PEM bundle of the CA that signed the server's certificate)")]
    CaFile {
        /// The file named by the user.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// reqwest refused the configuration.
    #[error("building the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Builds an HTTP client that verifies TLS unless told otherwise.
///
/// `service` names the remote side in the warning logged when verification is off.
pub fn http_client(service: &str, opts: &HttpOptions) -> Result<reqwest::Client, TransportError> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(opts.connect_timeout)
        .user_agent(concat!("bde-heat/", env!("CARGO_PKG_VERSION")))
        // No API this product talks to redirects; following one would carry the
        // session cookie or X-Auth-Token to wherever the redirect points.
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(opts.cookies);
    if let Some(path) = &opts.tls.ca_file {
        builder = builder.tls_certs_only(read_ca_bundle(path)?);
    }
    if opts.tls.insecure {
        tracing::warn!(service, "TLS certificate verification is OFF (insecure was requested)");
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(TransportError::Build)
}

fn read_ca_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>, TransportError> {
    let fail = |reason: String| TransportError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// The largest answer read: far beyond any reply of these APIs (a 2,000-VM property read is a
/// few MB), short of what a broken or hostile server could send to exhaust memory.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// Why an answer's body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The transfer failed.
    Http(reqwest::Error),
    /// The body is larger than the cap.
    TooLarge(usize),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Http(e) => write!(f, "{}", explain(e)),
            BodyError::TooLarge(max) => write!(f, "the answer is larger than {max} bytes: refused"),
        }
    }
}

/// Reads an answer's body, refusing one larger than `max` bytes (by its length, or as it arrives).
pub async fn read_body(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Http)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Errors that know whether trying again may help (5xx, resets, timeouts).
pub trait Transient {
    /// True when the same request may succeed if sent again.
    fn is_transient(&self) -> bool;
}

/// True for the HTTP statuses that mean "try again later".
pub fn is_transient_status(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504 | 429)
}

/// True for transport failures where the request may not have been handled.
/// A refused certificate is not one of them: it fails the same way every time.
pub fn is_transient_reqwest(err: &reqwest::Error) -> bool {
    (err.is_timeout() || err.is_connect() || err.is_request() || err.is_body()) && !is_tls_failure(err)
}

/// True when a TLS error (an unknown CA, a wrong host name) is in the error's chain.
pub fn is_tls_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    tls_failure(err).is_some()
}

/// A transport failure in words a user can act on: reqwest's summary, and for
/// a refused certificate rustls' reason and the fix.
pub fn explain(err: &reqwest::Error) -> String {
    match tls_failure(err) {
        Some(reason) => format!(
            "{err}: the server's certificate was refused ({reason}): give the CA that signed it \
             (ca_file for BDE, vcenter_ca_file for vCenter), or skip the check explicitly with insecure: true"
        ),
        None => match root_cause(err) {
            // reqwest says "error sending request for url (...)"; the root says why.
            Some(root) => format!("{err}: {root}"),
            None => err.to_string(),
        },
    }
}

/// The innermost cause's words (e.g. "Connection refused (os error 111)"), when
/// there is a cause below the error itself.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut last = None;
    let mut cause = err.source();
    while let Some(e) = cause {
        last = Some(e.to_string());
        cause = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    last
}

/// The TLS error in the error's chain, if any.
fn tls_failure<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // io::Errors nest (hyper wraps rustls' io::Error in another) and hide
        // their payload from source().
        cause = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// How often and how patiently a transient failure is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: usize,
    /// Delay before the first retry; it doubles up to `max_delay`.
    pub first_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 4,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry: for calls that start work.
    pub fn none() -> Self {
        Self {
            retries: 0,
            ..Self::default()
        }
    }
}

/// Runs `op`, retrying transient failures with jittered exponential backoff.
///
/// Each retry is logged once with `what` and the error's display text, which
/// must never carry a secret.
pub async fn retry<T, E, F, Fut>(policy: &RetryPolicy, what: &str, op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Transient + Display,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.first_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.retries)
        .with_jitter();
    op.retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e: &E| e.is_transient())
        .notify(|e: &E, delay: Duration| {
            tracing::warn!(what, error = %e, retry_in_ms = delay.as_millis() as u64, "transient failure, retrying");
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Flaky(bool);
    impl Display for Flaky {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "flaky (transient: {})", self.0)
        }
    }
    impl Transient for Flaky {
        fn is_transient(&self) -> bool {
            self.0
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_up_to_the_bound() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), Flaky> = retry(&fast(), "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Flaky(true))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4, "one attempt plus three retries");
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), Flaky> = retry(&fast(), "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Flaky(false))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_success_after_transient_failures_is_returned() {
        let calls = AtomicUsize::new(0);
        let result = retry(&fast(), "test", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(Flaky(true))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        // A port just freed: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = http_client("test", &HttpOptions::default()).unwrap();
        let err = client
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        let text = explain(&err);
        assert!(
            text.contains("error sending request") && text.to_lowercase().contains("refused"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let opts = HttpOptions {
            tls: TlsOptions {
                ca_file: Some("/nonexistent/ca.pem".into()),
                insecure: false,
            },
            ..HttpOptions::default()
        };
        let err = http_client("test", &opts).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = format!("http://{}/steal", elsewhere.local_addr().unwrap());
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api", server.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut conn, _) = server.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let reply = format!("HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n");
            conn.write_all(reply.as_bytes()).await.unwrap();
        });
        let client = http_client("test", &HttpOptions::default()).unwrap();
        let resp = client
            .get(&url)
            .header("X-Auth-Token", "secret-token")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 302, "the redirect comes back as an answer");
        let followed = tokio::time::timeout(std::time::Duration::from_millis(300), elsewhere.accept()).await;
        assert!(followed.is_err(), "nothing reached the redirect's target");
    }

    async fn serve_once(reply: Vec<u8>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", server.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut conn, _) = server.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let _ = conn.write_all(&reply).await;
        });
        url
    }

    #[tokio::test]
    async fn an_answer_larger_than_the_cap_is_refused() {
        let client = http_client("test", &HttpOptions::default()).unwrap();
        let body = vec![b'x'; 4096];
        let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        chunked.extend(format!("{:x}\r\n", body.len()).as_bytes());
        chunked.extend(&body);
        chunked.extend(b"\r\n0\r\n\r\n");
        let resp = client.get(serve_once(chunked.clone()).await).send().await.unwrap();
        assert!(matches!(read_body(resp, 1024).await, Err(BodyError::TooLarge(1024))));
        let resp = client.get(serve_once(chunked).await).send().await.unwrap();
        assert_eq!(read_body(resp, 8192).await.unwrap().len(), 4096);
        let declared = b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\nx".to_vec();
        let resp = client.get(serve_once(declared).await).send().await.unwrap();
        assert!(
            matches!(read_body(resp, 1024).await, Err(BodyError::TooLarge(_))),
            "refused by its length"
        );
    }
}
