//! BDE's name rules (`Constants.java`), checked with the same classes Java's
//! regexes use, so a client can refuse a name before the server does.

/// Roles whose node group BDE refuses to grow or shrink (the default
/// software manager's scale-out check; a master service has a fixed count).
pub const UNSCALABLE_ROLES: &[&str] = &[
    "hadoop_namenode",
    "hadoop_jobtracker",
    "hadoop_resourcemanager",
    "zookeeper",
];

/// CPUs and memory (MB) of BDE's instance types (`apitypes/InstanceType.java:24-52`);
/// a group's explicit `cpuNum`/`memCapacityMB` win, one value at a time
/// (`CommonClusterExpandPolicy.java:70-74`).
pub fn instance_type_size(instance_type: &str) -> Option<(u32, u32)> {
    match instance_type {
        "SMALL" => Some((1, 3748)),
        "MEDIUM" => Some((2, 7500)),
        "LARGE" => Some((4, 15000)),
        "EXTRA_LARGE" => Some((8, 30000)),
        _ => None,
    }
}

/// Roles that make a group a management group (`HadoopRole.mgmtRoleDesc`): its VMs
/// default to MEDIUM, the others' to SMALL.
pub const MANAGEMENT_ROLES: &[&str] = &[
    "zookeeper",
    "hadoop_journalnode",
    "hadoop_namenode",
    "hbase_master",
    "hadoop_jobtracker",
    "hadoop_resourcemanager",
    "hive_server",
];

/// The instance type BDE gives a group that names none (`CommonClusterExpandPolicy
/// .expandGroupInstanceType`): MEDIUM for a management group, else SMALL. BDE applies it
/// only when the group gives both `cpuNum` and `memCapacityMB`; with either missing it
/// refuses the group (`CLUSTER_CONFIG.INSTANCE_SIZE_NOT_SET`).
pub fn default_instance_type(roles: &[String]) -> &'static str {
    if is_management_group(roles) { "MEDIUM" } else { "SMALL" }
}

/// Whether a group's roles make it a management group.
pub fn is_management_group(roles: &[String]) -> bool {
    roles.iter().any(|r| MANAGEMENT_ROLES.contains(&r.as_str()))
}

/// The data size (GB) BDE gives a group's VMs when its storage names none
/// (`ExpandUtils.initTemplateValues`: management 25/50/100/200, worker 50/100/200/400
/// for SMALL/MEDIUM/LARGE/EXTRA_LARGE).
pub fn default_storage_gb(instance_type: &str, management: bool) -> u32 {
    let base = match instance_type {
        "MEDIUM" => 50,
        "LARGE" => 100,
        "EXTRA_LARGE" => 200,
        _ => 25,
    };
    if management { base } else { base * 2 }
}

/// Cluster names: `[a-zA-Z0-9_]+`.
pub fn is_valid_cluster_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Node group names: `[a-zA-Z0-9+]{1,80}` (Java reads `[[a-zA-Z0-9]+]` as one class with `+`).
pub fn is_valid_node_group_name(name: &str) -> bool {
    (1..=80).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '+')
}

/// Network names: `(\p{L}|\p{N}|_|-|\s)+`.
pub fn is_valid_network_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphabetic() || c.is_numeric() || c == '_' || c == '-' || c.is_whitespace())
}

/// The longest cluster name that fits BDE's 80-character VM names
/// (`<cluster>-<group>-<4-digit index>`) with the longest group name.
pub fn max_cluster_name_len(longest_group_name: usize) -> usize {
    74usize.saturating_sub(longest_group_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_take_no_dash_or_dot() {
        assert!(is_valid_cluster_name("hadoop_01"));
        for bad in ["", "my-cluster", "a.b", "a b", "ü"] {
            assert!(!is_valid_cluster_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn group_names_take_plus_but_no_underscore() {
        assert!(is_valid_node_group_name("worker"));
        assert!(is_valid_node_group_name("a+b"));
        for bad in ["", "a_b", "a-b", &"x".repeat(81)] {
            assert!(!is_valid_node_group_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn network_names_take_unicode_dash_and_space_but_no_dot() {
        assert!(is_valid_network_name("net-1 prod_ü"));
        assert!(!is_valid_network_name("net.1"));
    }
}
