//! Create: validate remotely, find the portgroup, register the BDE network,
//! create the cluster, then wire and repair until every node has its address.

use std::collections::BTreeMap;

use bde_openstack::Neutron;
use bde_serengeti::{ClusterCreate, DhcpFlag, DnsType, MGT_NETWORK, NetworkAdd, NodeGroupCreate};
use secrecy::ExposeSecret;

use crate::state::{Phase, State, now};
use crate::{Clients, EngineError, Outcome, ValidSpec, wire};

/// How long NSX-v may take to make a network's portgroup.
const PORTGROUP_WAIT_SECONDS: f64 = 120.0;

/// One bounded step of the create; call again until `Outcome::Done`.
pub async fn create_step(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Outcome, EngineError> {
    if state.phase == Phase::Deleted {
        // A cluster deleted earlier from the same spec is made anew.
        *state = State::default();
    }
    match state.phase {
        Phase::Validate => validate_remote(c, spec, state).await,
        Phase::FindPortgroup => find_portgroup(c, state).await,
        Phase::RegisterNetwork => register_network(c, state).await,
        Phase::CreateCluster => create_cluster(c, spec, state).await,
        Phase::Wire => wire::wire_step(c, spec, state).await,
        Phase::Ready => Ok(Outcome::Done),
        Phase::Stopping | Phase::Stopped => Err(EngineError::Remote("the cluster is stopped: run start first".into())),
        other => Err(EngineError::Remote(format!(
            "the cluster is being deleted ({other:?}); delete it first"
        ))),
    }
}

fn one(found: Vec<serde_json::Value>, field: &str, what: &str, value: &str) -> Result<serde_json::Value, EngineError> {
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one")),
        0 => Err(EngineError::field(
            field,
            format!("no {what} {value:?} in this project: check the name or id"),
        )),
        n => Err(EngineError::field(
            field,
            format!("{n} {what}s are named {value:?}: give the id instead"),
        )),
    }
}

/// The network, subnet and security groups a spec names, as Neutron knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeutronIds {
    /// The network's id.
    pub network_id: String,
    /// The subnet's id (the spec's, or the network's first).
    pub subnet_id: String,
    /// The security groups' ids.
    pub security_group_ids: Vec<String>,
}

/// Checks what the spec names in Neutron: the network and security group exist
/// once, the subnet belongs to the network. Makes nothing; Heat's validate uses it too.
pub async fn check_neutron(neutron: &Neutron, spec: &ValidSpec) -> Result<NeutronIds, EngineError> {
    let network = one(
        neutron.find("networks", &spec.network).await?,
        "network",
        "network",
        &spec.network,
    )?;
    let network_id = network["id"].as_str().unwrap_or_default().to_string();
    let subnet_id = match &spec.subnet {
        Some(s) => {
            let subnet = one(neutron.find("subnets", s).await?, "subnet", "subnet", s)?;
            if subnet["network_id"] != network_id.as_str() {
                return Err(EngineError::field(
                    "subnet",
                    format!(
                        "{s:?} belongs to another network than {:?}: give a subnet of that network",
                        spec.network
                    ),
                ));
            }
            subnet["id"].as_str().map(str::to_string)
        }
        None => network["subnets"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|v| v.as_str())
            .map(str::to_string),
    };
    let Some(subnet_id) = subnet_id else {
        return Err(EngineError::field(
            "subnet",
            "the network has no subnet: add a DHCP subnet to it",
        ));
    };
    let mut security_group_ids = Vec::new();
    if let Some(sg) = &spec.security_group {
        let group = one(
            neutron.find("security-groups", sg).await?,
            "security_group",
            "security group",
            sg,
        )?;
        security_group_ids.push(group["id"].as_str().unwrap_or_default().to_string());
    }
    Ok(NeutronIds {
        network_id,
        subnet_id,
        security_group_ids,
    })
}

async fn validate_remote(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Outcome, EngineError> {
    let ids = check_neutron(&c.neutron, spec).await?;
    state.network_id = Some(ids.network_id);
    state.subnet_id = Some(ids.subnet_id);
    state.security_group_ids = ids.security_group_ids;
    state.phase = Phase::FindPortgroup;
    Ok(Outcome::Pending("spec checked".into()))
}

/// The portgroup NSX-v makes for the network: `vxw-dvs-N-virtualwire-M-sid-VNI-<uuid>`, exact UUID match.
pub(crate) fn is_portgroup_of(name: &str, network_id: &str) -> bool {
    name.starts_with("vxw-")
        && name.contains("-virtualwire-")
        && name
            .split_once("-sid-")
            .and_then(|(_, rest)| rest.split_once('-'))
            .is_some_and(|(_, id)| id == network_id)
}

async fn find_portgroup(c: &Clients, state: &mut State) -> Result<Outcome, EngineError> {
    let network_id = state.network_id.clone().unwrap_or_default();
    let matches: Vec<_> =
        c.vc.portgroups(None)
            .await?
            .into_iter()
            .filter(|p| is_portgroup_of(&p.name, &network_id))
            .collect();
    match matches.as_slice() {
        [pg] => {
            tracing::info!(portgroup = %pg.name, "found the network's portgroup");
            state.portgroup = Some(pg.name.clone());
            state.portgroup_key = Some(pg.moref.value.clone());
            state.phase = Phase::RegisterNetwork;
            Ok(Outcome::Pending(format!("portgroup {}", pg.name)))
        }
        [] => {
            let since = *state.portgroup_wait_since.get_or_insert_with(now);
            if now() - since > PORTGROUP_WAIT_SECONDS {
                return Err(EngineError::Timeout(format!(
                    "no NSX-v portgroup for network {network_id} in vCenter after {PORTGROUP_WAIT_SECONDS} s: is the network on NSX-v?"
                )));
            }
            Ok(Outcome::Pending("waiting for NSX-v's portgroup".into()))
        }
        many => Err(EngineError::Remote(format!(
            "{} portgroups in vCenter match network {network_id}: {}",
            many.len(),
            many.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

async fn register_network(c: &Clients, state: &mut State) -> Result<Outcome, EngineError> {
    let portgroup = state.portgroup.clone().unwrap_or_default();
    let name = format!("neutron-{}", state.network_id.clone().unwrap_or_default());
    match c.bde.network(&name).await? {
        Some(existing) if existing.port_group == portgroup => {}
        Some(existing) => {
            return Err(EngineError::Remote(format!(
                "BDE network {name} exists with portgroup {}, not {portgroup}: remove it in BDE",
                existing.port_group
            )));
        }
        None => {
            let add = NetworkAdd {
                name: Some(name.clone()),
                port_group: Some(portgroup),
                is_dhcp: Some(DhcpFlag::Bool(true)),
                dns_type: Some(DnsType::Normal),
                is_generate_hostname: Some(false),
                ..NetworkAdd::default()
            };
            match c.bde.add_network(&add).await {
                Ok(()) => state.network_created = true,
                // Made by an earlier attempt whose answer was lost: next step sees it.
                Err(e) if e.code() == Some("BDD.ALREADY_EXISTS") => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    state.bde_network = Some(name.clone());
    state.phase = Phase::CreateCluster;
    Ok(Outcome::Pending(format!("BDE network {name}")))
}

fn cluster_body(spec: &ValidSpec, state: &State) -> ClusterCreate {
    let groups = (!spec.node_groups.is_empty()).then(|| {
        spec.node_groups
            .iter()
            .map(|g| NodeGroupCreate {
                name: Some(g.name.clone()),
                roles: Some(g.roles.clone()),
                instance_num: g.instance_num as i32,
                instance_type: g.instance_type.clone(),
                cpu_num: g.cpu_num.map(|c| c as i32),
                mem_capacity_mb: g.memory_mb.map(|m| m as i32),
                ..NodeGroupCreate::default()
            })
            .collect()
    });
    ClusterCreate {
        name: Some(spec.cluster_name.clone()),
        app_manager: spec.app_manager.clone(),
        distro: spec.distro.clone(),
        rp_names: spec.cluster_rp.clone().map(|r| vec![r]),
        network_config: Some(BTreeMap::from([(
            MGT_NETWORK.to_string(),
            vec![state.bde_network.clone().unwrap_or_default()],
        )])),
        node_groups: groups,
        password: spec.cluster_password.as_ref().map(|p| p.expose_secret().to_string()),
        ..ClusterCreate::default()
    }
}

async fn create_cluster(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Outcome, EngineError> {
    let name = &spec.cluster_name;
    if !state.create_requested {
        if c.bde.cluster(name, false).await?.is_some() {
            return Err(EngineError::field(
                "cluster_name",
                format!("BDE already has a cluster {name:?} that this product did not create: choose another name"),
            ));
        }
        // Remembered before the request, so a crash mid-request adopts the cluster instead of failing.
        state.create_requested = true;
        return Ok(Outcome::Pending("creating the BDE cluster".into()));
    }
    if c.bde.cluster(name, false).await?.is_none() {
        let task = c.bde.create_cluster(&cluster_body(spec, state)).await?;
        tracing::info!(cluster = %name, task = task.id, "BDE cluster requested");
        state.task = Some(task);
    } else if state.task.is_none() {
        tracing::info!(cluster = %name, "adopting the cluster an interrupted step created");
    }
    state.phase = Phase::Wire;
    Ok(Outcome::Pending("BDE is cloning the VMs".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portgroup_matches_the_network_uuid_exactly() {
        let id = "5b6c1b81-14b2-434f-9888-54bf1d022a72";
        assert!(is_portgroup_of(&format!("vxw-dvs-7-virtualwire-56-sid-5002-{id}"), id));
        assert!(!is_portgroup_of(
            &format!("vxw-dvs-7-virtualwire-56-sid-5002-{id}x"),
            id
        ));
        assert!(!is_portgroup_of(&format!("dvs-7-virtualwire-56-sid-5002-{id}"), id));
        assert!(!is_portgroup_of("vxw-dvs-7-virtualwire-56-sid-5002-other", id));
    }
}
