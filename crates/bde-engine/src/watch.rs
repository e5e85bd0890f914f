//! Waiting between wiring steps for the cluster's VMs to change (a clone's NIC
//! appears, a VM powers on or is reset), so a port follows its MAC at once instead
//! of at the next poll. vSphere's property collector tells; where it cannot (the
//! folder is not known yet, or the collector fails), the wait is a plain sleep, as
//! polling always was.

use std::time::Duration;

use bde_vsphere::{MoRef, Watch};

use crate::connect::Clients;
use crate::state::State;

/// A watch on the cluster's folder, kept between steps by a caller that keeps its
/// process (the CLI); made again when the folder changes.
#[derive(Debug, Default)]
pub struct VmWatcher {
    watch: Option<Watch>,
    /// The collector failed: poll from then on.
    broken: bool,
}

impl VmWatcher {
    /// A watcher that has not started watching.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits up to `max` for a change of the cluster's VMs; `true` when one came
    /// (the wait ended early), `false` after `max`.
    pub async fn wait(&mut self, c: &Clients, state: &State, max: Duration) -> bool {
        let seconds = max.as_secs().max(1) as u32;
        let Some(folder) = state.folder.as_ref().filter(|_| !self.broken) else {
            tokio::time::sleep(max).await;
            return false;
        };
        let folder = MoRef::new("Folder", folder);
        if self.watch.as_ref().is_some_and(|w| *w.folder() != folder) {
            self.close(c).await;
        }
        if self.watch.is_none() {
            match c.vc.watch_vms(&folder).await {
                Ok(w) => self.watch = Some(w),
                Err(e) => return self.give_up(e, max).await,
            }
        }
        let watch = self.watch.as_mut().expect("made above");
        match c.vc.wait_for_change(watch, seconds).await {
            Ok(changed) => changed,
            Err(e) => self.give_up(e, max).await,
        }
    }

    /// Ends the watch.
    pub async fn close(&mut self, c: &Clients) {
        if let Some(w) = self.watch.take() {
            c.vc.unwatch(w).await;
        }
    }

    async fn give_up(&mut self, e: bde_vsphere::Error, max: Duration) -> bool {
        tracing::warn!(error = %e, "vCenter's property collector failed: polling instead");
        self.watch = None;
        self.broken = true;
        tokio::time::sleep(max).await;
        false
    }
}
