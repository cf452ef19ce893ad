//! The one implementation of [`Store`](crate::Store), instantiated for SQLite and
//! PostgreSQL. Reads go to `pool`, writes to `writer` (for SQLite a single connection,
//! so concurrent writers queue in order instead of polling SQLite's lock). The SQL is written once in the dialect both share: `$n` parameters
//! (sqlx maps them for SQLite), `RETURNING`, `ON CONFLICT`. Types differ only in the
//! migrations; sqlx encodes the same Rust types for each.
//!
//! A write outside a transaction reads its `RETURNING` rows with `fetch_all`, never
//! `fetch_one` or `fetch_optional`: SQLite commits such a statement at its last step,
//! after yielding the rows, so stopping at the first row misses a failed commit (a full
//! disk) and reports a write that was rolled back.

/// The columns of a message, joined with its session's key.
macro_rules! message_select {
    () => {
        "SELECT m.id, m.locrit_id, s.key AS session_key, m.seq, m.role, m.content, m.user_id, \
         m.status, m.metadata, m.created_at, m.edited_at \
         FROM messages m JOIN sessions s ON s.id = m.session_id "
    };
}

/// Ends a question's wait for its reply (`$1`: the question's id).
pub(crate) const END_WAIT: &str = "DELETE FROM awaited_replies WHERE message_id = $1";

pub(crate) const LOCRIT_COLUMNS: &str = "id, name, description, persona, ollama_model, ollama_url, open_to, \
    access_to, memory_service, public_page, public_address, active, owner_id, extra, created_at, \
    updated_at";

pub(crate) const SESSION_COLUMNS: &str = "id, locrit_id, key, kind, name, topic, user_id, status, metadata, \
    message_count, last_seq, created_at, updated_at";

pub(crate) const MEMORY_COLUMNS: &str = "id, locrit_id, content, importance, metadata, tags, \
    source_message_ids, pinned, superseded_by, created_at, updated_at, last_accessed, \
    invalidated_at";

pub(crate) const JOB_COLUMNS: &str = "id, kind, locrit_id, payload, status, attempts, max_attempts, \
    last_error, run_after, created_at, updated_at";

/// Marks invalidated the memories whose last source is among the messages `$2` selects
/// (a subquery over `messages` binding `$1` = locrit id, `$3` = now): run in the delete's
/// transaction, before the delete.
pub(crate) fn invalidate_memories_learned_only_from(doomed: &str) -> String {
    format!(
        "UPDATE memories SET invalidated_at = $3 WHERE locrit_id = $1 AND invalidated_at IS NULL \
         AND id IN (SELECT memory_id FROM memory_sources WHERE message_id IN ({doomed})) \
         AND NOT EXISTS (SELECT 1 FROM memory_sources ms WHERE ms.memory_id = memories.id \
         AND ms.message_id NOT IN ({doomed}))"
    )
}

pub(crate) const CONCEPT_COLUMNS: &str =
    "id, locrit_id, name, kind, description, confidence, mentions, first_mentioned, last_mentioned";

pub(crate) fn insert_locrit() -> String {
    format!(
        "INSERT INTO locrits ({LOCRIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16)"
    )
}

/// Binds as `bind_locrit!`: `$1` is the id.
pub(crate) const UPDATE_LOCRIT: &str = "UPDATE locrits SET name = $2, description = $3, \
    persona = $4, ollama_model = $5, ollama_url = $6, open_to = $7, access_to = $8, \
    memory_service = $9, public_page = $10, public_address = $11, active = $12, owner_id = $13, \
    extra = $14, created_at = $15, updated_at = $16 WHERE id = $1";

/// `$1` key, `$2` value, `$3` now.
pub(crate) const PUT_SETTING: &str = "INSERT INTO server_settings (key, value, updated_at) \
    VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
    updated_at = excluded.updated_at";

pub(crate) fn select_locrits(filter: &str) -> String {
    format!("SELECT {LOCRIT_COLUMNS} FROM locrits {filter}")
}

pub(crate) fn select_sessions(filter: &str) -> String {
    format!("SELECT {SESSION_COLUMNS}, revision FROM sessions {filter}")
}

pub(crate) fn select_memories(filter: &str) -> String {
    format!("SELECT {MEMORY_COLUMNS} FROM memories {filter}")
}

pub(crate) fn select_jobs(filter: &str) -> String {
    format!("SELECT {JOB_COLUMNS} FROM jobs {filter}")
}

/// A `LIKE` pattern matching `text` anywhere, lowercased, for `ESCAPE '\'`.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Binds every column of a Locrit, in `LOCRIT_COLUMNS` order.
macro_rules! bind_locrit {
    ($query:expr, $locrit:expr) => {{
        let l = $locrit;
        $query
            .bind(l.id)
            .bind(&l.name)
            .bind(&l.description)
            .bind(&l.persona)
            .bind(&l.ollama_model)
            .bind(&l.ollama_url)
            .bind(Json(&l.open_to))
            .bind(Json(&l.access_to))
            .bind(enum_text(&l.memory_service))
            .bind(l.public_page.as_ref().map(Json))
            .bind(&l.public_address)
            .bind(l.active)
            .bind(&l.owner_id)
            .bind(Json(&l.extra))
            .bind(l.created_at)
            .bind(l.updated_at)
    }};
}

macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn describe(&self) -> String {
                self.description.clone()
            }

            fn peers(&self) -> Option<$crate::PeerChannel> {
                self.peer_channel()
            }

            async fn insert_locrit(&self, locrit: &Locrit) -> Result<()> {
                let sql = $crate::sql::insert_locrit();
                bind_locrit!(sqlx::query(&sql), locrit).execute(&self.writer).await?;
                Ok(())
            }

            async fn update_locrit(&self, locrit: &Locrit) -> Result<bool> {
                let sql = $crate::sql::UPDATE_LOCRIT;
                let done = bind_locrit!(sqlx::query(sql), locrit).execute(&self.writer).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn locrit(&self, id: Uuid) -> Result<Option<Locrit>> {
                let sql = $crate::sql::select_locrits("WHERE id = $1");
                let row: Option<LocritRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.map(Locrit::try_from).transpose()
            }

            async fn locrit_by_name(&self, name: &str) -> Result<Option<Locrit>> {
                let sql = $crate::sql::select_locrits("WHERE name = $1");
                let row: Option<LocritRow> =
                    sqlx::query_as(&sql).bind(name).fetch_optional(&self.pool).await?;
                row.map(Locrit::try_from).transpose()
            }

            async fn locrits(&self) -> Result<Vec<Locrit>> {
                let sql = $crate::sql::select_locrits("ORDER BY name");
                let rows: Vec<LocritRow> = sqlx::query_as(&sql).fetch_all(&self.pool).await?;
                rows.into_iter().map(Locrit::try_from).collect()
            }

            async fn delete_locrit(&self, id: Uuid) -> Result<bool> {
                let done = sqlx::query("DELETE FROM locrits WHERE id = $1")
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_session(&self, session: &NewSession) -> Result<Session> {
                let sql = format!(
                    "INSERT INTO sessions ({}) VALUES ($1, $2, $3, $4, $5, NULL, $6, 'active', \
                     $7, 0, 0, $8, $8) RETURNING {}, revision",
                    $crate::sql::SESSION_COLUMNS,
                    $crate::sql::SESSION_COLUMNS
                );
                let row: SessionRow = sqlx::query_as(&sql)
                    .bind(Uuid::now_v7())
                    .bind(session.locrit_id)
                    .bind(&session.key)
                    .bind(enum_text(&session.kind))
                    .bind(&session.name)
                    .bind(&session.user_id)
                    .bind(Json(&session.metadata))
                    .bind(now())
                    .fetch_all(&self.writer)
                    .await?
                    .pop()
                    .ok_or(StoreError::NotFound("session"))?;
                row.try_into()
            }

            async fn open_session(&self, session: &NewSession) -> Result<Session> {
                if let Some(found) = self.session(session.locrit_id, &session.key).await? {
                    return Ok(found);
                }
                match self.create_session(session).await {
                    // Another request opened it in between: read theirs.
                    Err(StoreError::Conflict(_)) => self
                        .session(session.locrit_id, &session.key)
                        .await?
                        .ok_or(StoreError::NotFound("session")),
                    created => created,
                }
            }

            async fn session(&self, locrit_id: Uuid, key: &str) -> Result<Option<Session>> {
                let sql = $crate::sql::select_sessions("WHERE locrit_id = $1 AND key = $2");
                let row: Option<SessionRow> = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(Session::try_from).transpose()
            }

            async fn session_by_key(&self, kind: SessionKind, key: &str) -> Result<Option<Session>> {
                let sql = $crate::sql::select_sessions("WHERE key = $1 AND kind = $2 LIMIT 1");
                let row: Option<SessionRow> = sqlx::query_as(&sql)
                    .bind(key)
                    .bind(enum_text(&kind))
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(Session::try_from).transpose()
            }

            async fn sessions(&self, query: &SessionQuery) -> Result<Vec<Session>> {
                let sql = $crate::sql::select_sessions(
                    "WHERE ($1 IS NULL OR locrit_id = $1) AND ($2 IS NULL OR user_id = $2) \
                     AND ($3 IS NULL OR kind = $3) \
                     AND (($4 IS NULL AND status <> 'deleted') OR status = $4) \
                     ORDER BY updated_at DESC, id DESC LIMIT $5",
                );
                let rows: Vec<SessionRow> = sqlx::query_as(&sql)
                    .bind(query.locrit_id)
                    .bind(&query.user_id)
                    .bind(query.kind.as_ref().map(enum_text))
                    .bind(query.status.as_ref().map(enum_text))
                    .bind(query.limit.map_or(i64::MAX, i64::from))
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(Session::try_from).collect()
            }

            async fn set_session_status(&self, id: Uuid, status: SessionStatus) -> Result<bool> {
                let done = sqlx::query("UPDATE sessions SET status = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(enum_text(&status))
                    .bind(now())
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_session_name(&self, id: Uuid, name: &str) -> Result<bool> {
                let done = sqlx::query("UPDATE sessions SET name = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(name)
                    .bind(now())
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_session(&self, id: Uuid) -> Result<bool> {
                let mut tx = self.writer.begin().await?;
                let locrit: Option<(Uuid,)> =
                    sqlx::query_as("SELECT locrit_id FROM sessions WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some((locrit_id,)) = locrit else {
                    return Ok(false);
                };
                sqlx::query(&$crate::sql::invalidate_memories_learned_only_from(
                    "SELECT id FROM messages WHERE locrit_id = $1 AND session_id = $2",
                ))
                .bind(locrit_id)
                .bind(id)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                let done = sqlx::query("DELETE FROM sessions WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn append_messages(&self, session_id: Uuid, messages: &[NewMessage]) -> Result<Vec<Message>> {
                let write = $crate::batch::Write::Append($crate::batch::Append::new(session_id, messages));
                Ok(self.write(write).await?.messages)
            }

            async fn append_question(
                &self,
                session_id: Uuid,
                question: &NewMessage,
                lease_until: DateTime<Utc>,
            ) -> Result<$crate::Appended> {
                let write = $crate::batch::Append {
                    awaiting_until: Some(lease_until),
                    ..$crate::batch::Append::one(session_id, Uuid::now_v7(), question)
                };
                self.write($crate::batch::Write::Append(write)).await?.appended()
            }

            async fn renew_question(&self, id: Uuid, lease_until: DateTime<Utc>) -> Result<bool> {
                let done = sqlx::query("UPDATE awaited_replies SET lease_until = $2 WHERE message_id = $1")
                    .bind(id)
                    .bind(lease_until)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn start_reply(
                &self,
                session_id: Uuid,
                reply: &NewMessage,
                lease_until: DateTime<Utc>,
                answers: Uuid,
            ) -> Result<Message> {
                let write = $crate::batch::Append {
                    lease_until: Some(lease_until),
                    answers: Some(answers),
                    ..$crate::batch::Append::one(session_id, Uuid::now_v7(), reply)
                };
                let mut started = self.write($crate::batch::Write::Append(write)).await?.messages;
                Ok(started.remove(0))
            }

            async fn append_reply(
                &self,
                session_id: Uuid,
                id: Uuid,
                reply: &NewMessage,
                answers: Uuid,
                job: Option<&NewJob>,
            ) -> Result<$crate::Appended> {
                let write = $crate::batch::Append {
                    answers: Some(answers),
                    job: job.cloned(),
                    ..$crate::batch::Append::one(session_id, id, reply)
                };
                self.write($crate::batch::Write::Append(write)).await?.appended()
            }

            async fn checkpoint_reply(
                &self,
                locrit_id: Uuid,
                id: Uuid,
                content: &str,
                lease_until: DateTime<Utc>,
            ) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE messages SET content = $3, lease_until = $4 \
                     WHERE locrit_id = $1 AND id = $2 AND status = 'streaming'",
                )
                .bind(locrit_id)
                .bind(id)
                .bind(content)
                .bind(lease_until)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_reply(
                &self,
                locrit_id: Uuid,
                id: Uuid,
                reply: &NewMessage,
                job: Option<&NewJob>,
            ) -> Result<Option<(Message, Option<Job>)>> {
                let write = $crate::batch::Write::Finish {
                    locrit_id,
                    id,
                    reply: reply.clone(),
                    job: job.cloned(),
                };
                let written = self.write(write).await?;
                Ok(written.messages.into_iter().next().map(|message| (message, written.job)))
            }

            async fn settle_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Message>> {
                let rows: Vec<MessageRow> = sqlx::query_as(concat!(
                    message_select!(),
                    "WHERE (m.status = 'streaming' AND m.lease_until < $1) \
                     OR m.id IN (SELECT message_id FROM awaited_replies WHERE lease_until < $1) \
                     ORDER BY m.created_at"
                ))
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                let mut settled = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut message = Message::try_from(row)?;
                    let mut tx = self.writer.begin().await?;
                    // Each lease is tested again: a server that renewed it meanwhile keeps it.
                    let expired = if message.status == MessageStatus::Streaming {
                        message.status = MessageStatus::Interrupted;
                        message.metadata["error"] = Value::from("the server generating this reply stopped");
                        sqlx::query(
                            "UPDATE messages SET lease_until = NULL \
                             WHERE id = $1 AND status = 'streaming' AND lease_until < $2",
                        )
                    } else {
                        message.metadata["unanswered"] =
                            Value::from("the server handling this turn stopped before the reply began");
                        sqlx::query("DELETE FROM awaited_replies WHERE message_id = $1 AND lease_until < $2")
                    }
                    .bind(message.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if expired.rows_affected() == 0 {
                        tx.rollback().await?;
                        continue;
                    }
                    sqlx::query("UPDATE messages SET status = $2, metadata = $3 WHERE id = $1")
                        .bind(message.id)
                        .bind(message.status.as_str())
                        .bind(Json(&message.metadata))
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    settled.push(message);
                }
                Ok(settled)
            }

            async fn messages(&self, session_id: Uuid, page: MessagePage) -> Result<Vec<Message>> {
                let rows: Vec<MessageRow> = match page {
                    MessagePage::Before { before, limit } => {
                        let mut rows: Vec<MessageRow> = sqlx::query_as(concat!(
                            message_select!(),
                            "WHERE m.session_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
                        ))
                        .bind(session_id)
                        .bind(before.unwrap_or(i64::MAX))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                        rows.reverse();
                        rows
                    }
                    MessagePage::After { after, limit } => {
                        sqlx::query_as(concat!(
                            message_select!(),
                            "WHERE m.session_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3"
                        ))
                        .bind(session_id)
                        .bind(after)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?
                    }
                };
                rows.into_iter().map(Message::try_from).collect()
            }

            async fn message(&self, locrit_id: Uuid, id: Uuid) -> Result<Option<Message>> {
                let row: Option<MessageRow> =
                    sqlx::query_as(concat!(message_select!(), "WHERE m.locrit_id = $1 AND m.id = $2"))
                        .bind(locrit_id)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(Message::try_from).transpose()
            }

            async fn edit_message(
                &self,
                locrit_id: Uuid,
                id: Uuid,
                content: &str,
            ) -> Result<Option<Message>> {
                let done = sqlx::query(
                    "UPDATE messages SET content = $3, edited_at = $4 WHERE locrit_id = $1 AND id = $2",
                )
                .bind(locrit_id)
                .bind(id)
                .bind(content)
                .bind(now())
                .execute(&self.writer)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                self.message(locrit_id, id).await
            }

            async fn mark_unanswered(&self, locrit_id: Uuid, id: Uuid, metadata: &Value) -> Result<bool> {
                let mut tx = self.writer.begin().await?;
                let done = sqlx::query("UPDATE messages SET metadata = $3 WHERE locrit_id = $1 AND id = $2")
                    .bind(locrit_id)
                    .bind(id)
                    .bind(Json(metadata))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                sqlx::query($crate::sql::END_WAIT)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_message(&self, locrit_id: Uuid, id: Uuid) -> Result<bool> {
                let mut tx = self.writer.begin().await?;
                sqlx::query(&$crate::sql::invalidate_memories_learned_only_from(
                    "SELECT id FROM messages WHERE locrit_id = $1 AND id = $2",
                ))
                .bind(locrit_id)
                .bind(id)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                let session: Option<(Uuid,)> = sqlx::query_as(
                    "DELETE FROM messages WHERE locrit_id = $1 AND id = $2 RETURNING session_id",
                )
                .bind(locrit_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((session_id,)) = session else {
                    tx.rollback().await?;
                    return Ok(false);
                };
                sqlx::query(
                    "UPDATE sessions SET message_count = message_count - 1, updated_at = $2 WHERE id = $1",
                )
                .bind(session_id)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn recent_messages(&self, locrit_id: Uuid, limit: u32) -> Result<Vec<Message>> {
                let rows: Vec<MessageRow> = sqlx::query_as(concat!(
                    message_select!(),
                    "WHERE m.locrit_id = $1 AND s.status <> 'deleted' \
                     ORDER BY m.created_at DESC, m.seq DESC LIMIT $2"
                ))
                .bind(locrit_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(Message::try_from).collect()
            }

            async fn search_messages(
                &self,
                locrit_id: Uuid,
                text: &str,
                limit: u32,
            ) -> Result<Vec<Message>> {
                let rows: Vec<MessageRow> = sqlx::query_as(concat!(
                    message_select!(),
                    "WHERE m.locrit_id = $1 AND s.status <> 'deleted' \
                     AND LOWER(m.content) LIKE $2 ESCAPE '\\' \
                     ORDER BY m.created_at DESC, m.seq DESC LIMIT $3"
                ))
                .bind(locrit_id)
                .bind($crate::sql::contains_pattern(text))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(Message::try_from).collect()
            }

            async fn locrit_stats(&self, locrit_id: Uuid) -> Result<LocritStats> {
                let (messages, sessions, concepts, memories, users): (i64, i64, i64, i64, i64) =
                    sqlx::query_as(
                        "SELECT \
                         (SELECT COUNT(*) FROM messages m JOIN sessions s ON s.id = m.session_id \
                          WHERE m.locrit_id = $1 AND s.status <> 'deleted'), \
                         (SELECT COUNT(*) FROM sessions WHERE locrit_id = $1 AND status <> 'deleted'), \
                         (SELECT COUNT(*) FROM concepts WHERE locrit_id = $1), \
                         (SELECT COUNT(*) FROM memories WHERE locrit_id = $1), \
                         (SELECT COUNT(DISTINCT m.user_id) FROM messages m \
                          JOIN sessions s ON s.id = m.session_id \
                          WHERE m.locrit_id = $1 AND s.status <> 'deleted' \
                          AND m.user_id IS NOT NULL AND m.user_id <> '')",
                    )
                    .bind(locrit_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(LocritStats { messages, sessions, concepts, memories, users })
            }

            async fn server_stats(&self, since: DateTime<Utc>) -> Result<ServerStats> {
                let (locrits, active_locrits, sessions, messages, messages_since): (i64, i64, i64, i64, i64) =
                    sqlx::query_as(
                        "SELECT \
                         (SELECT COUNT(*) FROM locrits), \
                         (SELECT COUNT(*) FROM locrits WHERE active), \
                         (SELECT COUNT(*) FROM sessions WHERE status <> 'deleted'), \
                         (SELECT COUNT(*) FROM messages m JOIN sessions s ON s.id = m.session_id \
                          WHERE s.status <> 'deleted'), \
                         (SELECT COUNT(*) FROM messages m JOIN sessions s ON s.id = m.session_id \
                          WHERE s.status <> 'deleted' AND m.created_at >= $1)",
                    )
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(ServerStats { locrits, active_locrits, sessions, messages, messages_since })
            }

            async fn message_times(
                &self,
                locrit_id: Uuid,
                since: DateTime<Utc>,
            ) -> Result<Vec<DateTime<Utc>>> {
                let times: Vec<(DateTime<Utc>,)> = sqlx::query_as(
                    "SELECT m.created_at FROM messages m JOIN sessions s ON s.id = m.session_id \
                     WHERE m.locrit_id = $1 AND m.created_at >= $2 AND s.status <> 'deleted' \
                     ORDER BY m.created_at",
                )
                .bind(locrit_id)
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
                Ok(times.into_iter().map(|(time,)| time).collect())
            }

            async fn insert_memory(&self, locrit_id: Uuid, memory: &NewMemory) -> Result<Memory> {
                let mut tx = self.writer.begin().await?;
                let sql = format!(
                    "INSERT INTO memories (id, locrit_id, content, importance, metadata, tags, \
                     source_message_ids, pinned, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {}",
                    $crate::sql::MEMORY_COLUMNS
                );
                let row: MemoryRow = sqlx::query_as(&sql)
                    .bind(Uuid::now_v7())
                    .bind(locrit_id)
                    .bind(&memory.content)
                    .bind(memory.importance)
                    .bind(Json(&memory.metadata))
                    .bind(Json(&memory.tags))
                    .bind(Json(&memory.source_message_ids))
                    .bind(memory.pinned)
                    .bind(now())
                    .fetch_one(&mut *tx)
                    .await?;
                let stored = Memory::from(row);
                for source in &memory.source_message_ids {
                    sqlx::query(
                        "INSERT INTO memory_sources (memory_id, message_id) \
                         SELECT $1, id FROM messages WHERE locrit_id = $2 AND id = $3 \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(stored.id)
                    .bind(locrit_id)
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
                }
                for old in &memory.supersedes {
                    sqlx::query(
                        "UPDATE memories SET superseded_by = $1 WHERE locrit_id = $2 AND id = $3",
                    )
                    .bind(stored.id)
                    .bind(locrit_id)
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(stored)
            }

            async fn memory(&self, locrit_id: Uuid, id: Uuid) -> Result<Option<Memory>> {
                let sql = $crate::sql::select_memories("WHERE locrit_id = $1 AND id = $2");
                let row: Option<MemoryRow> = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(Memory::from))
            }

            async fn update_memory(
                &self,
                locrit_id: Uuid,
                id: Uuid,
                changes: &$crate::MemoryChanges,
            ) -> Result<Option<Memory>> {
                let sql = format!(
                    "UPDATE memories SET content = COALESCE($3, content), \
                     importance = COALESCE($4, importance), metadata = COALESCE($5, metadata), \
                     tags = COALESCE($6, tags), pinned = COALESCE($7, pinned), updated_at = $8 \
                     WHERE locrit_id = $1 AND id = $2 RETURNING {}",
                    $crate::sql::MEMORY_COLUMNS
                );
                let row: Option<MemoryRow> = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .bind(id)
                    .bind(&changes.content)
                    .bind(changes.importance)
                    .bind(changes.metadata.as_ref().map(Json))
                    .bind(changes.tags.as_ref().map(Json))
                    .bind(changes.pinned)
                    .bind(now())
                    .fetch_all(&self.writer)
                    .await?
                    .pop();
                Ok(row.map(Memory::from))
            }

            async fn memories(
                &self,
                locrit_id: Uuid,
                query: &$crate::MemoryQuery,
            ) -> Result<Vec<Memory>> {
                // The pinned ones, which every turn recalls, through their own index
                // (`memories_pinned`: only a literal `pinned = TRUE` matches it).
                let pinned = if query.pinned_only { "AND pinned = TRUE" } else { "" };
                let sql = $crate::sql::select_memories(&format!(
                    "WHERE locrit_id = $1 AND ($2 IS NULL OR id < $2) \
                     AND ($3 = FALSE OR (superseded_by IS NULL AND invalidated_at IS NULL)) \
                     {pinned} ORDER BY id DESC LIMIT $4",
                ));
                let rows: Vec<MemoryRow> = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .bind(query.before)
                    .bind(query.current_only)
                    .bind(query.limit.map_or(i64::MAX, i64::from))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Memory::from).collect())
            }

            async fn delete_memory(&self, locrit_id: Uuid, id: Uuid) -> Result<bool> {
                let done = sqlx::query("DELETE FROM memories WHERE locrit_id = $1 AND id = $2")
                    .bind(locrit_id)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn mention_concept(
                &self,
                locrit_id: Uuid,
                name: &str,
                kind: &str,
                description: Option<&str>,
            ) -> Result<Concept> {
                let sql = format!(
                    "INSERT INTO concepts ({columns}) VALUES ($1, $2, $3, $4, $5, 0.5, 1, $6, $6) \
                     ON CONFLICT (locrit_id, name, kind) DO UPDATE SET \
                     mentions = concepts.mentions + 1, last_mentioned = excluded.last_mentioned, \
                     description = COALESCE(excluded.description, concepts.description) \
                     RETURNING {columns}",
                    columns = $crate::sql::CONCEPT_COLUMNS
                );
                let row: ConceptRow = sqlx::query_as(&sql)
                    .bind(Uuid::now_v7())
                    .bind(locrit_id)
                    .bind(name)
                    .bind(kind)
                    .bind(description)
                    .bind(now())
                    .fetch_all(&self.writer)
                    .await?
                    .pop()
                    .ok_or(StoreError::NotFound("concept"))?;
                Ok(row.into())
            }

            async fn concepts(&self, locrit_id: Uuid) -> Result<Vec<Concept>> {
                let sql = format!(
                    "SELECT {} FROM concepts WHERE locrit_id = $1 ORDER BY mentions DESC, name",
                    $crate::sql::CONCEPT_COLUMNS
                );
                let rows: Vec<ConceptRow> =
                    sqlx::query_as(&sql).bind(locrit_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Concept::from).collect())
            }

            async fn update_concept(
                &self,
                locrit_id: Uuid,
                id: Uuid,
                changes: &$crate::ConceptChanges,
            ) -> Result<Option<Concept>> {
                let sql = format!(
                    "UPDATE concepts SET name = COALESCE($3, name), \
                     description = COALESCE($4, description), \
                     confidence = COALESCE($5, confidence) \
                     WHERE locrit_id = $1 AND id = $2 RETURNING {}",
                    $crate::sql::CONCEPT_COLUMNS
                );
                let row: Option<ConceptRow> = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .bind(id)
                    .bind(&changes.name)
                    .bind(&changes.description)
                    .bind(changes.confidence)
                    .fetch_all(&self.writer)
                    .await?
                    .pop();
                Ok(row.map(Concept::from))
            }

            async fn delete_concept(&self, locrit_id: Uuid, id: Uuid) -> Result<bool> {
                let mut tx = self.writer.begin().await?;
                let done = sqlx::query("DELETE FROM concepts WHERE locrit_id = $1 AND id = $2")
                    .bind(locrit_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                sqlx::query("DELETE FROM concept_relations WHERE from_id = $1 OR to_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn relate_concepts(&self, from: Uuid, to: Uuid, relation: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO concept_relations (from_id, to_id, relation) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(from)
                .bind(to)
                .bind(relation)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn concept_neighbours(&self, id: Uuid) -> Result<Vec<(Concept, String)>> {
                let columns = $crate::sql::CONCEPT_COLUMNS
                    .split(", ")
                    .map(|c| format!("c.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "SELECT {columns}, r.relation FROM concept_relations r \
                     JOIN concepts c ON c.id = r.to_id WHERE r.from_id = $1 \
                     UNION SELECT {columns}, r.relation FROM concept_relations r \
                     JOIN concepts c ON c.id = r.from_id WHERE r.to_id = $1"
                );
                let rows: Vec<(ConceptRow, String)> = sqlx::query(&sql)
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| {
                        let concept = <ConceptRow as sqlx::FromRow<_>>::from_row(row)?;
                        Ok((concept, sqlx::Row::try_get::<String, _>(row, "relation")?))
                    })
                    .collect::<Result<_, sqlx::Error>>()?;
                let mut related: Vec<(Concept, String)> =
                    rows.into_iter().map(|(c, r)| (Concept::from(c), r)).collect();
                related.sort_by(|a, b| (&a.0.name, &a.1).cmp(&(&b.0.name, &b.1)));
                Ok(related)
            }

            async fn clear_memory(&self, locrit_id: Uuid) -> Result<u64> {
                let mut tx = self.writer.begin().await?;
                // Children first, so no foreign key (nor a missing cascade) stands in the way.
                sqlx::query(
                    "DELETE FROM concept_relations WHERE from_id IN \
                     (SELECT id FROM concepts WHERE locrit_id = $1) \
                     OR to_id IN (SELECT id FROM concepts WHERE locrit_id = $1)",
                )
                .bind(locrit_id)
                .execute(&mut *tx)
                .await?;
                for sql in [
                    "DELETE FROM client_conversations WHERE locrit_id = $1",
                    "DELETE FROM messages WHERE locrit_id = $1",
                    "DELETE FROM memories WHERE locrit_id = $1",
                    "DELETE FROM concepts WHERE locrit_id = $1",
                ] {
                    sqlx::query(sql).bind(locrit_id).execute(&mut *tx).await?;
                }
                let sessions = sqlx::query("DELETE FROM sessions WHERE locrit_id = $1")
                    .bind(locrit_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(sessions.rows_affected())
            }

            async fn concept_relations(&self, locrit_id: Uuid) -> Result<Vec<(Uuid, Uuid, String)>> {
                let rows: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
                    "SELECT r.from_id, r.to_id, r.relation FROM concept_relations r \
                     JOIN concepts c ON c.id = r.from_id WHERE c.locrit_id = $1 \
                     ORDER BY r.from_id, r.to_id, r.relation",
                )
                .bind(locrit_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows)
            }

            async fn begin_import(&self) -> Result<Box<dyn $crate::Import>> {
                self.open_import().await
            }

            async fn client_conversation(
                &self,
                locrit_id: Uuid,
                fingerprint: &str,
            ) -> Result<Option<Session>> {
                let sql = $crate::sql::select_sessions(
                    "WHERE id IN (SELECT c.session_id FROM client_conversations c \
                     WHERE c.locrit_id = $1 AND c.fingerprint = $2 \
                     AND c.last_seq = sessions.last_seq) AND status <> 'deleted'",
                );
                let row: Option<SessionRow> = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .bind(fingerprint)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(Session::try_from).transpose()
            }

            async fn put_client_conversation(
                &self,
                locrit_id: Uuid,
                fingerprint: &str,
                session_id: Uuid,
                last_seq: i64,
            ) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                // Only a session's latest state can match (its last_seq moves on), so
                // its earlier records are dead weight.
                sqlx::query("DELETE FROM client_conversations WHERE session_id = $1")
                    .bind(session_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO client_conversations \
                     (locrit_id, fingerprint, session_id, last_seq, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (locrit_id, fingerprint) DO UPDATE \
                     SET session_id = excluded.session_id, last_seq = excluded.last_seq, \
                     created_at = excluded.created_at",
                )
                .bind(locrit_id)
                .bind(fingerprint)
                .bind(session_id)
                .bind(last_seq)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn enqueue_job(&self, job: &NewJob) -> Result<Job> {
                let mut conn = self.writer.acquire().await?;
                Self::insert_job(&mut conn, job).await
            }

            async fn claim_job(
                &self,
                kinds: &[&str],
                owner: &str,
                lease_until: DateTime<Utc>,
            ) -> Result<Option<Job>> {
                let due = "((status = 'queued' AND run_after <= $3) \
                    OR (status = 'running' AND lease_until < $3))";
                let kind_list = (0..kinds.len())
                    .map(|i| format!("${}", i + 4))
                    .collect::<Vec<_>>()
                    .join(", ");
                // The outer test repeats `due`: on PostgreSQL, a claim that raced another
                // re-checks the row it waited for and finds it taken.
                let sql = format!(
                    "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, \
                     attempts = attempts + 1, updated_at = $3 \
                     WHERE id = (SELECT id FROM jobs WHERE {due} AND kind IN ({kind_list}) \
                     ORDER BY run_after, id LIMIT 1) AND {due} RETURNING {}",
                    $crate::sql::JOB_COLUMNS
                );
                let mut claim = sqlx::query_as(&sql).bind(owner).bind(lease_until).bind(now());
                for kind in kinds {
                    claim = claim.bind(*kind);
                }
                let row: Option<JobRow> = claim.fetch_all(&self.writer).await?.pop();
                row.map(Job::try_from).transpose()
            }

            async fn finish_job(
                &self,
                id: Uuid,
                owner: &str,
                outcome: &$crate::JobOutcome,
            ) -> Result<Option<Job>> {
                let (status, error, run_after) = match outcome {
                    $crate::JobOutcome::Done => ("done", None, None),
                    $crate::JobOutcome::Retry { error, at } => ("queued", Some(error), Some(*at)),
                    $crate::JobOutcome::Failed { error } => ("failed", Some(error), None),
                };
                let sql = format!(
                    "UPDATE jobs SET status = $3, last_error = COALESCE($4, last_error), \
                     run_after = COALESCE($5, run_after), lease_owner = NULL, lease_until = NULL, \
                     updated_at = $6 WHERE id = $1 AND lease_owner = $2 AND status = 'running' \
                     RETURNING {}",
                    $crate::sql::JOB_COLUMNS
                );
                let row: Option<JobRow> = sqlx::query_as(&sql)
                    .bind(id)
                    .bind(owner)
                    .bind(status)
                    .bind(error)
                    .bind(run_after)
                    .bind(now())
                    .fetch_optional(&self.writer)
                    .await?;
                row.map(Job::try_from).transpose()
            }

            async fn renew_job(&self, id: Uuid, owner: &str, lease_until: DateTime<Utc>) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
                )
                .bind(id)
                .bind(owner)
                .bind(lease_until)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn job(&self, id: Uuid) -> Result<Option<Job>> {
                let sql = $crate::sql::select_jobs("WHERE id = $1");
                let row: Option<JobRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.map(Job::try_from).transpose()
            }

            async fn jobs(&self, query: &$crate::JobQuery) -> Result<Vec<Job>> {
                let sql = $crate::sql::select_jobs(
                    "WHERE ($1 IS NULL OR locrit_id = $1) AND ($2 IS NULL OR status = $2) \
                     AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
                );
                let rows: Vec<JobRow> = sqlx::query_as(&sql)
                    .bind(query.locrit_id)
                    .bind(query.status.as_ref().map(enum_text))
                    .bind(query.before)
                    .bind(query.limit.map_or(i64::MAX, i64::from))
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(Job::try_from).collect()
            }

            async fn retry_job(&self, id: Uuid) -> Result<Option<Job>> {
                let sql = format!(
                    "UPDATE jobs SET status = 'queued', attempts = 0, run_after = $2, \
                     updated_at = $2 WHERE id = $1 AND status = 'failed' RETURNING {}",
                    $crate::sql::JOB_COLUMNS
                );
                let row: Option<JobRow> = sqlx::query_as(&sql)
                    .bind(id)
                    .bind(now())
                    .fetch_all(&self.writer)
                    .await?
                    .pop();
                row.map(Job::try_from).transpose()
            }

            async fn setting(&self, key: &str) -> Result<Option<Value>> {
                let row: Option<(Json<Value>,)> =
                    sqlx::query_as("SELECT value FROM server_settings WHERE key = $1")
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(value,)| value.0))
            }

            async fn count_rate_hit(
                &self,
                key: &str,
                window_start: DateTime<Utc>,
                forget_before: DateTime<Utc>,
            ) -> Result<i64> {
                let mut tx = self.writer.begin().await?;
                sqlx::query("DELETE FROM rate_windows WHERE window_start < $1")
                    .bind(forget_before)
                    .execute(&mut *tx)
                    .await?;
                let (hits,): (i64,) = sqlx::query_as(
                    "INSERT INTO rate_windows (key, window_start, hits) VALUES ($1, $2, 1) \
                     ON CONFLICT (key) DO UPDATE SET \
                     hits = CASE WHEN rate_windows.window_start = excluded.window_start \
                     THEN rate_windows.hits + 1 ELSE 1 END, window_start = excluded.window_start \
                     RETURNING hits",
                )
                .bind(key)
                .bind(window_start)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(hits)
            }

            async fn put_setting(&self, key: &str, value: &Value) -> Result<()> {
                sqlx::query($crate::sql::PUT_SETTING)
                .bind(key)
                .bind(Json(value))
                .bind(now())
                .execute(&self.writer)
                .await?;
                Ok(())
            }
        }

        impl $store {
            async fn insert_job(conn: &mut <$db as sqlx::Database>::Connection, job: &NewJob) -> Result<Job> {
                let sql = format!(
                    "INSERT INTO jobs (id, kind, locrit_id, payload, status, attempts, \
                     max_attempts, run_after, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'queued', 0, $5, $7, $6, $6) RETURNING {}",
                    $crate::sql::JOB_COLUMNS
                );
                let row: JobRow = sqlx::query_as(&sql)
                    .bind(Uuid::now_v7())
                    .bind(&job.kind)
                    .bind(job.locrit_id)
                    .bind(Json(&job.payload))
                    .bind(job.max_attempts)
                    .bind(now())
                    .bind(job.run_after.unwrap_or_else(now))
                    .fetch_one(&mut *conn)
                    .await?;
                Job::try_from(row)
            }

            /// Applies one write inside an open transaction. Nothing is written when it
            /// fails on a missing session.
            async fn apply_write(
                conn: &mut <$db as sqlx::Database>::Connection,
                write: &$crate::batch::Write,
            ) -> Result<$crate::batch::Written> {
                use $crate::batch::{Write, Written};
                let (messages, job, revisions) = match write {
                    Write::Append($crate::batch::Append { session_id, messages, lease_until, awaiting_until, answers, job }) => {
                        let (appended, revisions) = Self::insert_messages(conn, *session_id, messages, *lease_until).await?;
                        if let Some(lease_until) = awaiting_until {
                            for question in &appended {
                                sqlx::query("INSERT INTO awaited_replies (message_id, lease_until) VALUES ($1, $2)")
                                    .bind(question.id)
                                    .bind(lease_until)
                                    .execute(&mut *conn)
                                    .await?;
                            }
                        }
                        if let Some(question) = answers {
                            sqlx::query($crate::sql::END_WAIT)
                                .bind(question)
                                .execute(&mut *conn)
                                .await?;
                        }
                        (appended, job, Some(revisions))
                    }
                    Write::Finish { locrit_id, id, reply, job } => {
                        let done = sqlx::query(
                            "UPDATE messages SET content = $3, status = $4, metadata = $5, lease_until = NULL \
                             WHERE locrit_id = $1 AND id = $2",
                        )
                        .bind(locrit_id)
                        .bind(id)
                        .bind(&reply.content)
                        .bind(reply.status.as_str())
                        .bind(Json(&reply.metadata))
                        .execute(&mut *conn)
                        .await?;
                        if done.rows_affected() == 0 {
                            // No such reply: no job for it either.
                            return Ok(Written::default());
                        }
                        let row: MessageRow = sqlx::query_as(concat!(
                            message_select!(),
                            "WHERE m.locrit_id = $1 AND m.id = $2"
                        ))
                        .bind(locrit_id)
                        .bind(id)
                        .fetch_one(&mut *conn)
                        .await?;
                        (vec![Message::try_from(row)?], job, None)
                    }
                };
                let job = match job {
                    Some(job) => Some(Self::insert_job(conn, job).await?),
                    None => None,
                };
                Ok(Written { messages, job, revisions })
            }

            /// Commits writes in one transaction, each in its own savepoint when there
            /// are several: a write that fails on its own (its session was deleted)
            /// fails alone; a failed commit fails every write of the batch. Every
            /// caller is answered only after the commit.
            async fn commit_writes(writer: &sqlx::Pool<$db>, batch: Vec<$crate::batch::Pending>) {
                use sqlx::Acquire;
                let mut tx = match writer.begin().await {
                    Ok(tx) => tx,
                    Err(error) => {
                        let error = StoreError::from(error);
                        for pending in batch {
                            pending.answer(Err(error.for_each_caller()));
                        }
                        return;
                    }
                };
                let shared = batch.len() > 1;
                let mut applied = Vec::with_capacity(batch.len());
                // Set when the transaction itself failed: every write in it is lost.
                let mut broken: Option<StoreError> = None;
                for pending in batch {
                    if let Some(error) = &broken {
                        pending.answer(Err(error.for_each_caller()));
                        continue;
                    }
                    if !shared {
                        match Self::apply_write(&mut tx, &pending.write).await {
                            Ok(written) => applied.push((pending, written)),
                            Err(error) => pending.answer(Err(error)),
                        }
                        continue;
                    }
                    let mut savepoint = match tx.begin().await {
                        Ok(savepoint) => savepoint,
                        Err(error) => {
                            let error = StoreError::from(error);
                            pending.answer(Err(error.for_each_caller()));
                            broken = Some(error);
                            continue;
                        }
                    };
                    match Self::apply_write(&mut savepoint, &pending.write).await {
                        Ok(written) => match savepoint.commit().await {
                            Ok(()) => applied.push((pending, written)),
                            Err(error) => {
                                let error = StoreError::from(error);
                                pending.answer(Err(error.for_each_caller()));
                                broken = Some(error);
                            }
                        },
                        Err(error) => {
                            // Undoing only this write fails when the statement's
                            // error ended the whole transaction.
                            if let Err(undo) = savepoint.rollback().await {
                                broken = Some(StoreError::from(undo));
                            }
                            pending.answer(Err(error));
                        }
                    }
                }
                // Rolled back explicitly: a dropped transaction would keep its locks
                // until the connection is next used.
                let committed = match broken {
                    Some(error) => {
                        let _ = tx.rollback().await;
                        Err(error)
                    }
                    None if applied.is_empty() => {
                        let _ = tx.rollback().await;
                        Ok(())
                    }
                    None => tx.commit().await.map_err(StoreError::from),
                };
                match committed {
                    Ok(()) => {
                        for (pending, written) in applied {
                            pending.answer(Ok(written));
                        }
                    }
                    Err(error) => {
                        for (pending, _) in applied {
                            pending.answer(Err(error.for_each_caller()));
                        }
                    }
                }
            }

            /// Appends messages in order, with their ids; `lease_until` marks them
            /// replies still streaming. `NotFound` (nothing written) for a session
            /// that does not exist.
            async fn insert_messages(
                conn: &mut <$db as sqlx::Database>::Connection,
                session_id: Uuid,
                messages: &[(Uuid, NewMessage)],
                lease_until: Option<DateTime<Utc>>,
            ) -> Result<(Vec<Message>, $crate::Revisions)> {
                let created_at = now();
                let count = messages.len() as i64;
                // Writing first takes the session's lock at once, so concurrent appends queue
                // here instead of failing a read-to-write upgrade.
                let session: Option<(i64, String, Uuid, i64)> = sqlx::query_as(
                    "UPDATE sessions SET last_seq = last_seq + $3, message_count = message_count + $3, \
                     updated_at = $2 WHERE id = $1 RETURNING last_seq, key, locrit_id, revision",
                )
                .bind(session_id)
                .bind(created_at)
                .bind(count)
                .fetch_optional(&mut *conn)
                .await?;
                let Some((last_seq, key, locrit_id, revision)) = session else {
                    return Err(StoreError::NotFound("session"));
                };
                let mut appended = Vec::with_capacity(messages.len());
                for (seq, (id, message)) in (last_seq - count + 1..).zip(messages) {
                    sqlx::query(
                        "INSERT INTO messages (id, session_id, locrit_id, seq, role, content, user_id, \
                         status, metadata, created_at, lease_until) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(id)
                    .bind(session_id)
                    .bind(locrit_id)
                    .bind(seq)
                    .bind(message.role.as_str())
                    .bind(&message.content)
                    .bind(&message.user_id)
                    .bind(message.status.as_str())
                    .bind(Json(&message.metadata))
                    .bind(created_at)
                    .bind(lease_until)
                    .execute(&mut *conn)
                    .await?;
                    appended.push(Message {
                        id: *id,
                        locrit_id,
                        session_id: key.clone(),
                        seq,
                        role: message.role,
                        content: message.content.clone(),
                        user_id: message.user_id.clone(),
                        status: message.status,
                        metadata: message.metadata.clone(),
                        timestamp: created_at,
                        edited_at: None,
                    });
                }
                // Each row inserted moved the revision one step (the migrations' triggers).
                let revisions = $crate::Revisions {
                    before: revision,
                    after: revision + count,
                };
                Ok((appended, revisions))
            }
        }
    };
}

pub(crate) use {bind_locrit, impl_store, message_select};
