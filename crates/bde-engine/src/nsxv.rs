//! NSX-v's naming: the portgroup it makes for a Neutron network, and the BDE
//! network name this product registers for it.

/// True for the portgroup NSX-v makes for the network:
/// `vxw-dvs-N-virtualwire-M-sid-VNI-<uuid>`, the UUID matched exactly.
pub fn is_portgroup_of(name: &str, network_id: &str) -> bool {
    name.starts_with("vxw-")
        && name.contains("-virtualwire-")
        && name
            .split_once("-sid-")
            .and_then(|(_, rest)| rest.split_once('-'))
            .is_some_and(|(_, id)| id == network_id)
}

/// The BDE network this product registers for a Neutron network: a DHCP one, or a
/// static one (its own: BDE cannot turn a network in use from one into the other).
pub fn bde_network_name(network_id: &str, static_addresses: bool) -> String {
    if static_addresses {
        format!("neutron-{network_id}-static")
    } else {
        format!("neutron-{network_id}")
    }
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
