//! The bounds and defaults of the spec's fields, in one table: the engine's checks read
//! them here, and Heat's property schema is made from them (`_engine.limits()` and
//! `_engine.defaults()` in the Python adapter), so the CLI file, a BDE spec file and a
//! Heat template are held to the same numbers and the same words.
//!
//! Words are checked without regard to case, as BDE reads them; Heat's schema offers
//! the spellings listed here.

/// What a field may hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// A number from `min` to `max` (both included; `None`: no upper bound).
    Range {
        /// The least value.
        min: f64,
        /// The greatest value, if any.
        max: Option<f64>,
    },
    /// A text of `min` to `max` characters.
    Length {
        /// The fewest characters.
        min: usize,
        /// The most characters.
        max: usize,
    },
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// A field (its path in the spec, `node_groups.` for every group) and its bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// The field's path, e.g. `node_groups.storage.disk_num`.
    pub field: &'static str,
    /// What it may hold.
    pub bound: Bound,
}

const fn range(field: &'static str, min: f64, max: Option<f64>) -> Limit {
    Limit {
        field,
        bound: Bound::Range { min, max },
    }
}

const fn one_of(field: &'static str, words: &'static [&'static str]) -> Limit {
    Limit {
        field,
        bound: Bound::OneOf(words),
    }
}

/// BDE takes 1 to 500 VMs a group.
pub const INSTANCE_NUM: Limit = range("node_groups.instance_num", 1.0, Some(500.0));
/// BDE's instance types (`InstanceType.java`).
pub const INSTANCE_TYPE: Limit = one_of(
    "node_groups.instance_type",
    &["SMALL", "MEDIUM", "LARGE", "EXTRA_LARGE"],
);
/// At least one CPU a VM.
pub const CPU_NUM: Limit = range("node_groups.cpu_num", 1.0, None);
/// BDE's smallest VM memory (`ClusterCreate.validateMemorySize`).
pub const MEMORY_MB: Limit = range("node_groups.memory_mb", 1024.0, None);
/// TEMPFS is BDE's third type, refused for a group of its own (`TEMPFS_NOT_ALLOWED`).
pub const STORAGE_TYPE: Limit = one_of("node_groups.storage.type", &["LOCAL", "SHARED"]);
/// A data size of at least 1 GB a VM.
pub const STORAGE_SIZE_GB: Limit = range("node_groups.storage.size_gb", 1.0, None);
/// 0 lets BDE split the size; vSphere takes at most 45 data disks on its SCSI controllers.
pub const STORAGE_DISK_NUM: Limit = range("node_groups.storage.disk_num", 0.0, Some(45.0));
/// BDE's `haFlag`: vSphere HA off or on, or Fault Tolerance.
pub const HA: Limit = one_of("node_groups.ha", &["off", "on", "ft"]);
/// Swap as a share of memory.
pub const SWAP_RATIO: Limit = range("node_groups.swap_ratio", 0.0, None);
/// The share of a VM's CPU reserved.
pub const CPU_RESERVATION: Limit = range("node_groups.cpu_reservation", 0.0, Some(1.0));
/// The share of a VM's memory reserved.
pub const MEMORY_RESERVATION: Limit = range("node_groups.memory_reservation", 0.0, Some(1.0));
/// VMs of a group on one ESXi host.
pub const INSTANCE_PER_HOST: Limit = range("node_groups.placement.instance_per_host", 1.0, None);
/// How strictly a group's VMs share another group's hosts.
pub const BESIDE_TYPE: Limit = one_of("node_groups.placement.beside_type", &["WEAK", "STRICT"]);
/// How a group spreads over racks.
pub const RACKS_TYPE: Limit = one_of("node_groups.placement.racks.type", &["ROUNDROBIN", "SAMERACK"]);
/// The longest any cluster name may be; BDE's VM names (`<cluster>-<group>-<n>`) may allow
/// fewer for long group names (`rules::max_cluster_name_len`).
pub const CLUSTER_NAME: Limit = Limit {
    field: "cluster_name",
    bound: Bound::Length {
        min: 1,
        max: CLUSTER_NAME_MAX,
    },
};
/// The longest any cluster name may be.
pub const CLUSTER_NAME_MAX: usize = 50;
/// BDE's topology policies (`TopologyType`).
pub const TOPOLOGY_POLICY: Limit = one_of("topology_policy", &["NONE", "HVE", "RACK_AS_RACK", "HOST_AS_RACK"]);
/// How BDE names the hosts of a network (`NetworkDnsType`).
pub const DNS_TYPE: Limit = one_of("dns_type", &["NORMAL", "DYNAMIC", "OTHERS"]);
/// Where a node's address comes from: NSX-v's DHCP or BDE's static block.
pub const IP_MODE: Limit = one_of("ip_mode", &["dhcp", "static"]);
/// A guest asks for DHCP within seconds of boot; under a second would reset VMs still booting.
pub const DHCP_GRACE_SECONDS: Limit = range("dhcp_grace_seconds", 1.0, None);
/// More resets than this only hide a network that will never serve the VM.
pub const MAX_RESETS: Limit = range("max_resets", 0.0, Some(10.0));

/// Every bounded field.
pub const ALL: [Limit; 20] = [
    INSTANCE_NUM,
    INSTANCE_TYPE,
    CPU_NUM,
    MEMORY_MB,
    STORAGE_TYPE,
    STORAGE_SIZE_GB,
    STORAGE_DISK_NUM,
    HA,
    SWAP_RATIO,
    CPU_RESERVATION,
    MEMORY_RESERVATION,
    INSTANCE_PER_HOST,
    BESIDE_TYPE,
    RACKS_TYPE,
    CLUSTER_NAME,
    TOPOLOGY_POLICY,
    DNS_TYPE,
    IP_MODE,
    DHCP_GRACE_SECONDS,
    MAX_RESETS,
];

/// The ports' owner when none is given (NSX-v serves DHCP to `compute:*` owners).
pub const DEFAULT_DEVICE_OWNER: &str = "compute:bde";
/// Resets per VM and wait when none is given.
pub const DEFAULT_MAX_RESETS: u32 = 1;
/// Addresses from DHCP unless asked otherwise.
pub const DEFAULT_IP_MODE: &str = "dhcp";
/// Used when neither the template nor the operator's configuration gives one.
pub const DEFAULT_DHCP_GRACE_SECONDS: f64 = 120.0;

/// The defaults by field, for Heat's schema.
pub fn defaults() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("device_owner", DEFAULT_DEVICE_OWNER.into()),
        ("max_resets", DEFAULT_MAX_RESETS.into()),
        ("ip_mode", DEFAULT_IP_MODE.into()),
        ("insecure", false.into()),
    ]
}

impl Limit {
    /// Whether a number is within the bound (a word bound holds no number).
    pub fn holds(&self, value: f64) -> bool {
        match self.bound {
            Bound::Range { min, max } => value.is_finite() && value >= min && max.is_none_or(|m| value <= m),
            Bound::Length { min, max } => value >= min as f64 && value <= max as f64,
            Bound::OneOf(_) => false,
        }
    }

    /// Whether a word is one of the bound's, in any case.
    pub fn allows(&self, word: &str) -> bool {
        match self.bound {
            Bound::OneOf(words) => words.iter().any(|w| w.eq_ignore_ascii_case(word)),
            _ => false,
        }
    }

    /// The bound in words, for an error's fix: "give 1 to 500", "give LOCAL or SHARED".
    pub fn fix(&self) -> String {
        match self.bound {
            Bound::Range { min, max: Some(max) } => format!("give {min} to {max}"),
            Bound::Range { min, max: None } => format!("give at least {min}"),
            Bound::Length { min, max } => format!("give {min} to {max} characters"),
            Bound::OneOf(words) => match words.split_last() {
                Some((last, [])) => format!("give {last}"),
                Some((last, rest)) => format!("give {} or {last}", rest.join(", ")),
                None => "give nothing".into(),
            },
        }
    }

    /// The bound as JSON, as Heat's constraints take it: `{"min": 1, "max": 500}`,
    /// `{"length": {"min": 1, "max": 50}}` or `{"allowed": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self.bound {
            Bound::Range { min, max } => serde_json::json!({"min": min, "max": max}),
            Bound::Length { min, max } => serde_json::json!({"length": {"min": min, "max": max}}),
            Bound::OneOf(words) => serde_json::json!({"allowed": words}),
        }
    }
}

/// Every limit as JSON by field, for Heat's schema.
pub fn to_json() -> serde_json::Value {
    serde_json::Value::Object(ALL.iter().map(|l| (l.field.to_string(), l.to_json())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_says_its_fix_in_words() {
        assert_eq!(INSTANCE_NUM.fix(), "give 1 to 500");
        assert_eq!(MEMORY_MB.fix(), "give at least 1024");
        assert_eq!(HA.fix(), "give off, on or ft");
        assert_eq!(STORAGE_TYPE.fix(), "give LOCAL or SHARED");
        assert!(HA.allows("ON") && !HA.allows("maybe"));
        assert!(CPU_RESERVATION.holds(1.0) && !CPU_RESERVATION.holds(1.5) && !CPU_RESERVATION.holds(f64::NAN));
    }

    #[test]
    fn every_field_has_one_limit() {
        let mut fields: Vec<_> = ALL.iter().map(|l| l.field).collect();
        fields.sort();
        fields.dedup();
        assert_eq!(fields.len(), ALL.len());
    }
}
