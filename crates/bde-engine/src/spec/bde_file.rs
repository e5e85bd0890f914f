//! A BDE spec file — the JSON a BDE user gives `cluster create --specFile`
//! (camelCase `nodeGroups`, `haFlag`, `memCapacityMB`, ...; `//` comments as BDE's
//! CLI allows them) — read as the spec's own keys and merged under the template's:
//! where both give a key, the template's wins (node groups are matched by name,
//! configurations merged property by property). Facts: docs/bde-cluster-spec.md §1-2.

use crate::error::EngineError;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::io::Read;

/// The key that carries the file.
pub const KEY: &str = "cluster_spec";

/// BDE keys it knows but bde-heat does not take, and why (a plain "unknown field" otherwise).
const NOT_TAKEN: &[(&str, &str)] = &[
    (
        "type",
        "picks a BDE template when nodeGroups is empty: give nodeGroups (or node_groups) instead",
    ),
    (
        "networkConfig",
        "the networks come from the template: network/subnet and networks",
    ),
    (
        "networkNames",
        "the networks come from the template: network/subnet and networks",
    ),
    (
        "hostnamePrefix",
        "BDE ignores it at create (its server setting names the hosts): leave it out",
    ),
    ("clusterCloneType", "BDE sets it from its server setting: leave it out"),
    (
        "infrastructure_config",
        "BDE's LDAP user management is not offered by bde-heat yet",
    ),
    (
        "externalMapReduce",
        "compute-only clusters are not offered by bde-heat yet",
    ),
    (
        "externalNamenode",
        "compute-only clusters are not offered by bde-heat yet",
    ),
    (
        "externalSecondaryNamenode",
        "compute-only clusters are not offered by bde-heat yet",
    ),
    (
        "externalDatanodes",
        "compute-only clusters are not offered by bde-heat yet",
    ),
    (
        "vcClusters",
        "BDE's automatic resource pools are not offered: use rpNames",
    ),
    (
        "latencySensitivity",
        "not offered by bde-heat yet: leave it out (BDE's default NORMAL)",
    ),
];

/// The file's cluster (`ClusterCreate`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Cluster {
    name: Option<String>,
    app_manager: Option<String>,
    distro: Option<String>,
    /// BDE overwrites both from the distro.
    #[serde(default, rename = "distroVendor")]
    _distro_vendor: Option<Value>,
    #[serde(default, rename = "distroVersion")]
    _distro_version: Option<Value>,
    template_name: Option<String>,
    rp_names: Option<Vec<String>>,
    ds_names: Option<Vec<String>>,
    node_groups: Option<Vec<Group>>,
    configuration: Option<Value>,
    topology_policy: Option<String>,
    password: Option<secrecy::SecretString>,
    #[serde(rename = "localRepoURL")]
    local_repo_url: Option<String>,
    #[serde(rename = "externalHDFS")]
    external_hdfs: Option<String>,
    /// BDE's white-list check of the configuration; bde-heat checks the shape itself.
    #[serde(default, rename = "validateConfig")]
    _validate_config: Option<bool>,
    /// Set by BDE's server.
    #[serde(default, rename = "specFile")]
    _spec_file: Option<bool>,
}

/// A node group (`NodeGroupCreate`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Group {
    name: String,
    roles: Vec<String>,
    /// BDE's default 0: such a group is dropped at create.
    #[serde(default)]
    instance_num: i64,
    instance_type: Option<String>,
    cpu_num: Option<i64>,
    #[serde(rename = "memCapacityMB")]
    mem_capacity_mb: Option<i64>,
    storage: Option<Storage>,
    ha_flag: Option<String>,
    configuration: Option<Value>,
    rp_names: Option<Vec<String>>,
    swap_ratio: Option<f64>,
    reserved_cpu_ratio: Option<f64>,
    reserved_mem_ratio: Option<f64>,
    placement_policies: Option<Placement>,
}

/// A group's storage (`StorageRead`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Storage {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "sizeGB")]
    size_gb: Option<i64>,
    disk_num: Option<i64>,
    ds_names: Option<Vec<String>>,
}

/// A group's placement (`PlacementPolicy`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Placement {
    instance_per_host: Option<i64>,
    group_associations: Option<Vec<Association>>,
    group_racks: Option<GroupRacks>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupRacks {
    #[serde(rename = "type")]
    kind: Option<String>,
    racks: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Association {
    reference: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The spec with its `cluster_spec` (a mapping, or the file's text) read and merged
/// under the template's own keys; unchanged when it has none.
pub fn merge_into(mut spec: Value) -> Result<Value, EngineError> {
    let Some(file) = spec.as_object_mut().and_then(|m| m.remove(KEY)) else {
        return Ok(spec);
    };
    let file = match file {
        Value::Null => return Ok(spec),
        Value::String(text) => parse_text(&text)?,
        other => other,
    };
    let ours = as_our_keys(file)?;
    let Value::Object(template) = spec else {
        return Ok(spec);
    };
    Ok(Value::Object(merged(ours, template)))
}

/// The file's text: JSON, with `//` and `/* */` comments as BDE's CLI reads it.
fn parse_text(text: &str) -> Result<Value, EngineError> {
    let mut plain = String::new();
    json_comments::StripComments::new(text.as_bytes())
        .read_to_string(&mut plain)
        .map_err(|e| EngineError::field(KEY, format!("cannot be read: {e}")))?;
    serde_json::from_str(&plain).map_err(|e| {
        // Line and column only: a line of the file may hold its password.
        EngineError::field(
            KEY,
            format!(
                "is not a BDE spec file's JSON (line {}, column {}): {}",
                e.line(),
                e.column(),
                match e.classify() {
                    serde_json::error::Category::Eof => "it ends too early",
                    _ => "check the syntax there",
                }
            ),
        )
    })
}

/// The file's keys as the spec's own (`nodeGroups[].memCapacityMB` → `node_groups[].memory_mb`).
fn as_our_keys(file: Value) -> Result<Map<String, Value>, EngineError> {
    not_taken_errors(&file, KEY)?;
    let cluster: Cluster = serde_path_to_error::deserialize(file).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let field = match path.trim_start_matches('.') {
            "" => KEY.to_string(),
            path => format!("{KEY}.{path}"),
        };
        let message = if field.ends_with(".password") {
            "must be text".to_string()
        } else {
            message
        };
        EngineError::field(&field, message)
    })?;
    let mut ours = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value.filter(|v| !v.is_null()) {
            ours.insert(key.into(), v);
        }
    };
    put("cluster_name", cluster.name.map(Value::from));
    put("app_manager", cluster.app_manager.map(Value::from));
    put("distro", cluster.distro.map(Value::from));
    put("template_name", cluster.template_name.map(Value::from));
    put("resource_pools", cluster.rp_names.map(Value::from));
    put("datastores", cluster.ds_names.map(Value::from));
    put("configuration", cluster.configuration);
    put("topology_policy", cluster.topology_policy.map(Value::from));
    put("local_repo_url", cluster.local_repo_url.map(Value::from));
    put("external_hdfs", cluster.external_hdfs.map(Value::from));
    put(
        "cluster_password",
        cluster
            .password
            .map(|p| Value::from(secrecy::ExposeSecret::expose_secret(&p).to_string())),
    );
    // BDE drops a group of no VMs at create (ClusterConfigManager.convertGroup).
    let groups: Vec<Value> = cluster
        .node_groups
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, g)| g.instance_num > 0)
        .map(|(i, g)| group_keys(i, g))
        .collect::<Result<_, _>>()?;
    if !groups.is_empty() {
        ours.insert("node_groups".into(), Value::Array(groups));
    }
    Ok(ours)
}

fn group_keys(i: usize, g: Group) -> Result<Value, EngineError> {
    let mut ours = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            ours.insert(key.into(), v);
        }
    };
    put("name", Some(g.name.clone().into()));
    put("roles", Some(g.roles.into()));
    put("instance_num", Some(g.instance_num.into()));
    put("instance_type", g.instance_type.map(Value::from));
    put("cpu_num", g.cpu_num.map(Value::from));
    put("memory_mb", g.mem_capacity_mb.map(Value::from));
    put("ha", g.ha_flag.map(Value::from));
    put("configuration", g.configuration);
    put("resource_pools", g.rp_names.map(Value::from));
    put("swap_ratio", g.swap_ratio.map(Value::from));
    put("cpu_reservation", g.reserved_cpu_ratio.map(Value::from));
    put("memory_reservation", g.reserved_mem_ratio.map(Value::from));
    put(
        "storage",
        g.storage.map(|s| {
            let mut storage = Map::new();
            for (key, value) in [
                ("type", s.kind.map(Value::from)),
                ("size_gb", s.size_gb.map(Value::from)),
                ("disk_num", s.disk_num.map(Value::from)),
                ("datastores", s.ds_names.map(Value::from)),
            ] {
                if let Some(v) = value {
                    storage.insert(key.into(), v);
                }
            }
            Value::Object(storage)
        }),
    );
    if let Some(p) = g.placement_policies {
        let mut placement = Map::new();
        if let Some(n) = p.instance_per_host {
            placement.insert("instance_per_host".into(), n.into());
        }
        match p.group_associations.unwrap_or_default().as_slice() {
            [] => {}
            [one] => {
                placement.insert("beside_group".into(), one.reference.clone().into());
                placement.insert(
                    "beside_type".into(),
                    one.kind.clone().unwrap_or_else(|| "WEAK".into()).into(),
                );
            }
            _ => {
                return Err(EngineError::field(
                    &format!("{KEY}.nodeGroups[{i}].placementPolicies.groupAssociations"),
                    "BDE takes exactly one association: keep one",
                ));
            }
        }
        if let Some(r) = p.group_racks {
            let mut racks = Map::new();
            if let Some(kind) = r.kind {
                racks.insert("type".into(), kind.into());
            }
            if let Some(names) = r.racks {
                racks.insert("names".into(), names.into());
            }
            placement.insert("racks".into(), Value::Object(racks));
        }
        put("placement", Some(Value::Object(placement)));
    }
    Ok(Value::Object(ours))
}

/// Refuses, by path and with the reason, the BDE keys bde-heat does not take.
fn not_taken_errors(value: &Value, at: &str) -> Result<(), EngineError> {
    let mut errors = Vec::new();
    fn walk(value: &Value, at: &str, errors: &mut Vec<crate::error::FieldError>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let here = format!("{at}.{key}");
                    match NOT_TAKEN.iter().find(|(k, _)| k == key) {
                        // `type` is a storage's and an association's key too.
                        Some((_, why)) if key != "type" || !at.contains('.') => errors.push(crate::error::FieldError {
                            field: here,
                            message: (*why).into(),
                        }),
                        // A configuration's keys are the software's, never BDE's.
                        _ if key == "configuration" => {}
                        _ => walk(v, &here, errors),
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{at}[{i}]"), errors);
                }
            }
            _ => {}
        }
    }
    walk(value, at, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EngineError::invalid(errors))
    }
}

/// The file's keys with the template's over them.
fn merged(mut base: Map<String, Value>, template: Map<String, Value>) -> Map<String, Value> {
    for (key, value) in template {
        let merged = match (key.as_str(), base.remove(&key), value) {
            ("node_groups", Some(Value::Array(file)), Value::Array(ours)) => Value::Array(merged_groups(file, ours)),
            ("configuration", Some(file), ours) => deep_merged(file, ours),
            (_, _, ours) => ours,
        };
        base.insert(key, merged);
    }
    base
}

/// The file's groups, each with the template's group of the same name over it, then
/// the template's other groups.
fn merged_groups(file: Vec<Value>, ours: Vec<Value>) -> Vec<Value> {
    let name = |g: &Value| g.get("name").and_then(Value::as_str).map(str::to_string);
    let mut ours: Vec<Option<Value>> = ours.into_iter().map(Some).collect();
    let mut groups: Vec<Value> = file
        .into_iter()
        .map(|g| {
            let same = ours
                .iter_mut()
                .find(|o| o.as_ref().is_some_and(|o| name(o).is_some() && name(o) == name(&g)));
            match (same.and_then(Option::take), g) {
                (Some(Value::Object(o)), Value::Object(f)) => {
                    let mut f = f;
                    for (k, v) in o {
                        let v = match (k.as_str(), f.remove(&k)) {
                            ("configuration", Some(fc)) => deep_merged(fc, v),
                            _ => v,
                        };
                        f.insert(k, v);
                    }
                    Value::Object(f)
                }
                (_, g) => g,
            }
        })
        .collect();
    groups.extend(ours.into_iter().flatten());
    groups
}

/// Two configurations, the second's properties over the first's.
fn deep_merged(base: Value, over: Value) -> Value {
    match (base, over) {
        (Value::Object(mut b), Value::Object(o)) => {
            for (k, v) in o {
                let v = match b.remove(&k) {
                    Some(old) => deep_merged(old, v),
                    None => v,
                };
                b.insert(k, v);
            }
            Value::Object(b)
        }
        (_, over) => over,
    }
}

/// What a spec given only as a BDE file looks like once read (for tests and docs).
#[cfg(test)]
pub(crate) fn read(file: &str) -> Result<Value, EngineError> {
    merge_into(serde_json::json!({ KEY: file }))
}

#[cfg(test)]
mod tests;
