//! `bde-sim`: a BDE (Serengeti) 2.3.2 management server simulator.
//!
//! Serves BDE's REST API on loopback HTTPS, clones real VMs in vCenter (vcsim)
//! for the clusters it is asked to create, and models the guests' DHCP against
//! the real Neutron ports, so that the race bde-heat exists to win is real.
//! Usage: `bde-sim --config FILE` (JSON; see `config.rs` for every field).

mod addresses;
mod api;
mod clock;
mod config;
mod guest;
mod jobs;
mod sim;
mod spoofguard;
mod state;
mod tls;
mod vcenter;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bde_openstack::{Auth, KeystoneAuth, Neutron, Session};
use bde_transport::{HttpOptions, RetryPolicy};
use tracing_subscriber::EnvFilter;

use crate::config::SimConfig;

fn load_config() -> Result<SimConfig, String> {
    let args: Vec<String> = std::env::args().collect();
    let path = match args.as_slice() {
        [_, flag, path] if flag == "--config" => path,
        _ => return Err("usage: bde-sim --config FILE".into()),
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_ansi(false)
        .init();
    if let Err(e) = serve().await {
        tracing::error!("bde-sim: {e}");
        std::process::exit(1);
    }
}

async fn serve() -> Result<(), String> {
    let cfg = load_config()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (cert, key) = tls::ensure_certificate(&cfg.state_dir)?;
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(cert, key)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let vc = vcenter::VCenter::connect(&cfg).await?;
    let session = Session::new(
        Auth::Keystone(KeystoneAuth::password(
            &cfg.openstack.auth_url,
            &cfg.openstack.username,
            cfg.openstack.password.clone().into(),
            &cfg.openstack.project_name,
        )),
        &HttpOptions {
            timeout: Duration::from_secs(60),
            ..HttpOptions::default()
        },
        RetryPolicy::default(),
    )
    .map_err(|e| e.to_string())?;
    let sim = Arc::new(sim::Sim {
        clock: clock::Clock::new(cfg.time_scale, cfg.timing.jitter, cfg.seed),
        world: Mutex::new(state::World::default()),
        sessions: api::auth::Sessions::default(),
        faults: Mutex::new(cfg.faults.clone()),
        vc,
        neutron: Neutron::new(Arc::new(session)),
        guests: guest::Guests::default(),
        server: Mutex::new(sim::ServerSwitch::default()),
        cfg,
    });
    tokio::spawn(guest::run(sim.clone()));
    let addr: std::net::SocketAddr = sim.cfg.listen.parse().map_err(|e| format!("listen: {e}"))?;
    let app = api::router(sim.clone());
    tracing::info!(%addr, version = %sim.cfg.version, time_scale = sim.cfg.time_scale, "bde-sim serving");
    loop {
        let handle = axum_server::Handle::new();
        sim.server.lock().expect("server").handle = Some(handle.clone());
        axum_server::bind_rustls(addr, tls.clone())
            .handle(handle)
            .serve(app.clone().into_make_service())
            .await
            .map_err(|e| format!("serve: {e}"))?;
        let Some(outage) = sim.server.lock().expect("server").outage.take() else {
            return Ok(());
        };
        // As when BDE's Tomcat restarts: connections refused, every session lost;
        // the jobs and the guests go on.
        sim.sessions.expire_all();
        tracing::warn!(seconds = outage.as_secs_f64(), "API down (outage knob)");
        tokio::time::sleep(outage).await;
        tracing::info!("API back after the outage");
    }
}
