//! A client for BDE's REST API: form login with a `JSESSIONID` cookie, a new
//! login when the session has expired (401), tasks followed through their
//! `Location`, and BDE's own `code` and `message` in every error.

use std::time::Duration;

use bde_transport::{
    HttpOptions, RetryPolicy, TlsOptions, Transient, TransportError, http_client, is_transient_reqwest,
    is_transient_status, retry,
};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::{
    API_PREFIX, BddErrorMessage, ClusterCreate, ClusterRead, IpBlock, LOGIN_PATH, LOGOUT_PATH, NetworkAdd, NetworkRead,
    TaskRead,
};

/// A name as one URL path segment: `/`, `?`, `#`, `%`, spaces and the like are
/// percent-encoded, so a name can never reach another resource than its own.
pub fn seg(name: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.');
    percent_encoding::utf8_percent_encode(name, SEGMENT).to_string()
}

/// How to reach and log in to BDE.
#[derive(Debug, Clone)]
pub struct BdeConfig {
    /// `https://host:8443` (the `/serengeti` paths are added).
    pub endpoint: String,
    /// The vCenter SSO user BDE knows.
    pub username: String,
    /// Its password; never logged.
    pub password: SecretString,
    /// Certificate verification.
    pub tls: TlsOptions,
    /// Upper bound for one call.
    pub timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

/// What went wrong talking to BDE. No variant carries a credential or cookie.
#[derive(Debug, thiserror::Error)]
pub enum BdeError {
    /// The HTTP client could not be built.
    #[error("BDE client: {0}")]
    Transport(#[from] TransportError),
    /// The endpoint is not a usable URL.
    #[error("bde_endpoint {url:?}: {reason} (expected e.g. https://bde.example.com:8443)")]
    BadUrl {
        /// As given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// No answer.
    #[error("BDE {what}: {}", bde_transport::explain(source))]
    Http {
        /// The call.
        what: String,
        /// The transport failure.
        #[source]
        source: reqwest::Error,
    },
    /// BDE refused the login.
    #[error("BDE refused the login of {username} (HTTP {status}): check username and password")]
    Login {
        /// The user.
        username: String,
        /// BDE's status.
        status: u16,
    },
    /// BDE answered with an error.
    #[error("BDE {what}: HTTP {status} {code}: {message}")]
    Api {
        /// The call.
        what: String,
        /// The HTTP status.
        status: u16,
        /// BDE's code, e.g. `CLUSTER.CANNOT_DELETE` (empty for non-JSON answers).
        code: String,
        /// BDE's message.
        message: String,
    },
    /// The answer was not what BDE promises.
    #[error("BDE {what}: unexpected answer: {reason}")]
    Parse {
        /// The call.
        what: String,
        /// What was wrong.
        reason: String,
    },
}

impl BdeError {
    /// BDE's error code, if it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            BdeError::Api { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            BdeError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// BDE already has what was to be made (`BDD.ALREADY_EXISTS`).
    pub fn is_already_exists(&self) -> bool {
        self.code() == Some("BDD.ALREADY_EXISTS")
    }

    /// BDE cannot act on the cluster in its current state yet (`CLUSTER.CANNOT_DELETE`, ...).
    pub fn is_busy(&self) -> bool {
        matches!(
            self.code(),
            Some("CLUSTER.CANNOT_DELETE" | "CLUSTER.OPERATION_CONFLICT")
        )
    }

    /// A network a cluster still uses (`NETWORK.NETWORK_IN_USE`).
    pub fn is_in_use(&self) -> bool {
        self.code() == Some("NETWORK.NETWORK_IN_USE")
    }

    /// The cluster is already where a stop or start would take it.
    pub fn is_already_in_state(&self) -> bool {
        matches!(self.code(), Some("CLUSTER.IS_STOPPED" | "CLUSTER.IS_RUNNING"))
    }
}

impl Transient for BdeError {
    fn is_transient(&self) -> bool {
        match self {
            BdeError::Http { source, .. } => is_transient_reqwest(source),
            BdeError::Api { status, .. } => {
                StatusCode::from_u16(*status).is_ok_and(is_transient_status) && *status != 500
            }
            _ => false,
        }
    }
}

/// A task BDE started: its id and the URL to follow.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskRef {
    /// The job execution id.
    pub id: i64,
    /// The `Location` BDE gave.
    pub url: String,
}

/// A BDE session.
#[derive(Debug)]
pub struct Bde {
    http: reqwest::Client,
    base: Url,
    username: String,
    password: SecretString,
    retry: RetryPolicy,
    calls: std::sync::atomic::AtomicU64,
}

impl Bde {
    /// API calls made so far (benchmarks count them).
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Builds the client and logs in.
    pub async fn connect(config: &BdeConfig) -> Result<Self, BdeError> {
        let bad = |reason: &str| BdeError::BadUrl {
            url: config.endpoint.clone(),
            reason: reason.into(),
        };
        let base = Url::parse(&config.endpoint).map_err(|e| bad(&e.to_string()))?;
        if base.scheme() != "https" {
            return Err(bad("BDE serves HTTPS only"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad("credentials do not belong in the URL"));
        }
        let http = http_client(
            "BDE",
            &HttpOptions {
                tls: config.tls.clone(),
                timeout: config.timeout,
                cookies: true,
                ..HttpOptions::default()
            },
        )?;
        let bde = Self {
            http,
            base,
            username: config.username.clone(),
            password: config.password.clone(),
            retry: config.retry,
            calls: std::sync::atomic::AtomicU64::new(0),
        };
        bde.login().await?;
        Ok(bde)
    }

    fn url(&self, path: &str) -> String {
        let mut base = self.base.clone();
        base.set_path("");
        format!("{}{path}", base.as_str().trim_end_matches('/'))
    }

    async fn login(&self) -> Result<(), BdeError> {
        let form = [
            ("j_username", self.username.as_str()),
            ("j_password", self.password.expose_secret()),
        ];
        let url = self.url(LOGIN_PATH);
        let resp = retry(&self.retry, "BDE login", || async {
            let resp = self
                .http
                .post(&url)
                .form(&form)
                .send()
                .await
                .map_err(|source| BdeError::Http {
                    what: "login".into(),
                    source,
                })?;
            if is_transient_status(resp.status()) {
                return Err(BdeError::Api {
                    what: "login".into(),
                    status: resp.status().as_u16(),
                    code: String::new(),
                    message: "server busy".into(),
                });
            }
            Ok(resp)
        })
        .await?;
        if !resp.status().is_success() {
            return Err(BdeError::Login {
                username: self.username.clone(),
                status: resp.status().as_u16(),
            });
        }
        tracing::debug!(user = %self.username, "BDE session opened");
        Ok(())
    }

    /// Ends the session (errors are only logged).
    pub async fn logout(&self) {
        if let Err(e) = self.http.get(self.url(LOGOUT_PATH)).send().await {
            tracing::debug!(error = %e, "BDE logout failed");
        }
    }

    /// One API call. Reads are retried while failures are transient; calls
    /// that start work (create, delete, actions, resize) are sent once, since
    /// a lost answer may hide a started task: the engine looks again instead.
    /// A 401 logs in again once. Returns status, `Location`, body.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Option<String>, String), BdeError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let what = format!("{method} {path}");
        let url = self.url(&format!("{API_PREFIX}{path}"));
        let once = || async {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("Accept", "application/json");
            if let Some(b) = body {
                req = req.json(b);
            } else if method == Method::PUT {
                req = req.header("Content-Type", "application/json");
            }
            let resp = req.send().await.map_err(|source| BdeError::Http {
                what: what.clone(),
                source,
            })?;
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get("Location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            let text = match bde_transport::read_body(resp, bde_transport::MAX_BODY_BYTES).await {
                Ok(body) => String::from_utf8_lossy(&body).into_owned(),
                Err(bde_transport::BodyError::Http(source)) => {
                    return Err(BdeError::Http {
                        what: what.clone(),
                        source,
                    });
                }
                Err(too_large) => {
                    return Err(BdeError::Parse {
                        what: what.clone(),
                        reason: too_large.to_string(),
                    });
                }
            };
            if status >= 400 {
                let (code, message) = match serde_json::from_str::<BddErrorMessage>(&text) {
                    Ok(e) => (e.code, e.message),
                    Err(_) => (String::new(), text.chars().take(200).collect()),
                };
                return Err(BdeError::Api {
                    what: what.clone(),
                    status,
                    code,
                    message,
                });
            }
            Ok((status, location, text))
        };
        let idempotent = method == Method::GET;
        let result = if idempotent {
            retry(&self.retry, &what, once).await
        } else {
            once().await
        };
        match result {
            Err(BdeError::Api { status: 401, .. }) => {
                tracing::info!("BDE session expired; logging in again");
                self.login().await?;
                once().await
            }
            other => other,
        }
    }

    fn parse<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, BdeError> {
        serde_json::from_str(text).map_err(|e| BdeError::Parse {
            what: what.into(),
            reason: e.to_string(),
        })
    }

    fn task_ref(what: &str, location: Option<String>) -> Result<TaskRef, BdeError> {
        let url = location.ok_or_else(|| BdeError::Parse {
            what: what.into(),
            reason: "no Location header".into(),
        })?;
        let id = url
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| BdeError::Parse {
                what: what.into(),
                reason: format!("no task id in {url}"),
            })?;
        Ok(TaskRef { id, url })
    }

    /// A cluster, with nodes when `details`; `None` when BDE does not know it.
    pub async fn cluster(&self, name: &str, details: bool) -> Result<Option<ClusterRead>, BdeError> {
        let path = format!("/cluster/{}{}", seg(name), if details { "?details=true" } else { "" });
        match self.call(Method::GET, &path, None).await {
            Ok((_, _, text)) => Self::parse("get cluster", &text).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts a create.
    pub async fn create_cluster(&self, spec: &ClusterCreate) -> Result<TaskRef, BdeError> {
        let body = serde_json::to_value(spec).expect("serializable");
        let (_, location, _) = self.call(Method::POST, "/clusters", Some(&body)).await?;
        Self::task_ref("create cluster", location)
    }

    /// Starts a delete; `None` when the cluster is already gone.
    pub async fn delete_cluster(&self, name: &str) -> Result<Option<TaskRef>, BdeError> {
        match self
            .call(Method::DELETE, &format!("/cluster/{}", seg(name)), None)
            .await
        {
            Ok((_, location, _)) => Self::task_ref("delete cluster", location).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `start`, `stop` or `resume`.
    pub async fn cluster_action(&self, name: &str, state: &str) -> Result<TaskRef, BdeError> {
        let (_, location, _) = self
            .call(
                Method::PUT,
                &format!("/cluster/{}/action?state={state}", seg(name)),
                None,
            )
            .await?;
        Self::task_ref("cluster action", location)
    }

    /// Resizes a node group to a new total.
    pub async fn resize(&self, name: &str, group: &str, count: u32) -> Result<TaskRef, BdeError> {
        let path = format!("/cluster/{}/nodegroup/{}/instancenum", seg(name), seg(group));
        let (_, location, _) = self.call(Method::PUT, &path, Some(&Value::from(count))).await?;
        Self::task_ref("resize", location)
    }

    /// Gives a node group's VMs new CPU and memory (`0`: keep), one VM after another.
    pub async fn scale(&self, name: &str, group: &str, cpus: u32, memory_mb: u32) -> Result<TaskRef, BdeError> {
        // BDE takes the names from the body; the path's are only format-checked.
        let path = format!("/cluster/{}/nodegroup/{}/scale", seg(name), seg(group));
        let body = serde_json::to_value(crate::ResourceScale {
            cluster_name: name.to_string(),
            node_group_name: group.to_string(),
            cpu_number: cpus as i32,
            memory: i64::from(memory_mb),
        })
        .expect("serializable");
        let (_, location, _) = self.call(Method::PUT, &path, Some(&body)).await?;
        Self::task_ref("scale", location)
    }

    /// The cluster's spec as BDE keeps it (`GET /cluster/{name}/spec`; BDE nulls its
    /// name, networks and password); `None` when unknown.
    pub async fn cluster_spec(&self, name: &str) -> Result<Option<Value>, BdeError> {
        match self
            .call(Method::GET, &format!("/cluster/{}/spec", seg(name)), None)
            .await
        {
            Ok((_, _, text)) => Self::parse("get cluster spec", &text).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends the cluster's software configuration again (`PUT /cluster/{name}/config`):
    /// the cluster's and each group's; what the body leaves out is cleared.
    pub async fn configure(&self, name: &str, body: &crate::ClusterCreate) -> Result<TaskRef, BdeError> {
        let path = format!("/cluster/{}/config", seg(name));
        let body = serde_json::to_value(body).expect("serializable");
        let (_, location, _) = self.call(Method::PUT, &path, Some(&body)).await?;
        Self::task_ref("config", location)
    }

    /// Adds node groups to a cluster (BDE's expand).
    pub async fn expand(&self, name: &str, groups: &[crate::NodeGroupCreate]) -> Result<TaskRef, BdeError> {
        let path = format!("/cluster/{}/nodegroups", seg(name));
        let body = serde_json::json!({ "nodeGroups": groups });
        let (_, location, _) = self.call(Method::POST, &path, Some(&body)).await?;
        Self::task_ref("expand", location)
    }

    /// A task by id.
    pub async fn task(&self, id: i64) -> Result<TaskRead, BdeError> {
        let (_, _, text) = self.call(Method::GET, &format!("/task/{id}"), None).await?;
        Self::parse("get task", &text)
    }

    /// A network; `None` when unknown.
    pub async fn network(&self, name: &str) -> Result<Option<NetworkRead>, BdeError> {
        match self.call(Method::GET, &format!("/network/{}", seg(name)), None).await {
            Ok((_, _, text)) => Self::parse("get network", &text).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A network with its address reservations (`ipAllocEntries`).
    pub async fn network_details(&self, name: &str) -> Result<Option<NetworkRead>, BdeError> {
        let path = format!("/network/{}?details=true", seg(name));
        match self.call(Method::GET, &path, None).await {
            Ok((_, _, text)) => Self::parse("get network", &text).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every registered network.
    pub async fn networks(&self) -> Result<Vec<NetworkRead>, BdeError> {
        let (_, _, text) = self.call(Method::GET, "/networks", None).await?;
        Self::parse("list networks", &text)
    }

    /// Registers a network.
    pub async fn add_network(&self, add: &NetworkAdd) -> Result<(), BdeError> {
        let body = serde_json::to_value(add).expect("serializable");
        self.call(Method::POST, "/networks", Some(&body)).await.map(|_| ())
    }

    /// Adds address blocks to a static network (`PUT /network/{n}` with only
    /// `ipBlocks`: BDE adds them, also while clusters use the network; any `dnsType`
    /// would be refused on a network in use, so none is sent).
    pub async fn add_ip_blocks(&self, name: &str, blocks: &[IpBlock]) -> Result<(), BdeError> {
        let body = serde_json::json!({ "ipBlocks": blocks });
        self.call(Method::PUT, &format!("/network/{}", seg(name)), Some(&body))
            .await
            .map(|_| ())
    }

    /// Removes a network; `false` when it was already gone.
    pub async fn delete_network(&self, name: &str) -> Result<bool, BdeError> {
        match self
            .call(Method::DELETE, &format!("/network/{}", seg(name)), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The distros BDE offers, with their roles.
    pub async fn distros(&self) -> Result<Vec<crate::DistroRead>, BdeError> {
        let (_, _, text) = self.call(Method::GET, "/distros", None).await?;
        Self::parse("list distros", &text)
    }

    /// The names of what BDE offers at a listing: `/appmanagers` (`name`),
    /// `/resourcepools` (`rpName`), `/datastores` (`name`).
    pub async fn names(&self, path: &str, key: &str) -> Result<Vec<String>, BdeError> {
        let (_, _, text) = self.call(Method::GET, path, None).await?;
        let items: Vec<serde_json::Value> = Self::parse(&format!("list {path}"), &text)?;
        Ok(items
            .iter()
            .filter_map(|i| i[key].as_str().map(str::to_string))
            .collect())
    }

    /// BDE's rack map (empty until one is uploaded).
    pub async fn racks(&self) -> Result<Vec<crate::RackInfo>, BdeError> {
        let (_, _, text) = self.call(Method::GET, "/racks", None).await?;
        Self::parse("list racks", &text)
    }

    /// Uploads BDE's rack map (an administrator's set-up, as `topology upload` does).
    pub async fn import_racks(&self, racks: &[crate::RackInfo]) -> Result<(), BdeError> {
        let body = serde_json::to_value(racks).expect("racks serialize");
        self.call(Method::PUT, "/racks", Some(&body)).await.map(|_| ())
    }

    /// Every cluster (without nodes).
    pub async fn clusters(&self) -> Result<Vec<ClusterRead>, BdeError> {
        let (_, _, text) = self.call(Method::GET, "/clusters", None).await?;
        Self::parse("list clusters", &text)
    }
}

#[cfg(test)]
mod tests {
    use super::seg;

    #[test]
    fn a_name_stays_one_path_segment() {
        assert_eq!(seg("hadoop_1"), "hadoop_1");
        assert_eq!(seg("neutron-5b6c1b81-14b2"), "neutron-5b6c1b81-14b2");
        assert_eq!(seg("../../clusters?x=1#y"), "..%2F..%2Fclusters%3Fx%3D1%23y");
        assert_eq!(seg("a b%c"), "a%20b%25c");
    }
}
