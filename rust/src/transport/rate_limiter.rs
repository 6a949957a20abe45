//! Client-side rate limiting: a token bucket (client-go's default is QPS 5, burst 10).
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tokens refill at `qps` per second up to `burst`; each request takes one, waiting if the
/// bucket is empty. Waits are reserved in order, like golang.org/x/time/rate's `Wait`.
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// `None` (no limit) when `qps` is not positive: client-go disables its limiter for negative QPS.
    pub fn new(qps: f64, burst: u32) -> Option<Self> {
        if qps.is_nan() || qps <= 0.0 {
            return None;
        }
        let burst = f64::from(burst.max(1));
        Some(TokenBucket {
            qps,
            burst,
            state: Mutex::new((burst, Instant::now())),
        })
    }

    /// Reserve one token and return how long to wait before using it.
    pub fn reserve(&self) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (tokens, last) = *state;
        let refilled = (tokens + now.duration_since(last).as_secs_f64() * self.qps).min(self.burst);
        let left = refilled - 1.0;
        *state = (left, now);
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.qps)
        }
    }

    pub async fn acquire(&self) -> Duration {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_serves_burst_requests_without_waiting_then_paces_at_qps() {
        let bucket = TokenBucket::new(5.0, 10).unwrap();
        for _ in 0..10 {
            assert_eq!(bucket.reserve(), Duration::ZERO);
        }
        let eleventh = bucket.reserve().as_secs_f64();
        assert!((0.15..=0.2).contains(&eleventh), "waited {eleventh}");
        let twelfth = bucket.reserve().as_secs_f64();
        assert!((0.35..=0.4).contains(&twelfth), "waited {twelfth}");
    }

    #[test]
    fn negative_or_zero_qps_means_no_limiter() {
        assert!(TokenBucket::new(-1.0, 10).is_none());
        assert!(TokenBucket::new(0.0, 10).is_none());
    }
}
