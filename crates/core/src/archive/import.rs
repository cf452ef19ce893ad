use async_compression::tokio::bufread::GzipDecoder;
use futures::StreamExt;
use locrit_domain::{Locrit, LocritPatch, ValidationError};
use locrit_store::{Import, ItemKind, ItemRef, Restore, StoreError, StoredVector};
use std::collections::HashMap;
use tokio::io::{AsyncBufRead, BufReader};
use tokio_util::codec::{FramedRead, LinesCodec};
use uuid::Uuid;

use super::{
    ARCHIVE_FORMAT, ARCHIVE_VERSION, ArchiveCounts, Header, MAX_EMBEDDING_DIMENSIONS,
    MAX_LINE_BYTES, OLDEST_READABLE_VERSION, Record, SessionRecord,
};
use crate::locrits::name_conflict;
use crate::memory::check_memory;
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
    /// Imports a Locrit archive as a new Locrit, in one transaction: all of it or
    /// nothing, even across a crash. Its name and its ids must be free on this server.
    /// The transaction lasts as long as reading `input`: give a local file, not a client.
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
        if header.format != ARCHIVE_FORMAT
            || !(OLDEST_READABLE_VERSION..=ARCHIVE_VERSION).contains(&header.version)
        {
            return Err(invalid(format!(
                "unsupported archive {} version {} (this server reads {ARCHIVE_FORMAT} \
                 versions {OLDEST_READABLE_VERSION} to {ARCHIVE_VERSION})",
                header.format, header.version
            )));
        }
        let mut locrit = header.locrit;
        locrit.owner_id = options.owner_id;
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
        let mut import = self.store.begin_import().await?;
        import
            .insert_locrit(&locrit)
            .await
            .map_err(|e| name_conflict(e, &locrit.name))?;
        let counts = restore_records(import.as_mut(), &locrit, &mut lines)
            .await
            .map_err(|error| match error {
                Error::Store(StoreError::Conflict(_)) => Error::Conflict(
                    "the archive's records are already on this server (same ids)".into(),
                ),
                Error::Store(StoreError::NotFound(_)) => {
                    invalid("the archive's records refer to records it does not hold")
                }
                other => other,
            })?;
        import.commit().await?;
        tracing::info!(locrit = %locrit.name, id = %locrit.id, "Locrit imported");
        Ok((locrit, counts))
    }
}

async fn restore_records<S>(
    import: &mut dyn Import,
    locrit: &Locrit,
    lines: &mut S,
) -> Result<ArchiveCounts>
where
    S: futures::Stream<Item = Result<String, tokio_util::codec::LinesCodecError>> + Unpin,
{
    let mut counts = ArchiveCounts::default();
    let mut batch = Restore::default();
    // Memories and concepts link to each other: they are written together, last.
    let mut knowledge = Restore::default();
    let mut sessions: HashMap<Uuid, Tally> = HashMap::new();
    while let Some(line) = lines.next().await {
        let line = line.map_err(|e| invalid(e.to_string()))?;
        let record: Record = serde_json::from_str(&line)
            .map_err(|e| invalid(format!("record {}: {e}", counts.total() + 1)))?;
        match record {
            Record::Session(session) => {
                sessions.insert(session.id, Tally::announced(&session));
                batch.sessions.push(session.into_session(locrit.id));
                counts.sessions += 1;
            }
            Record::Message(message) => {
                let tally = sessions
                    .get_mut(&message.session)
                    .ok_or_else(|| invalid("a message comes before its session"))?;
                tally.messages += 1;
                tally.max_seq = tally.max_seq.max(message.seq);
                let key = tally.key.clone();
                batch.messages.push(message.into_message(locrit.id, key));
                counts.messages += 1;
            }
            Record::Memory(memory) => {
                check_memory(&memory.content, memory.importance)?;
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
            Record::Embedding {
                kind,
                item,
                model,
                vector,
                created_at,
            } => {
                if model.trim().is_empty()
                    || vector.is_empty()
                    || vector.len() > MAX_EMBEDDING_DIMENSIONS
                    || !vector.iter().all(|x| x.is_finite())
                {
                    return Err(invalid(format!(
                        "record {}: an embedding needs a model and 1 to \
                         {MAX_EMBEDDING_DIMENSIONS} finite numbers",
                        counts.total() + 1
                    )));
                }
                let embedding = StoredVector {
                    item: ItemRef { kind, id: item },
                    vector,
                    created_at,
                };
                // Written after the rows they describe: messages with their batch,
                // memories with the knowledge, last.
                match kind {
                    ItemKind::Message => batch.embeddings.push((model, embedding)),
                    ItemKind::Memory => knowledge.embeddings.push((model, embedding)),
                }
                counts.embeddings += 1;
            }
            Record::End { counts: announced } => {
                if announced != counts {
                    return Err(invalid("the archive's counts do not match its records"));
                }
                if let Some(tally) = sessions.values().find(|t| !t.consistent()) {
                    return Err(invalid(format!(
                        "session {:?}: its counters do not match its messages",
                        tally.key
                    )));
                }
                import.restore(locrit.id, &batch).await?;
                import.restore(locrit.id, &knowledge).await?;
                if lines.next().await.is_some() {
                    return Err(invalid("records after the end of the archive"));
                }
                return Ok(counts);
            }
        }
        if batch.messages.len() + batch.embeddings.len() >= BATCH {
            import.restore(locrit.id, &batch).await?;
            batch = Restore::default();
        }
    }
    Err(invalid("the archive is cut short (no end record)"))
}

/// A session's counters as archived, and what its messages say they are.
struct Tally {
    key: String,
    message_count: i64,
    last_seq: i64,
    messages: i64,
    max_seq: i64,
}

impl Tally {
    fn announced(session: &SessionRecord) -> Self {
        Self {
            key: session.key.clone(),
            message_count: session.message_count,
            last_seq: session.last_seq,
            messages: 0,
            max_seq: 0,
        }
    }

    /// As the store keeps them (and `locrit doctor` checks): the count exact, and no
    /// message past the last sequence number.
    fn consistent(&self) -> bool {
        self.message_count == self.messages && self.last_seq >= self.max_seq
    }
}

impl ArchiveCounts {
    fn total(&self) -> u64 {
        self.sessions
            + self.messages
            + self.memories
            + self.concepts
            + self.relations
            + self.embeddings
    }
}
