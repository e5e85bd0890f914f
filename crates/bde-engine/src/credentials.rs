//! Operator-side credentials, so no password needs to be in a template (Heat's
//! `event show` prints properties in plain text). The file is YAML:
//!
//! ```yaml
//! bde:
//!   - endpoint: https://bde.example.com:8443   # or the bare host, as in the template
//!     username: bde-admin@vsphere.local
//!     password: "..."
//!     ca_file: /etc/heat/bde-ca.pem            # optional
//! vcenter:
//!   - endpoint: vc.example.com
//!     username: administrator@vsphere.local
//!     password: "..."
//! ```
//!
//! An entry fills what the spec leaves out for the endpoint it names; what the
//! spec gives itself always wins.

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::EngineError;
use crate::spec::ClusterSpec;
use crate::spec::{bde_url, vcenter_sdk_url};

/// The parsed file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Let templates set `insecure`/`ca_file` even when an entry's password is used
    /// (off: the entry's TLS settings then apply, and a template's are refused).
    #[serde(default)]
    pub allow_template_tls: bool,
    /// BDE servers.
    #[serde(default)]
    pub bde: Vec<CredentialEntry>,
    /// vCenter servers.
    #[serde(default)]
    pub vcenter: Vec<CredentialEntry>,
}

/// The credentials of one endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialEntry {
    /// The endpoint, as a template names it (host or URL).
    pub endpoint: String,
    /// The user.
    pub username: String,
    /// Its password.
    pub password: SecretString,
    /// The CA bundle of the endpoint's certificate.
    pub ca_file: Option<String>,
    /// For BDE entries: the password BDE sets on the VMs of clusters that give none.
    #[serde(default)]
    pub cluster_password: Option<SecretString>,
}

/// "line L column C" from a YAML parser's message, or nothing.
fn place_of(message: &str) -> String {
    let at = message.find("line ").map(|i| &message[i..]).unwrap_or("");
    at.split(|c: char| c != ' ' && !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

impl Credentials {
    /// Reads the file. Errors name the file, never its contents.
    pub fn load(path: &std::path::Path) -> Result<Self, EngineError> {
        let bad = |why: String| EngineError::field("credentials_file", format!("{}: {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        warn_if_readable_by_others(path);
        // The parser's message may quote a line of the file (a password): only its place is told.
        let options = serde_saphyr::options! { with_snippet: false };
        let doc: serde_json::Value = serde_saphyr::from_str_with_options(&text, options)
            .map_err(|e| bad(format!("not YAML ({})", place_of(&e.to_string()))))?;
        serde_path_to_error::deserialize(doc).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next());
            let field = match (path.trim_start_matches('.'), missing) {
                ("", Some(key)) => key.to_string(),
                ("", None) => "the file".to_string(),
                (path, Some(key)) => format!("{path}.{key}"),
                (path, None) => path.to_string(),
            };
            // A value of the wrong type is quoted by serde: never for a secret.
            let secret = field.ends_with("password");
            let why = if secret && missing.is_none() {
                "must be text".to_string()
            } else if message.starts_with("invalid type") {
                message.split(',').nth(1).unwrap_or(&message).trim().to_string()
            } else {
                message
            };
            bad(format!("{field}: {why} (see `bde-heat --help`)"))
        })
    }

    /// Fills the spec's missing credentials from the entries of its endpoints.
    ///
    /// Whenever an entry's password is used, the entry's TLS settings apply: a
    /// template's `insecure` or `ca_file` is refused (unless the file allows it),
    /// so no template can have the operator's password sent to an unverified
    /// peer; nor does the BDE password stand in for a vCenter the file does not name.
    pub fn fill(&self, spec: &mut ClusterSpec) -> Result<(), EngineError> {
        let mut used = Vec::new();
        let bde_entry = spec
            .bde_endpoint
            .as_ref()
            .and_then(|e| find(&self.bde, &bde_url(e), bde_url));
        if spec.cluster_password.is_none() {
            spec.cluster_password = bde_entry.and_then(|e| e.cluster_password.clone());
        }
        if let Some(entry) = bde_entry {
            if fill_pair(&mut spec.username, &mut spec.password, entry) {
                used.push(("ca_file", spec.ca_file.is_some()));
                spec.ca_file = entry.ca_file.clone().or(spec.ca_file.take());
                spec.operator_password = true;
            } else if spec.ca_file.is_none() {
                // The operator's CA for the endpoint verifies a template's own login too.
                spec.ca_file = entry.ca_file.clone();
            }
        }
        let vcenter_entry = spec
            .vcm_server
            .as_ref()
            .and_then(|s| find(&self.vcenter, &vcenter_sdk_url(s), vcenter_sdk_url));
        if let Some(entry) = vcenter_entry {
            if fill_pair(&mut spec.vcenter_username, &mut spec.vcenter_password, entry) {
                used.push(("vcenter_ca_file", spec.vcenter_ca_file.is_some()));
                spec.vcenter_ca_file = entry.ca_file.clone().or(spec.vcenter_ca_file.take());
                spec.operator_password = true;
            } else if spec.vcenter_ca_file.is_none() {
                spec.vcenter_ca_file = entry.ca_file.clone();
            }
        }
        if self.allow_template_tls || used.is_empty() {
            return Ok(());
        }
        let mut refused: Vec<&str> = used.iter().filter(|(_, set)| *set).map(|(f, _)| *f).collect();
        if spec.insecure {
            refused.insert(0, "insecure");
        }
        match refused.first() {
            None => Ok(()),
            Some(field) => Err(EngineError::field(
                field,
                "the operator's credentials for this endpoint are used, so TLS is verified as the operator set it: \
                 remove insecure/ca_file from the template (or give the password in the template)",
            )),
        }
    }
}

impl Credentials {
    /// The endpoints the file names (BDE's and vCenter's), as an allow-list.
    pub fn endpoints(&self) -> Vec<String> {
        self.bde
            .iter()
            .map(|e| bde_url(e.endpoint.trim()))
            .chain(self.vcenter.iter().map(|e| vcenter_sdk_url(e.endpoint.trim())))
            .collect()
    }
}

/// Refuses a spec whose BDE or vCenter endpoint is not on the operator's allow-list
/// (`[bde_heat] allowed_endpoints`, by default the credentials file's endpoints), so no
/// template can point heat-engine at a host of its choosing.
pub fn check_endpoints(spec: &ClusterSpec, allowed: &[String]) -> Result<(), EngineError> {
    let keys: Vec<String> = allowed
        .iter()
        .filter_map(|a| {
            let a = a.trim();
            same_endpoint_key(&if a.contains("://") { a.to_string() } else { bde_url(a) })
                .or_else(|| same_endpoint_key(&vcenter_sdk_url(a)))
        })
        .collect();
    let mut refused = Vec::new();
    for (field, value, full) in [
        (
            "bde_endpoint",
            &spec.bde_endpoint,
            spec.bde_endpoint.as_deref().map(bde_url),
        ),
        (
            "vcm_server",
            &spec.vcm_server,
            spec.vcm_server.as_deref().map(vcenter_sdk_url),
        ),
    ] {
        let Some(full) = full else { continue };
        if !same_endpoint_key(&full).is_some_and(|k| keys.contains(&k)) {
            refused.push(crate::error::FieldError {
                field: field.into(),
                message: format!(
                    "{:?} is not an endpoint this cloud's operator allows ([bde_heat] allowed_endpoints): use one of theirs",
                    crate::spec::without_userinfo(value.as_deref().unwrap_or_default())
                ),
            });
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(EngineError::invalid(refused))
    }
}

/// A user and password come as a pair: a password is taken only for the user the spec names (or none).
/// True when the entry's password was taken.
fn fill_pair(username: &mut Option<String>, password: &mut Option<SecretString>, entry: &CredentialEntry) -> bool {
    if password.is_some() || username.as_ref().is_some_and(|u| u != &entry.username) {
        return false;
    }
    *username = Some(entry.username.clone());
    *password = Some(entry.password.clone());
    true
}

fn find<'a>(entries: &'a [CredentialEntry], url: &str, normalise: fn(&str) -> String) -> Option<&'a CredentialEntry> {
    let key = same_endpoint_key(url)?;
    entries
        .iter()
        .find(|e| same_endpoint_key(&normalise(e.endpoint.trim())).as_deref() == Some(&key))
}

/// Host and port, lower case: `https://BDE:8443/` and `https://bde:8443` are one endpoint.
fn same_endpoint_key(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(format!(
        "{}:{}",
        u.host_str()?.to_ascii_lowercase(),
        u.port_or_known_default()?
    ))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(file = %path.display(), "the credentials file is readable by every user: chmod o-r it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &std::path::Path) {}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const FILE: &str = "
bde:
  - endpoint: bde.example.com
    username: bde-admin@vsphere.local
    password: bde-pw
vcenter:
  - endpoint: https://VC.example.com/sdk
    username: root@vsphere.local
    password: vc-pw
    ca_file: /etc/vc-ca.pem
";

    fn spec(v: serde_json::Value) -> ClusterSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn entries_fill_what_the_spec_leaves_out_by_endpoint() {
        let creds: Credentials = serde_saphyr::from_str(FILE).unwrap();
        let mut s = spec(serde_json::json!({
            "bde_endpoint": "https://bde.example.com:8443/", "vcm_server": "vc.example.com"
        }));
        creds.fill(&mut s).unwrap();
        assert_eq!(s.username.as_deref(), Some("bde-admin@vsphere.local"));
        assert_eq!(s.password.as_ref().unwrap().expose_secret(), "bde-pw");
        assert_eq!(s.vcenter_username.as_deref(), Some("root@vsphere.local"));
        assert_eq!(s.vcenter_password.as_ref().unwrap().expose_secret(), "vc-pw");
        assert_eq!(s.vcenter_ca_file.as_deref(), Some("/etc/vc-ca.pem"));
    }

    #[test]
    fn the_spec_wins_and_other_endpoints_or_users_get_nothing() {
        let creds: Credentials = serde_saphyr::from_str(FILE).unwrap();
        let mut s = spec(serde_json::json!({
            "bde_endpoint": "bde.example.com", "username": "someone-else", "vcm_server": "other-vc"
        }));
        creds.fill(&mut s).unwrap();
        assert_eq!(s.username.as_deref(), Some("someone-else"));
        assert!(s.password.is_none());
        assert!(s.vcenter_username.is_none());
    }

    #[test]
    fn a_broken_file_is_named_without_its_contents() {
        let dir = std::env::temp_dir().join(format!("bde-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("creds.yaml");
        std::fs::write(&path, "bde:\n  - endpoint: x\n    pasword: hunter2\n").unwrap();
        let err = Credentials::load(&path).unwrap_err().to_string();
        assert!(err.contains("credentials_file") && err.contains("creds.yaml"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_template_cannot_turn_tls_off_for_the_operators_password() {
        let creds: Credentials = serde_saphyr::from_str(FILE).unwrap();
        for (key, value, field) in [
            ("insecure", serde_json::json!(true), "insecure"),
            ("ca_file", serde_json::json!("/tmp/attacker-ca.pem"), "ca_file"),
            (
                "vcenter_ca_file",
                serde_json::json!("/tmp/attacker-ca.pem"),
                "vcenter_ca_file",
            ),
        ] {
            let mut v = serde_json::json!({"bde_endpoint": "bde.example.com", "vcm_server": "vc.example.com"});
            v[key] = value;
            let err = creds.fill(&mut spec(v)).unwrap_err();
            assert_eq!(err.fields[0].field, field, "{err}");
        }
    }

    #[test]
    fn the_operator_may_allow_template_tls_settings() {
        let mut creds: Credentials = serde_saphyr::from_str(FILE).unwrap();
        creds.allow_template_tls = true;
        let mut s = spec(serde_json::json!({"bde_endpoint": "bde.example.com", "insecure": true}));
        creds.fill(&mut s).unwrap();
        assert!(s.password.is_some());
    }

    #[test]
    fn a_template_with_its_own_password_keeps_its_own_tls_settings() {
        let creds: Credentials = serde_saphyr::from_str(FILE).unwrap();
        let mut s = spec(serde_json::json!({
            "bde_endpoint": "bde.example.com", "username": "u", "password": "own", "insecure": true
        }));
        creds.fill(&mut s).unwrap();
        assert_eq!(s.password.as_ref().unwrap().expose_secret(), "own");
    }

    #[test]
    fn the_operators_bde_password_never_stands_in_for_an_unnamed_vcenter() {
        let creds: Credentials = serde_saphyr::from_str(FILE).unwrap();
        let mut s = spec(serde_json::json!({
            "bde_endpoint": "bde.example.com", "vcm_server": "evil.example.net",
            "cluster_name": "c1", "network": "n1"
        }));
        creds.fill(&mut s).unwrap();
        let err = crate::validate(&s).unwrap_err();
        assert!(err.fields.iter().any(|f| f.field == "vcenter_password"), "{err}");
    }

    #[test]
    fn only_the_operators_endpoints_are_allowed() {
        let creds: Credentials = serde_saphyr::from_str(FILE).unwrap();
        let allowed = creds.endpoints();
        let ours =
            spec(serde_json::json!({"bde_endpoint": "https://BDE.example.com:8443/", "vcm_server": "vc.example.com"}));
        assert!(check_endpoints(&ours, &allowed).is_ok());
        let theirs = spec(serde_json::json!({"bde_endpoint": "evil.example.net", "vcm_server": "vc.example.com:444"}));
        let e = check_endpoints(&theirs, &allowed).unwrap_err();
        let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["bde_endpoint", "vcm_server"], "{e}");
        let listed = [
            "bde.example.net:8443".to_string(),
            "https://vc.example.com:444/sdk".to_string(),
        ];
        let other = spec(
            serde_json::json!({"bde_endpoint": "https://bde.example.net:8443", "vcm_server": "https://vc.example.com:444/sdk"}),
        );
        assert!(check_endpoints(&other, &listed).is_ok(), "an explicit list wins");
    }

    #[test]
    fn the_vms_password_can_come_from_the_operators_file() {
        let creds: Credentials = serde_saphyr::from_str(
            "bde:\n  - endpoint: bde.example.com\n    username: u\n    password: p\n    cluster_password: vm-pw\n",
        )
        .unwrap();
        let mut s = spec(serde_json::json!({"bde_endpoint": "bde.example.com"}));
        creds.fill(&mut s).unwrap();
        assert_eq!(s.cluster_password.as_ref().unwrap().expose_secret(), "vm-pw");
        let mut own = spec(serde_json::json!({"bde_endpoint": "bde.example.com", "cluster_password": "mine"}));
        creds.fill(&mut own).unwrap();
        assert_eq!(
            own.cluster_password.as_ref().unwrap().expose_secret(),
            "mine",
            "the template's wins"
        );
    }

    #[test]
    fn a_template_with_its_own_password_is_still_verified_with_the_operators_ca() {
        let creds: Credentials = serde_saphyr::from_str(
            "bde:\n  - endpoint: bde.example.com\n    username: u\n    password: p\n    ca_file: /etc/bde-ca.pem\n",
        )
        .unwrap();
        let mut s = spec(serde_json::json!({"bde_endpoint": "bde.example.com", "username": "me", "password": "mine"}));
        creds.fill(&mut s).unwrap();
        assert_eq!(s.ca_file.as_deref(), Some("/etc/bde-ca.pem"));
        assert_eq!(s.password.as_ref().unwrap().expose_secret(), "mine");
    }

    #[test]
    fn a_broken_file_names_the_field_and_never_quotes_a_password() {
        let dir = std::env::temp_dir().join(format!("bde-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let load = |text: &str| {
            let path = dir.join("creds.yaml");
            std::fs::write(&path, text).unwrap();
            Credentials::load(&path).unwrap_err().to_string()
        };
        let e = load("bde:\n  - endpoint: bde\n    username: u\n    password: 314159265358\n");
        assert!(e.contains("bde[0].password: must be text"), "{e}");
        assert!(!e.contains("314159265358"), "{e}");
        let e = load("bde:\n  - endpoint: bde\n    password: s3cret-Value\n");
        assert!(e.contains("bde[0].username: missing field"), "{e}");
        assert!(!e.contains("s3cret-Value"), "{e}");
        let e = load("vcenter:\n  - endpoint: vc\n    username: u\n    password: p\n    port: 443\n");
        assert!(e.contains("vcenter[0].port: unknown field"), "{e}");
        let e = load("bde: [\n  {password: \"s3cret-Value\"\n");
        assert!(e.contains("not YAML"), "{e}");
        assert!(!e.contains("s3cret-Value"), "{e}");
        let e = load("allow_template_tls: sometimes\n");
        assert!(e.contains("allow_template_tls: expected a boolean"), "{e}");
    }
}
