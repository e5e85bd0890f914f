//! Riding out a service that went away: Neutron restarted, BDE's web server
//! down for a minute, a vCenter failing over. The transport already retried
//! each call a few seconds; a step that still could not reach a service says
//! "pending" and the caller polls again, until the outage has lasted longer
//! than an operator would wait. Every step looks before it makes anything,
//! so repeating the step after the outage is safe.

use crate::error::EngineError;
use crate::outcome::Outcome;
use crate::state::{State, now};

/// How long a cluster's action waits for an unreachable service before it fails.
pub const OUTAGE_SECONDS: f64 = 300.0;

/// Turns an `Unavailable` step into `Waiting` while the outage is younger than
/// [`OUTAGE_SECONDS`]; logs its start and end once each.
pub fn ride_out(result: Result<Outcome, EngineError>, state: &mut State) -> Result<Outcome, EngineError> {
    ride_out_at(result, state, now())
}

fn ride_out_at(result: Result<Outcome, EngineError>, state: &mut State, t: f64) -> Result<Outcome, EngineError> {
    match result {
        Err(e) if e.is_unavailable() => {
            let reason = e.message.clone();
            let since = match state.unreachable_since {
                Some(since) => since,
                None => {
                    tracing::warn!(%reason, limit_seconds = OUTAGE_SECONDS, "a service is unreachable: waiting for it");
                    state.unreachable_since = Some(t);
                    t
                }
            };
            if t - since > OUTAGE_SECONDS {
                state.unreachable_since = None;
                let message = format!(
                    "{reason} (unreachable for {:.0} s; run the action again once it is back)",
                    t - since
                );
                return Err(e.with_message(message));
            }
            Ok(Outcome::Waiting(format!(
                "waiting for an unreachable service: {reason}"
            )))
        }
        other => {
            if let Some(since) = state.unreachable_since.take() {
                tracing::info!(seconds = format!("{:.1}", t - since), "the unreachable service is back");
            }
            other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Result<Outcome, EngineError> {
        Err(EngineError::unavailable("Neutron list ports: connection refused"))
    }

    #[test]
    fn an_outage_is_waited_for_until_its_limit_then_fails_clearly() {
        let mut state = State::default();
        assert!(matches!(
            ride_out_at(down(), &mut state, 1000.0),
            Ok(Outcome::Waiting(_))
        ));
        assert!(matches!(
            ride_out_at(down(), &mut state, 1200.0),
            Ok(Outcome::Waiting(_))
        ));
        let err = ride_out_at(down(), &mut state, 1000.0 + OUTAGE_SECONDS + 1.0).unwrap_err();
        assert!(err.to_string().contains("unreachable for 301 s"), "{err}");
        // The next attempt starts a new wait.
        assert!(matches!(
            ride_out_at(down(), &mut state, 2000.0),
            Ok(Outcome::Waiting(_))
        ));
    }

    #[test]
    fn an_answer_ends_the_outage_and_definite_errors_pass_through() {
        let mut state = State::default();
        let _ = ride_out_at(down(), &mut state, 1000.0);
        assert_eq!(
            ride_out_at(Ok(Outcome::Done), &mut state, 1010.0).unwrap(),
            Outcome::Done
        );
        assert_eq!(state.unreachable_since, None);
        let definite = ride_out_at(
            Err(EngineError::remote(crate::error::Service::OpenStack, "HTTP 400")),
            &mut state,
            1020.0,
        );
        assert_eq!(definite.unwrap_err().kind, crate::error::ErrorKind::RemoteFailed);
    }
}
