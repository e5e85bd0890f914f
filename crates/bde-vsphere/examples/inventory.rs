//! Prints what a vCenter holds, per datacenter: VMs (with NICs) and
//! distributed portgroups, from one batched read each. Reads VCENTER_URL,
//! VCENTER_USERNAME, VCENTER_PASSWORD and VCENTER_CA_FILE (as `scripts/world env` sets them).

use std::time::{Duration, Instant};

use bde_transport::{RetryPolicy, TlsOptions};
use bde_vsphere::{Client, Config};

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (eval \"$(scripts/world env)\")"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config {
        url: env("VCENTER_URL")?,
        username: env("VCENTER_USERNAME")?,
        password: env("VCENTER_PASSWORD")?.into(),
        tls: TlsOptions {
            ca_file: std::env::var("VCENTER_CA_FILE").ok().map(Into::into),
            insecure: false,
        },
        timeout: Duration::from_secs(60),
        retry: RetryPolicy::default(),
    };
    let vc = Client::connect(&config).await?;
    println!("vCenter {} (API {})", config.url, vc.content().api_version);
    for (dc, name) in vc.datacenters().await? {
        let started = Instant::now();
        let vms = vc.vms(Some(&dc)).await?;
        let read_ms = started.elapsed().as_millis();
        let pgs = vc.portgroups(Some(&dc)).await?;
        println!(
            "  {name}: {} VMs (read in {read_ms} ms), {} distributed portgroups",
            vms.len(),
            pgs.len()
        );
        for vm in vms.iter().filter(|v| !v.name.starts_with("bg-")).take(8) {
            let macs: Vec<_> = vm.nics.iter().map(|n| n.mac.as_str()).collect();
            println!(
                "    vm {:24} {:11} {} {}",
                vm.name,
                vm.power_state,
                vm.moref.value,
                macs.join(",")
            );
        }
        for pg in &pgs {
            println!("    portgroup {} ({})", pg.name, pg.moref.value);
        }
    }
    vc.logout().await;
    Ok(())
}
