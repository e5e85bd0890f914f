//! `GET /task/{id}` and `GET /tasks`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::api::error::BddError;
use crate::sim::Sim;

pub async fn get(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return BddError::internal(None).into_response(); // a non-numeric id: 500 at 2.3.2
    };
    let world = sim.world.lock().expect("world");
    match world.tasks.get(&id) {
        Some(task) => axum::Json(task.read()).into_response(),
        None => BddError::not_found(format!("Task {id} not found.")).into_response(),
    }
}

/// The latest task of each existing cluster.
pub async fn list(State(sim): State<Arc<Sim>>) -> Response {
    let world = sim.world.lock().expect("world");
    let latest: Vec<_> = world
        .clusters
        .keys()
        .filter_map(|name| world.tasks.values().rev().find(|t| &t.target == name))
        .map(|t| t.read())
        .collect();
    axum::Json(latest).into_response()
}
