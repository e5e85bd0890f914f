//! Waiting for a folder's VMs to change instead of polling: a property collector of
//! its own (so the session's reads are never in its way) with one filter over a
//! container view of the folder (each VM's devices and power state), then
//! `WaitForUpdatesEx` from the last version seen, bounded in seconds.

use crate::error::Error;
use crate::moref::MoRef;
use crate::property::view_object_set;
use crate::session::Client;
use crate::xml::Element;

/// What a watch waits on. End it with [`Client::unwatch`] (vCenter keeps its
/// collector and view until then, or until the session ends).
#[derive(Debug)]
pub struct Watch {
    collector: MoRef,
    view: MoRef,
    version: String,
    folder: MoRef,
}

impl Watch {
    /// The folder watched.
    pub fn folder(&self) -> &MoRef {
        &self.folder
    }
}

/// The VM properties whose change ends a wait: a NIC (with its MAC) appears with a
/// clone's devices; power state for power-on and resets.
const PATHS: [&str; 2] = ["config.hardware.device", "runtime.powerState"];

impl Client {
    /// Starts watching the VMs below `folder`; the current state is the baseline.
    pub async fn watch_vms(&self, folder: &MoRef) -> Result<Watch, Error> {
        let no_ref = |method: &str| Error::Parse {
            method: method.into(),
            reason: "no reference returned".into(),
        };
        let pc = self.content().property_collector.clone();
        let collector = self
            .call("CreatePropertyCollector", &pc, vec![])
            .await?
            .and_then(|rv| MoRef::from_element(&rv))
            .ok_or_else(|| no_ref("CreatePropertyCollector"))?;
        let view = self.container_view(folder, "VirtualMachine").await?;
        let mut prop_set = Element::new("propSet").child(Element::text("type", "VirtualMachine"));
        for p in PATHS {
            prop_set = prop_set.child(Element::text("pathSet", p));
        }
        let spec = Element::new("spec").child(prop_set).child(view_object_set(&view));
        let mut watch = Watch {
            collector,
            view,
            version: String::new(),
            folder: folder.clone(),
        };
        let made = async {
            self.call(
                "CreateFilter",
                &watch.collector,
                vec![spec, Element::text("partialUpdates", "false")],
            )
            .await?;
            // The first answer is the whole current state: the baseline, not a change.
            self.wait_for_change(&mut watch, 0).await
        }
        .await;
        match made {
            Ok(_) => Ok(watch),
            Err(e) => {
                self.unwatch(watch).await;
                Err(e)
            }
        }
    }

    /// Waits up to `seconds` for a watched VM to change; `true` when one did.
    pub async fn wait_for_change(&self, watch: &mut Watch, seconds: u32) -> Result<bool, Error> {
        let options = Element::new("options").child(Element::text("maxWaitSeconds", &seconds.to_string()));
        let reply = self
            .call(
                "WaitForUpdatesEx",
                &watch.collector,
                vec![Element::text("version", &watch.version), options],
            )
            .await?;
        let changed = reply.as_ref().is_some_and(|u| u.get("filterSet").is_some());
        if let Some(version) = reply.as_ref().and_then(|u| u.child_text("version")) {
            watch.version = version.to_string();
        }
        tracing::debug!(changed, seconds, "vCenter WaitForUpdatesEx");
        Ok(changed)
    }

    /// Ends a watch: its collector (with its filter) and its view.
    pub async fn unwatch(&self, watch: Watch) {
        for (method, this) in [
            ("DestroyPropertyCollector", &watch.collector),
            ("DestroyView", &watch.view),
        ] {
            if let Err(e) = self.call(method, this, vec![]).await {
                tracing::debug!(error = %e, method, "ending a watch failed");
            }
        }
    }
}
