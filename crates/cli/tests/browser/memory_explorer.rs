//! The Memory Explorer on the clean API: memories (add, edit, pin, supersede, delete,
//! sources), jobs and retry, sessions renamed, concepts drawn from relations, paged
//! search, and the "why" of a reply.

use std::time::Duration;

use locrit_testkit::{FakeOllama, Reply};
use reqwest::Method;
use serde_json::{Value, json};

use super::{App, run};

impl App {
    /// Clicks the element in the page itself: a live redraw cannot make it stale in between.
    async fn press(&self, css: &str) {
        self.wait(&format!("document.querySelector({css:?})")).await;
        self.eval(&format!("document.querySelector({css:?}).click()"))
            .await;
    }

    /// Posts a chat message over the clean API (opening the session) and returns the answer.
    async fn say(&self, locrit: &str, session: &str, text: &str) -> Value {
        let sessions = format!("/api/v2/locrits/{locrit}/sessions");
        if self
            .http
            .get(self.url(&format!("{sessions}/{session}")))
            .send()
            .await
            .unwrap()
            .status()
            == 404
        {
            self.api(Method::POST, &sessions, Some(json!({"id": session})))
                .await;
        }
        self.api(
            Method::POST,
            &format!("{sessions}/{session}/messages"),
            Some(json!({"content": text})),
        )
        .await
    }

    /// Polls a clean API GET until `done` holds (background work), for at most `limit`.
    async fn eventually(
        &self,
        path: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = std::time::Instant::now();
        loop {
            let value = self.api(Method::GET, path, None).await;
            if done(&value) {
                return value;
            }
            assert!(
                started.elapsed() < limit,
                "{path} never became ready: {value}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn extraction() -> Reply {
    Reply::Text(
        json!({
            "memories": [{"content": "Alice plays the cello", "importance": 0.9}],
            "concepts": [{"name": "Alice", "type": "person"}, {"name": "cello", "type": "instrument"},
                {"name": "Lyon", "type": "place"}],
            "relations": [{"from": "Alice", "to": "cello", "relation": "plays"}]
        })
        .to_string(),
    )
}

#[tokio::test]
async fn memories_are_added_edited_pinned_superseded_deleted_and_show_their_sources() {
    let fake = FakeOllama::start().await;
    fake.set_structured_reply(extraction());
    run("memories", fake, |app| async move {
        let pixie = app.locrit("Pixie", &app.fake.url()).await;
        let id = pixie["id"].as_str().unwrap();
        let said = app.say(id, "music", "Alice plays the cello").await;
        let memories = format!("/api/v2/locrits/{id}/memories");
        app.eventually(&memories, Duration::from_secs(15), |m| m["memories"].as_array().unwrap().len() == 1).await;
        // Once the extraction is done, nothing else changes the memory behind the test's back.
        let done = format!("/api/v2/locrits/{id}/jobs?status=done");
        app.eventually(&done, Duration::from_secs(15), |j| !j["jobs"].as_array().unwrap().is_empty()).await;

        app.open("/my-locrits/Pixie/memory-explorer?tab=memories").await;
        // A learned memory links to the message it came from.
        app.press(".memory button.sources").await;
        app.wait("document.querySelector('.source-messages a')").await;
        let source = app.eval("(() => { const a = document.querySelector('.source-messages a');
            return {id: a.closest('li').dataset.id, href: a.getAttribute('href'), text: a.textContent}; })()").await;
        assert_eq!(source["id"], said["user_message"]["id"]);
        assert_eq!(source["href"], "/my-locrits/Pixie/chat?session=music");
        assert_eq!(source["text"], "user: Alice plays the cello");

        app.type_into("textarea[name=memory]", "Pixie lives in Paris").await;
        app.press("form.add-memory button[type=submit]").await;
        app.wait("document.querySelectorAll('.memory').length === 2").await;
        let paris = "[...document.querySelectorAll('.memory')].find(m => m.textContent.includes('Paris'))";

        app.press(".memory:first-child button.edit").await;
        app.type_into("textarea[name=memory_edit]", "Pixie lives in Paris, France").await;
        app.press(".memory form.editing button[type=submit]").await;
        app.wait(&format!("{paris}?.querySelector('.content').textContent === 'Pixie lives in Paris, France'")).await;

        app.eval(&format!("{paris}.querySelector('button.pin').click()")).await;
        app.wait(&format!("{paris}?.classList.contains('pinned') && {paris}.querySelector('button.unpin')")).await;
        let list = app.api(Method::GET, &memories, None).await;
        let stored = list["memories"].as_array().unwrap().iter().find(|m| m["content"] == "Pixie lives in Paris, France").unwrap().clone();
        assert_eq!(stored["pinned"], true);

        // A newer fact replaces it: the old one stays, greyed, saying why.
        app.eval(&format!("{paris}.querySelector('button.supersede').click()")).await;
        app.type_into("textarea[name=memory_edit]", "Pixie moved to Lyon").await;
        app.press(".memory form.editing button[type=submit]").await;
        app.wait(&format!("document.querySelectorAll('.memory').length === 3 && {paris}?.classList.contains('outdated')")).await;
        let why = app.eval(&format!("{paris}.querySelector('.why-outdated').textContent")).await;
        assert!(why.as_str().unwrap().starts_with("Replaced by a newer memory"), "{why}");
        assert_eq!(app.eval(&format!("Boolean({paris}.querySelector('button.supersede, button.edit'))")).await, false);
        let old = app.api(Method::GET, &format!("{memories}/{}", stored["id"].as_str().unwrap()), None).await;
        let newer = app.api(Method::GET, &format!("{memories}/{}", old["superseded_by"].as_str().unwrap()), None).await;
        assert_eq!(newer["content"], "Pixie moved to Lyon");

        app.screenshot_if_asked("memories").await;
        app.eval("window.confirm = () => true").await;
        app.eval("[...document.querySelectorAll('.memory')].find(m => m.textContent.includes('Lyon')).querySelector('button.delete').click()").await;
        app.wait("document.querySelectorAll('.memory').length === 2").await;
        let left = app.api(Method::GET, &memories, None).await;
        assert!(left["memories"].as_array().unwrap().iter().all(|m| m["content"] != "Pixie moved to Lyon"));

        // The concepts' graph joins the two that the model related, not the third.
        app.press("#tab-concepts").await;
        app.wait("document.querySelectorAll('.graph .node').length === 3").await;
        let edges = app.eval("[...document.querySelectorAll('.graph .edge')].map(e => e.querySelector('title').textContent)").await;
        assert_eq!(edges, json!(["Alice plays cello"]));

        app.press("#tab-jobs").await;
        app.wait("document.querySelector('.jobs [data-status=done]')").await;

        app.press("#tab-overview").await;
        app.press("button.clear-memory").await;
        app.wait("[...document.querySelectorAll('.stat dd')].every(d => d.textContent === '0')").await;
        let cleared = app.api(Method::GET, &format!("/api/v2/locrits/{id}/memory"), None).await;
        assert_eq!(cleared["statistics"]["memories"], 0);
    })
    .await;
}

#[tokio::test]
async fn a_failed_extraction_job_shows_its_error_and_is_retried() {
    let fake = FakeOllama::start().await;
    fake.set_structured_reply("I cannot answer in JSON, sorry");
    run("jobs", fake, |app| async move {
        let pixie = app.locrit("Pixie", &app.fake.url()).await;
        let id = pixie["id"].as_str().unwrap();
        app.say(id, "s", "Alice plays the cello").await;
        // Three attempts with growing delays (5 s, 10 s) before the job fails for good.
        let jobs = format!("/api/v2/locrits/{id}/jobs?status=failed");
        app.eventually(&jobs, Duration::from_secs(60), |j| !j["jobs"].as_array().unwrap().is_empty()).await;

        app.open("/my-locrits/Pixie/memory-explorer?tab=jobs").await;
        app.wait("document.querySelector('.jobs [data-status=failed] .job-error')").await;
        let error = app.eval("document.querySelector('.jobs [data-status=failed] .job-error').textContent").await;
        assert!(!error.as_str().unwrap().is_empty());

        app.fake.set_structured_reply(extraction());
        app.press(".jobs [data-status=failed] button.retry").await;
        app.wait("!document.querySelector('.jobs [data-status=failed]') && document.querySelector('.jobs [data-status=queued], .jobs [data-status=running], .jobs [data-status=done]')").await;
        let memories = format!("/api/v2/locrits/{id}/memories");
        app.eventually(&memories, Duration::from_secs(15), |m| m["memories"].as_array().unwrap().len() == 1).await;
    })
    .await;
}

#[tokio::test]
async fn search_pages_escapes_and_notes_semantic_and_sessions_are_renamed() {
    run("search-sessions", FakeOllama::start().await, |app| async move {
        let pixie = app.locrit("Pixie", &app.fake.url()).await;
        let id = pixie["id"].as_str().unwrap();
        // 24 messages say "tomatoes" (each question and its echoed reply): two pages of 20.
        for n in 0..12 {
            app.say(id, "garden", &format!("<b>tomatoes</b> note {n}")).await;
        }
        app.say(id, "kitchen", "soup recipe").await;

        app.open("/my-locrits/Pixie/memory-explorer?tab=messages").await;
        app.type_into("input[name=q]", "tomatoes").await;
        app.press("form.search button").await;
        app.wait("document.querySelectorAll('.message-row mark').length >= 1").await;
        let marked = "[...document.querySelectorAll('.message-row')].filter(r => r.querySelector('mark')).length";
        app.wait("!document.querySelector('button.more').hidden").await;
        let first = app.eval(marked).await.as_u64().unwrap();
        assert!(first < 24, "{first}");
        while app.eval("!document.querySelector('button.more').hidden").await == json!(true) {
            app.press("button.more").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        app.wait(&format!("{marked} === 24")).await;
        // The snippets are the server's escaped text: the message's markup shows as text.
        assert_eq!(app.eval("document.querySelectorAll('.message-row .content b').length").await, 0);
        assert!(app.eval("document.querySelector('.message-row .content').textContent").await
            .as_str().unwrap().contains("<b>tomatoes</b>"));
        assert_eq!(app.eval("document.querySelector('.message-row mark').textContent").await, "tomatoes");
        // Whether meaning-based search took part, as the server says, with its reason.
        let api = app.api(Method::GET, &format!("/api/v2/locrits/{id}/search?q=tomatoes&mode=hybrid"), None).await;
        let note = app.eval("(() => { const n = document.querySelector('.semantic-note'); return n.hidden ? null : n.textContent; })()").await;
        match api["semantic"]["available"].as_bool().unwrap() {
            true => assert_eq!(note, Value::Null),
            false => assert!(note.as_str().unwrap().ends_with(api["semantic"]["reason"].as_str().unwrap()), "{note} {api}"),
        }

        app.eval("(() => { const s = document.querySelector('select[name=role]'); s.value = 'assistant'; s.dispatchEvent(new Event('change')); })()").await;
        let shown = app.eval("[...document.querySelectorAll('.message-row')].filter(r => !r.hidden).map(r => r.dataset.role)").await;
        assert!(!shown.as_array().unwrap().is_empty() && shown.as_array().unwrap().iter().all(|r| r == "assistant"), "{shown}");

        // Without a search: a session's messages, paged back from the newest.
        app.open("/my-locrits/Pixie/memory-explorer?tab=messages").await;
        app.wait("document.querySelector('select[name=session]')?.value === 'kitchen' && document.querySelectorAll('.message-row').length === 2").await;
        app.eval("(() => { const s = document.querySelector('select[name=session]'); s.value = 'garden'; s.dispatchEvent(new Event('change')); })()").await;
        app.wait("document.querySelectorAll('.message-row').length === 24").await;

        app.press("#tab-sessions").await;
        app.press("[data-session=kitchen] button.rename").await;
        app.type_into("input[name=session_name]", "Soups").await;
        app.press("[data-session=kitchen] form button[type=submit]").await;
        app.wait("document.querySelector('[data-session=kitchen] strong')?.textContent === 'Soups'").await;
        let kitchen = app.api(Method::GET, &format!("/api/v2/locrits/{id}/sessions/kitchen"), None).await;
        assert_eq!(kitchen["name"], "Soups");
    })
    .await;
}

#[tokio::test]
async fn a_reply_shows_why_with_the_memories_it_recalled() {
    run("why", FakeOllama::start().await, |app| async move {
        let pixie = app.locrit("Pixie", &app.fake.url()).await;
        let id = pixie["id"].as_str().unwrap();
        let memories = format!("/api/v2/locrits/{id}/memories");
        // Pinned memories are always recalled into an owner's chat.
        for content in ["Alice plays the cello", "Alice hates cats"] {
            app.api(Method::POST, &memories, Some(json!({"content": content, "pinned": true})))
                .await;
        }
        app.open("/my-locrits/Pixie/chat?session=now").await;
        app.chat("What does Alice play?").await;
        // The reply that just streamed gets its why once stored.
        app.wait("document.querySelector('.message.assistant .why')").await;
        let page = app
            .api(Method::GET, &format!("/api/v2/locrits/{id}/sessions/now/messages"), None)
            .await;
        let reply = page["messages"][1].clone();
        assert_eq!(reply["metadata"]["recall"]["memories"].as_array().unwrap().len(), 2, "{reply}");
        let list = app.api(Method::GET, &memories, None).await;
        let cats = list["memories"].as_array().unwrap().iter().find(|m| m["content"] == "Alice hates cats").unwrap();
        app.api(Method::DELETE, &format!("{memories}/{}", cats["id"].as_str().unwrap()), None)
            .await;

        app.press(".message.assistant .why summary").await;
        app.wait("document.querySelector('.why .why-memories')").await;
        let why = app
            .eval("({memories: [...document.querySelectorAll('.why-memories li')].map(l => l.textContent),
                deleted: document.querySelector('.why .deleted')?.textContent})")
            .await;
        assert_eq!(why, json!({"memories": ["Alice plays the cello"], "deleted": "1 deleted since"}));
        assert_eq!(app.eval("document.querySelectorAll('.message.user .why').length").await, 0);

        app.open("/my-locrits/Pixie/memory-explorer?tab=messages").await;
        app.press(".message-row .why summary").await;
        app.wait("document.querySelectorAll('.message-row .why-memories li').length === 1").await;
    })
    .await;
}
