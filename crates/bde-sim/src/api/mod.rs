//! The HTTP surface: Spring Security's login/logout, the REST API under
//! `/serengeti/api`, and the simulator's own `/sim` endpoints for tests.

pub mod auth;
mod clusters;
pub mod error;
mod meta;
mod networks;
mod sim_admin;
mod tasks;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use serde::de::DeserializeOwned;

use crate::sim::Sim;
use error::BddError;

static LEGACY: OnceLock<bool> = OnceLock::new();

/// True when simulating 2.2.0 rather than 2.3.2.
pub fn legacy() -> bool {
    *LEGACY.get().unwrap_or(&false)
}

/// Builds the router.
pub fn router(sim: Arc<Sim>) -> Router {
    let _ = LEGACY.set(sim.cfg.version.starts_with("2.2"));
    let api = Router::new()
        .route("/hello", get(meta::hello))
        .route("/distros", get(meta::distros))
        .route("/distro/{name}", get(meta::distro))
        .route("/appmanagers", get(meta::app_managers))
        .route("/racks", get(meta::racks).put(meta::import_racks))
        .route("/resourcepools", get(meta::resource_pools))
        .route("/datastores", get(meta::datastores))
        .route("/networks", post(networks::add).put(networks::add).get(networks::list))
        .route(
            "/network/{name}",
            get(networks::get).delete(networks::delete).put(networks::update),
        )
        .route("/clusters", post(clusters::create).get(clusters::list))
        .route(
            "/cluster/{name}",
            get(clusters::get).delete(clusters::delete).put(clusters::legacy_update),
        )
        .route("/cluster/{name}/action", put(clusters::action))
        .route("/cluster/{name}/spec", get(clusters::spec))
        .route("/cluster/{name}/nodegroup/{group}/instancenum", put(clusters::resize))
        .route("/cluster/{name}/nodegroup/{group}/scale", put(clusters::scale))
        .route("/cluster/{name}/nodegroups", post(clusters::expand))
        .route("/cluster/{name}/config", put(clusters::configure))
        .route("/task/{id}", get(tasks::get))
        .route("/tasks", get(tasks::list))
        .layer(middleware::from_fn_with_state(sim.clone(), auth::require_session))
        .layer(middleware::from_fn_with_state(sim.clone(), faults));
    Router::new()
        .nest(bde_serengeti::API_PREFIX, api)
        .route(bde_serengeti::LOGIN_PATH, post(auth::login))
        .route(bde_serengeti::LOGOUT_PATH, any(auth::logout))
        .nest("/sim", sim_admin::router())
        .with_state(sim)
}

/// The fault knobs: slow answers, 503s and dropped connections on a fraction of API requests.
async fn faults(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let faults = sim.faults.lock().expect("faults").clone();
    if faults.slow_seconds > 0.0 {
        tokio::time::sleep(std::time::Duration::from_secs_f64(faults.slow_seconds)).await;
    }
    if faults.error_rate > 0.0 && fastrand::f64() < faults.error_rate {
        return error::container_error(axum::http::StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    if faults.drop_rate > 0.0 && fastrand::f64() < faults.drop_rate {
        // A body that fails at once: the server aborts the connection mid-answer.
        return Response::new(axum::body::Body::new(BrokenBody));
    }
    next.run(request).await
}

/// An answer whose body errors, so the connection is cut.
struct BrokenBody;

impl http_body::Body for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other("connection dropped (fault knob)"))))
    }
}

/// A JSON body read the way Jackson reads it: unknown fields and bad enum
/// strings are failures outside BddException (500 at 2.3.2, 400 in 2.2.0).
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| BddError::internal(Some("unreadable body")).into_response())?;
        if !json_type {
            // consumes="application/json" is not met: Spring's 415, turned into 500 by the advice at 2.3.2.
            return Err(BddError::internal(Some("Content type not supported")).into_response());
        }
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| BddError::internal(Some(&e.to_string())).into_response())
    }
}

/// `Location: https://<host>/serengeti/api/task/<id>` for a 202.
pub fn accepted(headers: &HeaderMap, task_id: i64) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let location = format!("https://{host}{}/task/{task_id}", bde_serengeti::API_PREFIX);
    (axum::http::StatusCode::ACCEPTED, [(header::LOCATION, location)]).into_response()
}

/// `details=true` (any case, as Spring's boolean conversion).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Details {
    details: Option<String>,
}

impl Details {
    /// True when asked for.
    pub fn on(&self) -> bool {
        self.details.as_deref().is_some_and(|d| d.eq_ignore_ascii_case("true"))
    }
}
