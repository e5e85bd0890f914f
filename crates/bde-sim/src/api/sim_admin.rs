//! The simulator's own endpoints (not BDE's), for tests and benchmarks:
//! `GET /sim/timeline` (per node: MAC, VM, and when it was cloned, powered on,
//! asked for DHCP, had its port seen, leased, gave up, was reset; its reserved
//! static address, if any) and
//! `GET|PUT|PATCH /sim/faults`, `POST /sim/expire-sessions`, `POST /sim/outage`. Loopback only, no login.

use std::sync::Arc;

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::config::Faults;
use crate::sim::Sim;

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/timeline", get(timeline))
        .route("/faults", get(get_faults).put(put_faults).patch(patch_faults))
        .route("/expire-sessions", post(expire_sessions))
        .route("/outage", post(outage))
}

/// `POST /sim/outage?seconds=N`: the API goes away for N seconds, right after
/// this answer (connections refused, sessions lost; jobs and guests go on).
async fn outage(State(sim): State<Arc<Sim>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let seconds = q.get("seconds").and_then(|s| s.parse::<f64>().ok());
    let Some(seconds) = seconds.filter(|s| (0.0..=600.0).contains(s)) else {
        return (StatusCode::BAD_REQUEST, "seconds: a number from 0 to 600").into_response();
    };
    let handle = {
        let mut switch = sim.server.lock().expect("server");
        switch.outage = Some(std::time::Duration::from_secs_f64(seconds));
        switch.handle.clone()
    };
    tokio::spawn(async move {
        // Let this answer leave first.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if let Some(h) = handle {
            h.shutdown();
        }
    });
    StatusCode::ACCEPTED.into_response()
}

async fn timeline(State(sim): State<Arc<Sim>>) -> Response {
    let world = sim.world.lock().expect("world");
    let nodes: Vec<Value> = world
        .clusters
        .values()
        .flat_map(|c| {
            c.nodes().map(move |(g, n)| {
                json!({"cluster": c.name, "group": g.name, "name": n.name, "vm": n.vm.as_ref().map(|m| m.value.clone()),
                       "mac": n.mac, "ip": n.ip, "static_ip": n.static_ip, "status": n.status, "timeline": n.timeline})
            })
        })
        .collect();
    Json(json!({"now": sim.clock.now(), "time_scale": sim.cfg.time_scale, "nodes": nodes})).into_response()
}

async fn get_faults(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.faults.lock().expect("faults").clone()).into_response()
}

async fn put_faults(State(sim): State<Arc<Sim>>, Json(faults): Json<Faults>) -> Response {
    tracing::info!(?faults, "faults set");
    *sim.faults.lock().expect("faults") = faults;
    StatusCode::NO_CONTENT.into_response()
}

/// A JSON merge patch (RFC 7396, top-level keys; `null` restores a knob's default) over the
/// fault set: tests that run side by side each set and clear their own knobs (one VM's failing
/// clone, one node's late binding) without undoing the others'. Answers the new set.
async fn patch_faults(State(sim): State<Arc<Sim>>, Json(patch): Json<serde_json::Map<String, Value>>) -> Response {
    let mut faults = sim.faults.lock().expect("faults");
    let serde_json::Value::Object(mut merged) = serde_json::to_value(&*faults).expect("faults serialize") else {
        unreachable!("a struct serializes to an object")
    };
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    match serde_json::from_value::<Faults>(Value::Object(merged)) {
        Ok(patched) => {
            tracing::info!(faults = ?patched, "faults patched");
            *faults = patched.clone();
            Json(patched).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// Expires the caller's session (its cookie), or every session with `?all=true`.
async fn expire_sessions(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if q.get("all").is_some_and(|v| v == "true") {
        sim.sessions.expire_all();
    } else if let Some(id) = crate::api::auth::session_id(&headers) {
        sim.sessions.close(&id);
    }
    StatusCode::NO_CONTENT.into_response()
}
