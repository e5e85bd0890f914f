use std::sync::Arc;

use bde_transport::retry;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, api_error};
use crate::keystone::Session;

/// A Neutron port, the fields bde-heat reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Port {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its network.
    pub network_id: String,
    /// Its MAC, lower case.
    pub mac_address: String,
    /// E.g. `compute:bde`.
    #[serde(default)]
    pub device_owner: String,
    /// E.g. the VM's instanceUuid.
    #[serde(default)]
    pub device_id: String,
    /// Its addresses.
    #[serde(default)]
    pub fixed_ips: Vec<FixedIp>,
    /// Its project.
    #[serde(default)]
    pub project_id: String,
    /// Its security groups.
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// `vnic_index` (NSX-v's extension), when present.
    #[serde(default)]
    pub vnic_index: Option<i64>,
}

impl Port {
    /// The first fixed IP, if any.
    pub fn ip(&self) -> Option<&str> {
        self.fixed_ips.first().map(|f| f.ip_address.as_str())
    }
}

/// A fixed IP of a port.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FixedIp {
    /// The subnet.
    pub subnet_id: String,
    /// The address.
    #[serde(default)]
    pub ip_address: String,
}

/// A port to create.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PortRequest {
    /// The network.
    pub network_id: String,
    /// The VM NIC's MAC.
    pub mac_address: String,
    /// `<vm>-port<i>`.
    pub name: String,
    /// `compute:<zone>`.
    pub device_owner: String,
    /// The VM's instanceUuid.
    pub device_id: String,
    /// `[{"subnet_id": ...}]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed_ips: Vec<Value>,
    /// Security group ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
}

/// Neutron v2.0 over a session.
#[derive(Debug, Clone)]
pub struct Neutron {
    session: Arc<Session>,
    calls: Arc<std::sync::atomic::AtomicU64>,
}

impl Neutron {
    /// Neutron over this session.
    pub fn new(session: Arc<Session>) -> Self {
        Self {
            session,
            calls: Arc::default(),
        }
    }

    /// Neutron API calls made so far (benchmarks count them).
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// One call. Reads and deletes are retried while failures are transient;
    /// creates are not (a lost answer may hide a done create: callers look
    /// before they create again). A 401 renews the token once.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, Error> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let idempotent = method != reqwest::Method::POST;
        let once = || async {
            let base = self.session.endpoint("network").await?;
            let token = self.session.token().await?;
            let mut req = self
                .session
                .http()
                .request(method.clone(), format!("{base}{path}"))
                .query(query)
                .header("X-Auth-Token", token.expose_secret());
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|source| Error::Http {
                service: "Neutron",
                what: what.clone(),
                source,
            })?;
            let status = resp.status();
            let text = crate::error::read_text(resp, "Neutron", &what).await?;
            if status == reqwest::StatusCode::UNAUTHORIZED {
                self.session.invalidate().await;
            }
            if !status.is_success() {
                return Err(api_error("Neutron", &what, status, &text));
            }
            if text.is_empty() {
                return Ok(None);
            }
            serde_json::from_str(&text).map(Some).map_err(|e| Error::Parse {
                service: "Neutron",
                what: what.clone(),
                reason: e.to_string(),
            })
        };
        let result = if idempotent {
            retry(self.session.retry_policy(), &what, once).await
        } else {
            once().await
        };
        match result {
            Err(e) if e.status() == Some(401) => once().await,
            other => other,
        }
    }

    fn field<T: for<'de> Deserialize<'de>>(value: Option<Value>, key: &str, what: &str) -> Result<T, Error> {
        let v = value
            .and_then(|mut v| v.get_mut(key).map(Value::take))
            .unwrap_or(Value::Null);
        serde_json::from_value(v).map_err(|e| Error::Parse {
            service: "Neutron",
            what: what.into(),
            reason: format!("{key}: {e}"),
        })
    }

    /// Ports matching the filters; a repeated key matches any of its values.
    pub async fn list_ports(&self, filters: &[(&str, &str)]) -> Result<Vec<Port>, Error> {
        let reply = self.call(reqwest::Method::GET, "/v2.0/ports", filters, None).await?;
        Self::field(reply, "ports", "list ports")
    }

    /// Creates all the ports in one all-or-nothing bulk call.
    pub async fn create_ports(&self, ports: &[PortRequest]) -> Result<Vec<Port>, Error> {
        if ports.is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({ "ports": ports });
        let reply = self
            .call(reqwest::Method::POST, "/v2.0/ports", &[], Some(&body))
            .await?;
        Self::field(reply, "ports", "create ports")
    }

    /// Updates a port's fields.
    pub async fn update_port(&self, id: &str, fields: Value) -> Result<Port, Error> {
        let body = json!({ "port": fields });
        let reply = self
            .call(reqwest::Method::PUT, &format!("/v2.0/ports/{id}"), &[], Some(&body))
            .await?;
        Self::field(reply, "port", "update port")
    }

    /// Deletes a port; `false` when it was already gone.
    pub async fn delete_port(&self, id: &str) -> Result<bool, Error> {
        match self
            .call(reqwest::Method::DELETE, &format!("/v2.0/ports/{id}"), &[], None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A network by id, as JSON.
    pub async fn network(&self, id: &str) -> Result<Value, Error> {
        let reply = self
            .call(reqwest::Method::GET, &format!("/v2.0/networks/{id}"), &[], None)
            .await?;
        Self::field(reply, "network", "show network")
    }

    /// A subnet by id, as JSON.
    pub async fn subnet(&self, id: &str) -> Result<Value, Error> {
        let reply = self
            .call(reqwest::Method::GET, &format!("/v2.0/subnets/{id}"), &[], None)
            .await?;
        Self::field(reply, "subnet", "show subnet")
    }

    /// Resources of a collection (`networks`, `subnets`, `security_groups`)
    /// whose id or name is `name_or_id` (the id is tried first).
    pub async fn find(&self, collection: &str, name_or_id: &str) -> Result<Vec<Value>, Error> {
        let key = collection.replace('-', "_");
        let singular = key.trim_end_matches('s');
        match self
            .call(
                reqwest::Method::GET,
                &format!("/v2.0/{collection}/{name_or_id}"),
                &[],
                None,
            )
            .await
        {
            Ok(reply) => return Ok(vec![Self::field(reply, singular, "show")?]),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let reply = self
            .call(
                reqwest::Method::GET,
                &format!("/v2.0/{collection}"),
                &[("name", name_or_id)],
                None,
            )
            .await?;
        Self::field(reply, &key, "list")
    }

    /// A GET whose refusal (403) or absence (404, an extension not loaded) is `None`:
    /// for reads Neutron's policy keeps from some users.
    async fn get_if_allowed(&self, path: &str, key: &str, what: &str) -> Result<Option<Value>, Error> {
        match self.call(reqwest::Method::GET, path, &[], None).await {
            Ok(reply) => Self::field(reply, key, what).map(Some),
            Err(e) if e.is_not_found() || e.status() == Some(403) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A network's address use per subnet (`network-ip-availabilities`; admin-only by
    /// Neutron's default policy: `None` when refused).
    pub async fn ip_availability(&self, network_id: &str) -> Result<Option<Value>, Error> {
        self.get_if_allowed(
            &format!("/v2.0/network-ip-availabilities/{network_id}"),
            "network_ip_availability",
            "show network IP availability",
        )
        .await
    }

    /// The caller's project's port quota as (limit, used); `None` when Neutron's
    /// policy does not let this user read it (limit -1: unlimited).
    pub async fn port_quota(&self) -> Result<Option<(i64, i64)>, Error> {
        let Some(project) = self
            .get_if_allowed("/v2.0/quotas/project", "project", "show own project")
            .await?
        else {
            return Ok(None);
        };
        let Some(id) = project["project_id"].as_str() else {
            return Ok(None);
        };
        let Some(quota) = self
            .get_if_allowed(&format!("/v2.0/quotas/{id}/details"), "quota", "show quota details")
            .await?
        else {
            return Ok(None);
        };
        let port = &quota["port"];
        Ok(port["limit"].as_i64().zip(port["used"].as_i64()))
    }

    /// The aliases of the API extensions Neutron offers (e.g. `vnic-index`).
    pub async fn extension_aliases(&self) -> Result<Vec<String>, Error> {
        let reply = self.call(reqwest::Method::GET, "/v2.0/extensions", &[], None).await?;
        let exts: Vec<Value> = Self::field(reply, "extensions", "list extensions")?;
        Ok(exts
            .iter()
            .filter_map(|e| e["alias"].as_str().map(str::to_string))
            .collect())
    }
}
