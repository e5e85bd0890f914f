use std::time::{Duration, Instant};

use bde_transport::{HttpOptions, RetryPolicy, http_client, retry};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::error::{Error, api_error};

/// A token is renewed after this age; Keystone's default lifetime is an hour.
const TOKEN_RENEW_AFTER: Duration = Duration::from_secs(45 * 60);

/// Keystone v3 password authentication, scoped to a project.
#[derive(Debug, Clone)]
pub struct PasswordAuth {
    /// Keystone's URL, with or without `/v3`.
    pub auth_url: String,
    /// The user.
    pub username: String,
    /// Its password.
    pub password: SecretString,
    /// The project to scope to.
    pub project_name: String,
    /// The user's domain id (`default` for most clouds).
    pub user_domain_id: String,
    /// The project's domain id.
    pub project_domain_id: String,
    /// The region whose endpoints to use; `None` takes the first.
    pub region: Option<String>,
    /// `public`, `internal` or `admin`.
    pub interface: String,
}

/// How to get a token.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Log in to Keystone with a password.
    Password(PasswordAuth),
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
        let password = match &self.auth {
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
            Auth::Password(p) => p,
        };
        self.token().await?;
        let guard = self.token.lock().await;
        let catalog = &guard.as_ref().expect("token obtained above").catalog;
        find_endpoint(catalog, service_type, &password.interface, password.region.as_deref()).ok_or_else(|| {
            Error::NoEndpoint {
                service_type: service_type.into(),
                interface: password.interface.clone(),
                region: password.region.clone(),
            }
        })
    }

    async fn login(&self) -> Result<Token, Error> {
        let Auth::Password(p) = &self.auth else {
            unreachable!("only password auth logs in");
        };
        let base = p.auth_url.trim_end_matches('/').trim_end_matches("/v3");
        let url = format!("{base}/v3/auth/tokens");
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": p.username, "domain": {"id": p.user_domain_id},
                "password": p.password.expose_secret()}}},
            "scope": {"project": {"name": p.project_name, "domain": {"id": p.project_domain_id}}}
        }});
        let what = "password login";
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
        tracing::debug!(user = %p.username, project = %p.project_name, "Keystone token issued");
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
