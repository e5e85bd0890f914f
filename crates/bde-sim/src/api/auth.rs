//! Spring Security's form login: `j_spring_security_check`, a `JSESSIONID`
//! cookie, 401 (an HTML page, not JSON) for any API call without a session,
//! idle expiry, logout that invalidates the session and redirects.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::container_error;
use crate::sim::Sim;

/// Live sessions: id to last use.
#[derive(Debug, Default)]
pub struct Sessions {
    live: std::sync::Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    fn open(&self) -> String {
        let mut bytes = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .expect("reading /dev/urandom");
        let id: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        self.live.lock().expect("sessions").insert(id.clone(), Instant::now());
        id
    }

    /// True (and touched) when the session exists and has not idled out.
    fn check(&self, id: &str, idle: Duration) -> bool {
        let mut live = self.live.lock().expect("sessions");
        match live.get_mut(id) {
            Some(last) if last.elapsed() <= idle => {
                *last = Instant::now();
                true
            }
            Some(_) => {
                live.remove(id);
                false
            }
            None => false,
        }
    }

    /// Ends one session.
    pub fn close(&self, id: &str) {
        self.live.lock().expect("sessions").remove(id);
    }

    /// Ends every session (the "expire sessions" fault).
    pub fn expire_all(&self) {
        self.live.lock().expect("sessions").clear();
    }
}

/// The `JSESSIONID` cookie's value.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == bde_serengeti::SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// `POST /serengeti/j_spring_security_check` with `j_username`/`j_password`
/// in a form body or the query.
pub async fn login(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let mut fields = url_decode_pairs(&body);
    fields.extend(query);
    let (Some(user), Some(password)) = (fields.get("j_username"), fields.get("j_password")) else {
        return container_error(StatusCode::UNAUTHORIZED, "Authentication Failed: Bad credentials");
    };
    let known = sim
        .cfg
        .users
        .iter()
        .any(|u| &u.username == user && &u.password == password);
    if !known {
        tracing::info!(user, "login refused");
        return container_error(StatusCode::UNAUTHORIZED, "Authentication Failed: Bad credentials");
    }
    let id = sim.sessions.open();
    tracing::info!(user, "login");
    let cookie = format!(
        "{}={id}; Path=/serengeti; Secure; HttpOnly",
        bde_serengeti::SESSION_COOKIE
    );
    (StatusCode::OK, [(header::SET_COOKIE, cookie)]).into_response()
}

/// Decodes `a=b&c=d` (form encoding).
fn url_decode_pairs(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `/serengeti/j_spring_security_logout`, any method: 302 to `/serengeti/`.
pub async fn logout(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Some(id) = session_id(&headers) {
        sim.sessions.close(&id);
    }
    (StatusCode::FOUND, [(header::LOCATION, "/serengeti/")]).into_response()
}

/// Every API call needs a live session.
pub async fn require_session(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let idle = Duration::from_secs_f64(sim.cfg.session_idle_seconds);
    match session_id(request.headers()) {
        Some(id) if sim.sessions.check(&id, idle) => next.run(request).await,
        _ => container_error(StatusCode::UNAUTHORIZED, "Unauthorized"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_decoded() {
        let f = url_decode_pairs("j_username=admin%40vsphere.local&j_password=a%26b+c");
        assert_eq!(f["j_username"], "admin@vsphere.local");
        assert_eq!(f["j_password"], "a&b c");
    }
}
