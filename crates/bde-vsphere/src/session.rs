use std::time::Duration;

use bde_transport::{HttpOptions, RetryPolicy, TlsOptions, http_client, retry};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use url::Url;

use crate::error::Error;
use crate::moref::MoRef;
use crate::xml::{self, Element};

/// The vim25 API version sent in `SOAPAction`; vCenter 6.5 and later accept it.
const API_VERSION: &str = "urn:vim25/6.5";

/// How to reach and log in to a vCenter.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SDK URL, e.g. `https://vcenter.example.com/sdk` (a bare host gets `/sdk`).
    pub url: String,
    /// The user to log in as.
    pub username: String,
    /// Its password; never logged.
    pub password: SecretString,
    /// Certificate verification.
    pub tls: TlsOptions,
    /// Upper bound for one SOAP call.
    pub timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

/// The managers a session uses, from `RetrieveServiceContent`.
#[derive(Debug, Clone)]
pub struct ServiceContent {
    /// The inventory root folder.
    pub root_folder: MoRef,
    /// The property collector.
    pub property_collector: MoRef,
    /// The view manager (container views).
    pub view_manager: MoRef,
    /// The session manager (login, logout).
    pub session_manager: MoRef,
    /// vCenter's instance UUID.
    pub instance_uuid: String,
    /// The API version vCenter reports.
    pub api_version: String,
}

/// A logged-in vCenter session.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    url: Url,
    username: String,
    password: SecretString,
    retry: RetryPolicy,
    content: ServiceContent,
    relogin: Mutex<()>,
    calls: std::sync::atomic::AtomicU64,
}

/// Normalises what a user may type as the vCenter address.
pub(crate) fn sdk_url(raw: &str) -> Result<Url, Error> {
    let bad = |reason: &str| Error::BadUrl {
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let mut url = Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(bad("the scheme must be https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials do not belong in the URL"));
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/sdk");
    }
    Ok(url)
}

impl Client {
    /// Connects and logs in.
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        let url = sdk_url(&config.url)?;
        let http = http_client(
            "vCenter",
            &HttpOptions {
                tls: config.tls.clone(),
                timeout: config.timeout,
                cookies: true,
                ..HttpOptions::default()
            },
        )?;
        let service_instance = MoRef::new("ServiceInstance", "ServiceInstance");
        let call = Element::new("RetrieveServiceContent").child(service_instance.to_element("_this"));
        let reply = send(&http, &url, &config.retry, "RetrieveServiceContent", &call).await?;
        let content = parse_service_content(&reply)?;
        let client = Self {
            http,
            url,
            username: config.username.clone(),
            password: config.password.clone(),
            retry: config.retry,
            content,
            relogin: Mutex::new(()),
            calls: std::sync::atomic::AtomicU64::new(0),
        };
        client.login().await?;
        Ok(client)
    }

    /// The service content read at connect time.
    pub fn content(&self) -> &ServiceContent {
        &self.content
    }

    async fn login(&self) -> Result<(), Error> {
        let call = Element::new("Login")
            .child(self.content.session_manager.to_element("_this"))
            .child(Element::text("userName", &self.username))
            .child(Element::text("password", self.password.expose_secret()));
        send(&self.http, &self.url, &self.retry, "Login", &call).await?;
        tracing::debug!(url = %self.url, "vCenter session opened");
        Ok(())
    }

    /// Ends the session. Errors are logged, not returned: there is nothing to retry.
    pub async fn logout(&self) {
        let call = Element::new("Logout").child(self.content.session_manager.to_element("_this"));
        if let Err(e) = send(&self.http, &self.url, &self.retry, "Logout", &call).await {
            tracing::debug!(error = %e, "vCenter logout failed");
        }
    }

    /// SOAP calls made through [`Client::call`] so far (benchmarks count them).
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Calls a vim25 method and returns its `returnval`, if any.
    ///
    /// Transient failures are retried; an expired session is renewed once.
    pub async fn call(&self, method: &str, this: &MoRef, args: Vec<Element>) -> Result<Option<Element>, Error> {
        self.call_with(method, this, args, &self.retry).await
    }

    /// Calls a method that starts work (a task) once, without retries: a lost
    /// answer may hide a started task, so the caller looks before asking again.
    /// An expired session is still renewed once (the call was refused, not run).
    pub async fn call_once(&self, method: &str, this: &MoRef, args: Vec<Element>) -> Result<Option<Element>, Error> {
        self.call_with(method, this, args, &RetryPolicy::none()).await
    }

    async fn call_with(
        &self,
        method: &str,
        this: &MoRef,
        args: Vec<Element>,
        policy: &RetryPolicy,
    ) -> Result<Option<Element>, Error> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut call = Element::new(method).child(this.to_element("_this"));
        call.children.extend(args);
        let reply = match send(&self.http, &self.url, policy, method, &call).await {
            Err(e) if e.is_not_authenticated() => {
                let _guard = self.relogin.lock().await;
                tracing::info!("vCenter session expired; logging in again");
                self.login().await?;
                send(&self.http, &self.url, policy, method, &call).await?
            }
            other => other?,
        };
        Ok(reply.children.into_iter().find(|c| c.name == "returnval"))
    }
}

/// One SOAP round trip, retried while the failure is transient. Returns the
/// `<MethodResponse>` element.
async fn send(
    http: &reqwest::Client,
    url: &Url,
    policy: &RetryPolicy,
    method: &str,
    call: &Element,
) -> Result<Element, Error> {
    let body = xml::envelope(call);
    retry(policy, method, || async {
        let resp = http
            .post(url.clone())
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", API_VERSION)
            .body(body.clone())
            .send()
            .await
            .map_err(|source| Error::Http {
                method: method.to_string(),
                source,
            })?;
        let status = resp.status();
        let bytes = match bde_transport::read_body(resp, bde_transport::MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(bde_transport::BodyError::Http(source)) => {
                return Err(Error::Http {
                    method: method.to_string(),
                    source,
                });
            }
            Err(too_large) => {
                return Err(Error::Parse {
                    method: method.to_string(),
                    reason: too_large.to_string(),
                });
            }
        };
        read_reply(method, status, &bytes)
    })
    .await
}

fn read_reply(method: &str, status: reqwest::StatusCode, bytes: &[u8]) -> Result<Element, Error> {
    let parse_err = |reason: String| Error::Parse {
        method: method.to_string(),
        reason,
    };
    let doc = match xml::parse(bytes) {
        Ok(doc) => doc,
        Err(_) if !status.is_success() => {
            return Err(Error::Status {
                method: method.to_string(),
                status,
            });
        }
        Err(e) => return Err(parse_err(e.to_string())),
    };
    let body = doc.get("Body").ok_or_else(|| parse_err("no SOAP Body".into()))?;
    if let Some(fault) = body.get("Fault") {
        return Err(read_fault(method, fault));
    }
    if !status.is_success() {
        return Err(Error::Status {
            method: method.to_string(),
            status,
        });
    }
    body.children
        .first()
        .cloned()
        .ok_or_else(|| parse_err("empty SOAP Body".into()))
}

/// Reads a SOAP fault: the fault type from `detail`, the message from `faultstring`.
pub(crate) fn read_fault(method: &str, fault: &Element) -> Error {
    let message = fault.child_text("faultstring").unwrap_or("").to_string();
    let detail = fault.get("detail").and_then(|d| d.children.first());
    let fault_type = detail
        .and_then(|d| d.xsi_type.clone())
        .or_else(|| detail.map(|d| d.name.trim_end_matches("Fault").to_string()))
        .unwrap_or_else(|| "Fault".into());
    Error::Fault {
        method: method.to_string(),
        fault: fault_type,
        message,
    }
}

fn parse_service_content(reply: &Element) -> Result<ServiceContent, Error> {
    let missing = |what: &str| Error::Parse {
        method: "RetrieveServiceContent".into(),
        reason: format!("no {what}"),
    };
    let rv = reply.get("returnval").ok_or_else(|| missing("returnval"))?;
    let moref = |name: &str| rv.get(name).and_then(MoRef::from_element).ok_or_else(|| missing(name));
    Ok(ServiceContent {
        root_folder: moref("rootFolder")?,
        property_collector: moref("propertyCollector")?,
        view_manager: moref("viewManager")?,
        session_manager: moref("sessionManager")?,
        instance_uuid: rv
            .path(&["about", "instanceUuid"])
            .map(|e| e.text.clone())
            .unwrap_or_default(),
        api_version: rv
            .path(&["about", "apiVersion"])
            .map(|e| e.text.clone())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_host_gets_the_sdk_path() {
        assert_eq!(
            sdk_url("https://vc.example.com").unwrap().as_str(),
            "https://vc.example.com/sdk"
        );
        assert_eq!(sdk_url("https://vc.example.com/sdk").unwrap().path(), "/sdk");
    }

    #[test]
    fn urls_without_scheme_or_with_credentials_are_refused() {
        assert!(sdk_url("vc.example.com").is_err());
        let err = sdk_url("https://root:secret@vc.example.com/sdk")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret") || err.contains("credentials"), "{err}");
    }

    #[test]
    fn a_fault_carries_its_type_and_message() {
        let xml = br#"<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Login failure</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let err = read_reply("Login", reqwest::StatusCode::INTERNAL_SERVER_ERROR, xml).unwrap_err();
        assert!(err.is_fault("InvalidLogin"), "{err:?}");
        assert!(
            !bde_transport::Transient::is_transient(&err),
            "a fault is not transient even with HTTP 500"
        );
    }

    #[test]
    fn a_5xx_without_fault_is_transient() {
        let err = read_reply("Login", reqwest::StatusCode::BAD_GATEWAY, b"<html>gateway</html").unwrap_err();
        assert!(bde_transport::Transient::is_transient(&err), "{err:?}");
    }
}
