//! The original Locrit's HTTP contract (`../shared/reference/locrit-wire-contract.md`),
//! with its field names and messages, and its defects fixed.

use axum::Router;
use locrit_core::Core;

pub fn router() -> Router<Core> {
    Router::new()
}
