//! A fixed-window rate limiter for sign-in and sign-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::graphql::errors::ApiError;

/// Most keys tracked at once; beyond it new keys are refused until the window turns.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
struct Window {
    hits: HashMap<String, (Instant, u32)>,
    swept: Instant,
}

/// Allows `limit` attempts per key per window.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    state: Arc<Mutex<Window>>,
}

impl RateLimiter {
    /// `limit` attempts per key per minute.
    pub fn per_minute(limit: u32) -> Self {
        Self { limit, window: Duration::from_secs(60), state: Arc::new(Mutex::new(Window { hits: HashMap::new(), swept: Instant::now() })) }
    }

    /// Counts an attempt; `RATE_LIMITED` past the limit.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut state = self.state.lock().map_err(|_| ApiError::internal("rate limiter lock poisoned"))?;
        // Expired keys are dropped at most once per window, so the cost stays amortised.
        if now.duration_since(state.swept) >= self.window {
            let window = self.window;
            state.hits.retain(|_, (start, _)| now.duration_since(*start) < window);
            state.swept = now;
        }
        if state.hits.len() >= MAX_KEYS && !state.hits.contains_key(key) {
            return Err(ApiError::RateLimited);
        }
        let entry = state.hits.entry(key.to_owned()).or_insert((now, 0));
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
