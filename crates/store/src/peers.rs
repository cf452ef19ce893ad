//! Messages between the servers that share one PostgreSQL store, through PostgreSQL's
//! own LISTEN/NOTIFY: live events only. What they describe is already stored, so a
//! server that misses some (a lost connection) catches up from the store.

use futures::Stream;
use futures::stream::{self, StreamExt};
use sqlx::postgres::{PgListener, PgPool};

use crate::Result;

/// PostgreSQL refuses a notification payload of 8000 bytes or more.
pub const MAX_PAYLOAD: usize = 7900;

/// What a listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Payload(String),
    /// The connection was lost and made again: messages sent meanwhile were missed.
    Reconnected,
}

#[derive(Clone)]
pub struct PeerChannel {
    pool: PgPool,
    /// Every server of one store (a schema of a database) listens on this channel;
    /// notifications reach the whole database, so the name carries the schema.
    channel: String,
}

impl PeerChannel {
    pub(crate) fn new(pool: PgPool, schema: &str) -> Self {
        Self {
            pool,
            channel: format!("locrit_{schema}"),
        }
    }

    /// Sends `payload` (under [`MAX_PAYLOAD`] bytes) to every listening server,
    /// this one included.
    pub async fn send(&self, payload: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every message sent from now on, on a connection of its own. The stream never
    /// ends: a lost connection is made again (and said, as [`Heard::Reconnected`]).
    pub async fn listen(&self) -> Result<impl Stream<Item = Heard> + Send + use<>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(&self.channel).await?;
        Ok(stream::unfold(listener, |mut listener| async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        return Some((Heard::Payload(notification.payload().to_owned()), listener));
                    }
                    // try_recv reconnects on its next call, and listens again.
                    Ok(None) => return Some((Heard::Reconnected, listener)),
                    Err(error) => {
                        tracing::warn!(%error, "lost the connection to the other servers' events");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        })
        .boxed())
    }
}
