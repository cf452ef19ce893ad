use async_compression::tokio::write::GzipEncoder;
use locrit_domain::{Locrit, SessionStatus};
use locrit_store::{ItemKind, ItemRef, MemoryQuery, MessagePage, SessionQuery};
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

use super::{
    ARCHIVE_FORMAT, ARCHIVE_VERSION, ArchiveCounts, Header, MessageRecord, Record, SessionRecord,
};
use crate::{Core, Result};

/// Records are read from the store by pages of this many.
const PAGE: u32 = 500;

impl Core {
    /// Writes the archive of a Locrit to `out`, page by page: memory use stays flat
    /// whatever the Locrit's size. Returns what it holds.
    pub async fn export_locrit<W>(&self, locrit: &Locrit, out: W) -> Result<ArchiveCounts>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let mut out = GzipEncoder::new(out);
        let mut counts = ArchiveCounts::default();
        let header = Header {
            format: ARCHIVE_FORMAT.into(),
            version: ARCHIVE_VERSION,
            exported_at: locrit_domain::now(),
            locrit: locrit.clone(),
        };
        write_line(&mut out, &header).await?;

        let models = self.store.embedding_models(locrit.id).await?;
        let mut sessions = Vec::new();
        for status in [None, Some(SessionStatus::Deleted)] {
            let query = SessionQuery {
                locrit_id: Some(locrit.id),
                status,
                ..SessionQuery::default()
            };
            sessions.extend(self.store.sessions(&query).await?);
        }
        for session in &sessions {
            write_line(
                &mut out,
                &Record::Session(SessionRecord::from_session(session.clone())),
            )
            .await?;
            counts.sessions += 1;
        }
        for session in &sessions {
            let mut after = 0;
            loop {
                let page = MessagePage::After { after, limit: PAGE };
                let messages = self.store.messages(session.id, page).await?;
                let Some(last) = messages.last() else { break };
                after = last.seq;
                let full = messages.len() == PAGE as usize;
                let ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
                for message in messages {
                    let record = MessageRecord::from_message(session.id, message);
                    write_line(&mut out, &Record::Message(record)).await?;
                    counts.messages += 1;
                }
                self.write_embeddings(
                    &mut out,
                    locrit,
                    &models,
                    ItemKind::Message,
                    &ids,
                    &mut counts,
                )
                .await?;
                if !full {
                    break;
                }
            }
        }
        let mut before = None;
        loop {
            let query = MemoryQuery {
                before,
                limit: Some(PAGE),
                ..MemoryQuery::default()
            };
            let memories = self.store.memories(locrit.id, &query).await?;
            before = memories.last().map(|m| m.id);
            let full = memories.len() == PAGE as usize;
            let ids: Vec<Uuid> = memories.iter().map(|m| m.id).collect();
            for memory in memories {
                write_line(&mut out, &Record::Memory(memory)).await?;
                counts.memories += 1;
            }
            self.write_embeddings(
                &mut out,
                locrit,
                &models,
                ItemKind::Memory,
                &ids,
                &mut counts,
            )
            .await?;
            if !full {
                break;
            }
        }
        for concept in self.store.concepts(locrit.id).await? {
            write_line(&mut out, &Record::Concept(concept)).await?;
            counts.concepts += 1;
        }
        for (from, to, relation) in self.store.concept_relations(locrit.id).await? {
            write_line(&mut out, &Record::Relation { from, to, relation }).await?;
            counts.relations += 1;
        }
        write_line(&mut out, &Record::End { counts }).await?;
        out.shutdown().await?;
        Ok(counts)
    }
}

impl Core {
    /// The embeddings of these messages or memories, for every model they have one of.
    async fn write_embeddings<W: AsyncWrite + Unpin + Send>(
        &self,
        out: &mut W,
        locrit: &Locrit,
        models: &[String],
        kind: ItemKind,
        ids: &[Uuid],
        counts: &mut ArchiveCounts,
    ) -> Result<()> {
        let items: Vec<ItemRef> = ids.iter().map(|&id| ItemRef { kind, id }).collect();
        for model in models {
            for stored in self.store.embeddings_of(locrit.id, model, &items).await? {
                let record = Record::Embedding {
                    kind,
                    item: stored.item.id,
                    model: model.clone(),
                    vector: stored.vector,
                    created_at: stored.created_at,
                };
                write_line(out, &record).await?;
                counts.embeddings += 1;
            }
        }
        Ok(())
    }
}

async fn write_line<W: AsyncWrite + Unpin>(out: &mut W, value: &impl Serialize) -> Result<()> {
    let mut line = serde_json::to_vec(value).expect("archive records serialise");
    line.push(b'\n');
    out.write_all(&line).await?;
    Ok(())
}
