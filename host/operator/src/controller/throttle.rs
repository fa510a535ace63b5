//! A client-side limit on the operator's writes, as client-go's QPS and burst: a token bucket
//! that a runaway (a reconcile loop writing again and again, thousands of clusters changed at
//! once) cannot push past, while the common case never waits. Reads come from the caches and
//! watches are long-lived, so only writes are counted.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Writes per second, and how many may go at once after a quiet spell. At 1,000 clusters
/// created at once the operator writes about 6,000 objects. At 500 a second the limit itself
/// set a floor of about 10 s, close to the 12 s the API server needed; at 1,000 the API
/// server (and its own priority and fairness limits) is the bound, and a runaway still is
/// not.
pub const DEFAULT_WRITES_PER_SECOND: u32 = 1000;
pub const DEFAULT_WRITE_BURST: u32 = 1000;

pub struct WriteLimiter {
    per_second: f64,
    burst: f64,
    bucket: Mutex<(f64, Instant)>,
}

impl WriteLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self { per_second: f64::from(per_second.max(1)), burst, bucket: Mutex::new((burst, Instant::now())) }
    }

    /// Waits until one more write is allowed, and takes it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let Ok(mut bucket) = self.bucket.lock() else { return };
                let now = Instant::now();
                let (tokens, last) = *bucket;
                let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.per_second).min(self.burst);
                if tokens >= 1.0 {
                    *bucket = (tokens - 1.0, now);
                    return;
                }
                *bucket = (tokens, now);
                Duration::from_secs_f64((1.0 - tokens) / self.per_second)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_and_the_rest_at_the_rate() {
        let limiter = WriteLimiter::new(10, 5);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst does not wait");
        for _ in 0..10 {
            limiter.acquire().await;
        }
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(990) && waited <= Duration::from_millis(1010), "{waited:?}");
        // A quiet spell refills the bucket, up to the burst.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let quiet = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(quiet.elapsed(), Duration::ZERO);
    }
}
