//! Typed reads of the VM and portgroup properties the product uses.

use crate::error::Error;
use crate::moref::MoRef;
use crate::property::{ObjectContent, PropertyRead};
use crate::session::Client;
use crate::xml::Element;

/// The VM properties one batched read fetches.
pub const VM_PROPERTIES: &[&str] = &[
    "name",
    "config.instanceUuid",
    "runtime.powerState",
    "config.hardware.device",
];

/// A VM as the wiring needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmInfo {
    /// The VM's reference, e.g. `vm-42`.
    pub moref: MoRef,
    /// Its inventory name.
    pub name: String,
    /// `config.instanceUuid`, the id Neutron ports carry as `device_id`.
    pub instance_uuid: String,
    /// `poweredOn`, `poweredOff` or `suspended`.
    pub power_state: String,
    /// Its network cards, in device order.
    pub nics: Vec<Nic>,
}

/// One virtual network card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The device key (4000, 4001, ...).
    pub key: i32,
    /// The MAC, lower case with colons.
    pub mac: String,
    /// The distributed portgroup key (`dvportgroup-N`) it is on, if any.
    pub portgroup_key: Option<String>,
    /// The standard network name it is on, if any.
    pub network_name: Option<String>,
}

/// A distributed portgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portgroup {
    /// Its reference (`dvportgroup-N`).
    pub moref: MoRef,
    /// Its name.
    pub name: String,
}

impl VmInfo {
    /// Builds the typed view of one property-collector object.
    pub fn from_object(o: &ObjectContent) -> Option<Self> {
        Some(Self {
            moref: o.obj.clone(),
            name: o.text("name")?.to_string(),
            instance_uuid: o.text("config.instanceUuid").unwrap_or("").to_string(),
            power_state: o.text("runtime.powerState").unwrap_or("").to_string(),
            nics: o.get("config.hardware.device").map(read_nics).unwrap_or_default(),
        })
    }
}

fn read_nics(devices: &Element) -> Vec<Nic> {
    devices
        .children
        .iter()
        .filter_map(|d| {
            let mac = d.child_text("macAddress")?.to_ascii_lowercase();
            let key = d.child_text("key")?.parse().ok()?;
            let backing = d.get("backing");
            Some(Nic {
                key,
                mac,
                portgroup_key: backing
                    .and_then(|b| b.path(&["port", "portgroupKey"]))
                    .map(|e| e.text.clone()),
                network_name: backing.and_then(|b| b.child_text("deviceName")).map(str::to_string),
            })
        })
        .collect()
}

impl Client {
    /// Every VM below `container` (the whole inventory if `None`), in one batched read.
    pub async fn vms(&self, container: Option<&MoRef>) -> Result<Vec<VmInfo>, Error> {
        let objects = self
            .read(&PropertyRead {
                kind: "VirtualMachine",
                paths: VM_PROPERTIES,
                container,
            })
            .await?;
        Ok(objects.iter().filter_map(VmInfo::from_object).collect())
    }

    /// Each VM's name, CPUs and memory (MB) below `container`, in one batched read:
    /// what a scale changes.
    pub async fn vm_sizes(&self, container: Option<&MoRef>) -> Result<Vec<(String, u32, u32)>, Error> {
        let objects = self
            .read(&PropertyRead {
                kind: "VirtualMachine",
                paths: &["name", "config.hardware.numCPU", "config.hardware.memoryMB"],
                container,
            })
            .await?;
        Ok(objects
            .iter()
            .filter_map(|o| {
                let number = |path: &str| o.text(path).and_then(|t| t.parse().ok());
                Some((
                    o.text("name")?.to_string(),
                    number("config.hardware.numCPU")?,
                    number("config.hardware.memoryMB")?,
                ))
            })
            .collect())
    }

    /// Every distributed portgroup below `container`, in one batched read.
    pub async fn portgroups(&self, container: Option<&MoRef>) -> Result<Vec<Portgroup>, Error> {
        let objects = self
            .read(&PropertyRead {
                kind: "DistributedVirtualPortgroup",
                paths: &["name"],
                container,
            })
            .await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| {
                Some(Portgroup {
                    name: o.text("name")?.to_string(),
                    moref: o.obj,
                })
            })
            .collect())
    }

    /// Every datacenter with its name.
    pub async fn datacenters(&self) -> Result<Vec<(MoRef, String)>, Error> {
        let objects = self
            .read(&PropertyRead {
                kind: "Datacenter",
                paths: &["name"],
                container: None,
            })
            .await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| Some((o.obj.clone(), o.text("name")?.to_string())))
            .collect())
    }

    /// Resets a VM (a hard reset, like pressing the button) and waits for the task.
    pub async fn reset_vm(&self, vm: &MoRef, timeout: std::time::Duration) -> Result<(), Error> {
        self.run_task("ResetVM_Task", vm, vec![], timeout).await.map(|_| ())
    }

    /// Starts a reset and returns its task without waiting. Sent once: after a
    /// lost answer the caller looks at the VM again rather than resetting twice.
    pub async fn start_reset(&self, vm: &MoRef) -> Result<MoRef, Error> {
        self.call_once("ResetVM_Task", vm, vec![])
            .await?
            .and_then(|rv| MoRef::from_element(&rv))
            .ok_or_else(|| Error::Parse {
                method: "ResetVM_Task".into(),
                reason: "no task returned".into(),
            })
    }

    /// BDE's folder of a cluster (a `Folder` named after it), if vCenter has one.
    pub async fn folder_by_name(&self, name: &str) -> Result<Option<MoRef>, Error> {
        let folders = self
            .read(&PropertyRead {
                kind: "Folder",
                paths: &["name"],
                container: None,
            })
            .await?;
        Ok(folders
            .into_iter()
            .find(|f| f.text("name") == Some(name))
            .map(|f| f.obj))
    }
}
