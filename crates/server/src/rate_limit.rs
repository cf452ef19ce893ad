//! Rate limits of the public chat: per visitor (their visitor id, or their IP address
//! when they have none yet) and per Locrit, so one visitor cannot take a Locrit's
//! whole model time, and all visitors together cannot take the server's. Over a limit
//! the answer is a 429 with `Retry-After`.
//!
//! Each limit is a token bucket (GCRA, from `governor`): `requests` may come at once,
//! then one more each `per / requests`.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use uuid::Uuid;

use crate::ApiError;

/// Past this many keys, keys whose bucket is full again are forgotten, so random
/// visitor ids cannot grow the limiter's memory without end.
const MAX_TRACKED_KEYS: usize = 10_000;

/// At most `requests` in any window of `per`. Zero requests: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

impl RateLimit {
    pub const fn per_minute(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(60),
        }
    }

    fn quota(self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.requests)?;
        Quota::with_period(self.per / self.requests).map(|quota| quota.allow_burst(burst))
    }
}

/// The limits of the public chat routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicLimits {
    /// Messages of one visitor, to all Locrits.
    pub per_visitor: RateLimit,
    /// Messages of all visitors to one Locrit.
    pub per_locrit: RateLimit,
}

impl Default for PublicLimits {
    fn default() -> Self {
        Self {
            per_visitor: RateLimit::per_minute(20),
            per_locrit: RateLimit::per_minute(120),
        }
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// The buckets of the public chat, shared by its routes.
pub(crate) struct PublicLimiter {
    visitors: Option<Keyed<String>>,
    locrits: Option<Keyed<Uuid>>,
}

impl PublicLimiter {
    pub fn new(limits: &PublicLimits) -> Self {
        Self {
            visitors: limits.per_visitor.quota().map(RateLimiter::keyed),
            locrits: limits.per_locrit.quota().map(RateLimiter::keyed),
        }
    }

    /// Counts a message of this visitor (a visitor id, or an IP address).
    pub fn visitor(&self, key: String) -> Result<(), ApiError> {
        check(
            self.visitors.as_ref(),
            &key,
            "Trop de messages : attendez un peu avant d'écrire à nouveau",
        )
    }

    /// Counts a message to this Locrit.
    pub fn locrit(&self, id: Uuid) -> Result<(), ApiError> {
        check(
            self.locrits.as_ref(),
            &id,
            "Ce Locrit reçoit trop de messages : réessayez dans un instant",
        )
    }
}

fn check<K: Clone + Hash + Eq>(
    limiter: Option<&Keyed<K>>,
    key: &K,
    message: &str,
) -> Result<(), ApiError> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    if limiter.len() > MAX_TRACKED_KEYS {
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(limiter.clock().now());
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
            .with_retry_after(whole_seconds(wait))
    })
}

/// `Retry-After` is in whole seconds: rounded up, at least 1.
fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_its_burst_through_then_says_when_to_come_back() {
        let limits = PublicLimits {
            per_visitor: RateLimit {
                requests: 2,
                per: Duration::from_secs(10),
            },
            per_locrit: RateLimit::per_minute(0),
        };
        let limiter = PublicLimiter::new(&limits);
        assert!(limiter.visitor("a".into()).is_ok());
        assert!(limiter.visitor("a".into()).is_ok());
        let refused = limiter.visitor("a".into()).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            (4..=5).contains(&refused.retry_after.unwrap()),
            "{refused:?}"
        );
        assert!(limiter.visitor("b".into()).is_ok(), "per key");
        for _ in 0..1000 {
            assert!(limiter.locrit(Uuid::nil()).is_ok(), "zero: no limit");
        }
    }

    #[test]
    fn retry_after_is_whole_seconds_at_least_one() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(2001)), 3);
        assert_eq!(whole_seconds(Duration::from_secs(2)), 2);
    }
}
