//! What BDE does in vCenter, through bde-vsphere: folders and resource pools
//! in BDE's layout, clones of the node template with a NIC on the cluster's
//! portgroup, reconfigure, power, destroy, and one batched read of the power
//! state and boot time of every simulated VM.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bde_transport::{RetryPolicy, TlsOptions};
use bde_vsphere::xml::Element;
use bde_vsphere::{Client, Config, MoRef, PropertyRead};
use tokio::sync::Mutex;

use crate::api::error::BddError;
use crate::config::SimConfig;

const TASK_TIMEOUT: Duration = Duration::from_secs(120);

/// BDE's view of its vCenter.
#[derive(Debug)]
pub struct VCenter {
    client: Client,
    template: MoRef,
    template_nic: Element,
    /// The template's SCSI controller, where data disks go.
    template_scsi_key: Option<String>,
    vm_folder: MoRef,
    root_pool: MoRef,
    uuid: String,
    created: Mutex<HashMap<String, MoRef>>,
    macs: std::sync::Mutex<(HashSet<String>, u32)>,
}

/// Power state and boot time of a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerInfo {
    /// `poweredOn`, `poweredOff`, `suspended`.
    pub power_state: String,
    /// Changes with every power-on and reset.
    pub boot_time: String,
    /// The ESXi host name.
    pub host: String,
}

fn vc_error(e: bde_vsphere::Error) -> BddError {
    BddError::new(
        "VC_PROVIDER.VC_OPERATION_FAILED",
        format!("vCenter operation failed: {e}"),
    )
}

impl VCenter {
    /// Logs in (waiting for vCenter up to a minute) and finds the template, folders and pools.
    pub async fn connect(cfg: &SimConfig) -> Result<Self, String> {
        let config = Config {
            url: cfg.vcenter.url.clone(),
            username: cfg.vcenter.username.clone(),
            password: cfg.vcenter.password.clone().into(),
            tls: TlsOptions {
                ca_file: cfg.vcenter.ca_file.clone(),
                insecure: false,
            },
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        };
        let mut attempt = 0;
        let client = loop {
            match Client::connect(&config).await {
                Ok(c) => break c,
                Err(e) if attempt < 30 => {
                    attempt += 1;
                    tracing::info!(error = %e, "vCenter not ready; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(format!("vCenter: {e}")),
            }
        };
        let dc = client
            .datacenters()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|(_, n)| *n == cfg.vcenter.datacenter)
            .map(|(m, _)| m)
            .ok_or_else(|| format!("no datacenter {}", cfg.vcenter.datacenter))?;
        let objs = client
            .read(&PropertyRead {
                kind: "VirtualMachine",
                paths: &["name", "config.hardware.device", "parent"],
                container: Some(&dc),
            })
            .await
            .map_err(|e| e.to_string())?;
        let template_name = &cfg.inventory.template;
        let template = objs
            .iter()
            .find(|o| o.text("name") == Some(template_name))
            .ok_or_else(|| format!("no node template VM {template_name} in {}", cfg.vcenter.datacenter))?;
        let template_nic = template
            .get("config.hardware.device")
            .and_then(|d| d.children.iter().find(|c| c.get("macAddress").is_some()).cloned())
            .ok_or("the node template has no NIC")?;
        let template_scsi_key = template.get("config.hardware.device").and_then(|d| {
            d.children
                .iter()
                .find(|c| c.xsi_type.as_deref().is_some_and(|t| t.ends_with("SCSIController")))
                .and_then(|c| c.child_text("key").map(str::to_string))
        });
        let vm_folder = template
            .get("parent")
            .and_then(MoRef::from_element)
            .ok_or("the node template has no parent folder")?;
        let cluster_name = cfg
            .inventory
            .resource_pools
            .first()
            .map(|r| r.vc_name.clone())
            .unwrap_or_default();
        let clusters = client
            .read(&PropertyRead {
                kind: "ClusterComputeResource",
                paths: &["name", "resourcePool"],
                container: Some(&dc),
            })
            .await
            .map_err(|e| e.to_string())?;
        let root_pool = clusters
            .iter()
            .find(|c| c.text("name") == Some(&cluster_name))
            .and_then(|c| c.get("resourcePool").and_then(MoRef::from_element))
            .ok_or_else(|| format!("no vCenter cluster {cluster_name} for the BDE resource pool"))?;
        let all_vms = client.vms(None).await.map_err(|e| e.to_string())?;
        let used: HashSet<String> = all_vms
            .iter()
            .flat_map(|v| v.nics.iter().map(|n| n.mac.clone()))
            .collect();
        Ok(Self {
            template: template.obj.clone(),
            template_nic,
            template_scsi_key,
            vm_folder,
            root_pool,
            uuid: cfg.inventory.serengeti_uuid.clone(),
            client,
            created: Mutex::new(HashMap::new()),
            macs: std::sync::Mutex::new((used, 0)),
        })
    }

    /// A MAC in vCenter's assigned range that no VM has (vcsim copies the template's otherwise).
    pub fn fresh_mac(&self) -> String {
        let mut guard = self.macs.lock().expect("macs");
        let (used, next) = &mut *guard;
        loop {
            let n = *next;
            *next += 1;
            let mac = format!(
                "00:50:56:{:02x}:{:02x}:{:02x}",
                0x90 | ((n >> 16) & 0x0f),
                (n >> 8) & 0xff,
                n & 0xff
            );
            if used.insert(mac.clone()) {
                return mac;
            }
        }
    }

    /// True when a distributed portgroup of that name exists.
    pub async fn portgroup_exists(&self, name: &str) -> Result<bool, BddError> {
        let pgs = self.client.portgroups(None).await.map_err(vc_error)?;
        Ok(pgs.iter().any(|p| p.name == name))
    }

    async fn portgroup_backing(&self, name: &str) -> Result<Element, BddError> {
        let pgs = self
            .client
            .read(&PropertyRead {
                kind: "DistributedVirtualPortgroup",
                paths: &["name", "key", "config.distributedVirtualSwitch"],
                container: None,
            })
            .await
            .map_err(vc_error)?;
        let pg = pgs
            .iter()
            .find(|p| p.text("name") == Some(name))
            .ok_or_else(|| BddError::new("VC_PROVIDER.NETWORK_NOT_FOUND", format!("Cannot find network {name}.")))?;
        let key = pg.text("key").unwrap_or(&pg.obj.value).to_string();
        let dvs = pg
            .get("config.distributedVirtualSwitch")
            .and_then(MoRef::from_element)
            .ok_or_else(|| BddError::new("VC_PROVIDER.NETWORK_NOT_FOUND", format!("{name} has no switch.")))?;
        let dvs_props = self.client.read_objects(&[dvs], &["uuid"]).await.map_err(vc_error)?;
        let uuid = dvs_props.first().and_then(|o| o.text("uuid")).unwrap_or("").to_string();
        Ok(Element::new("backing")
            .typed("VirtualEthernetCardDistributedVirtualPortBackingInfo")
            .child(
                Element::new("port")
                    .child(Element::text("switchUuid", &uuid))
                    .child(Element::text("portgroupKey", &key)),
            ))
    }

    /// A folder (or resource pool) under a parent, made once and remembered.
    async fn ensure_child(&self, kind: &str, parent: &MoRef, name: &str) -> Result<MoRef, BddError> {
        let key = format!("{kind}/{}/{name}", parent.value);
        let mut created = self.created.lock().await;
        if let Some(m) = created.get(&key) {
            return Ok(m.clone());
        }
        let made = if kind == "Folder" {
            self.client
                .call("CreateFolder", parent, vec![Element::text("name", name)])
                .await
        } else {
            let alloc = |tag: &str| {
                Element::new(tag)
                    .child(Element::text("reservation", "0"))
                    .child(Element::text("expandableReservation", "true"))
                    .child(Element::text("limit", "-1"))
                    .child(
                        Element::new("shares")
                            .child(Element::text("shares", "4000"))
                            .child(Element::text("level", "normal")),
                    )
            };
            let spec = Element::new("spec")
                .child(alloc("cpuAllocation"))
                .child(alloc("memoryAllocation"));
            self.client
                .call("CreateResourcePool", parent, vec![Element::text("name", name), spec])
                .await
        };
        let moref = match made {
            Ok(rv) => rv.and_then(|e| MoRef::from_element(&e)),
            Err(e) if e.is_fault("DuplicateName") => self.find_child(kind, parent, name).await?,
            Err(e) => return Err(vc_error(e)),
        }
        .ok_or_else(|| BddError::new("VC_PROVIDER.VC_OPERATION_FAILED", format!("no {kind} {name} made")))?;
        created.insert(key, moref.clone());
        Ok(moref)
    }

    async fn find_child(&self, kind: &str, parent: &MoRef, name: &str) -> Result<Option<MoRef>, BddError> {
        let objs = self
            .client
            .read(&PropertyRead {
                kind,
                paths: &["name", "parent"],
                container: Some(parent),
            })
            .await
            .map_err(vc_error)?;
        Ok(objs
            .into_iter()
            .find(|o| {
                o.text("name") == Some(name) && o.get("parent").and_then(MoRef::from_element).as_ref() == Some(parent)
            })
            .map(|o| o.obj))
    }

    /// BDE's layout for a group: folder `<uuid>/<cluster>/<group>`, pool `<uuid>-<cluster>/<group>`.
    pub async fn group_location(&self, cluster: &str, group: &str) -> Result<(MoRef, MoRef), BddError> {
        let root = self.ensure_child("Folder", &self.vm_folder, &self.uuid).await?;
        let cf = self.ensure_child("Folder", &root, cluster).await?;
        let gf = self.ensure_child("Folder", &cf, group).await?;
        let crp = self
            .ensure_child("ResourcePool", &self.root_pool, &format!("{}-{cluster}", self.uuid))
            .await?;
        let grp = self.ensure_child("ResourcePool", &crp, group).await?;
        Ok((gf, grp))
    }

    /// Clones the template with its NIC moved to `port_group` under `mac`.
    pub async fn clone_vm(
        &self,
        name: &str,
        folder: &MoRef,
        pool: &MoRef,
        port_group: &str,
        mac: &str,
    ) -> Result<MoRef, BddError> {
        let backing = self.portgroup_backing(port_group).await?;
        let mut nic = self.template_nic.clone();
        let mut children = Vec::new();
        for c in nic.children.drain(..) {
            match c.name.as_str() {
                "backing" => children.push(backing.clone()),
                "addressType" => children.push(Element::text("addressType", "assigned")),
                "macAddress" => children.push(Element::text("macAddress", mac)),
                _ => children.push(c),
            }
        }
        nic.children = children;
        nic.name = "device".into();
        let spec = Element::new("spec")
            .child(
                Element::new("location").child(pool.to_element("pool")).child(
                    Element::new("deviceChange")
                        .child(Element::text("operation", "edit"))
                        .child(nic),
                ),
            )
            .child(Element::text("template", "false"))
            .child(Element::text("powerOn", "false"));
        let result = self
            .client
            .run_task(
                "CloneVM_Task",
                &self.template,
                vec![folder.to_element("folder"), Element::text("name", name), spec],
                TASK_TIMEOUT,
            )
            .await
            .map_err(vc_error)?;
        result
            .as_ref()
            .and_then(MoRef::from_element)
            .ok_or_else(|| BddError::new("VC_PROVIDER.VC_OPERATION_FAILED", "the clone returned no VM"))
    }

    /// Adds a NIC per (portgroup, MAC), after the ones the VM has (BDE's NIC per traffic network).
    pub async fn add_nics(&self, vm: &MoRef, nics: &[(String, String)]) -> Result<(), BddError> {
        if nics.is_empty() {
            return Ok(());
        }
        let mut spec = Element::new("spec");
        for (i, (port_group, mac)) in nics.iter().enumerate() {
            let backing = self.portgroup_backing(port_group).await?;
            let mut nic = self.template_nic.clone();
            let mut children = Vec::new();
            for c in nic.children.drain(..) {
                match c.name.as_str() {
                    // A new device: a key of its own, its slot left to vCenter.
                    "key" => children.push(Element::text("key", &(-100 - i as i64).to_string())),
                    "unitNumber" | "slotInfo" | "deviceInfo" | "externalId" => {}
                    "backing" => children.push(backing.clone()),
                    "addressType" => children.push(Element::text("addressType", "assigned")),
                    "macAddress" => children.push(Element::text("macAddress", mac)),
                    _ => children.push(c),
                }
            }
            nic.children = children;
            nic.name = "device".into();
            spec = spec.child(
                Element::new("deviceChange")
                    .child(Element::text("operation", "add"))
                    .child(nic),
            );
        }
        self.client
            .run_task("ReconfigVM_Task", vm, vec![spec], TASK_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(vc_error)
    }

    /// Adds thin data disks of these sizes (GB) on the template's SCSI controller, after
    /// its system disk (unit 0; unit 7 is the controller's own).
    pub async fn add_disks(&self, vm: &MoRef, sizes_gb: &[u32]) -> Result<(), BddError> {
        let Some(controller) = self.template_scsi_key.as_deref().filter(|_| !sizes_gb.is_empty()) else {
            return Ok(());
        };
        let units = (1..).filter(|u| *u != 7);
        let mut spec = Element::new("spec");
        for (i, (gb, unit)) in sizes_gb.iter().zip(units).enumerate() {
            let backing = Element::new("backing")
                .typed("VirtualDiskFlatVer2BackingInfo")
                .child(Element::text("fileName", ""))
                .child(Element::text("diskMode", "persistent"))
                .child(Element::text("thinProvisioned", "true"));
            let disk = Element::new("device")
                .typed("VirtualDisk")
                .child(Element::text("key", &(-200 - i as i64).to_string()))
                .child(backing)
                .child(Element::text("controllerKey", controller))
                .child(Element::text("unitNumber", &unit.to_string()))
                .child(Element::text(
                    "capacityInKB",
                    &(u64::from(*gb) * 1024 * 1024).to_string(),
                ));
            spec = spec.child(
                Element::new("deviceChange")
                    .child(Element::text("operation", "add"))
                    .child(Element::text("fileOperation", "create"))
                    .child(disk),
            );
        }
        self.client
            .run_task("ReconfigVM_Task", vm, vec![spec], TASK_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(vc_error)
    }

    /// Sets CPU and memory, and the guest variables BDE passes.
    pub async fn reconfigure(&self, vm: &MoRef, cpus: i32, memory_mb: i32, node: &str) -> Result<(), BddError> {
        let spec = Element::new("spec")
            .child(Element::text("numCPUs", &cpus.to_string()))
            .child(Element::text("memoryMB", &memory_mb.to_string()))
            .child(
                Element::new("extraConfig")
                    .child(Element::text("key", "guestinfo.machine.id"))
                    .child(
                        Element::text(
                            "value",
                            &serde_json::json!({"name": node, "bootupUUID": vm.value}).to_string(),
                        )
                        .typed("xsd:string"),
                    ),
            );
        self.client
            .run_task("ReconfigVM_Task", vm, vec![spec], TASK_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(vc_error)
    }

    /// Powers a VM on; already on is fine.
    pub async fn power_on(&self, vm: &MoRef) -> Result<(), BddError> {
        match self.client.run_task("PowerOnVM_Task", vm, vec![], TASK_TIMEOUT).await {
            Err(bde_vsphere::Error::TaskFailed { fault, .. }) if fault == "InvalidPowerState" => Ok(()),
            other => other.map(|_| ()).map_err(vc_error),
        }
    }

    /// Powers a VM off; already off is fine.
    pub async fn power_off(&self, vm: &MoRef) -> Result<(), BddError> {
        match self.client.run_task("PowerOffVM_Task", vm, vec![], TASK_TIMEOUT).await {
            Err(bde_vsphere::Error::TaskFailed { fault, .. }) if fault == "InvalidPowerState" => Ok(()),
            Err(e) if e.is_fault("InvalidPowerState") => Ok(()),
            other => other.map(|_| ()).map_err(vc_error),
        }
    }

    /// Powers off and destroys a VM; a VM already gone is fine.
    pub async fn destroy(&self, vm: &MoRef) -> Result<(), BddError> {
        match self.power_off(vm).await {
            Err(e) if e.message.contains("ManagedObjectNotFound") => return Ok(()),
            other => other?,
        }
        match self.client.run_task("Destroy_Task", vm, vec![], TASK_TIMEOUT).await {
            Err(e) if e.is_fault("ManagedObjectNotFound") => Ok(()),
            Err(bde_vsphere::Error::TaskFailed { fault, .. }) if fault == "ManagedObjectNotFound" => Ok(()),
            other => other.map(|_| ()).map_err(vc_error),
        }
    }

    /// Removes a cluster's folder and resource pool (best effort; VMs go first).
    pub async fn remove_layout(&self, cluster: &str) {
        let keys: Vec<(String, MoRef)> = {
            let created = self.created.lock().await;
            created
                .iter()
                .filter(|(k, _)| {
                    k.ends_with(&format!("/{cluster}")) || k.ends_with(&format!("/{}-{cluster}", self.uuid))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        for (key, moref) in keys {
            if let Err(e) = self.client.run_task("Destroy_Task", &moref, vec![], TASK_TIMEOUT).await {
                tracing::debug!(error = %e, %key, "removing BDE layout");
            }
            self.created.lock().await.retain(|_, v| *v != moref);
        }
    }

    /// Power state, boot time and host of these VMs, in one read; VMs gone are absent.
    pub async fn power_info(&self, vms: &[MoRef]) -> Result<HashMap<MoRef, PowerInfo>, bde_vsphere::Error> {
        let objs = match self
            .client
            .read_objects(vms, &["runtime.powerState", "summary.runtime.bootTime", "runtime.host"])
            .await
        {
            Ok(o) => o,
            // One deleted VM fails the whole read: fall back to reading them one by one.
            Err(e) if e.is_fault("ManagedObjectNotFound") => {
                let mut all = Vec::new();
                for vm in vms {
                    if let Ok(o) = self
                        .client
                        .read_objects(
                            std::slice::from_ref(vm),
                            &["runtime.powerState", "summary.runtime.bootTime", "runtime.host"],
                        )
                        .await
                    {
                        all.extend(o);
                    }
                }
                all
            }
            Err(e) => return Err(e),
        };
        Ok(objs
            .into_iter()
            .map(|o| {
                let info = PowerInfo {
                    power_state: o.text("runtime.powerState").unwrap_or("").to_string(),
                    boot_time: o.text("summary.runtime.bootTime").unwrap_or("").to_string(),
                    host: o.text("runtime.host").unwrap_or("").to_string(),
                };
                (o.obj, info)
            })
            .collect())
    }
}
