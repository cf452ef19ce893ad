//! The original's `config.yaml`, imported as `locrit import` and
//! `POST /api/v2/import/config` do.

use locrit_core::ImportOutcome;

use crate::harness::{Harness, harness};

/// Any text: refused with a client error, or imported; imported, importing it again
/// changes nothing, and the store stays consistent.
pub fn config_import(data: &[u8]) {
    let Ok(yaml) = std::str::from_utf8(data) else {
        return;
    };
    let h = harness();
    h.block_on(async {
        if let Err(error) = h.core.import_config(yaml).await {
            h.assert_client_error(error);
            return;
        }
        let again = h
            .core
            .import_config(yaml)
            .await
            .expect("a file imported once imports again");
        for entry in &again.locrits {
            assert_eq!(
                entry.outcome,
                ImportOutcome::Skipped,
                "a second import changed {entry:?}"
            );
        }
        assert!(
            !again.config_updated,
            "a second import changed the settings"
        );
        h.assert_consistent().await;
    });
}

impl Harness {
    /// The error maps to a 4xx (or 503) answer, never a 500.
    pub(crate) fn assert_client_error(&self, error: locrit_core::Error) {
        let shown = error.to_string();
        let answer = locrit_server::ApiError::from(error);
        assert!(
            answer.status.is_client_error() || answer.status.as_u16() == 503,
            "{shown} answers {}",
            answer.status
        );
    }

    /// `locrit doctor` finds no fault.
    pub(crate) async fn assert_consistent(&self) {
        let findings = self
            .core
            .store()
            .check(false, chrono::Utc::now())
            .await
            .expect("doctor runs");
        let faults: Vec<_> = findings.iter().filter(|f| f.fault && f.count > 0).collect();
        assert!(faults.is_empty(), "doctor finds {faults:?}");
    }
}
