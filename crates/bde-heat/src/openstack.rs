//! OpenStack credentials the way every OpenStack tool finds them: `OS_CLOUD`
//! in `clouds.yaml` (`OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
//! `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`), or the
//! `OS_AUTH_URL` / `OS_USERNAME` / `OS_PASSWORD` / `OS_PROJECT_NAME` variables.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bde_engine::PasswordAuth;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct CloudsFile {
    clouds: BTreeMap<String, Cloud>,
}

#[derive(Debug, Deserialize)]
struct Cloud {
    auth: CloudAuth,
    region_name: Option<String>,
    interface: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CloudAuth {
    auth_url: String,
    username: String,
    password: String,
    project_name: String,
    user_domain_id: Option<String>,
    project_domain_id: Option<String>,
}

fn candidates() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Ok(p) = std::env::var("OS_CLIENT_CONFIG_FILE") {
        paths.push(PathBuf::from(p));
    }
    paths.push(PathBuf::from("clouds.yaml"));
    if let Ok(home) = std::env::var("HOME") {
        paths.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
    }
    paths.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    paths
}

/// Password authentication from `OS_CLOUD` or `OS_*`.
pub fn password_auth() -> Result<PasswordAuth, String> {
    if let Ok(cloud) = std::env::var("OS_CLOUD") {
        for path in candidates() {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let file: CloudsFile =
                serde_saphyr::from_str(&text).map_err(|e| format!("{}: not a clouds.yaml: {e}", path.display()))?;
            let Some(c) = file.clouds.get(&cloud).map(|c| c as &Cloud) else {
                continue;
            };
            return Ok(PasswordAuth {
                auth_url: c.auth.auth_url.clone(),
                username: c.auth.username.clone(),
                password: c.auth.password.clone().into(),
                project_name: c.auth.project_name.clone(),
                user_domain_id: c.auth.user_domain_id.clone().unwrap_or_else(|| "default".into()),
                project_domain_id: c.auth.project_domain_id.clone().unwrap_or_else(|| "default".into()),
                region: c.region_name.clone(),
                interface: c.interface.clone().unwrap_or_else(|| "public".into()),
            });
        }
        return Err(format!(
            "OS_CLOUD={cloud}: no such cloud in any clouds.yaml (set OS_CLIENT_CONFIG_FILE)"
        ));
    }
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set (or set OS_CLOUD)"));
    Ok(PasswordAuth {
        auth_url: var("OS_AUTH_URL")?,
        username: var("OS_USERNAME")?,
        password: var("OS_PASSWORD")?.into(),
        project_name: var("OS_PROJECT_NAME")?,
        user_domain_id: std::env::var("OS_USER_DOMAIN_ID").unwrap_or_else(|_| "default".into()),
        project_domain_id: std::env::var("OS_PROJECT_DOMAIN_ID").unwrap_or_else(|_| "default".into()),
        region: std::env::var("OS_REGION_NAME").ok(),
        interface: std::env::var("OS_INTERFACE").unwrap_or_else(|_| "public".into()),
    })
}
