//! What an apply would change, before it changes anything: the plan
//! `bde-heat apply` prints first (and alone with `--dry-run`). Pure: the same
//! rules `decide` follows one task at a time, listed all at once.

use serde::Serialize;

use crate::drift::{self, DriftKind};
use crate::observe::{Observed, Seen, resolve_neutron};
use crate::spec::ValidSpec;
use crate::state::State;

/// The kinds of change, closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The cluster does not exist (or is not this state's): apply creates it.
    Create,
    /// A group's VM count (BDE's resize).
    Resize,
    /// A group's CPUs or memory, VM by VM (BDE's scale).
    Scale,
    /// A node group added (BDE's expand).
    Expand,
    /// The software configuration sent again (BDE's config update).
    Configure,
    /// The ports' security groups.
    SecurityGroups,
    /// Drift the apply mends on the way (ports, orphans, addresses).
    Repair,
    /// What BDE cannot change: the apply stops there, naming it.
    Refused,
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        f.write_str(&name.unwrap_or_default())
    }
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Its kind.
    pub kind: ChangeKind,
    /// The cluster, group or node concerned (or the property, when refused).
    pub subject: String,
    /// What changes, from what to what.
    pub detail: String,
}

fn change(kind: ChangeKind, subject: &str, detail: String) -> Change {
    Change {
        kind,
        subject: subject.into(),
        detail,
    }
}

/// Everything an apply of `spec` would do to what `seen` shows, in the order it would.
pub fn changes(spec: &ValidSpec, state: &State, seen: &Observed) -> Vec<Change> {
    let name = state.owned_cluster().unwrap_or(&spec.cluster_name);
    let cluster = match (&seen.cluster, state.owned_cluster()) {
        (Seen::Present(c), Some(_)) => c,
        _ => {
            let vms: i64 = spec.node_groups.iter().map(|g| g.instance_num).sum();
            let groups = spec.node_groups.len();
            return vec![change(
                ChangeKind::Create,
                name,
                format!("created: {groups} node groups, {vms} VMs, each wired"),
            )];
        }
    };
    let mut found = Vec::new();
    if let (Some(lookups), Some(recorded)) = (&seen.lookups, &state.neutron) {
        match resolve_neutron(spec, lookups) {
            Err(e) => found.push(change(ChangeKind::Refused, "network", e.to_string())),
            Ok(ids) if ids.network_id != recorded.network_id || ids.subnet_id != recorded.subnet_id => {
                found.push(change(
                    ChangeKind::Refused,
                    "network",
                    "BDE cannot move a cluster to another network or subnet".into(),
                ))
            }
            Ok(ids) if ids.security_group_ids != recorded.security_group_ids => found.push(change(
                ChangeKind::SecurityGroups,
                name,
                format!(
                    "{:?} → {:?} on every port",
                    recorded.security_group_ids, ids.security_group_ids
                ),
            )),
            Ok(_) => {}
        }
    }
    if !spec.node_groups.is_empty() {
        for g in cluster
            .groups
            .iter()
            .filter(|g| !spec.node_groups.iter().any(|s| s.name == g.name))
        {
            found.push(change(
                ChangeKind::Refused,
                "node_groups",
                format!("group {} would go: BDE cannot remove a node group", g.name),
            ));
        }
    }
    for wanted in &spec.node_groups {
        let Some(have) = cluster.groups.iter().find(|g| g.name == wanted.name) else {
            found.push(change(
                ChangeKind::Expand,
                &wanted.name,
                format!("new group, {} VMs ({})", wanted.instance_num, wanted.roles.join(", ")),
            ));
            continue;
        };
        let mut scaled = Vec::new();
        let (cpus, memory) = wanted.size();
        if let Some(cpus) = cpus.filter(|c| *c != have.cpus) {
            scaled.push(format!("CPUs {} → {cpus}", have.cpus));
        }
        if let Some(memory) = memory.map(|m| m / 4 * 4).filter(|m| *m != have.memory_mb) {
            scaled.push(format!("memory {} → {memory} MB", have.memory_mb));
        }
        if !scaled.is_empty() {
            found.push(change(
                ChangeKind::Scale,
                &wanted.name,
                format!("{}, on its {} VMs one after another", scaled.join(", "), have.size),
            ));
        }
        if have.size != wanted.instance_num as u32 {
            found.push(change(
                ChangeKind::Resize,
                &wanted.name,
                format!("{} → {} VMs", have.size, wanted.instance_num),
            ));
        }
    }
    if spec.configuration_digest() != state.configured {
        found.push(change(
            ChangeKind::Configure,
            name,
            "the cluster's and its groups' configuration sent again (BDE restarts the services)".into(),
        ));
    }
    for d in drift::diff(spec, state, seen) {
        if d.kind.is_repairable() && !matches!(d.kind, DriftKind::GroupSize | DriftKind::PortSecurityGroups) {
            found.push(change(
                ChangeKind::Repair,
                &d.subject,
                format!("{}: {}", d.kind, d.detail),
            ));
        }
    }
    found
}
