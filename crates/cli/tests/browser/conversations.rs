//! Conversations between Locrits in the browser (issue 9): one started from the form
//! is watched live, reply by reply, until it completes, then reviewed; another is
//! paused, resumed and stopped from its view; a scheduled one waits in the list.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use locrit_testkit::{Endpoint, FakeOllama, Reply};
use reqwest::Method;
use serde_json::{Value, json};

use super::{App, run};

/// Replies that never repeat (so no dialogue ends on repetition): six words of their own.
fn fresh_replies() -> Reply {
    let count = Arc::new(AtomicUsize::new(0));
    Reply::func(move |_| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        (0..6)
            .map(|w| format!("r{n}w{w}"))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// The status the open dialogue view shows.
const STATUS: &str = "document.querySelector('.status-holder .dialogue-status')?.dataset.status";

impl App {
    /// An active Locrit that other Locrits may talk with.
    async fn talkative_locrit(&self, name: &str) -> Value {
        self.api(
            Method::POST,
            "/api/v2/locrits",
            Some(json!({
                "name": name, "ollama_model": "llama3.2", "ollama_url": self.fake.url(), "active": true,
                "open_to": {"humans": true, "locrits": true},
            })),
        )
        .await
    }

    /// Fills the new conversation form of /conversations and starts it; waits for its view.
    async fn start_dialogue(
        &self,
        initiator: &str,
        partner: &str,
        topic: &str,
        max_turns: u32,
        start_at: &str,
    ) {
        self.open("/conversations").await;
        self.wait("document.querySelector('form.new-dialogue select[name=initiator] option')")
            .await;
        self.eval(&format!(
            "(() => {{ document.querySelector('details.start-dialogue').open = true;
              const pick = (name, label) => {{ const s = document.querySelector(`select[name=${{name}}]`);
                s.value = [...s.options].find(o => o.textContent === label).value; s.dispatchEvent(new Event('change')); }};
              pick('initiator', {initiator:?}); pick('partner', {partner:?});
              document.querySelector('input[name=start_at]').value = {start_at}; }})()"
        ))
        .await;
        self.type_into("input[name=topic]", topic).await;
        self.type_into("input[name=max_turns]", &max_turns.to_string())
            .await;
        self.click("form.new-dialogue button[type=submit]").await;
        self.wait("/^\\/conversations\\/[0-9a-f-]+$/.test(location.pathname) && document.querySelector('.dialogue-log')")
            .await;
    }

    /// Waits longer than `wait` does: a whole conversation of several replies.
    async fn wait_long(&self, condition: &str) {
        let started = Instant::now();
        while self.eval(&format!("Boolean({condition})")).await != json!(true) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "timed out waiting for: {condition}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The replies the open view shows: (side, name, text).
    async fn shown_replies(&self) -> Vec<(String, String, String)> {
        let shown = self
            .eval(
                "[...document.querySelectorAll('.dialogue-log .message')].map(m =>
                    [m.dataset.side, m.querySelector('header strong').textContent, m.querySelector('.body').textContent])",
            )
            .await;
        serde_json::from_value(shown).unwrap()
    }
}

#[tokio::test]
async fn a_conversation_started_from_the_form_is_watched_live_until_it_completes() {
    let fake = FakeOllama::builder()
        .reply(fresh_replies())
        .token_delay(Duration::from_millis(120))
        .start()
        .await;
    run("conversation-live", fake, |app| async move {
        app.talkative_locrit("Ada").await;
        app.talkative_locrit("Bob").await;
        app.start_dialogue("Ada", "Bob", "the weather", 4, "''").await;
        // From now on the page never reloads: what appears comes live.
        app.eval(
            "(() => { window.__sameView = true; window.__streamed = 0;
                new MutationObserver(() => { if (document.querySelector('.dialogue-log .message.streaming')) window.__streamed++; })
                  .observe(document.querySelector('.dialogue-log'), {subtree: true, childList: true, characterData: true}); })()",
        )
        .await;
        app.wait_long(&format!("{STATUS} === 'completed'")).await;
        app.wait("document.querySelectorAll('.dialogue-log .message').length === 4 && !document.querySelector('.dialogue-log .streaming')").await;
        assert_eq!(app.eval("window.__sameView").await, true, "no reload");
        assert!(app.eval("window.__streamed").await.as_u64().unwrap() > 0, "tokens were seen streaming");
        app.screenshot_if_asked("conversation-completed").await;

        let shown = app.shown_replies().await;
        let sides: Vec<_> = shown.iter().map(|(side, name, _)| (side.as_str(), name.as_str())).collect();
        assert_eq!(
            sides,
            [("initiator", "Ada"), ("partner", "Bob"), ("initiator", "Ada"), ("partner", "Bob")],
            "{shown:?}"
        );
        // What the view shows is the initiator's transcript, after its opening instruction.
        let id = app.eval("location.pathname.split('/').pop()").await;
        let view = app.api(Method::GET, &format!("/api/v2/dialogues/{}", id.as_str().unwrap()), None).await;
        let stored: Vec<&str> = view["transcript"].as_array().unwrap().iter().skip(1).map(|m| m["content"].as_str().unwrap()).collect();
        let texts: Vec<&str> = shown.iter().map(|(_, _, text)| text.as_str()).collect();
        assert_eq!(texts, stored);
        assert!(app.eval("document.querySelector('.dialogue-instruction')?.textContent").await.as_str().unwrap().contains("the weather"));
        assert_eq!(app.eval("document.querySelector('.budget .spent').textContent.startsWith('4/4 replies')").await, true);
        assert_eq!(app.eval("document.querySelector('.stop-reason').textContent").await, "the turn limit was reached");
        let disabled = app.eval("[...document.querySelectorAll('.controls button, .steer button')].map(b => b.disabled)").await;
        assert_eq!(disabled, json!([true, true, true, true]), "nothing to control once it is over");

        // Reviewed later, it reads the same.
        app.browser.refresh().await.unwrap();
        app.wait("document.querySelectorAll('.dialogue-log .message').length === 4").await;
        assert_eq!(app.shown_replies().await, shown);
        app.click("a[href='/conversations']").await;
        app.wait("document.querySelector('.dialogue-list [data-status=completed]')").await;
        let row = app.eval("document.querySelector('.dialogue-list [data-status=completed]').textContent").await;
        let row = row.as_str().unwrap();
        for part in ["completed", "Ada ↔ Bob", "the weather", "4/4 replies", "the turn limit was reached"] {
            assert!(row.contains(part), "{part} in {row}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_conversation_is_paused_resumed_and_stopped_and_a_scheduled_one_waits() {
    let fake = FakeOllama::builder()
        .reply(fresh_replies())
        .token_delay(Duration::from_millis(60))
        .start()
        .await;
    run("conversation-controls", fake, |app| async move {
        app.talkative_locrit("Ada").await;
        app.talkative_locrit("Bob").await;
        app.start_dialogue("Bob", "Ada", "long talk", 100, "''").await;
        app.wait(&format!("{STATUS} === 'running' && document.querySelector('.dialogue-log .message')")).await;

        app.click(".controls button.pause").await;
        app.wait(&format!("{STATUS} === 'paused'")).await;
        assert_eq!(app.eval("document.querySelector('.controls button.resume').disabled").await, false);
        assert_eq!(app.eval("document.querySelector('.controls button.pause').disabled").await, true);
        // The reply under way ends; then nothing moves.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let paused = app.eval("document.querySelector('.budget .spent').textContent").await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(app.eval("document.querySelector('.budget .spent').textContent").await, paused);

        app.click(".controls button.resume").await;
        app.wait(&format!("{STATUS} === 'running'")).await;
        app.wait(&format!("document.querySelector('.budget .spent').textContent !== {paused}")).await;
        // Replies arriving do not move the steer box under a person's pointer.
        let steer_at = "JSON.stringify(document.querySelector('.steer button').getBoundingClientRect())";
        let (before, spent) = (app.eval(steer_at).await, app.eval("document.querySelector('.budget .spent').textContent").await);
        app.wait(&format!("document.querySelector('.budget .spent').textContent !== {spent}")).await;
        assert_eq!(app.eval(steer_at).await, before, "the steer box moved as a reply arrived");
        app.type_into("#steer", "talk about jazz").await;
        app.click(".steer button[type=submit]").await;
        app.wait("document.getElementById('toast').textContent === 'The next reply will hear it.'").await;
        let steered = Instant::now();
        while !app.fake.requests_on(Endpoint::Chat).iter().any(|r| r.to_string().contains("talk about jazz")) {
            assert!(steered.elapsed() < Duration::from_secs(20), "the steer never reached a prompt");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        app.click(".controls button.stop").await;
        app.wait(&format!("{STATUS} === 'stopped'")).await;
        app.wait("document.querySelector('.stop-reason').textContent === 'stopped by a person'").await;
        let id = app.eval("location.pathname.split('/').pop()").await;
        let view = app.api(Method::GET, &format!("/api/v2/dialogues/{}", id.as_str().unwrap()), None).await;
        assert_eq!(view["dialogue"]["status"], "stopped");
        app.screenshot_if_asked("conversation-stopped").await;

        // Scheduled two minutes ahead (the form's local time), it waits in the list.
        app.start_dialogue(
            "Ada",
            "Bob",
            "later",
            4,
            "(d => new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16))(new Date(Date.now() + 120000))",
        )
        .await;
        app.wait(&format!("{STATUS} === 'scheduled'")).await;
        assert_eq!(app.eval("document.querySelector('.controls button.pause').disabled").await, false);
        app.open("/conversations").await;
        app.wait("document.querySelectorAll('.dialogue-list [data-dialogue]').length === 2").await;
        let rows = app
            .eval("[...document.querySelectorAll('.dialogue-list [data-dialogue]')].map(r => [r.dataset.status, r.querySelector('.badge').textContent, r.querySelector('.topic').textContent])")
            .await;
        assert_eq!(rows, json!([["scheduled", "scheduled", "later"], ["stopped", "stopped", "long talk"]]), "newest first");
        let when = app.eval("document.querySelector('[data-status=scheduled] .times').textContent").await;
        assert!(when.as_str().unwrap().starts_with("starts "), "{when}");
        app.screenshot_if_asked("conversations-list").await;

        // A contact on another server: added, offered as a partner of its Locrit only, removed.
        app.eval("document.querySelector('[data-locrit=Ada].contacts-of').open = true").await;
        app.type_into("[data-locrit=Ada] input[name=name]", "Remy").await;
        app.type_into("[data-locrit=Ada] input[name=server_url]", "http://127.0.0.1:9").await;
        app.type_into("[data-locrit=Ada] input[name=api_key]", "lk_secret").await;
        app.click("[data-locrit=Ada] form.add-contact button[type=submit]").await;
        app.wait("document.querySelector('[data-locrit=Ada] [data-contact]')?.textContent.includes('Remy')").await;
        assert_eq!(
            app.eval("document.querySelector('[data-locrit=Ada] summary').textContent").await,
            "Contacts of Ada (1)"
        );
        let partners = "[...document.querySelectorAll('select[name=partner] option')].map(o => o.textContent)";
        let pick = |name: &str| {
            format!("(() => {{ const s = document.querySelector('select[name=initiator]');
                s.value = [...s.options].find(o => o.textContent === '{name}').value; s.dispatchEvent(new Event('change')); }})()")
        };
        app.eval(&pick("Ada")).await;
        assert_eq!(app.eval(partners).await, json!(["Bob", "Remy (http://127.0.0.1:9)"]));
        app.eval(&pick("Bob")).await;
        assert_eq!(app.eval(partners).await, json!(["Ada"]));
        app.click("[data-locrit=Ada] [data-contact] button.danger").await;
        app.wait("!document.querySelector('[data-locrit=Ada] [data-contact]')").await;
        let ada = app.api(Method::GET, "/api/v2/locrits?name=Ada", None).await;
        let contacts = app
            .api(Method::GET, &format!("/api/v2/locrits/{}/contacts", ada["locrits"][0]["id"].as_str().unwrap()), None)
            .await;
        assert_eq!(contacts["contacts"], json!([]));
    })
    .await;
}
