//! Simulated time: every delay is a real-world duration times one scale
//! factor, with seeded per-VM jitter so that runs repeat.

use std::time::{Duration, Instant};

/// The scale, the jitter and the simulator's start.
#[derive(Debug, Clone)]
pub struct Clock {
    scale: f64,
    jitter: f64,
    seed: u64,
    started: Instant,
}

impl Clock {
    /// A clock; `scale` multiplies every delay.
    pub fn new(scale: f64, jitter: f64, seed: u64) -> Self {
        Self {
            scale,
            jitter,
            seed,
            started: Instant::now(),
        }
    }

    /// A real-world duration in simulated time.
    pub fn scaled(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64((seconds * self.scale).max(0.0))
    }

    /// Like [`Clock::scaled`], varied by ± jitter, the same for the same `key` every run.
    pub fn jittered(&self, seconds: f64, key: &str) -> Duration {
        let mut rng = fastrand::Rng::with_seed(self.seed ^ fnv1a(key));
        let factor = 1.0 + self.jitter * (rng.f64() * 2.0 - 1.0);
        self.scaled(seconds * factor)
    }

    /// Sleeps a jittered real-world duration.
    pub async fn sleep(&self, seconds: f64, key: &str) {
        tokio::time::sleep(self.jittered(seconds, key)).await;
    }

    /// Real seconds since the simulator started (timeline stamps).
    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_bounded_and_repeatable() {
        let clock = Clock::new(0.1, 0.2, 7);
        let a = clock.jittered(10.0, "c1-worker-0/clone");
        assert_eq!(a, clock.jittered(10.0, "c1-worker-0/clone"));
        assert!(
            a >= Duration::from_secs_f64(0.8) && a <= Duration::from_secs_f64(1.2),
            "{a:?}"
        );
        assert_ne!(a, clock.jittered(10.0, "c1-worker-1/clone"));
    }
}
