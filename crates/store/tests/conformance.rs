//! One behaviour, two stores: every case runs on SQLite, and on PostgreSQL in the
//! PostgreSQL suite (`cargo test -- --ignored` with `LOCRIT_TEST_POSTGRES_URL` set).

use std::sync::Arc;

use locrit_domain::{
    Account, AccountRole, ApiKey, Budget, Contact, Dialogue, DialogueStatus, Invitation, JobStatus,
    KeyScopes, Locrit, MessageStatus, NewJob, NewLocrit, NewMemory, NewMessage, NewSession,
    Partner, Role, Session, SessionKind, SessionStatus, Side,
};
use locrit_store::{
    Appended, ConceptChanges, JobOutcome, JobQuery, MemoryChanges, MemoryQuery, MessagePage,
    Restore, SessionQuery, Store, StoreConfig, StoreError,
};
use locrit_testkit::TestDatabase;
use serde_json::json;
use uuid::Uuid;

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    let config = StoreConfig::new(db.url());
    locrit_store::open(&config).await.expect("open the store")
}

fn locrit(name: &str) -> Locrit {
    NewLocrit {
        name: name.into(),
        ollama_model: "llama3.2".into(),
        ..Default::default()
    }
    .into_locrit("http://localhost:11434")
    .expect("a valid Locrit")
}

fn chat(locrit_id: Uuid, key: &str) -> NewSession {
    NewSession {
        locrit_id,
        key: key.into(),
        kind: SessionKind::Chat,
        name: None,
        user_id: Some("alice".into()),
        metadata: json!({}),
    }
}

fn said(role: Role, text: &str) -> NewMessage {
    NewMessage {
        user_id: Some("alice".into()),
        ..NewMessage::new(role, text)
    }
}

mod cases {
    use super::*;

    /// Every change to a session's messages moves its revision, whatever wrote it, and
    /// an append says the revisions around it: a copy of the history made at `before`,
    /// with what it added, is the session at `after`.
    pub async fn every_change_to_a_sessions_messages_moves_its_revision(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s")).await.unwrap();
        store.create_session(&chat(bob.id, "other")).await.unwrap();
        let revision = |key: &'static str| {
            let store = store.clone();
            async move { store.session(bob.id, key).await.unwrap().unwrap().revision }
        };
        let start = revision("s").await;
        assert_eq!(start, session.revision);
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        let question = store
            .append_question(session.id, &said(Role::User, "hello"), later)
            .await
            .unwrap();
        assert_eq!(question.revisions.before, start);
        assert!(question.revisions.after > start);
        assert_eq!(revision("s").await, question.revisions.after);
        let reply = store
            .append_reply(
                session.id,
                Uuid::now_v7(),
                &said(Role::Assistant, "hi"),
                question.message.id,
                None,
            )
            .await
            .unwrap();
        assert_eq!(reply.revisions.before, question.revisions.after);
        assert_eq!(revision("s").await, reply.revisions.after);

        // Changes made by any other path move it too, each, and only this session's.
        let mut seen = reply.revisions.after;
        let untouched = revision("other").await;
        let (asked, answered) = (question.message.id, reply.message.id);
        for change in ["append", "edit", "mark unanswered", "delete"] {
            match change {
                "append" => drop(
                    store
                        .append_message(session.id, &said(Role::User, "more"))
                        .await
                        .unwrap(),
                ),
                "edit" => drop(
                    store
                        .edit_message(bob.id, asked, "hello!")
                        .await
                        .unwrap()
                        .unwrap(),
                ),
                "mark unanswered" => assert!(
                    store
                        .mark_unanswered(bob.id, asked, &json!({"unanswered": "x"}))
                        .await
                        .unwrap()
                ),
                _ => assert!(store.delete_message(bob.id, answered).await.unwrap()),
            }
            let now = revision("s").await;
            assert!(now > seen, "{change} moved the revision: {seen} -> {now}");
            seen = now;
        }
        assert_eq!(revision("other").await, untouched);
        // Reading moves nothing.
        store
            .messages(
                session.id,
                MessagePage::Before {
                    before: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(revision("s").await, seen);
    }

    pub async fn locrits_round_trip_with_unicode_names(store: Arc<dyn Store>) {
        let mut names = vec!["Pixie l'Organisateur", "v1.2", "Élodie", "Bob Technique"];
        for name in &names {
            let mut l = locrit(name);
            l.extra.insert("unknown_key".into(), json!({"kept": true}));
            store.insert_locrit(&l).await.unwrap();
            assert_eq!(store.locrit(l.id).await.unwrap().as_ref(), Some(&l));
            assert_eq!(store.locrit_by_name(name).await.unwrap().as_ref(), Some(&l));
        }
        assert_eq!(
            store.locrit_by_name("bob technique").await.unwrap(),
            None,
            "case-sensitive"
        );
        names.sort();
        let listed: Vec<String> = store
            .locrits()
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(listed, names);
    }

    pub async fn names_are_unique_on_insert_and_rename(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let err = store.insert_locrit(&locrit("Bob")).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let mut alice = locrit("Alice");
        store.insert_locrit(&alice).await.unwrap();
        alice.name = "Bob".into();
        let err = store.update_locrit(&alice).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.locrit(alice.id).await.unwrap().unwrap().name, "Alice");
    }

    pub async fn concurrent_creates_of_one_name_let_exactly_one_win(store: Arc<dyn Store>) {
        let attempts = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.insert_locrit(&locrit("Racer")).await })
        });
        let results = futures::future::join_all(attempts).await;
        let wins = results.iter().filter(|r| matches!(r, Ok(Ok(())))).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Ok(Err(StoreError::Conflict(_)))))
            .count();
        assert_eq!((wins, conflicts), (1, 7));
        assert_eq!(store.locrits().await.unwrap().len(), 1);
    }

    pub async fn rename_keeps_sessions_and_messages(store: Arc<dyn Store>) {
        let mut bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s1")).await.unwrap();
        store
            .append_message(session.id, &said(Role::User, "hello"))
            .await
            .unwrap();
        bob.name = "Robert".into();
        assert!(store.update_locrit(&bob).await.unwrap());
        let renamed = store.locrit_by_name("Robert").await.unwrap().unwrap();
        assert_eq!(renamed.id, bob.id);
        assert_eq!(store.locrit_by_name("Bob").await.unwrap(), None);
        let messages = store
            .messages(
                session.id,
                MessagePage::Before {
                    before: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].locrit_id, bob.id);
    }

    pub async fn delete_locrit_removes_everything_it_owns(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s1")).await.unwrap();
        let message = store
            .append_message(session.id, &said(Role::User, "remember me"))
            .await
            .unwrap();
        store
            .insert_memory(bob.id, &memory("likes tea"))
            .await
            .unwrap();
        store
            .mention_concept(bob.id, "tea", "thing", None)
            .await
            .unwrap();
        assert!(store.delete_locrit(bob.id).await.unwrap());
        assert!(
            !store.delete_locrit(bob.id).await.unwrap(),
            "second delete finds nothing"
        );
        assert_eq!(store.message(bob.id, message.id).await.unwrap(), None);

        let again = locrit("Bob");
        store.insert_locrit(&again).await.unwrap();
        assert_eq!(
            store.locrit_stats(again.id).await.unwrap(),
            Default::default(),
            "a new Bob starts blank"
        );
        assert_eq!(store.session(bob.id, "s1").await.unwrap(), None);
        assert!(
            store
                .memories(bob.id, &MemoryQuery::default())
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.concepts(bob.id).await.unwrap().is_empty());
    }

    pub async fn messages_append_in_order_and_page_both_ways(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store
            .create_session(&chat(bob.id, "web_anonymous_user_Bob"))
            .await
            .unwrap();
        for i in 1..=10 {
            let role = if i % 2 == 1 {
                Role::User
            } else {
                Role::Assistant
            };
            let m = store
                .append_message(session.id, &said(role, &format!("m{i}")))
                .await
                .unwrap();
            assert_eq!(m.seq, i);
            assert_eq!(m.session_id, "web_anonymous_user_Bob");
            assert_eq!(
                store.message(bob.id, m.id).await.unwrap().as_ref(),
                Some(&m),
                "read back as written"
            );
        }
        let texts =
            |ms: Vec<locrit_domain::Message>| ms.into_iter().map(|m| m.content).collect::<Vec<_>>();
        let newest = store
            .messages(
                session.id,
                MessagePage::Before {
                    before: None,
                    limit: 3,
                },
            )
            .await
            .unwrap();
        assert_eq!(texts(newest), ["m8", "m9", "m10"]);
        let older = store
            .messages(
                session.id,
                MessagePage::Before {
                    before: Some(8),
                    limit: 3,
                },
            )
            .await
            .unwrap();
        assert_eq!(texts(older), ["m5", "m6", "m7"]);
        let after = store
            .messages(session.id, MessagePage::After { after: 2, limit: 2 })
            .await
            .unwrap();
        assert_eq!(texts(after), ["m3", "m4"]);
        let session = store
            .session(bob.id, "web_anonymous_user_Bob")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((session.message_count, session.last_seq), (10, 10));
    }

    pub async fn concurrent_appends_to_one_session_never_share_a_seq(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "busy")).await.unwrap();
        let appends = (0..40).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .append_message(session.id, &said(Role::User, &format!("{i}")))
                    .await
            })
        });
        for result in futures::future::join_all(appends).await {
            result.unwrap().unwrap();
        }
        let all = store
            .messages(
                session.id,
                MessagePage::After {
                    after: 0,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    }

    pub async fn batch_appends_are_all_or_nothing(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "import")).await.unwrap();
        store
            .append_message(session.id, &said(Role::User, "first"))
            .await
            .unwrap();
        let batch: Vec<NewMessage> = (0..5)
            .map(|i| said(Role::Assistant, &format!("b{i}")))
            .collect();
        let appended = store.append_messages(session.id, &batch).await.unwrap();
        assert_eq!(
            appended.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [2, 3, 4, 5, 6]
        );
        let stored = store
            .messages(
                session.id,
                MessagePage::After {
                    after: 1,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(stored, appended, "read back exactly as reported");
        let err = store
            .append_messages(Uuid::now_v7(), &batch)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        assert_eq!(
            store
                .session(bob.id, "import")
                .await
                .unwrap()
                .unwrap()
                .message_count,
            6
        );
    }

    pub async fn a_reply_and_its_job_are_stored_together_or_not_at_all(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s")).await.unwrap();
        let question = store
            .append_message(session.id, &said(Role::User, "hi"))
            .await
            .unwrap();
        let job_for = |reply: Uuid| NewJob {
            kind: "learn".into(),
            locrit_id: Some(bob.id),
            payload: json!({"messages": [question.id, reply]}),
            max_attempts: 3,
            run_after: None,
        };
        let jobs = || async {
            store
                .jobs(&JobQuery {
                    locrit_id: Some(bob.id),
                    ..JobQuery::default()
                })
                .await
                .unwrap()
        };
        // Appended with the id it was given, its job naming it.
        let id = Uuid::now_v7();
        let Appended {
            message: reply,
            job,
            ..
        } = store
            .append_reply(
                session.id,
                id,
                &said(Role::Assistant, "hello"),
                question.id,
                Some(&job_for(id)),
            )
            .await
            .unwrap();
        assert_eq!((reply.id, reply.seq), (id, question.seq + 1));
        let job = job.expect("the job is queued");
        assert_eq!(
            (job.status, job.payload["messages"][1].clone()),
            (JobStatus::Queued, json!(id))
        );
        assert_eq!(store.message(bob.id, id).await.unwrap(), Some(reply));
        assert_eq!(jobs().await, std::slice::from_ref(&job));
        // Without a job, only the reply.
        let Appended {
            message: plain,
            job: none,
            ..
        } = store
            .append_reply(
                session.id,
                Uuid::now_v7(),
                &said(Role::Assistant, "again"),
                question.id,
                None,
            )
            .await
            .unwrap();
        assert!(none.is_none());
        assert_eq!(plain.seq, question.seq + 2);
        assert_eq!(jobs().await.len(), 1);
        // A session gone: neither the reply nor its job.
        let gone = Uuid::now_v7();
        let err = store
            .append_reply(
                Uuid::now_v7(),
                gone,
                &said(Role::Assistant, "lost"),
                question.id,
                Some(&job_for(gone)),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        assert_eq!(store.message(bob.id, gone).await.unwrap(), None);
        assert_eq!(jobs().await.len(), 1, "no job for a reply not stored");
        // A reply stored while streaming is finished in place, with its job.
        let started = store
            .start_reply(
                session.id,
                &NewMessage {
                    status: MessageStatus::Streaming,
                    ..NewMessage::new(Role::Assistant, "Hel")
                },
                chrono::Utc::now() + chrono::Duration::seconds(30),
                question.id,
            )
            .await
            .unwrap();
        let (finished, job) = store
            .finish_reply(
                bob.id,
                started.id,
                &said(Role::Assistant, "Hello there"),
                Some(&job_for(started.id)),
            )
            .await
            .unwrap()
            .expect("the started reply");
        assert_eq!(
            (
                finished.id,
                finished.seq,
                finished.content.as_str(),
                finished.status
            ),
            (
                started.id,
                started.seq,
                "Hello there",
                MessageStatus::Complete
            )
        );
        assert_eq!(job.unwrap().payload["messages"][1], json!(started.id));
        assert_eq!(jobs().await.len(), 2);
        // Finishing a reply that is not there queues nothing.
        let missing = Uuid::now_v7();
        let none = store
            .finish_reply(
                bob.id,
                missing,
                &said(Role::Assistant, "x"),
                Some(&job_for(missing)),
            )
            .await
            .unwrap();
        assert!(none.is_none());
        assert_eq!(jobs().await.len(), 2);
    }

    pub async fn concurrent_appends_to_many_sessions_are_stored_in_order_and_fail_alone(
        store: Arc<dyn Store>,
    ) {
        const SESSIONS: usize = 8;
        const EACH: usize = 30;
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let mut sessions = Vec::new();
        for i in 0..SESSIONS {
            sessions.push(
                store
                    .create_session(&chat(bob.id, &format!("s{i}")))
                    .await
                    .unwrap(),
            );
        }
        let deleted = store.create_session(&chat(bob.id, "gone")).await.unwrap();
        assert!(store.delete_session(deleted.id).await.unwrap());
        // Each session's writer appends in order, all of them at once, some replies with
        // their job; among them, writers to a deleted and to an unknown session.
        let mut writers = Vec::new();
        for session in &sessions {
            let store = store.clone();
            let session_id = session.id;
            writers.push(tokio::spawn(async move {
                for n in 0..EACH {
                    let text = format!("m{n}");
                    if n % 3 == 2 {
                        let job = NewJob {
                            kind: "learn".into(),
                            locrit_id: None,
                            payload: json!({"n": n}),
                            max_attempts: 1,
                            run_after: None,
                        };
                        let Appended { job, .. } = store
                            .append_reply(
                                session_id,
                                Uuid::now_v7(),
                                &said(Role::Assistant, &text),
                                Uuid::nil(),
                                Some(&job),
                            )
                            .await
                            .unwrap();
                        assert!(job.is_some());
                    } else {
                        store
                            .append_message(session_id, &said(Role::User, &text))
                            .await
                            .unwrap();
                    }
                }
            }));
        }
        let mut refused = Vec::new();
        for session_id in [deleted.id, Uuid::now_v7()] {
            let store = store.clone();
            refused.push(tokio::spawn(async move {
                let mut errors = Vec::new();
                for _ in 0..EACH {
                    errors.push(
                        store
                            .append_message(session_id, &said(Role::User, "nobody"))
                            .await
                            .unwrap_err(),
                    );
                }
                errors
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        for errors in refused {
            let errors = errors.await.unwrap();
            assert!(
                errors.iter().all(|e| matches!(e, StoreError::NotFound(_))),
                "{errors:?}"
            );
        }
        for session in &sessions {
            let stored = store
                .messages(
                    session.id,
                    MessagePage::After {
                        after: 0,
                        limit: 1000,
                    },
                )
                .await
                .unwrap();
            let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
            let texts: Vec<String> = stored.iter().map(|m| m.content.clone()).collect();
            assert_eq!(seqs, (1..=EACH as i64).collect::<Vec<_>>(), "no gap");
            assert_eq!(
                texts,
                (0..EACH).map(|n| format!("m{n}")).collect::<Vec<_>>(),
                "in order"
            );
            let counted = store.session(bob.id, &session.key).await.unwrap().unwrap();
            assert_eq!(counted.message_count, EACH as i64);
        }
        let jobs = store
            .jobs(&JobQuery {
                limit: Some(1000),
                ..JobQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(jobs.len(), SESSIONS * (EACH / 3));
    }

    pub async fn appending_to_a_missing_session_fails(store: Arc<dyn Store>) {
        let err = store
            .append_message(Uuid::now_v7(), &said(Role::User, "lost?"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound("session")), "{err:?}");
    }

    pub async fn session_keys_are_per_locrit(store: Arc<dyn Store>) {
        let (bob, pixie) = (locrit("Bob"), locrit("Pixie"));
        store.insert_locrit(&bob).await.unwrap();
        store.insert_locrit(&pixie).await.unwrap();
        let a = store
            .create_session(&chat(bob.id, "same key"))
            .await
            .unwrap();
        let b = store
            .create_session(&chat(pixie.id, "same key"))
            .await
            .unwrap();
        assert_ne!(a.id, b.id);
        assert!(matches!(
            store.create_session(&chat(bob.id, "same key")).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store
                .open_session(&chat(bob.id, "same key"))
                .await
                .unwrap()
                .id,
            a.id
        );
        store
            .append_message(a.id, &said(Role::User, "for Bob"))
            .await
            .unwrap();
        let pixie_messages = store
            .messages(
                b.id,
                MessagePage::Before {
                    before: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert!(pixie_messages.is_empty(), "sessions are isolated");
        let opened = store.open_session(&chat(bob.id, "fresh")).await.unwrap();
        assert_eq!(
            (opened.key.as_str(), opened.status),
            ("fresh", SessionStatus::Active)
        );
    }

    pub async fn sessions_list_filters_and_hides_deleted(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let conversation = NewSession {
            kind: SessionKind::Conversation,
            user_id: Some("carol".into()),
            ..chat(bob.id, &Uuid::new_v4().to_string())
        };
        let conv = store.create_session(&conversation).await.unwrap();
        let s1 = store.create_session(&chat(bob.id, "s1")).await.unwrap();
        store
            .append_message(s1.id, &said(Role::User, "newest activity"))
            .await
            .unwrap();
        let all = store
            .sessions(&SessionQuery {
                locrit_id: Some(bob.id),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
            ["s1", conv.key.as_str()],
            "most recent first"
        );
        let carol = SessionQuery {
            user_id: Some("carol".into()),
            kind: Some(SessionKind::Conversation),
            ..Default::default()
        };
        assert_eq!(store.sessions(&carol).await.unwrap().len(), 1);
        assert_eq!(
            store
                .session_by_key(SessionKind::Conversation, &conv.key)
                .await
                .unwrap()
                .unwrap()
                .id,
            conv.id
        );
        assert_eq!(
            store
                .session_by_key(SessionKind::Chat, &conv.key)
                .await
                .unwrap(),
            None
        );
        assert!(
            store
                .set_session_status(conv.id, SessionStatus::Deleted)
                .await
                .unwrap()
        );
        assert!(
            store.sessions(&carol).await.unwrap().is_empty(),
            "deleted is not listed"
        );
        let deleted = SessionQuery {
            status: Some(SessionStatus::Deleted),
            ..carol
        };
        assert_eq!(store.sessions(&deleted).await.unwrap().len(), 1);
        assert!(store.delete_session(s1.id).await.unwrap());
        assert_eq!(
            store.locrit_stats(bob.id).await.unwrap().messages,
            0,
            "a deleted session takes its messages"
        );
    }

    pub async fn sessions_are_renamed(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s")).await.unwrap();
        assert!(
            store
                .set_session_name(session.id, "Tomatoes · été")
                .await
                .unwrap()
        );
        let renamed = store.session(bob.id, "s").await.unwrap().unwrap();
        assert_eq!(renamed.name.as_deref(), Some("Tomatoes · été"));
        assert!(renamed.updated_at >= session.updated_at);
        assert!(!store.set_session_name(Uuid::new_v4(), "x").await.unwrap());
    }

    pub async fn edit_and_delete_messages_within_their_locrit(store: Arc<dyn Store>) {
        let (bob, pixie) = (locrit("Bob"), locrit("Pixie"));
        store.insert_locrit(&bob).await.unwrap();
        store.insert_locrit(&pixie).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s")).await.unwrap();
        let m = store
            .append_message(session.id, &said(Role::User, "typo"))
            .await
            .unwrap();
        assert_eq!(
            store.edit_message(pixie.id, m.id, "hijack").await.unwrap(),
            None,
            "scoped to its Locrit"
        );
        let edited = store
            .edit_message(bob.id, m.id, "fixed")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(edited.content, "fixed");
        assert!(edited.edited_at.is_some());
        assert!(
            !store
                .mark_unanswered(pixie.id, m.id, &json!({"x": 1}))
                .await
                .unwrap(),
            "scoped to its Locrit"
        );
        assert!(
            store
                .mark_unanswered(bob.id, m.id, &json!({"unanswered": "the model failed"}))
                .await
                .unwrap()
        );
        let annotated = store.message(bob.id, m.id).await.unwrap().unwrap();
        assert_eq!(
            (
                annotated.metadata["unanswered"].as_str(),
                annotated.content.as_str()
            ),
            (Some("the model failed"), "fixed")
        );
        assert!(!store.delete_message(pixie.id, m.id).await.unwrap());
        assert!(store.delete_message(bob.id, m.id).await.unwrap());
        assert_eq!(store.message(bob.id, m.id).await.unwrap(), None);
        assert_eq!(
            store
                .session(bob.id, "s")
                .await
                .unwrap()
                .unwrap()
                .message_count,
            0
        );
        let next = store
            .append_message(session.id, &said(Role::User, "after delete"))
            .await
            .unwrap();
        assert_eq!(next.seq, 2, "sequence numbers are never reused");
    }

    pub async fn recent_messages_and_stats_span_sessions(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let s1 = store.create_session(&chat(bob.id, "s1")).await.unwrap();
        let s2 = store
            .create_session(&NewSession {
                user_id: Some("dan".into()),
                ..chat(bob.id, "s2")
            })
            .await
            .unwrap();
        store
            .append_message(s1.id, &said(Role::User, "first"))
            .await
            .unwrap();
        store
            .append_message(
                s2.id,
                &NewMessage {
                    user_id: Some("dan".into()),
                    ..NewMessage::new(Role::User, "second")
                },
            )
            .await
            .unwrap();
        let mut interrupted = said(Role::Assistant, "third, cut");
        interrupted.status = MessageStatus::Interrupted;
        interrupted.metadata = json!({"model": "llama3.2", "eval_count": 3});
        let third = store.append_message(s1.id, &interrupted).await.unwrap();
        assert_eq!(third.status, MessageStatus::Interrupted);
        let recent = store.recent_messages(bob.id, 2).await.unwrap();
        assert_eq!(
            recent
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>(),
            ["third, cut", "second"]
        );
        assert_eq!(recent[0].metadata["eval_count"], 3);
        store
            .mention_concept(bob.id, "Rust", "language", None)
            .await
            .unwrap();
        let stats = store.locrit_stats(bob.id).await.unwrap();
        assert_eq!(
            (
                stats.messages,
                stats.sessions,
                stats.users,
                stats.concepts,
                stats.memories
            ),
            (3, 2, 2, 1, 0)
        );
    }

    pub async fn memories_and_concepts(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let source = Uuid::now_v7();
        let first = store
            .insert_memory(
                bob.id,
                &NewMemory {
                    source_message_ids: vec![source],
                    ..memory("likes tea")
                },
            )
            .await
            .unwrap();
        let second = store
            .insert_memory(bob.id, &memory("lives in Lyon"))
            .await
            .unwrap();
        assert_eq!(first.source_message_ids, vec![source]);
        assert_eq!(first.tags, vec!["fact".to_owned()]);
        let listed = store
            .memories(bob.id, &MemoryQuery::default())
            .await
            .unwrap();
        assert_eq!(
            listed.iter().map(|m| m.id).collect::<Vec<_>>(),
            [second.id, first.id],
            "newest first"
        );
        assert!(store.delete_memory(bob.id, first.id).await.unwrap());
        assert!(!store.delete_memory(bob.id, first.id).await.unwrap());
        store
            .mention_concept(bob.id, "Lyon", "place", Some("a city"))
            .await
            .unwrap();
        let again = store
            .mention_concept(bob.id, "Lyon", "place", None)
            .await
            .unwrap();
        assert_eq!(
            (again.mentions, again.description.as_deref()),
            (2, Some("a city"))
        );
        store
            .mention_concept(bob.id, "tea", "thing", None)
            .await
            .unwrap();
        let concepts = store.concepts(bob.id).await.unwrap();
        assert_eq!(
            concepts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["Lyon", "tea"],
            "most mentioned first"
        );
    }

    pub async fn memories_are_edited_pinned_superseded_and_paged(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let old = store
            .insert_memory(bob.id, &memory("lives in Lyon"))
            .await
            .unwrap();
        let newer = store
            .insert_memory(
                bob.id,
                &NewMemory {
                    supersedes: vec![old.id],
                    pinned: true,
                    ..memory("lives in Paris")
                },
            )
            .await
            .unwrap();
        assert!(newer.pinned && newer.is_current());
        let old = store.memory(bob.id, old.id).await.unwrap().unwrap();
        assert_eq!(old.superseded_by, Some(newer.id), "kept, marked");
        assert!(!old.is_current());

        let changes = MemoryChanges {
            content: Some("lives in Paris, 11th".into()),
            pinned: Some(false),
            ..MemoryChanges::default()
        };
        let edited = store
            .update_memory(bob.id, newer.id, &changes)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (edited.content.as_str(), edited.pinned),
            ("lives in Paris, 11th", false)
        );
        assert!(edited.updated_at.is_some());
        assert_eq!(edited.importance, newer.importance, "unchanged fields stay");
        let eve = locrit("Eve");
        store.insert_locrit(&eve).await.unwrap();
        assert_eq!(
            store
                .update_memory(eve.id, newer.id, &changes)
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.memory(eve.id, newer.id).await.unwrap(), None);

        for n in 0..5 {
            store
                .insert_memory(bob.id, &memory(&format!("fact {n}")))
                .await
                .unwrap();
        }
        let first = MemoryQuery {
            limit: Some(4),
            ..MemoryQuery::default()
        };
        let page = store.memories(bob.id, &first).await.unwrap();
        let rest = MemoryQuery {
            before: page.last().map(|m| m.id),
            ..first
        };
        let next = store.memories(bob.id, &rest).await.unwrap();
        let contents: Vec<&str> = page
            .iter()
            .chain(&next)
            .map(|m| m.content.as_str())
            .collect();
        assert_eq!(
            contents,
            [
                "fact 4",
                "fact 3",
                "fact 2",
                "fact 1",
                "fact 0",
                "lives in Paris, 11th",
                "lives in Lyon"
            ]
        );
        let current = MemoryQuery {
            current_only: true,
            ..MemoryQuery::default()
        };
        assert_eq!(
            store.memories(bob.id, &current).await.unwrap().len(),
            6,
            "the superseded one is left out"
        );
        let old = next.iter().find(|m| m.content == "fact 0").unwrap();
        let pin = MemoryChanges {
            pinned: Some(true),
            ..MemoryChanges::default()
        };
        store.update_memory(bob.id, old.id, &pin).await.unwrap();
        let pinned = MemoryQuery {
            pinned_only: true,
            limit: Some(1),
            ..MemoryQuery::default()
        };
        let found = store.memories(bob.id, &pinned).await.unwrap();
        assert_eq!(
            found.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
            ["fact 0"],
            "an old pinned memory is found past newer unpinned ones"
        );
    }

    pub async fn deleting_its_sources_invalidates_a_learned_memory(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s1")).await.unwrap();
        let other = store.create_session(&chat(bob.id, "s2")).await.unwrap();
        let exchange = store
            .append_messages(
                session.id,
                &[
                    said(Role::User, "I moved to Paris"),
                    said(Role::Assistant, "Noted"),
                ],
            )
            .await
            .unwrap();
        let elsewhere = store
            .append_message(other.id, &said(Role::User, "Paris, yes"))
            .await
            .unwrap();
        let learned = |sources: Vec<Uuid>, text: &str| NewMemory {
            source_message_ids: sources,
            ..memory(text)
        };
        let both = store
            .insert_memory(
                bob.id,
                &learned(vec![exchange[0].id, exchange[1].id], "lives in Paris"),
            )
            .await
            .unwrap();
        let spread = store
            .insert_memory(
                bob.id,
                &learned(vec![exchange[0].id, elsewhere.id], "moved"),
            )
            .await
            .unwrap();
        let owners = store
            .insert_memory(bob.id, &memory("added by hand"))
            .await
            .unwrap();

        assert!(store.delete_message(bob.id, exchange[0].id).await.unwrap());
        let current = |id| {
            let store = store.clone();
            async move {
                store
                    .memory(bob.id, id)
                    .await
                    .unwrap()
                    .unwrap()
                    .invalidated_at
                    .is_none()
            }
        };
        assert!(current(both.id).await, "one source is left");
        assert!(store.delete_message(bob.id, exchange[1].id).await.unwrap());
        assert!(!current(both.id).await, "its last source is gone");
        assert!(current(spread.id).await);
        assert!(store.delete_session(other.id).await.unwrap());
        assert!(!current(spread.id).await, "a session delete counts too");
        assert!(
            current(owners.id).await,
            "a memory without sources is never invalidated"
        );
        assert_eq!(
            store
                .memory(bob.id, both.id)
                .await
                .unwrap()
                .unwrap()
                .source_message_ids
                .len(),
            2,
            "where it was learned stays on record"
        );
    }

    pub async fn streaming_replies_are_checkpointed_finished_or_interrupted(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s")).await.unwrap();
        let user = store
            .append_message(session.id, &NewMessage::new(Role::User, "hello"))
            .await
            .unwrap();
        let now = chrono::Utc::now();
        let later = now + chrono::Duration::seconds(30);
        let streaming = |text: &str| NewMessage {
            status: MessageStatus::Streaming,
            metadata: json!({"turn_id": "t"}),
            ..NewMessage::new(Role::Assistant, text)
        };
        // One reply finishes in place, keeping its id and its place after the question.
        let first = store
            .start_reply(session.id, &streaming("Hel"), later, user.id)
            .await
            .unwrap();
        assert_eq!(
            (first.seq, first.status),
            (user.seq + 1, MessageStatus::Streaming)
        );
        assert!(
            store
                .checkpoint_reply(bob.id, first.id, "Hello th", later)
                .await
                .unwrap()
        );
        let seen = store.message(bob.id, first.id).await.unwrap().unwrap();
        assert_eq!(
            (seen.content.as_str(), seen.status),
            ("Hello th", MessageStatus::Streaming)
        );
        let done = NewMessage {
            metadata: json!({"turn_id": "t", "finish_reason": "stop"}),
            ..NewMessage::new(Role::Assistant, "Hello there")
        };
        let finished = store
            .finish_reply(bob.id, first.id, &done, None)
            .await
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(
            (
                finished.id,
                finished.seq,
                finished.content.as_str(),
                finished.status
            ),
            (first.id, first.seq, "Hello there", MessageStatus::Complete)
        );
        assert!(
            !store
                .checkpoint_reply(bob.id, first.id, "late", later)
                .await
                .unwrap(),
            "a finished reply takes no checkpoint"
        );
        // Another's server stops: once its lease has run out, it is marked interrupted,
        // its text kept; a reply whose lease still runs is left alone.
        let cut = store
            .start_reply(
                session.id,
                &streaming("Half a"),
                now - chrono::Duration::seconds(1),
                user.id,
            )
            .await
            .unwrap();
        let alive = store
            .start_reply(session.id, &streaming("Still"), later, user.id)
            .await
            .unwrap();
        let interrupted = store.settle_expired_leases(now).await.unwrap();
        assert_eq!(interrupted.len(), 1);
        assert_eq!(interrupted[0].id, cut.id);
        let cut = store.message(bob.id, cut.id).await.unwrap().unwrap();
        assert_eq!(
            (cut.content.as_str(), cut.status),
            ("Half a", MessageStatus::Interrupted)
        );
        assert_eq!(cut.metadata["turn_id"], "t", "its metadata is kept");
        assert!(cut.metadata["error"].is_string(), "and says why");
        let alive = store.message(bob.id, alive.id).await.unwrap().unwrap();
        assert_eq!(alive.status, MessageStatus::Streaming);
        assert!(
            store.settle_expired_leases(now).await.unwrap().is_empty(),
            "once"
        );
        let all = store
            .messages(
                session.id,
                MessagePage::After {
                    after: 0,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
    }

    pub async fn a_waiting_question_is_renewed_answered_or_marked_unanswered(
        store: Arc<dyn Store>,
    ) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s")).await.unwrap();
        let now = chrono::Utc::now();
        let later = now + chrono::Duration::seconds(30);
        let past = now - chrono::Duration::seconds(1);
        let ask = |text: &'static str, lease_until| {
            let store = store.clone();
            async move {
                store
                    .append_question(session.id, &NewMessage::new(Role::User, text), lease_until)
                    .await
                    .unwrap()
                    .message
            }
        };
        // Its server stopped before the reply began: marked unanswered, kept.
        let lost = ask("anyone there?", past).await;
        // Its reply began: the wait ended with it, in the same write.
        let answered = ask("hello", past).await;
        let reply = NewMessage {
            status: MessageStatus::Streaming,
            ..NewMessage::new(Role::Assistant, "Hi")
        };
        store
            .start_reply(session.id, &reply, later, answered.id)
            .await
            .unwrap();
        // Its reply came whole: the same.
        let quick = ask("quick one", past).await;
        store
            .append_reply(
                session.id,
                Uuid::now_v7(),
                &NewMessage::new(Role::Assistant, "Done"),
                quick.id,
                None,
            )
            .await
            .unwrap();
        // Its model is slow: renewed, it waits on.
        let slow = ask("think hard", past).await;
        assert!(store.renew_question(slow.id, later).await.unwrap());
        // Its turn failed and said so: no lease left to settle.
        let failed = ask("and now?", past).await;
        assert!(
            store
                .mark_unanswered(
                    bob.id,
                    failed.id,
                    &json!({"unanswered": "the model failed"})
                )
                .await
                .unwrap()
        );
        assert!(
            !store.renew_question(failed.id, later).await.unwrap(),
            "a question that waits no more is not renewed"
        );
        // A question deleted while it waits takes its wait with it.
        let deleted = ask("never mind", past).await;
        assert!(store.delete_message(bob.id, deleted.id).await.unwrap());

        let settled = store.settle_expired_leases(now).await.unwrap();
        let ids: Vec<Uuid> = settled.iter().map(|m| m.id).collect();
        assert_eq!(ids, [lost.id], "only the question whose server stopped");
        let lost = store.message(bob.id, lost.id).await.unwrap().unwrap();
        assert_eq!(
            (lost.content.as_str(), lost.status),
            ("anyone there?", MessageStatus::Complete)
        );
        assert!(lost.metadata["unanswered"].is_string(), "and says why");
        let failed = store.message(bob.id, failed.id).await.unwrap().unwrap();
        assert_eq!(failed.metadata["unanswered"], "the model failed");
        assert!(
            store.settle_expired_leases(now).await.unwrap().is_empty(),
            "once"
        );
        for id in [answered.id, quick.id, slow.id] {
            let untouched = store.message(bob.id, id).await.unwrap().unwrap();
            assert!(untouched.metadata.get("unanswered").is_none());
        }
    }

    pub async fn rate_hits_are_counted_per_key_and_window(store: Arc<dyn Store>) {
        let window = chrono::Utc::now();
        let next = window + chrono::Duration::seconds(60);
        let long_ago = window - chrono::Duration::hours(2);
        assert_eq!(
            store
                .count_rate_hit("old", long_ago, long_ago)
                .await
                .unwrap(),
            1
        );
        for expected in 1..=3 {
            let hits = store.count_rate_hit("a", window, long_ago).await.unwrap();
            assert_eq!(hits, expected);
        }
        assert_eq!(
            store.count_rate_hit("b", window, long_ago).await.unwrap(),
            1,
            "per key"
        );
        assert_eq!(
            store.count_rate_hit("a", next, long_ago).await.unwrap(),
            1,
            "a new window"
        );
        // Rows of windows before `forget_before` go first: "old", forgotten, counts 1
        // again in its own window (kept, it would count 2).
        assert_eq!(
            store.count_rate_hit("old", long_ago, window).await.unwrap(),
            1
        );
    }

    pub async fn a_renewed_job_lease_is_not_taken_over(store: Arc<dyn Store>) {
        let job = NewJob {
            kind: "learn".into(),
            locrit_id: None,
            payload: json!({}),
            max_attempts: 3,
            run_after: None,
        };
        let queued = store.enqueue_job(&job).await.unwrap();
        let now = chrono::Utc::now();
        let short = now + chrono::Duration::milliseconds(300);
        let claimed = store
            .claim_job(&["learn"], "a", short)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, queued.id);
        let renewed = now + chrono::Duration::seconds(60);
        assert!(store.renew_job(queued.id, "a", renewed).await.unwrap());
        assert!(
            !store.renew_job(queued.id, "b", renewed).await.unwrap(),
            "only its holder renews it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert!(
            store
                .claim_job(&["learn"], "b", renewed)
                .await
                .unwrap()
                .is_none(),
            "renewed, it stays with its runner"
        );
        let finished = store
            .finish_job(queued.id, "a", &JobOutcome::Done)
            .await
            .unwrap()
            .expect("its runner ends it");
        assert_eq!(finished.status, JobStatus::Done);
        assert_eq!(
            Some(finished),
            store.job(queued.id).await.unwrap(),
            "returned as stored"
        );
        assert!(
            !store.renew_job(queued.id, "a", renewed).await.unwrap(),
            "a finished job has no lease"
        );
    }

    pub async fn jobs_are_claimed_once_retried_and_taken_over(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let job = |kind: &str| NewJob {
            kind: kind.into(),
            locrit_id: Some(bob.id),
            payload: json!({"n": 1}),
            max_attempts: 3,
            run_after: None,
        };
        let queued = store.enqueue_job(&job("learn")).await.unwrap();
        store.enqueue_job(&job("other")).await.unwrap();
        assert_eq!((queued.status, queued.attempts), (JobStatus::Queued, 0));
        let soon = chrono::Utc::now() + chrono::Duration::seconds(60);
        let claimed = store
            .claim_job(&["learn"], "a", soon)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (claimed.id, claimed.status, claimed.attempts),
            (queued.id, JobStatus::Running, 1)
        );
        assert_eq!(
            store.claim_job(&["learn"], "b", soon).await.unwrap(),
            None,
            "claimed once"
        );

        let retry = JobOutcome::Retry {
            error: "model down".into(),
            at: chrono::Utc::now() + chrono::Duration::seconds(60),
        };
        assert!(
            store
                .finish_job(queued.id, "b", &retry)
                .await
                .unwrap()
                .is_none(),
            "only its runner ends it"
        );
        assert!(
            store
                .finish_job(queued.id, "a", &retry)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            store.claim_job(&["learn"], "a", soon).await.unwrap(),
            None,
            "a retry waits"
        );
        let waiting = store.job(queued.id).await.unwrap().unwrap();
        assert_eq!(
            (waiting.status, waiting.last_error.as_deref()),
            (JobStatus::Queued, Some("model down"))
        );

        // A runner that died: its lease runs out and another server takes the job over.
        let abandoned = store.enqueue_job(&job("learn")).await.unwrap();
        let past = chrono::Utc::now() - chrono::Duration::seconds(1);
        store
            .claim_job(&["learn"], "dead", past)
            .await
            .unwrap()
            .unwrap();
        let taken = store
            .claim_job(&["learn"], "alive", soon)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((taken.id, taken.attempts), (abandoned.id, 2));
        assert!(
            store
                .finish_job(abandoned.id, "dead", &JobOutcome::Done)
                .await
                .unwrap()
                .is_none()
        );
        let failed = JobOutcome::Failed {
            error: "bad answer".into(),
        };
        assert!(
            store
                .finish_job(abandoned.id, "alive", &failed)
                .await
                .unwrap()
                .is_some()
        );

        let query = JobQuery {
            locrit_id: Some(bob.id),
            status: Some(JobStatus::Failed),
            ..JobQuery::default()
        };
        let listed = store.jobs(&query).await.unwrap();
        assert_eq!(
            listed.iter().map(|j| j.id).collect::<Vec<_>>(),
            [abandoned.id]
        );
        assert_eq!(
            store.retry_job(queued.id).await.unwrap(),
            None,
            "only a failed job is retried"
        );
        let again = store.retry_job(abandoned.id).await.unwrap().unwrap();
        assert_eq!((again.status, again.attempts), (JobStatus::Queued, 0));
        let claimed = store
            .claim_job(&["learn"], "alive", soon)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, abandoned.id);
        assert!(
            store
                .finish_job(claimed.id, "alive", &JobOutcome::Done)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            store.job(claimed.id).await.unwrap().unwrap().status,
            JobStatus::Done
        );
        assert_eq!(store.jobs(&JobQuery::default()).await.unwrap().len(), 3);
        store.delete_locrit(bob.id).await.unwrap();
        assert!(
            store.jobs(&JobQuery::default()).await.unwrap().is_empty(),
            "a Locrit's jobs go with it"
        );
    }

    pub async fn concurrent_claims_take_each_job_once(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        for n in 0..20 {
            let job = NewJob {
                kind: "learn".into(),
                locrit_id: Some(bob.id),
                payload: json!({"n": n}),
                max_attempts: 1,
                run_after: None,
            };
            store.enqueue_job(&job).await.unwrap();
        }
        let until = chrono::Utc::now() + chrono::Duration::seconds(60);
        let runners = (0..4).map(|r| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(job) = store
                    .claim_job(&["learn"], &format!("r{r}"), until)
                    .await
                    .unwrap()
                {
                    got.push(job.id);
                }
                got
            })
        });
        let mut claimed: Vec<Uuid> = Vec::new();
        for runner in runners {
            claimed.extend(runner.await.unwrap());
        }
        let unique: std::collections::HashSet<_> = claimed.iter().collect();
        assert_eq!((claimed.len(), unique.len()), (20, 20));
    }

    pub async fn clear_memory_wipes_one_locrit_only(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        let eve = locrit("Eve");
        for l in [&bob, &eve] {
            store.insert_locrit(l).await.unwrap();
            let s1 = store.create_session(&chat(l.id, "s1")).await.unwrap();
            let s2 = store.create_session(&chat(l.id, "s2")).await.unwrap();
            for s in [&s1, &s2] {
                store
                    .append_messages(s.id, &[said(Role::User, "hi"), said(Role::Assistant, "yo")])
                    .await
                    .unwrap();
            }
            let first = store
                .insert_memory(l.id, &memory("likes tea"))
                .await
                .unwrap();
            let second = store
                .insert_memory(l.id, &memory("likes coffee"))
                .await
                .unwrap();
            assert!(first.id != second.id);
            store
                .mention_concept(l.id, "tea", "thing", None)
                .await
                .unwrap();
            store
                .mention_concept(l.id, "Lyon", "place", None)
                .await
                .unwrap();
        }
        assert_eq!(store.clear_memory(bob.id).await.unwrap(), 2);
        let stats = store.locrit_stats(bob.id).await.unwrap();
        assert_eq!(
            (
                stats.messages,
                stats.sessions,
                stats.concepts,
                stats.memories,
                stats.users
            ),
            (0, 0, 0, 0, 0)
        );
        assert!(store.session(bob.id, "s1").await.unwrap().is_none());
        assert!(store.recent_messages(bob.id, 10).await.unwrap().is_empty());
        assert!(
            store
                .memories(bob.id, &MemoryQuery::default())
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.concepts(bob.id).await.unwrap().is_empty());
        assert!(
            store.locrit(bob.id).await.unwrap().is_some(),
            "the Locrit stays"
        );
        let kept = store.locrit_stats(eve.id).await.unwrap();
        assert_eq!(
            (kept.messages, kept.sessions, kept.concepts, kept.memories),
            (4, 2, 2, 2),
            "another Locrit's memory is untouched"
        );
        // Cleared, it starts again from nothing: the same key opens a new session.
        let again = store.create_session(&chat(bob.id, "s1")).await.unwrap();
        assert_eq!(again.message_count, 0);
        assert_eq!(store.clear_memory(bob.id).await.unwrap(), 1);
        assert_eq!(store.clear_memory(bob.id).await.unwrap(), 0);
    }

    pub async fn sessions_marked_deleted_leave_recent_messages_and_stats(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let kept = store.create_session(&chat(bob.id, "kept")).await.unwrap();
        store
            .append_message(kept.id, &said(Role::User, "kept"))
            .await
            .unwrap();
        let gone = store
            .create_session(&NewSession {
                kind: SessionKind::Conversation,
                user_id: Some("carol".into()),
                ..chat(bob.id, "gone")
            })
            .await
            .unwrap();
        store
            .append_message(
                gone.id,
                &NewMessage {
                    user_id: Some("carol".into()),
                    ..NewMessage::new(Role::User, "secret")
                },
            )
            .await
            .unwrap();
        let before = store.locrit_stats(bob.id).await.unwrap();
        assert_eq!((before.messages, before.sessions, before.users), (2, 2, 2));
        store
            .set_session_status(gone.id, SessionStatus::Deleted)
            .await
            .unwrap();
        let after = store.locrit_stats(bob.id).await.unwrap();
        assert_eq!((after.messages, after.sessions, after.users), (1, 1, 1));
        let recent = store.recent_messages(bob.id, 10).await.unwrap();
        assert_eq!(
            recent
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>(),
            ["kept"]
        );
    }

    pub async fn search_messages_by_substring(store: Arc<dyn Store>) {
        let (bob, pixie) = (locrit("Bob"), locrit("Pixie"));
        store.insert_locrit(&bob).await.unwrap();
        store.insert_locrit(&pixie).await.unwrap();
        let s = store.create_session(&chat(bob.id, "s")).await.unwrap();
        let texts = [
            "I love Rust",
            "rust never sleeps",
            "100% sure",
            "a_b",
            "back\\slash",
            "nothing",
        ];
        for text in texts {
            store
                .append_message(s.id, &said(Role::User, text))
                .await
                .unwrap();
        }
        let other = store.create_session(&chat(pixie.id, "s")).await.unwrap();
        store
            .append_message(other.id, &said(Role::User, "Rust too"))
            .await
            .unwrap();
        let found = |text: &'static str, limit: u32| {
            let store = store.clone();
            async move {
                store
                    .search_messages(bob.id, text, limit)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|m| m.content)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            found("RUST", 10).await,
            ["rust never sleeps", "I love Rust"],
            "any case, newest first, this Locrit only"
        );
        assert_eq!(found("RUST", 1).await, ["rust never sleeps"]);
        assert_eq!(found("%", 10).await, ["100% sure"], "% is a character");
        assert_eq!(found("_", 10).await, ["a_b"], "_ is a character");
        assert_eq!(found("\\", 10).await, ["back\\slash"]);
        assert!(found("absent", 10).await.is_empty());
    }

    pub async fn concepts_are_edited_related_and_deleted(store: Arc<dyn Store>) {
        let (bob, pixie) = (locrit("Bob"), locrit("Pixie"));
        store.insert_locrit(&bob).await.unwrap();
        store.insert_locrit(&pixie).await.unwrap();
        let lyon = store
            .mention_concept(bob.id, "Lyon", "place", Some("a city"))
            .await
            .unwrap();
        let tea = store
            .mention_concept(bob.id, "tea", "thing", None)
            .await
            .unwrap();
        let alice = store
            .mention_concept(bob.id, "Alice", "person", None)
            .await
            .unwrap();
        store
            .relate_concepts(alice.id, lyon.id, "lives_in")
            .await
            .unwrap();
        store
            .relate_concepts(alice.id, lyon.id, "lives_in")
            .await
            .unwrap();
        store
            .relate_concepts(alice.id, tea.id, "likes")
            .await
            .unwrap();
        let names = |related: Vec<(locrit_domain::Concept, String)>| {
            related
                .into_iter()
                .map(|(c, r)| (c.name, r))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(store.concept_neighbours(alice.id).await.unwrap()),
            [
                ("Lyon".to_owned(), "lives_in".to_owned()),
                ("tea".into(), "likes".into())
            ],
            "once each, by name"
        );
        assert_eq!(
            names(store.concept_neighbours(lyon.id).await.unwrap()),
            [("Alice".to_owned(), "lives_in".to_owned())],
            "either way"
        );

        let changes = ConceptChanges {
            description: Some("capital of gastronomy".into()),
            confidence: Some(0.9),
            ..Default::default()
        };
        assert_eq!(
            store
                .update_concept(pixie.id, lyon.id, &changes)
                .await
                .unwrap(),
            None,
            "scoped to its Locrit"
        );
        let edited = store
            .update_concept(bob.id, lyon.id, &changes)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                edited.name.as_str(),
                edited.description.as_deref(),
                edited.confidence
            ),
            ("Lyon", Some("capital of gastronomy"), 0.9)
        );
        let renamed = ConceptChanges {
            name: Some("Lugdunum".into()),
            ..Default::default()
        };
        let edited = store
            .update_concept(bob.id, lyon.id, &renamed)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((edited.name.as_str(), edited.mentions), ("Lugdunum", 1));

        assert!(!store.delete_concept(pixie.id, tea.id).await.unwrap());
        assert!(store.delete_concept(bob.id, tea.id).await.unwrap());
        assert!(!store.delete_concept(bob.id, tea.id).await.unwrap());
        assert_eq!(
            names(store.concept_neighbours(alice.id).await.unwrap()),
            [("Lugdunum".to_owned(), "lives_in".to_owned())],
            "its relations go with it"
        );
        assert_eq!(store.concepts(bob.id).await.unwrap().len(), 2);
    }

    pub async fn settings_are_upserted(store: Arc<dyn Store>) {
        assert_eq!(store.setting("config").await.unwrap(), None);
        store
            .put_setting("config", &json!({"ollama": {"base_url": "http://a"}}))
            .await
            .unwrap();
        store
            .put_setting("config", &json!({"ollama": {"base_url": "http://b"}}))
            .await
            .unwrap();
        assert_eq!(
            store.setting("config").await.unwrap(),
            Some(json!({"ollama": {"base_url": "http://b"}}))
        );
    }

    pub async fn client_conversations_match_a_session_s_latest_state_only(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let s = store.create_session(&chat(bob.id, "s")).await.unwrap();
        let t = store.create_session(&chat(bob.id, "t")).await.unwrap();
        store
            .append_messages(
                s.id,
                &[said(Role::User, "hi"), said(Role::Assistant, "hey")],
            )
            .await
            .unwrap();
        assert_eq!(store.client_conversation(bob.id, "f1").await.unwrap(), None);
        store
            .put_client_conversation(bob.id, "f1", s.id, 2)
            .await
            .unwrap();
        let found = store.client_conversation(bob.id, "f1").await.unwrap();
        assert_eq!(found.map(|s| s.key), Some("s".to_owned()));
        assert_eq!(
            store
                .client_conversation(Uuid::now_v7(), "f1")
                .await
                .unwrap(),
            None,
            "fingerprints are per Locrit"
        );

        // A message added since: that state is gone.
        store
            .append_message(s.id, &said(Role::User, "more"))
            .await
            .unwrap();
        assert_eq!(store.client_conversation(bob.id, "f1").await.unwrap(), None);
        // A new state replaces the session's earlier record.
        store
            .put_client_conversation(bob.id, "f2", s.id, 3)
            .await
            .unwrap();
        assert!(
            store
                .client_conversation(bob.id, "f2")
                .await
                .unwrap()
                .is_some()
        );

        // The same fingerprint reached by another session: the newest wins.
        store
            .put_client_conversation(bob.id, "f2", t.id, 0)
            .await
            .unwrap();
        let found = store.client_conversation(bob.id, "f2").await.unwrap();
        assert_eq!(found.map(|s| s.key), Some("t".to_owned()));

        // A session marked deleted is never found; a deleted one takes its record along.
        store
            .put_client_conversation(bob.id, "f3", s.id, 3)
            .await
            .unwrap();
        store
            .set_session_status(s.id, SessionStatus::Deleted)
            .await
            .unwrap();
        assert_eq!(store.client_conversation(bob.id, "f3").await.unwrap(), None);
        store.delete_session(t.id).await.unwrap();
        assert_eq!(store.client_conversation(bob.id, "f2").await.unwrap(), None);
        store.delete_locrit(bob.id).await.unwrap();
    }

    fn memory(text: &str) -> NewMemory {
        NewMemory {
            content: text.into(),
            importance: 0.7,
            metadata: json!({"source": "test"}),
            tags: vec!["fact".into()],
            ..NewMemory::default()
        }
    }

    pub async fn server_stats_and_message_times_leave_out_deleted_sessions(store: Arc<dyn Store>) {
        let start = chrono::Utc::now() - chrono::Duration::seconds(1);
        let mut bob = locrit("Bob");
        bob.active = true;
        let eve = locrit("Eve");
        store.insert_locrit(&bob).await.unwrap();
        store.insert_locrit(&eve).await.unwrap();
        let kept = store.create_session(&chat(bob.id, "kept")).await.unwrap();
        let gone = store.create_session(&chat(bob.id, "gone")).await.unwrap();
        let other = store.create_session(&chat(eve.id, "other")).await.unwrap();
        let two = [said(Role::User, "hi"), said(Role::Assistant, "hello")];
        store.append_messages(kept.id, &two).await.unwrap();
        store.append_messages(gone.id, &two).await.unwrap();
        store
            .append_message(other.id, &said(Role::User, "hey"))
            .await
            .unwrap();
        store
            .set_session_status(gone.id, SessionStatus::Deleted)
            .await
            .unwrap();

        let stats = store.server_stats(start).await.unwrap();
        assert_eq!(
            (
                stats.locrits,
                stats.active_locrits,
                stats.sessions,
                stats.messages,
                stats.messages_since
            ),
            (2, 1, 2, 3, 3)
        );
        let later = chrono::Utc::now() + chrono::Duration::minutes(1);
        assert_eq!(store.server_stats(later).await.unwrap().messages_since, 0);

        let times = store.message_times(bob.id, start).await.unwrap();
        assert_eq!(
            times.len(),
            2,
            "the deleted session's messages are left out"
        );
        assert!(times[0] <= times[1] && times[0] >= start);
        assert!(store.message_times(bob.id, later).await.unwrap().is_empty());
    }

    fn account(name: &str, role: AccountRole) -> Account {
        Account {
            id: Uuid::now_v7(),
            username: name.into(),
            role,
            created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    pub async fn accounts_are_unique_without_case_and_keep_their_hash(store: Arc<dyn Store>) {
        let ada = account("Ada", AccountRole::Admin);
        store.insert_account(&ada, "$argon2id$hash").await.unwrap();
        let clash = account("ADA", AccountRole::User);
        assert!(matches!(
            store.insert_account(&clash, "x").await,
            Err(StoreError::Conflict(_))
        ));
        let (found, hash) = store.account_by_username("aDa").await.unwrap().unwrap();
        assert_eq!((found, hash.as_str()), (ada.clone(), "$argon2id$hash"));
        assert_eq!(store.account(ada.id).await.unwrap(), Some(ada.clone()));
        assert_eq!(store.count_admins().await.unwrap(), 1);
        let bob = account("bob", AccountRole::User);
        store.insert_account(&bob, "h").await.unwrap();
        let names: Vec<String> = store
            .accounts()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.username)
            .collect();
        assert_eq!(names, ["Ada", "bob"]);
        assert_eq!(store.count_admins().await.unwrap(), 1);

        // Unowned Locrits go to the account that adopts them; owned ones stay.
        let orphan = locrit("Orphan");
        let mut owned = locrit("Owned");
        owned.owner_id = Some(bob.id.to_string());
        store.insert_locrit(&orphan).await.unwrap();
        store.insert_locrit(&owned).await.unwrap();
        assert_eq!(store.adopt_unowned_locrits(ada.id).await.unwrap(), 1);
        let ada_id = ada.id.to_string();
        let orphan = store.locrit(orphan.id).await.unwrap().unwrap();
        assert_eq!(orphan.owner_id.as_deref(), Some(ada_id.as_str()));
        assert_eq!(
            store.locrit(owned.id).await.unwrap().unwrap().owner_id,
            owned.owner_id
        );

        assert!(store.delete_account(bob.id).await.unwrap());
        assert_eq!(store.account(bob.id).await.unwrap(), None);
        assert!(!store.delete_account(bob.id).await.unwrap());
    }

    pub async fn logins_expire_and_end_with_a_new_password(store: Arc<dyn Store>) {
        let ada = account("ada", AccountRole::User);
        store.insert_account(&ada, "old").await.unwrap();
        let now = chrono::Utc::now();
        let later = now + chrono::Duration::hours(1);
        store
            .insert_login("t1", ada.id, "csrf1", later)
            .await
            .unwrap();
        store
            .insert_login("t2", ada.id, "csrf2", later)
            .await
            .unwrap();
        let login = store.login("t1", now).await.unwrap().unwrap();
        assert_eq!(
            (login.account, login.csrf_token.as_str()),
            (ada.clone(), "csrf1")
        );
        assert_eq!(store.login("t1", later).await.unwrap(), None, "expired");
        assert_eq!(store.login("nope", now).await.unwrap(), None);
        assert!(store.delete_login("t1").await.unwrap());
        assert_eq!(store.login("t1", now).await.unwrap(), None, "signed out");
        assert!(store.set_password(ada.id, "new").await.unwrap());
        assert_eq!(
            store.login("t2", now).await.unwrap(),
            None,
            "every sign-in ends"
        );
        let (_, hash) = store.account_by_username("ada").await.unwrap().unwrap();
        assert_eq!(hash, "new");
    }

    pub async fn api_keys_are_found_by_hash_listed_and_revoked(store: Arc<dyn Store>) {
        let ada = account("ada", AccountRole::User);
        store.insert_account(&ada, "h").await.unwrap();
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let created_at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let key = |name: &str, locrit_id| ApiKey {
            id: Uuid::now_v7(),
            account_id: ada.id,
            name: name.into(),
            prefix: "lk_abc".into(),
            scopes: KeyScopes {
                read: true,
                chat: true,
                manage: false,
            },
            locrit_id,
            created_at,
            last_used_at: None,
            revoked_at: None,
        };
        let first = key("first", None);
        let second = key("bound", Some(bob.id));
        store.insert_api_key(&first, "digest1").await.unwrap();
        store.insert_api_key(&second, "digest2").await.unwrap();
        let (found, owner) = store.api_key_by_token("digest2").await.unwrap().unwrap();
        assert_eq!((found, owner), (second.clone(), ada.clone()));
        assert_eq!(store.api_key_by_token("other").await.unwrap(), None);
        let listed: Vec<Uuid> = store
            .api_keys(ada.id)
            .await
            .unwrap()
            .iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(listed, [second.id, first.id], "newest first");

        let used = created_at + chrono::Duration::minutes(5);
        store.touch_api_key(first.id, used).await.unwrap();
        let revoked = store
            .revoke_api_key(ada.id, first.id, used)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (revoked.last_used_at, revoked.revoked_at),
            (Some(used), Some(used))
        );
        let other = Uuid::now_v7();
        assert_eq!(
            store.revoke_api_key(other, second.id, used).await.unwrap(),
            None,
            "not theirs"
        );
        // A key bound to a Locrit goes with it.
        store.delete_locrit(bob.id).await.unwrap();
        assert_eq!(store.api_key_by_token("digest2").await.unwrap(), None);
    }

    pub async fn invitations_are_per_locrit_and_revocable(store: Arc<dyn Store>) {
        let bob = locrit("Bob");
        let other = locrit("Other");
        store.insert_locrit(&bob).await.unwrap();
        store.insert_locrit(&other).await.unwrap();
        let created_at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let invitation = Invitation {
            id: Uuid::now_v7(),
            locrit_id: bob.id,
            label: "Zoé".into(),
            created_by: None,
            created_at,
            expires_at: Some(created_at + chrono::Duration::days(1)),
            revoked_at: None,
        };
        store.insert_invitation(&invitation, "d1").await.unwrap();
        assert_eq!(
            store.invitation_by_token("d1").await.unwrap(),
            Some(invitation.clone())
        );
        let listed = store.invitations(bob.id).await.unwrap();
        assert_eq!(
            listed.iter().map(|i| i.id).collect::<Vec<_>>(),
            [invitation.id]
        );
        assert!(store.invitations(other.id).await.unwrap().is_empty());
        assert_eq!(
            store
                .revoke_invitation(other.id, invitation.id, created_at)
                .await
                .unwrap(),
            None,
            "another Locrit's invitation"
        );
        let revoked = store
            .revoke_invitation(bob.id, invitation.id, created_at)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(revoked.revoked_at, Some(created_at));
    }

    pub async fn contacts_and_dialogues_round_trip_and_save_only_what_was_read(
        store: Arc<dyn Store>,
    ) {
        let bob = locrit("Bob");
        store.insert_locrit(&bob).await.unwrap();
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let contact = Contact {
            id: Uuid::now_v7(),
            locrit_id: bob.id,
            name: "Remy".into(),
            server_url: "http://peer:5000".into(),
            api_key: Some("lk_secret".into()),
            created_at: at,
        };
        store.insert_contact(&contact).await.unwrap();
        assert_eq!(
            store.contact(contact.id).await.unwrap(),
            Some(contact.clone())
        );
        let twice = Contact {
            id: Uuid::now_v7(),
            ..contact.clone()
        };
        assert!(matches!(
            store.insert_contact(&twice).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.contacts(bob.id).await.unwrap(),
            std::slice::from_ref(&contact)
        );

        let mut dialogue = Dialogue {
            id: Uuid::now_v7(),
            locrit_id: bob.id,
            partner: Partner::Remote {
                contact_id: contact.id,
            },
            topic: "rain".into(),
            budget: Budget {
                max_turns: 10,
                max_seconds: Some(60),
                max_tokens: None,
            },
            status: DialogueStatus::Running,
            stop_reason: None,
            start_at: at,
            started_at: Some(at),
            ended_at: None,
            turns: 3,
            tokens: 120,
            next_speaker: Side::Partner,
            next_text: "Et toi ?".into(),
            steer: Some("plus court".into()),
            recent: vec!["a".into(), "b".into()],
            created_by: None,
            created_at: at,
            updated_at: at,
        };
        store.insert_dialogue(&dialogue).await.unwrap();
        assert_eq!(
            store.dialogue(dialogue.id).await.unwrap(),
            Some(dialogue.clone())
        );
        assert_eq!(
            store.dialogues(bob.id).await.unwrap(),
            std::slice::from_ref(&dialogue)
        );

        // A save succeeds only over what it read.
        let read_at = dialogue.updated_at;
        dialogue.turns = 4;
        dialogue.updated_at = at + chrono::Duration::seconds(1);
        assert!(store.save_dialogue(&dialogue, read_at).await.unwrap());
        let mut stale = dialogue.clone();
        stale.status = DialogueStatus::Stopped;
        assert!(
            !store.save_dialogue(&stale, read_at).await.unwrap(),
            "written since"
        );
        assert_eq!(store.dialogue(dialogue.id).await.unwrap().unwrap().turns, 4);

        assert!(store.delete_contact(bob.id, contact.id).await.unwrap());
        store.delete_locrit(bob.id).await.unwrap();
        assert_eq!(
            store.dialogue(dialogue.id).await.unwrap(),
            None,
            "gone with its Locrit"
        );
    }

    /// An import's writes land together at its commit; dropped before, none of them.
    pub async fn imports_are_all_or_nothing(store: Arc<dyn Store>) {
        let (bob, mut eve) = (locrit("Bob"), locrit("Eve"));
        store.insert_locrit(&eve).await.unwrap();
        eve.description = "imported".into();
        let session = Session {
            id: Uuid::now_v7(),
            locrit_id: bob.id,
            key: "archived".into(),
            kind: SessionKind::Chat,
            name: None,
            topic: None,
            user_id: None,
            status: SessionStatus::Active,
            metadata: json!({}),
            message_count: 0,
            last_seq: 0,
            revision: 0,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let restore = Restore {
            sessions: vec![session],
            ..Restore::default()
        };
        for commit in [false, true] {
            let mut import = store.begin_import().await.unwrap();
            import.insert_locrit(&bob).await.unwrap();
            assert!(import.update_locrit(&eve).await.unwrap());
            import.put_setting("imported", &json!(true)).await.unwrap();
            import.restore(bob.id, &restore).await.unwrap();
            if commit {
                import.commit().await.unwrap();
            } else {
                drop(import);
                assert_eq!(store.locrit(bob.id).await.unwrap(), None);
                assert_eq!(store.locrit(eve.id).await.unwrap().unwrap().description, "");
                assert_eq!(store.setting("imported").await.unwrap(), None);
            }
        }
        assert!(store.locrit(bob.id).await.unwrap().is_some());
        assert_eq!(
            store.locrit(eve.id).await.unwrap().unwrap().description,
            "imported"
        );
        assert_eq!(store.setting("imported").await.unwrap(), Some(json!(true)));
        assert!(store.session(bob.id, "archived").await.unwrap().is_some());
    }
}

/// Data outlives the process: reopening the same database finds it all.
async fn survives_reopen(db: &TestDatabase) {
    let bob = locrit("Bob");
    {
        let store = open(db).await;
        store.insert_locrit(&bob).await.unwrap();
        let session = store.create_session(&chat(bob.id, "s")).await.unwrap();
        store
            .append_message(session.id, &said(Role::User, "still here?"))
            .await
            .unwrap();
    }
    let store = open(db).await;
    let session = store.session(bob.id, "s").await.unwrap().unwrap();
    let messages = store
        .messages(
            session.id,
            MessagePage::Before {
                before: None,
                limit: 5,
            },
        )
        .await
        .unwrap();
    assert_eq!(messages[0].content, "still here?");
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let db = TestDatabase::sqlite();
                    cases::$case(open(&db).await).await;
                }
            )*
            #[tokio::test]
            async fn survives_reopen() {
                super::survives_reopen(&TestDatabase::sqlite()).await;
            }
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                #[ignore = "PostgreSQL suite: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
                async fn $case() {
                    let db = TestDatabase::postgres().await;
                    cases::$case(open(&db).await).await;
                }
            )*
            #[tokio::test]
            #[ignore = "PostgreSQL suite: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
            async fn survives_reopen() {
                super::survives_reopen(&TestDatabase::postgres().await).await;
            }
        }
    };
}

conformance!(
    locrits_round_trip_with_unicode_names,
    every_change_to_a_sessions_messages_moves_its_revision,
    names_are_unique_on_insert_and_rename,
    concurrent_creates_of_one_name_let_exactly_one_win,
    rename_keeps_sessions_and_messages,
    delete_locrit_removes_everything_it_owns,
    messages_append_in_order_and_page_both_ways,
    concurrent_appends_to_one_session_never_share_a_seq,
    appending_to_a_missing_session_fails,
    a_reply_and_its_job_are_stored_together_or_not_at_all,
    concurrent_appends_to_many_sessions_are_stored_in_order_and_fail_alone,
    batch_appends_are_all_or_nothing,
    session_keys_are_per_locrit,
    sessions_list_filters_and_hides_deleted,
    sessions_are_renamed,
    edit_and_delete_messages_within_their_locrit,
    recent_messages_and_stats_span_sessions,
    memories_and_concepts,
    clear_memory_wipes_one_locrit_only,
    sessions_marked_deleted_leave_recent_messages_and_stats,
    search_messages_by_substring,
    concepts_are_edited_related_and_deleted,
    settings_are_upserted,
    memories_are_edited_pinned_superseded_and_paged,
    deleting_its_sources_invalidates_a_learned_memory,
    jobs_are_claimed_once_retried_and_taken_over,
    a_renewed_job_lease_is_not_taken_over,
    rate_hits_are_counted_per_key_and_window,
    a_waiting_question_is_renewed_answered_or_marked_unanswered,
    streaming_replies_are_checkpointed_finished_or_interrupted,
    concurrent_claims_take_each_job_once,
    client_conversations_match_a_session_s_latest_state_only,
    server_stats_and_message_times_leave_out_deleted_sessions,
    accounts_are_unique_without_case_and_keep_their_hash,
    logins_expire_and_end_with_a_new_password,
    api_keys_are_found_by_hash_listed_and_revoked,
    invitations_are_per_locrit_and_revocable,
    contacts_and_dialogues_round_trip_and_save_only_what_was_read,
    imports_are_all_or_nothing,
);
