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

use locrit_core::Core;

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

/// The buckets of the public chat, shared by its routes. With a store shared by several
/// servers, the counts are kept in the store instead (fixed windows of `per`), so a
/// visitor gets the same limit from every server behind one address.
pub(crate) struct PublicLimiter {
    limits: PublicLimits,
    visitors: Option<Keyed<String>>,
    locrits: Option<Keyed<Uuid>>,
}

impl PublicLimiter {
    pub fn new(limits: &PublicLimits) -> Self {
        Self {
            limits: *limits,
            visitors: limits.per_visitor.quota().map(RateLimiter::keyed),
            locrits: limits.per_locrit.quota().map(RateLimiter::keyed),
        }
    }

    /// Counts a message of this visitor (a visitor id, or an IP address).
    pub async fn visitor(&self, core: &Core, key: String) -> Result<(), ApiError> {
        let refusal = "Trop de messages : attendez un peu avant d'écrire à nouveau";
        let shared = format!("visitor:{key}");
        let local = self.visitors.as_ref();
        count(core, &shared, self.limits.per_visitor, local, &key, refusal).await
    }

    /// Counts a message to this Locrit.
    pub async fn locrit(&self, core: &Core, id: Uuid) -> Result<(), ApiError> {
        let refusal = "Ce Locrit reçoit trop de messages : réessayez dans un instant";
        let shared = format!("locrit:{id}");
        let local = self.locrits.as_ref();
        count(core, &shared, self.limits.per_locrit, local, &id, refusal).await
    }
}

fn too_many(message: &str, wait: Duration) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        .with_retry_after(whole_seconds(wait))
}

/// Counts one hit against `limit`: in the store when it is shared by several servers
/// (`shared` names the key there), else in this server's bucket for `key`.
async fn count<K: Clone + Hash + Eq>(
    core: &Core,
    shared: &str,
    limit: RateLimit,
    local: Option<&Keyed<K>>,
    key: &K,
    message: &str,
) -> Result<(), ApiError> {
    if limit.requests == 0 {
        return Ok(());
    }
    match core.count_shared_hit(shared, limit.per).await? {
        Some(counted) if counted.hits > limit.requests => {
            Err(too_many(message, counted.window_left))
        }
        Some(_) => Ok(()),
        None => check(local, key, message),
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
    limiter
        .check_key(key)
        .map_err(|not_until| too_many(message, not_until.wait_time_from(limiter.clock().now())))
}

/// `Retry-After` is in whole seconds: rounded up, at least 1.
fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use locrit_testkit::TestDatabase;

    use super::*;

    /// One server counts in memory (token buckets); servers sharing a store count in
    /// it (fixed windows): either way, the burst passes, then a 429 says when to return.
    async fn a_limit_lets_its_burst_through_then_says_when_to_come_back(db: TestDatabase) {
        let store = locrit_store::open(&locrit_store::StoreConfig::new(db.url()))
            .await
            .unwrap();
        let core = Core::new(store);
        let limits = PublicLimits {
            per_visitor: RateLimit {
                requests: 2,
                per: Duration::from_secs(10),
            },
            per_locrit: RateLimit::per_minute(0),
        };
        let limiter = PublicLimiter::new(&limits);
        // Not at the very end of a 10 s window, so the burst is counted in one.
        let into_window = chrono::Utc::now().timestamp_millis().rem_euclid(10_000);
        if into_window > 9_000 {
            let left = u64::try_from(10_000 - into_window).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(left + 10)).await;
        }
        assert!(limiter.visitor(&core, "a".into()).await.is_ok());
        assert!(limiter.visitor(&core, "a".into()).await.is_ok());
        let refused = limiter.visitor(&core, "a".into()).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            (1..=10).contains(&refused.retry_after.unwrap()),
            "{refused:?}"
        );
        assert!(limiter.visitor(&core, "b".into()).await.is_ok(), "per key");
        for _ in 0..100 {
            assert!(
                limiter.locrit(&core, Uuid::nil()).await.is_ok(),
                "zero: no limit"
            );
        }
        // A second limiter (another server) sees the same count when the store is shared.
        let other = PublicLimiter::new(&limits).visitor(&core, "a".into()).await;
        assert_eq!(other.is_err(), core.store().peers().is_some());
    }

    #[tokio::test]
    async fn a_limit_in_memory() {
        a_limit_lets_its_burst_through_then_says_when_to_come_back(TestDatabase::sqlite()).await;
    }

    #[tokio::test]
    #[ignore = "PostgreSQL suite: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
    async fn a_limit_shared_by_the_servers_of_a_store() {
        a_limit_lets_its_burst_through_then_says_when_to_come_back(TestDatabase::postgres().await)
            .await;
    }

    #[test]
    fn retry_after_is_whole_seconds_at_least_one() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(2001)), 3);
        assert_eq!(whole_seconds(Duration::from_secs(2)), 2);
    }
}
