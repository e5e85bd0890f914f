use std::time::{Duration, Instant};

use bde_transport::{HttpOptions, RetryPolicy, http_client, retry};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::error::{Error, api_error};

/// A token is renewed after this age; Keystone's default lifetime is an hour.
const TOKEN_RENEW_AFTER: Duration = Duration::from_secs(45 * 60);

/// A Keystone domain, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// `user_domain_id`, `project_domain_id` or `domain_id`.
    Id(String),
    /// `user_domain_name`, `project_domain_name` or `domain_name`.
    Name(String),
}

impl Domain {
    fn body(&self) -> Value {
        match self {
            Domain::Id(id) => json!({"id": id}),
            Domain::Name(name) => json!({"name": name}),
        }
    }
}

/// A Keystone user: an id alone, or a name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// `user_id`.
    Id(String),
    /// `username` and its domain.
    Name {
        /// The user's name.
        name: String,
        /// Its domain.
        domain: Domain,
    },
}

impl User {
    fn body(&self) -> Value {
        match self {
            User::Id(id) => json!({"id": id}),
            User::Name { name, domain } => json!({"name": name, "domain": domain.body()}),
        }
    }
}

/// The project a token is scoped to: an id alone, or a name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Project {
    /// `project_id`.
    Id(String),
    /// `project_name` and its domain.
    Name {
        /// The project's name.
        name: String,
        /// Its domain.
        domain: Domain,
    },
}

impl Project {
    fn body(&self) -> Value {
        match self {
            Project::Id(id) => json!({"project": {"id": id}}),
            Project::Name { name, domain } => json!({"project": {"name": name, "domain": domain.body()}}),
        }
    }
}

/// An application credential: its id alone, or its name and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplicationCredential {
    /// `application_credential_id`.
    Id(String),
    /// `application_credential_name` and the user who made it.
    Name {
        /// The credential's name.
        name: String,
        /// Its owner.
        user: User,
    },
}

/// How Keystone learns who is asking (Keystone v3's identity methods).
#[derive(Debug, Clone)]
pub enum Identity {
    /// `password`: a user and a password, scoped to a project.
    Password {
        /// The user.
        user: User,
        /// Its password.
        password: SecretString,
        /// The project to scope to.
        project: Project,
    },
    /// `application_credential`: already scoped to its project.
    ApplicationCredential {
        /// Which credential.
        credential: ApplicationCredential,
        /// Its secret.
        secret: SecretString,
    },
    /// `token`: an existing token, re-scoped to a project.
    Token {
        /// The token.
        token: SecretString,
        /// The project to scope to.
        project: Project,
    },
}

impl Identity {
    /// The `auth` object of `POST /v3/auth/tokens`.
    fn body(&self) -> Value {
        match self {
            Identity::Password {
                user,
                password,
                project,
            } => {
                let mut user = user.body();
                user["password"] = json!(password.expose_secret());
                json!({"identity": {"methods": ["password"], "password": {"user": user}}, "scope": project.body()})
            }
            Identity::ApplicationCredential { credential, secret } => {
                let credential = match credential {
                    ApplicationCredential::Id(id) => json!({"id": id, "secret": secret.expose_secret()}),
                    ApplicationCredential::Name { name, user } => {
                        json!({"name": name, "user": user.body(), "secret": secret.expose_secret()})
                    }
                };
                json!({"identity": {"methods": ["application_credential"], "application_credential": credential}})
            }
            Identity::Token { token, project } => json!({
                "identity": {"methods": ["token"], "token": {"id": token.expose_secret()}},
                "scope": project.body()
            }),
        }
    }

    /// Who, for a log line (never a secret).
    fn who(&self) -> String {
        let user = |u: &User| match u {
            User::Id(id) => format!("user id {id}"),
            User::Name { name, .. } => format!("user {name}"),
        };
        match self {
            Identity::Password { user: u, .. } => user(u),
            Identity::ApplicationCredential {
                credential: ApplicationCredential::Id(id),
                ..
            } => format!("application credential {id}"),
            Identity::ApplicationCredential {
                credential: ApplicationCredential::Name { name, .. },
                ..
            } => format!("application credential {name}"),
            Identity::Token { .. } => "a token".into(),
        }
    }
}

/// A Keystone v3 login: where, who, and which endpoints of the catalog to use.
#[derive(Debug, Clone)]
pub struct KeystoneAuth {
    /// Keystone's URL, with or without `/v3`.
    pub auth_url: String,
    /// Who logs in, and the project scope.
    pub identity: Identity,
    /// The region whose endpoints to use; `None` takes the first.
    pub region: Option<String>,
    /// `public`, `internal` or `admin`.
    pub interface: String,
}

impl KeystoneAuth {
    /// A password login of a user and project in the `default` domain (the test world's users).
    pub fn password(auth_url: &str, username: &str, password: SecretString, project_name: &str) -> Self {
        let domain = Domain::Id("default".into());
        Self {
            auth_url: auth_url.into(),
            identity: Identity::Password {
                user: User::Name {
                    name: username.into(),
                    domain: domain.clone(),
                },
                password,
                project: Project::Name {
                    name: project_name.into(),
                    domain,
                },
            },
            region: None,
            interface: "public".into(),
        }
    }
}

/// How to get a token.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Log in to Keystone.
    Keystone(KeystoneAuth),
    /// A token and the Neutron endpoint, handed over (Heat gives both).
    Token {
        /// The token.
        token: SecretString,
        /// Neutron's endpoint.
        network_endpoint: String,
    },
}

#[derive(Debug)]
struct Token {
    value: SecretString,
    issued: Instant,
    catalog: Value,
    project_id: Option<String>,
}

/// An authenticated OpenStack session: a token (renewed as needed) and its catalog.
#[derive(Debug)]
pub struct Session {
    http: reqwest::Client,
    auth: Auth,
    retry: RetryPolicy,
    token: Mutex<Option<Token>>,
}

impl Session {
    /// A session; no call is made until a token is needed.
    pub fn new(auth: Auth, http: &HttpOptions, retry: RetryPolicy) -> Result<Self, Error> {
        Ok(Self {
            http: http_client("OpenStack", http)?,
            auth,
            retry,
            token: Mutex::new(None),
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// A valid token, logging in (again) when there is none or it is old.
    pub async fn token(&self) -> Result<SecretString, Error> {
        let mut guard = self.token.lock().await;
        if let Auth::Token { token, .. } = &self.auth {
            return Ok(token.clone());
        }
        if guard.as_ref().is_none_or(|t| t.issued.elapsed() > TOKEN_RENEW_AFTER) {
            *guard = Some(self.login().await?);
        }
        Ok(guard.as_ref().expect("set above").value.clone())
    }

    /// Forgets the token (after a 401), so the next call logs in again.
    pub async fn invalidate(&self) {
        *self.token.lock().await = None;
    }

    /// The project the token is scoped to.
    pub async fn project_id(&self) -> Result<Option<String>, Error> {
        self.token().await?;
        Ok(self.token.lock().await.as_ref().and_then(|t| t.project_id.clone()))
    }

    /// The URL of a service from the catalog (or the handed-over Neutron endpoint).
    pub async fn endpoint(&self, service_type: &str) -> Result<String, Error> {
        let keystone = match &self.auth {
            Auth::Token { network_endpoint, .. } if service_type == "network" => {
                return Ok(network_endpoint.trim_end_matches('/').to_string());
            }
            Auth::Token { .. } => {
                return Err(Error::NoEndpoint {
                    service_type: service_type.into(),
                    interface: "public".into(),
                    region: None,
                });
            }
            Auth::Keystone(k) => k,
        };
        self.token().await?;
        let guard = self.token.lock().await;
        let catalog = &guard.as_ref().expect("token obtained above").catalog;
        find_endpoint(catalog, service_type, &keystone.interface, keystone.region.as_deref()).ok_or_else(|| {
            Error::NoEndpoint {
                service_type: service_type.into(),
                interface: keystone.interface.clone(),
                region: keystone.region.clone(),
            }
        })
    }

    async fn login(&self) -> Result<Token, Error> {
        let Auth::Keystone(k) = &self.auth else {
            unreachable!("only a Keystone auth logs in");
        };
        let base = k.auth_url.trim_end_matches('/').trim_end_matches("/v3");
        let url = format!("{base}/v3/auth/tokens");
        let body = json!({"auth": k.identity.body()});
        let what = "login";
        let (token, reply) = retry(&self.retry, what, || async {
            let resp = self
                .http
                .post(&url)
                .json(&body)
                .send()
                .await
                .map_err(|source| Error::Http {
                    service: "Keystone",
                    what: what.into(),
                    source,
                })?;
            let status = resp.status();
            let token = resp
                .headers()
                .get("X-Subject-Token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = crate::error::read_text(resp, "Keystone", what).await?;
            if !status.is_success() {
                return Err(api_error("Keystone", what, status, &text));
            }
            let parse = |reason: &str| Error::Parse {
                service: "Keystone",
                what: what.into(),
                reason: reason.into(),
            };
            let token = token.ok_or_else(|| parse("no X-Subject-Token header"))?;
            let json: Value = serde_json::from_str(&text).map_err(|e| parse(&e.to_string()))?;
            Ok((token, json))
        })
        .await?;
        tracing::debug!(who = %k.identity.who(), "Keystone token issued");
        Ok(Token {
            value: token.into(),
            issued: Instant::now(),
            catalog: reply["token"]["catalog"].clone(),
            project_id: reply["token"]["project"]["id"].as_str().map(str::to_string),
        })
    }
}

fn find_endpoint(catalog: &Value, service_type: &str, interface: &str, region: Option<&str>) -> Option<String> {
    catalog
        .as_array()?
        .iter()
        .filter(|s| s["type"] == service_type)
        .flat_map(|s| s["endpoints"].as_array().into_iter().flatten())
        .find(|e| e["interface"] == interface && region.is_none_or(|r| e["region_id"] == r || e["region"] == r))
        .and_then(|e| e["url"].as_str())
        .map(|u| u.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_found_by_type_interface_and_region() {
        let catalog = json!([
            {"type": "identity", "endpoints": [{"interface": "public", "region_id": "R1", "url": "http://k/"}]},
            {"type": "network", "endpoints": [
                {"interface": "internal", "region_id": "R1", "url": "http://n-int"},
                {"interface": "public", "region_id": "R2", "url": "http://n-r2/"},
                {"interface": "public", "region_id": "R1", "url": "http://n-r1/"}]}
        ]);
        assert_eq!(
            find_endpoint(&catalog, "network", "public", Some("R1")).as_deref(),
            Some("http://n-r1")
        );
        assert_eq!(
            find_endpoint(&catalog, "network", "internal", None).as_deref(),
            Some("http://n-int")
        );
        assert_eq!(find_endpoint(&catalog, "compute", "public", None), None);
    }
}
