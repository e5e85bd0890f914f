//! `hello`, distros, application managers, racks, resource pools and datastores.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::error::BddError;
use crate::sim::Sim;

pub async fn hello(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(json!({"version": sim.cfg.version})).into_response()
}

pub async fn distros(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(&sim.cfg.inventory.distros).into_response()
}

pub async fn distro(State(sim): State<Arc<Sim>>, Path(name): Path<String>) -> Response {
    match sim
        .cfg
        .inventory
        .distros
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(&name))
    {
        Some(d) => axum::Json(d).into_response(),
        None => BddError::not_found(format!("Distro {name} not found.")).into_response(),
    }
}

/// The one application manager the simulator has: BDE's own (Ironfan/Chef).
pub async fn app_managers() -> Response {
    axum::Json(json!([{"name": "Default", "description": "Default application manager",
                       "type": "Default", "url": null, "username": null, "sslCertificate": null,
                       "managedClusters": []}]))
    .into_response()
}

/// The rack map (`GET /racks`).
pub async fn racks(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(sim.world.lock().expect("world").racks.clone()).into_response()
}

/// Uploads the rack map (`PUT /racks`); an empty list is refused.
pub async fn import_racks(
    State(sim): State<Arc<Sim>>,
    crate::api::Json(racks): crate::api::Json<Vec<bde_serengeti::RackInfo>>,
) -> Response {
    if racks.is_empty() {
        return BddError::invalid("rack list", "empty").into_response();
    }
    sim.world.lock().expect("world").racks = racks;
    axum::http::StatusCode::OK.into_response()
}

pub async fn resource_pools(State(sim): State<Arc<Sim>>) -> Response {
    let rps: Vec<_> = sim
        .cfg
        .inventory
        .resource_pools
        .iter()
        .map(|rp| {
            json!({"rpName": rp.name, "vcCluster": rp.vc_name, "rpVsphereName": "Resources",
                         "totalRAMInMB": 0, "usedRAMInMB": 0, "totalCPUInMHz": 0, "usedCPUInMHz": 0, "nodes": null})
        })
        .collect();
    axum::Json(rps).into_response()
}

pub async fn datastores(State(sim): State<Arc<Sim>>) -> Response {
    let ds: Vec<_> = sim
        .cfg
        .inventory
        .datastores
        .iter()
        .map(|d| {
            json!({"name": d.name, "type": "LOCAL", "datastoreNamePatterns": [d.vc_name],
                        "totalSizeGB": 1024, "freeSizeGB": 1024})
        })
        .collect();
    axum::Json(ds).into_response()
}
