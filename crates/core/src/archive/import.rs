use async_compression::tokio::bufread::GzipDecoder;
use futures::StreamExt;
use locrit_domain::{Locrit, LocritPatch, ValidationError};
use locrit_store::Restore;
use std::collections::HashMap;
use tokio::io::{AsyncBufRead, BufReader};
use tokio_util::codec::{FramedRead, LinesCodec};
use uuid::Uuid;

use super::{ARCHIVE_FORMAT, ARCHIVE_VERSION, ArchiveCounts, Header, MAX_LINE_BYTES, Record};
use crate::{Core, Error, Result};

/// Messages are written by batches of this many.
const BATCH: usize = 500;

/// How to import an archive.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Import under this name instead of the archived one.
    pub name: Option<String>,
    /// The account that will own it (the archive's owner belongs to another server).
    pub owner_id: Option<String>,
}

fn invalid(message: impl Into<String>) -> Error {
    ValidationError::new("archive", message).into()
}

impl Core {
    /// Imports a Locrit archive as a new Locrit: all of it or nothing (a failed import
    /// removes what it wrote). Its name and its ids must be free on this server.
    pub async fn import_archive<R>(
        &self,
        input: R,
        options: ImportOptions,
    ) -> Result<(Locrit, ArchiveCounts)>
    where
        R: AsyncBufRead + Unpin + Send,
    {
        let decoder = BufReader::new(GzipDecoder::new(input));
        let mut lines = FramedRead::new(decoder, LinesCodec::new_with_max_length(MAX_LINE_BYTES));
        let first = lines
            .next()
            .await
            .ok_or_else(|| invalid("the archive is empty"))?;
        let header: Header = serde_json::from_str(&first.map_err(|e| invalid(e.to_string()))?)
            .map_err(|e| invalid(format!("not a Locrit archive: {e}")))?;
        if header.format != ARCHIVE_FORMAT || header.version != ARCHIVE_VERSION {
            return Err(invalid(format!(
                "unsupported archive {} version {} (this server reads {ARCHIVE_FORMAT} version {ARCHIVE_VERSION})",
                header.format, header.version
            )));
        }
        let mut locrit = header.locrit;
        locrit.owner_id = options.owner_id;
        let active = locrit.active;
        if let Some(name) = options.name {
            locrit.apply(LocritPatch {
                name: Some(name),
                ..LocritPatch::default()
            })?;
        }
        if self.store.locrit(locrit.id).await?.is_some() {
            return Err(Error::Conflict(
                "this Locrit is already on this server (same id)".into(),
            ));
        }
        // Inactive until complete, so nobody chats with a half-imported Locrit.
        locrit.active = false;
        self.insert_locrit(&locrit).await?;
        match self.restore_records(&locrit, &mut lines).await {
            Ok(counts) => {
                locrit.active = active;
                self.save_locrit(&locrit).await?;
                Ok((locrit, counts))
            }
            Err(error) => {
                if let Err(cleanup) = self.store.delete_locrit(locrit.id).await {
                    tracing::error!(locrit = %locrit.id, %cleanup, "cannot remove a failed import");
                }
                Err(match error {
                    Error::Store(locrit_store::StoreError::Conflict(_)) => Error::Conflict(
                        "the archive's records are already on this server (same ids)".into(),
                    ),
                    other => other,
                })
            }
        }
    }

    async fn restore_records<S>(&self, locrit: &Locrit, lines: &mut S) -> Result<ArchiveCounts>
    where
        S: futures::Stream<Item = Result<String, tokio_util::codec::LinesCodecError>> + Unpin,
    {
        let mut counts = ArchiveCounts::default();
        let mut batch = Restore::default();
        // Memories and concepts link to each other: they are written together, last.
        let mut knowledge = Restore::default();
        let mut session_keys: HashMap<Uuid, String> = HashMap::new();
        while let Some(line) = lines.next().await {
            let line = line.map_err(|e| invalid(e.to_string()))?;
            let record: Record = serde_json::from_str(&line)
                .map_err(|e| invalid(format!("record {}: {e}", counts.total() + 1)))?;
            match record {
                Record::Session(session) => {
                    session_keys.insert(session.id, session.key.clone());
                    batch.sessions.push(session.into_session(locrit.id));
                    counts.sessions += 1;
                }
                Record::Message(message) => {
                    let key = session_keys
                        .get(&message.session)
                        .cloned()
                        .ok_or_else(|| invalid("a message comes before its session"))?;
                    batch.messages.push(message.into_message(locrit.id, key));
                    counts.messages += 1;
                }
                Record::Memory(memory) => {
                    knowledge.memories.push(memory);
                    counts.memories += 1;
                }
                Record::Concept(concept) => {
                    knowledge.concepts.push(concept);
                    counts.concepts += 1;
                }
                Record::Relation { from, to, relation } => {
                    knowledge.relations.push((from, to, relation));
                    counts.relations += 1;
                }
                Record::End { counts: announced } => {
                    if announced != counts {
                        return Err(invalid("the archive's counts do not match its records"));
                    }
                    self.store.restore(locrit.id, &batch).await?;
                    self.store.restore(locrit.id, &knowledge).await?;
                    if lines.next().await.is_some() {
                        return Err(invalid("records after the end of the archive"));
                    }
                    return Ok(counts);
                }
            }
            if batch.messages.len() >= BATCH {
                self.store.restore(locrit.id, &batch).await?;
                batch = Restore::default();
            }
        }
        Err(invalid("the archive is cut short (no end record)"))
    }
}

impl ArchiveCounts {
    fn total(&self) -> u64 {
        self.sessions + self.messages + self.memories + self.concepts + self.relations
    }
}
