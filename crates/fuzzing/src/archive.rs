//! Locrit archives, imported as `locrit archive import` and `POST /api/v2/locrits/import`
//! do.

use async_compression::tokio::write::GzipEncoder;
use locrit_core::ImportOptions;
use tokio::io::AsyncWriteExt;

use crate::harness::harness;

/// The archive's JSON lines, gzip-compressed here so mutations reach the records (or,
/// after a first byte 0, the raw compressed bytes): refused with a client error and
/// nothing stored, or imported whole with the store consistent.
pub fn archive_import(data: &[u8]) {
    let h = harness();
    h.block_on(async {
        let archive = match data.split_first() {
            Some((0, compressed)) => compressed.to_vec(),
            _ => gzip(data).await,
        };
        let before = h.core.locrits().await.expect("list Locrits").len();
        match h
            .core
            .import_archive(archive.as_slice(), ImportOptions::default())
            .await
        {
            Ok((locrit, _)) => {
                h.assert_consistent().await;
                // Gone again, so the next input may reuse the same ids.
                h.core
                    .delete_locrit(&locrit)
                    .await
                    .expect("delete the import");
            }
            Err(error) => {
                h.assert_client_error(error);
                let after = h.core.locrits().await.expect("list Locrits").len();
                assert_eq!(before, after, "a refused archive left a Locrit behind");
            }
        }
    });
}

async fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzipEncoder::new(Vec::new());
    encoder.write_all(data).await.expect("compress in memory");
    encoder.shutdown().await.expect("compress in memory");
    encoder.into_inner()
}
