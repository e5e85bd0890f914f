//! OpenStack credentials the way the `openstack` CLI finds them.
//!
//! With `OS_CLOUD`, the cloud of that name in the first `clouds.yaml` found
//! (`OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`, `~/.config/openstack/`,
//! `/etc/openstack/`), deep-merged with the same cloud of the first
//! `secure.yaml` found (`OS_CLIENT_SECURE_FILE`, then the same folders); any
//! `OS_*` variable set then overrides its key, as the CLI's options do.
//! Without `OS_CLOUD`, the `OS_*` variables alone.
//!
//! Written from `os-client-config`'s data model rather than through a crate:
//! `osauth`, the one Rust crate that reads these files, brings a second HTTP
//! stack (reqwest 0.12) and the deprecated `serde_yaml`.

use std::path::{Path, PathBuf};

use bde_engine::{ApplicationCredential, Domain, Identity, KeystoneAuth, OpenStackAccess, Project, TlsOptions, User};
use serde_json::{Map, Value};

/// Keys of a cloud's `auth` section that an `OS_<KEY>` variable overrides.
pub(crate) const AUTH_KEYS: &[&str] = &[
    "auth_url",
    "username",
    "user_id",
    "password",
    "project_name",
    "project_id",
    "tenant_name",
    "tenant_id",
    "user_domain_name",
    "user_domain_id",
    "project_domain_name",
    "project_domain_id",
    "domain_name",
    "domain_id",
    "default_domain",
    "application_credential_id",
    "application_credential_name",
    "application_credential_secret",
    "token",
];

/// Keys of a cloud (outside `auth`) that an `OS_<KEY>` variable overrides.
pub(crate) const CLOUD_KEYS: &[&str] = &[
    "auth_type",
    "region_name",
    "interface",
    "cacert",
    "insecure",
    "cert",
    "key",
];

/// How the CLI reaches OpenStack: from `OS_CLOUD` and its files, or `OS_*`.
pub fn access() -> Result<OpenStackAccess, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let home = env("HOME").map(PathBuf::from);
    let (cloud, source) = match env("OS_CLOUD") {
        Some(name) => {
            let clouds = first_existing(&candidates(
                "clouds.yaml",
                env("OS_CLIENT_CONFIG_FILE"),
                home.as_deref(),
            ))
            .ok_or_else(|| format!("OS_CLOUD={name}: no clouds.yaml found (set OS_CLIENT_CONFIG_FILE)"))?;
            let mut cloud = cloud_in(&clouds, &name)?
                .ok_or_else(|| format!("OS_CLOUD={name}: {} has no such cloud", clouds.display()))?;
            let secure = first_existing(&candidates(
                "secure.yaml",
                env("OS_CLIENT_SECURE_FILE"),
                home.as_deref(),
            ));
            if let Some(secrets) = secure.map(|path| cloud_in(&path, &name)).transpose()?.flatten() {
                merge(&mut cloud, secrets);
            }
            (cloud, format!("cloud {name} of {}", clouds.display()))
        }
        None => (
            Value::Object(Map::new()),
            "the OS_* variables (or set OS_CLOUD)".to_string(),
        ),
    };
    let cloud = with_environment(cloud, &env);
    interpret(&cloud).map_err(|e| format!("{source}: {e}"))
}

/// Where `openstack` looks for one of its files, in order.
fn candidates(file: &str, from_env: Option<String>, home: Option<&Path>) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = from_env.into_iter().map(PathBuf::from).collect();
    paths.push(PathBuf::from(file));
    if let Some(home) = home {
        paths.push(home.join(".config/openstack").join(file));
    }
    paths.push(Path::new("/etc/openstack").join(file));
    paths
}

fn first_existing(paths: &[PathBuf]) -> Option<PathBuf> {
    paths.iter().find(|p| p.is_file()).cloned()
}

/// The named cloud of a `clouds.yaml`/`secure.yaml`. A parse error names the
/// line and column only: the file holds passwords, so none of it is echoed.
fn cloud_in(path: &Path, name: &str) -> Result<Option<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: Value = serde_saphyr::from_str_with_options(&text, serde_saphyr::options! { with_snippet: false })
        .map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            format!("{}: not valid YAML{at}", path.display())
        })?;
    match file.get("clouds") {
        Some(Value::Object(clouds)) => Ok(clouds.get(name).cloned()),
        _ => Err(format!("{}: has no `clouds:` mapping", path.display())),
    }
}

/// `secure.yaml` over `clouds.yaml`: mappings merged key by key, the rest replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// The cloud with every `OS_<KEY>` that is set in its place.
fn with_environment(mut cloud: Value, env: &dyn Fn(&str) -> Option<String>) -> Value {
    let var = |key: &str| env(&format!("OS_{}", key.to_uppercase()));
    if !cloud.is_object() {
        cloud = Value::Object(Map::new());
    }
    for key in CLOUD_KEYS {
        if let Some(value) = var(key) {
            cloud[*key] = Value::String(value);
        }
    }
    if !cloud.get("auth").is_some_and(Value::is_object) {
        cloud["auth"] = Value::Object(Map::new());
    }
    for key in AUTH_KEYS {
        if let Some(value) = var(key) {
            cloud["auth"][*key] = Value::String(value);
        }
    }
    cloud
}

/// A string value of the cloud, by key (numbers and booleans as written).
fn text(section: &Value, key: &str) -> Option<String> {
    match section.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flag(cloud: &Value, key: &str) -> Result<Option<bool>, String> {
    match text(cloud, key).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("true" | "yes" | "1") => Ok(Some(true)),
        Some("false" | "no" | "0") => Ok(Some(false)),
        Some(other) => Err(format!("{key}: `{other}` is not true or false")),
    }
}

/// The Keystone login and TLS settings a cloud entry describes.
fn interpret(cloud: &Value) -> Result<OpenStackAccess, String> {
    let auth = &cloud["auth"];
    let need = |key: &str, hint: &str| text(auth, key).ok_or_else(|| format!("auth.{key} is required ({hint})"));
    let auth_url = need("auth_url", "Keystone's URL; OS_AUTH_URL")?;
    let auth_type = text(cloud, "auth_type").unwrap_or_else(|| {
        if text(auth, "application_credential_secret").is_some() {
            "v3applicationcredential".into()
        } else if text(auth, "token").is_some() && text(auth, "password").is_none() {
            "v3token".into()
        } else {
            "password".into()
        }
    });
    let default_domain = || {
        text(auth, "default_domain")
            .map(Domain::Id)
            .or_else(|| text(auth, "domain_id").map(Domain::Id))
            .or_else(|| text(auth, "domain_name").map(Domain::Name))
            .unwrap_or_else(|| Domain::Id("default".into()))
    };
    let domain = |kind: &str| {
        text(auth, &format!("{kind}_domain_id"))
            .map(Domain::Id)
            .or_else(|| text(auth, &format!("{kind}_domain_name")).map(Domain::Name))
            .unwrap_or_else(default_domain)
    };
    let user = || -> Result<User, String> {
        if let Some(id) = text(auth, "user_id") {
            return Ok(User::Id(id));
        }
        let name = need("username", "or auth.user_id; OS_USERNAME")?;
        Ok(User::Name {
            name,
            domain: domain("user"),
        })
    };
    let project = || -> Result<Project, String> {
        if let Some(id) = text(auth, "project_id").or_else(|| text(auth, "tenant_id")) {
            return Ok(Project::Id(id));
        }
        let name = text(auth, "project_name")
            .or_else(|| text(auth, "tenant_name"))
            .ok_or("auth.project_name is required (or auth.project_id; OS_PROJECT_NAME)")?;
        Ok(Project::Name {
            name,
            domain: domain("project"),
        })
    };
    let identity = match auth_type.as_str() {
        "password" | "v3password" => Identity::Password {
            user: user()?,
            password: need("password", "OS_PASSWORD, or the cloud in secure.yaml")?.into(),
            project: project()?,
        },
        "v3applicationcredential" | "applicationcredential" => {
            let credential = match text(auth, "application_credential_id") {
                Some(id) => ApplicationCredential::Id(id),
                None => ApplicationCredential::Name {
                    name: need(
                        "application_credential_name",
                        "or auth.application_credential_id; OS_APPLICATION_CREDENTIAL_ID",
                    )?,
                    user: user()?,
                },
            };
            let secret = need(
                "application_credential_secret",
                "OS_APPLICATION_CREDENTIAL_SECRET, or the cloud in secure.yaml",
            )?;
            Identity::ApplicationCredential {
                credential,
                secret: secret.into(),
            }
        }
        "v3token" | "token" => Identity::Token {
            token: need("token", "OS_TOKEN")?.into(),
            project: project()?,
        },
        other => {
            return Err(format!(
                "auth_type: `{other}` is not supported (use password, v3applicationcredential or v3token)"
            ));
        }
    };
    if text(cloud, "cert").is_some() || text(cloud, "key").is_some() {
        return Err("cert/key: client certificates are not supported; remove them or use another auth".into());
    }
    let verify = match cloud.get("verify") {
        Some(Value::Bool(verify)) => Some(*verify),
        _ => None,
    };
    let insecure = flag(cloud, "insecure")?.unwrap_or(false) || verify == Some(false);
    let interface = text(cloud, "interface").unwrap_or_else(|| "public".into());
    let interface = interface.trim_end_matches("URL").to_string();
    if !["public", "internal", "admin"].contains(&interface.as_str()) {
        return Err(format!("interface: `{interface}` is not public, internal or admin"));
    }
    Ok(OpenStackAccess::Keystone {
        auth: KeystoneAuth {
            auth_url,
            identity,
            region: text(cloud, "region_name"),
            interface,
        },
        tls: TlsOptions {
            ca_file: text(cloud, "cacert").map(Into::into),
            insecure,
        },
    })
}

#[cfg(test)]
mod tests;
