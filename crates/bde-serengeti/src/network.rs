use serde::{Deserialize, Serialize};

/// The body of `POST /networks` and `PUT /network/{name}` (`NetworkAdd`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkAdd {
    /// The BDE network name.
    pub name: Option<String>,
    /// The vSphere portgroup **name**.
    pub port_group: Option<String>,
    /// DHCP (written `isDhcp`; the server also reads `dhcp`).
    #[serde(alias = "dhcp", skip_serializing_if = "Option::is_none")]
    pub is_dhcp: Option<DhcpFlag>,
    /// `NORMAL`, `DYNAMIC` or `OTHERS`; required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_type: Option<DnsType>,
    /// Ignored at 2.3.x; required (as `generateHostname`) by 2.2.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_generate_hostname: Option<bool>,
    /// Static networks: gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Static networks: netmask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netmask: Option<String>,
    /// Static networks: first DNS server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns1: Option<String>,
    /// Static networks: second DNS server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns2: Option<String>,
    /// Static networks: address blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_blocks: Option<Vec<IpBlock>>,
    /// Written by the Java client; accepted.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Written by the Java client; accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_list: Option<Vec<String>>,
}

/// `isDhcp` is a boolean, but the server also takes the string `"true"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DhcpFlag {
    /// `true` / `false`.
    Bool(bool),
    /// `"true"` / `"false"`, as the 2015 plugin sent it.
    #[serde(with = "bool_string")]
    Text(bool),
}

impl DhcpFlag {
    /// The flag's value.
    pub fn value(self) -> bool {
        match self {
            DhcpFlag::Bool(b) | DhcpFlag::Text(b) => b,
        }
    }
}

mod bool_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *v { "true" } else { "false" })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(serde::de::Error::custom("expected \"true\" or \"false\"")),
        }
    }
}

/// How BDE names VMs on a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsType {
    /// Names come from the guest.
    Normal,
    /// Dynamic DNS.
    Dynamic,
    /// Anything else.
    Others,
}

/// An inclusive IPv4 range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpBlock {
    /// First address.
    pub begin_ip: String,
    /// Last address.
    pub end_ip: String,
}

/// A registered network (`NetworkRead`). Note `dhcp`, not `isDhcp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRead {
    /// The BDE network name.
    pub name: String,
    /// The portgroup name.
    pub port_group: String,
    /// DHCP or static.
    pub dhcp: bool,
    /// DNS type.
    pub dns_type: Option<DnsType>,
    /// Derived from the DNS type.
    pub is_generate_hostname: Option<bool>,
    /// Static only.
    pub dns1: Option<String>,
    /// Static only.
    pub dns2: Option<String>,
    /// Static only.
    pub gateway: Option<String>,
    /// Static only.
    pub netmask: Option<String>,
    /// Static only.
    pub all_ip_blocks: Option<Vec<IpBlock>>,
    /// Static only.
    pub free_ip_blocks: Option<Vec<IpBlock>>,
    /// Static only.
    pub assigned_ip_blocks: Option<Vec<IpBlock>>,
    /// With `details=true`.
    pub ip_alloc_entries: Option<Vec<serde_json::Value>>,
}
