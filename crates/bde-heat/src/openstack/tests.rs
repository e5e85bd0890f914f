use std::collections::HashMap;

use secrecy::ExposeSecret;

use super::*;

const CLOUDS: &str = r#"
clouds:
  appcred:
    auth_type: v3applicationcredential
    region_name: RegionTwo
    interface: internal
    cacert: /etc/ssl/private-ca.pem
    auth:
      auth_url: https://keystone.example:5000/v3
      application_credential_id: 0123abcd
      application_credential_secret: s3cret-appcred
  horizon:
    auth:
      auth_url: https://keystone.example:5000/v3
      username: alice
      project_id: 9f3e
      user_domain_name: Users
    verify: false
  domains:
    auth:
      auth_url: https://keystone.example:5000
      username: bob
      project_name: analytics
      domain_name: Corp
      project_domain_id: p-dom
  nopassword:
    auth:
      auth_url: https://keystone.example:5000
      username: carol
      project_name: p
"#;

/// A fresh folder for one test's files.
fn scratch() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("bde-heat-clouds-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn load(cloud: &str, secure: Option<&str>, env: &[(&str, &str)]) -> Result<OpenStackAccess, String> {
    let dir = scratch();
    let clouds = write(dir.as_path(), "clouds.yaml", CLOUDS);
    let mut value = cloud_in(&clouds, cloud).unwrap().unwrap();
    if let Some(secure) = secure {
        let secure = write(dir.as_path(), "secure.yaml", secure);
        merge(&mut value, cloud_in(&secure, cloud).unwrap().unwrap());
    }
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    interpret(&with_environment(value, &|k: &str| env.get(k).cloned()))
}

fn keystone(access: OpenStackAccess) -> (KeystoneAuth, TlsOptions) {
    match access {
        OpenStackAccess::Keystone { auth, tls } => (auth, tls),
        other => panic!("not a Keystone login: {other:?}"),
    }
}

#[test]
fn an_application_credential_with_a_cacert_logs_in_unscoped_and_verifies_with_that_ca() {
    let (auth, tls) = keystone(load("appcred", None, &[]).unwrap());
    match auth.identity {
        Identity::ApplicationCredential {
            credential: ApplicationCredential::Id(id),
            secret,
        } => {
            assert_eq!(id, "0123abcd");
            assert_eq!(secret.expose_secret(), "s3cret-appcred");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(auth.region.as_deref(), Some("RegionTwo"));
    assert_eq!(auth.interface, "internal");
    assert_eq!(
        tls.ca_file.as_deref().map(Path::new),
        Some(Path::new("/etc/ssl/private-ca.pem"))
    );
    assert!(!tls.insecure);
}

#[test]
fn os_cacert_and_os_region_name_override_the_file() {
    let (auth, tls) = keystone(
        load(
            "appcred",
            None,
            &[("OS_CACERT", "/tmp/other.pem"), ("OS_REGION_NAME", "RegionOne")],
        )
        .unwrap(),
    );
    assert_eq!(tls.ca_file.as_deref().map(Path::new), Some(Path::new("/tmp/other.pem")));
    assert_eq!(auth.region.as_deref(), Some("RegionOne"));
}

#[test]
fn horizons_download_takes_its_password_from_os_password_and_verify_false_means_insecure() {
    let (auth, tls) = keystone(load("horizon", None, &[("OS_PASSWORD", "pw-from-env")]).unwrap());
    match auth.identity {
        Identity::Password {
            user,
            password,
            project,
        } => {
            assert_eq!(
                user,
                User::Name {
                    name: "alice".into(),
                    domain: Domain::Name("Users".into())
                }
            );
            assert_eq!(password.expose_secret(), "pw-from-env");
            assert_eq!(project, Project::Id("9f3e".into()));
        }
        other => panic!("{other:?}"),
    }
    assert!(tls.insecure);
}

#[test]
fn domain_name_is_the_default_for_user_and_project_unless_one_is_given() {
    let (auth, _) = keystone(
        load(
            "domains",
            Some("clouds:\n  domains:\n    auth:\n      password: pw\n"),
            &[],
        )
        .unwrap(),
    );
    match auth.identity {
        Identity::Password { user, project, .. } => {
            assert_eq!(
                user,
                User::Name {
                    name: "bob".into(),
                    domain: Domain::Name("Corp".into())
                }
            );
            assert_eq!(
                project,
                Project::Name {
                    name: "analytics".into(),
                    domain: Domain::Id("p-dom".into())
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn secure_yaml_supplies_the_password_the_clouds_yaml_leaves_out() {
    assert!(
        load("nopassword", None, &[])
            .unwrap_err()
            .contains("auth.password is required")
    );
    let secure = "clouds:\n  nopassword:\n    auth:\n      password: from-secure\n";
    let (auth, _) = keystone(load("nopassword", Some(secure), &[]).unwrap());
    let Identity::Password { password, .. } = auth.identity else {
        panic!("not a password login")
    };
    assert_eq!(password.expose_secret(), "from-secure");
}

#[test]
fn the_os_variables_alone_describe_a_cloud() {
    let env: HashMap<&str, &str> = [
        ("OS_AUTH_URL", "http://k:5000/v3"),
        ("OS_APPLICATION_CREDENTIAL_ID", "ac1"),
        ("OS_APPLICATION_CREDENTIAL_SECRET", "sec"),
        ("OS_INSECURE", "true"),
    ]
    .into();
    let cloud = with_environment(Value::Object(Map::new()), &|k: &str| env.get(k).map(|v| v.to_string()));
    let (auth, tls) = keystone(interpret(&cloud).unwrap());
    assert!(matches!(
        auth.identity,
        Identity::ApplicationCredential {
            credential: ApplicationCredential::Id(ref id),
            ..
        } if id == "ac1"
    ));
    assert!(tls.insecure);
}

#[test]
fn a_missing_or_unsupported_field_is_named_with_its_fix() {
    let err = |cloud: Value| interpret(&cloud).unwrap_err();
    assert!(err(serde_json::json!({"auth": {}})).contains("auth.auth_url is required"));
    assert!(err(serde_json::json!({"auth_type": "saml2", "auth": {"auth_url": "u"}})).contains("auth_type: `saml2`"));
    assert!(
        err(serde_json::json!({"auth": {"auth_url": "u", "username": "a", "password": "p"}}))
            .contains("auth.project_name is required")
    );
    assert!(
        err(serde_json::json!({"auth_type": "v3applicationcredential", "auth": {"auth_url": "u", "application_credential_id": "x"}}))
            .contains("auth.application_credential_secret is required")
    );
    assert!(
        err(serde_json::json!({"interface": "private", "auth": {"auth_url": "u", "username": "a", "password": "p", "project_id": "x"}}))
            .contains("interface: `private`")
    );
}

#[test]
fn a_broken_file_is_named_by_line_without_echoing_any_of_it() {
    let dir = scratch();
    let path = write(
        dir.as_path(),
        "clouds.yaml",
        "clouds:\n  c:\n    auth:\n      application_credential_secret: topsecret-value\n      username: [unclosed\n",
    );
    let err = cloud_in(&path, "c").unwrap_err();
    assert!(err.contains("not valid YAML at line"), "{err}");
    assert!(!err.contains("topsecret"), "{err}");
}

#[test]
fn the_first_clouds_yaml_found_is_the_one_read() {
    let dir = scratch();
    let listed = candidates("clouds.yaml", Some("/nonexistent/c.yaml".into()), Some(dir.as_path()));
    assert_eq!(listed[0], PathBuf::from("/nonexistent/c.yaml"));
    assert_eq!(listed[2], dir.as_path().join(".config/openstack/clouds.yaml"));
    std::fs::create_dir_all(dir.as_path().join(".config/openstack")).unwrap();
    write(&dir.as_path().join(".config/openstack"), "clouds.yaml", CLOUDS);
    let only_home: Vec<PathBuf> = listed
        .into_iter()
        .filter(|p| p.starts_with(dir.as_path()) || p.starts_with("/nonexistent"))
        .collect();
    assert_eq!(
        first_existing(&only_home),
        Some(dir.as_path().join(".config/openstack/clouds.yaml"))
    );
}
