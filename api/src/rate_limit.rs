//! A fixed-window rate limiter for sign-in and sign-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::graphql::errors::ApiError;

/// Allows `limit` attempts per key per window.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    hits: Arc<Mutex<HashMap<String, (Instant, u32)>>>,
}

impl RateLimiter {
    /// `limit` attempts per key per minute.
    pub fn per_minute(limit: u32) -> Self {
        Self { limit, window: Duration::from_secs(60), hits: Arc::default() }
    }

    /// Counts an attempt; `RATE_LIMITED` past the limit.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut hits = self.hits.lock().map_err(|_| ApiError::internal("rate limiter lock poisoned"))?;
        if hits.len() > 100_000 {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = hits.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.limit { Err(ApiError::RateLimited) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_past_the_limit_are_refused_per_key() {
        let limiter = RateLimiter::per_minute(2);
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert!(matches!(limiter.check("a"), Err(ApiError::RateLimited)));
        assert!(limiter.check("b").is_ok());
    }
}
