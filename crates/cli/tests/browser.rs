//! The web app in a real headless Chromium, driven through chromedriver, against the
//! real `locrit serve` and the fake Ollama. `scripts/test` installs Chromium and
//! chromedriver and says where they are (`LOCRIT_CHROMIUM`, `LOCRIT_CHROMEDRIVER`).
//!
//! Each test fails on any script error of the page (recorded by the app's boot script)
//! and leaves a screenshot in `target/tmp/` when it fails.

mod common;

#[path = "browser/accounts.rs"]
mod accounts;
#[path = "browser/conversations.rs"]
mod conversations;
#[path = "browser/memory_explorer.rs"]
mod memory_explorer;
#[path = "browser/public_pages.rs"]
mod public_pages;

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::panic::AssertUnwindSafe;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use locrit_testkit::FakeOllama;
use serde_json::{Value, json};

use common::Server;

const WAIT: Duration = Duration::from_secs(15);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver process; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Driver {
    let path = std::env::var("LOCRIT_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = Command::new(&path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {path} ({e}): run ./scripts/test, which installs it")
        });
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < WAIT, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Who may use the test's server, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Local trust, with an admin set up: the browser, on this machine, acts as an
    /// admin without signing in.
    Trusted,
    /// Local trust and no account yet: the app offers the one-time setup.
    Fresh,
    /// No local trust (`--no-local-trust`), with an admin set up: every private page
    /// needs a sign-in.
    SignIn,
    /// As `Trusted`, with no Ollama server answering and the embedded models (from
    /// `scripts/fetch-models`) in their folder: new Locrits default to them.
    TrustedWithoutOllama,
}

/// The admin of the servers that have one.
const ADMIN: &str = "admin";
const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Sets up the first admin as its operator does, with `locrit admin create`.
fn create_admin(data: &std::path::Path) {
    let output = common::locrit()
        .args(["admin", "create", "--username", ADMIN, "--data-dir"])
        .arg(data)
        .env("LOCRIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    assert!(output.status.success(), "locrit admin create: {output:?}");
}

/// A new Chromium session (its own profile: no cookie, nothing stored) on `driver`.
async fn chromium(driver: &Driver) -> Client {
    let chromium = std::env::var("LOCRIT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut capabilities = Capabilities::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": chromium, "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-dev-shm-usage", "--no-first-run", "--window-size=1280,900",
        ]}),
    );
    // chromedriver is on the loopback: plain HTTP, no TLS.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// A browser session on the server, and how tests drive it.
struct Tab {
    browser: Client,
    /// The server's address.
    base: String,
}

/// The server, the fake model behind it and a browser on it (its [`Tab`]).
struct App {
    tab: Tab,
    http: reqwest::Client,
    fake: FakeOllama,
    server: Server,
    data: tempfile::TempDir,
    driver: Driver,
}

impl App {
    async fn start(fake: FakeOllama, access: Access) -> Self {
        let data = tempfile::tempdir().unwrap();
        if access != Access::Fresh {
            create_admin(data.path());
        }
        let models = locrit_testkit::models_dir().display().to_string();
        let (ollama_url, args) = match access {
            Access::SignIn => (fake.url(), vec!["--no-local-trust"]),
            // Port 9 (discard): nothing listens there, a connection is refused at once.
            Access::TrustedWithoutOllama => (
                "http://127.0.0.1:9".to_owned(),
                vec!["--models-dir", &models],
            ),
            Access::Trusted | Access::Fresh => (fake.url(), vec![]),
        };
        let (server, _) = common::serve(data.path(), &ollama_url, &args).await;
        let driver = chromedriver();
        let browser = chromium(&driver).await;
        Self {
            tab: Tab {
                browser,
                base: server.base.clone(),
            },
            http: reqwest::Client::new(),
            fake,
            server,
            data,
            driver,
        }
    }

    fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// A clean API call that must succeed.
    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Creates an active Locrit on the fake's default model, open to humans, its memory visible.
    async fn locrit(&self, name: &str, ollama_url: &str) -> Value {
        self.api(
            reqwest::Method::POST,
            "/api/v2/locrits",
            Some(json!({
                "name": name, "ollama_model": "llama3.2", "ollama_url": ollama_url, "active": true,
                "open_to": {"humans": true}, "access_to": {"full_memory": true, "quick_memory": true},
            })),
        )
        .await
    }

    /// Another browser session on the server: a new profile (no cookie, nothing stored).
    async fn new_tab(&self) -> Tab {
        Tab {
            browser: chromium(&self.driver).await,
            base: self.server.base.clone(),
        }
    }
}

impl std::ops::Deref for App {
    type Target = Tab;

    fn deref(&self) -> &Tab {
        &self.tab
    }
}

impl Tab {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Opens a page of the app, after checking the last one raised no error.
    async fn open(&self, path: &str) {
        self.assert_no_errors().await;
        self.browser.goto(&self.url(path)).await.unwrap();
    }

    async fn eval(&self, expression: &str) -> Value {
        self.browser
            .execute(&format!("return ({expression});"), vec![])
            .await
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// Waits until `condition` (JavaScript) is truthy.
    async fn wait(&self, condition: &str) {
        let started = Instant::now();
        loop {
            let value = self.eval(&format!("Boolean({condition})")).await;
            if value == json!(true) {
                return;
            }
            if started.elapsed() > WAIT {
                let errors = self.eval("window.__locritErrors").await;
                let alerts = self
                    .eval("[...document.querySelectorAll('[role=alert]:not([hidden])')].map(a => a.textContent)")
                    .await;
                panic!(
                    "timed out waiting for: {condition} (script errors: {errors}; alerts shown: {alerts})"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn click(&self, css: &str) {
        self.wait(&format!("document.querySelector({css:?})")).await;
        self.browser
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.wait(&format!("document.querySelector({css:?})")).await;
        let element = self.browser.find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    /// With `LOCRIT_SCREENSHOTS` set, keeps a picture of the page for a person to look at.
    async fn screenshot_if_asked(&self, name: &str) {
        if std::env::var_os("LOCRIT_SCREENSHOTS").is_some() {
            self.screenshot(name).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.browser.screenshot().await {
            let path = format!("{}/browser-{name}.png", env!("CARGO_TARGET_TMPDIR"));
            let _ = std::fs::write(&path, png);
            eprintln!("screenshot: {path}");
        }
    }

    async fn assert_no_errors(&self) {
        let errors = self.eval("window.__locritErrors ?? []").await;
        assert_eq!(errors, json!([]), "script errors in the page");
    }

    /// Sends a chat message from the open chat page and waits for the whole reply.
    async fn chat(&self, text: &str) {
        let replies = self
            .eval("document.querySelectorAll('.message.assistant').length")
            .await;
        self.type_into("#message", text).await;
        self.click(".composer button[type=submit]").await;
        self.wait(&format!(
            "document.querySelectorAll('.message.assistant:not(.streaming)').length > {replies}"
        ))
        .await;
    }
}

/// Runs a test on a fresh app whose browser acts as the admin of this machine; on
/// failure, leaves a screenshot named after the test.
async fn run<F, Fut>(name: &str, fake: FakeOllama, test: F)
where
    F: FnOnce(Arc<App>) -> Fut,
    Fut: Future<Output = ()>,
{
    run_with(name, fake, Access::Trusted, test).await;
}

/// [`run`] on a server with these access rules.
async fn run_with<F, Fut>(name: &str, fake: FakeOllama, access: Access, test: F)
where
    F: FnOnce(Arc<App>) -> Fut,
    Fut: Future<Output = ()>,
{
    let app = Arc::new(App::start(fake, access).await);
    let outcome = AssertUnwindSafe(async {
        test(Arc::clone(&app)).await;
        app.assert_no_errors().await;
    })
    .catch_unwind()
    .await;
    if outcome.is_err() {
        app.screenshot(name).await;
    }
    let _ = app.browser.clone().close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
async fn the_seed_check_chat_twice_then_see_four_recent_messages_in_the_memory_explorer() {
    run("seed-check", FakeOllama::start().await, |app| async move {
        app.locrit("Pixie", &app.fake.url()).await;
        app.open("/my-locrits/Pixie/chat").await;
        app.chat("Hello, testing storage").await;
        app.chat("Can you remember this?").await;
        let last = app
            .eval("[...document.querySelectorAll('.message.assistant .body')].pop().textContent")
            .await;
        assert_eq!(last, "You said: Can you remember this?");
        app.screenshot_if_asked("seed-chat").await;

        app.click("a[href$='/memory-explorer']").await;
        // The overview's chart: today's bar holds the four messages.
        app.wait("document.querySelector('.chart rect')").await;
        let today = app
            .eval("[...document.querySelectorAll('.chart rect title')].pop().textContent")
            .await;
        assert!(
            today.as_str().unwrap().contains(": 4 messages, 0 memories"),
            "{today}"
        );
        app.click("#tab-messages").await;
        app.wait("document.querySelectorAll('.message-row').length === 4")
            .await;
        let rows = app
            .eval(
                "[...document.querySelectorAll('.message-row')].map(r => ({
                text: r.querySelector('.content').textContent,
                age: Date.now() - Date.parse(r.querySelector('time').dateTime)}))",
            )
            .await;
        let texts: Vec<&str> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["text"].as_str().unwrap())
            .collect();
        for text in [
            "Hello, testing storage",
            "You said: Hello, testing storage",
            "Can you remember this?",
            "You said: Can you remember this?",
        ] {
            assert!(texts.contains(&text), "{texts:?}");
        }
        for row in rows.as_array().unwrap() {
            let age = row["age"].as_f64().unwrap();
            assert!(
                (-5_000.0..120_000.0).contains(&age),
                "not a recent timestamp: {row}"
            );
        }
        app.screenshot_if_asked("seed-memory-explorer").await;
    })
    .await;
}

#[tokio::test]
async fn a_locrit_is_created_through_the_form_after_testing_its_connection() {
    run("create", FakeOllama::start().await, |app| async move {
        app.open("/create-locrit").await;
        app.type_into("input[name=name]", "Marie").await;
        app.type_into("textarea[name=description]", "a researcher").await;
        app.type_into("textarea[name=persona]", "You are {name}, {description}.").await;
        let preview = app.eval("document.querySelector('.preview').textContent").await;
        assert_eq!(preview, "You are Marie, a researcher.");
        app.type_into("input[name=ollama_url]", &app.fake.url()).await;
        app.click("button.test-connection").await;
        app.wait("document.querySelector('.test-result.ok')").await;
        app.wait("[...document.querySelectorAll('select[name=model_picker] option')].some(o => o.value === 'llama3.2:latest')").await;
        app.eval("(() => { const s = document.querySelector('select[name=model_picker]'); s.value = 'llama3.2:latest'; s.dispatchEvent(new Event('change')); })()").await;
        app.click("form.locrit-form button[type=submit]").await;
        app.wait("location.pathname === '/my-locrits' && document.querySelector('[data-locrit=Marie]')").await;

        let found = app.api(reqwest::Method::GET, "/api/v2/locrits?name=Marie", None).await;
        let marie = &found["locrits"][0];
        assert_eq!(marie["ollama_model"], "llama3.2:latest");
        assert_eq!(marie["ollama_url"], app.fake.url());
        assert_eq!(marie["persona"], "You are {name}, {description}.");
        assert_eq!(marie["open_to"]["humans"], true);
    })
    .await;
}

#[tokio::test]
async fn with_no_ollama_the_app_says_new_locrits_run_on_the_embedded_model() {
    if !locrit_embedded::MODELS
        .iter()
        .all(|m| m.is_present(&locrit_testkit::models_dir()))
    {
        eprintln!("SKIPPED: no embedded models in target/models; run scripts/fetch-models");
        return;
    }
    let model = locrit_embedded::CHAT_MODEL.name;
    run_with("embedded-default", FakeOllama::start().await, Access::TrustedWithoutOllama, |app| async move {
        app.open("/").await;
        app.wait("document.querySelector('.ollama .status.off')").await;
        let note = app.eval("document.querySelector('.engine-note')?.textContent").await;
        assert!(note.as_str().unwrap().contains(model), "{note}");

        app.open("/create-locrit").await;
        app.wait(&format!("document.querySelector('input[name=ollama_model]')?.value === '{model}'")).await;
        let help = app.eval("document.querySelector('input[name=ollama_url]').closest('.field').textContent").await;
        assert!(help.as_str().unwrap().contains(model), "the server field says what empty means: {help}");
        app.click("button.test-connection").await;
        app.wait("document.querySelector('.test-result.ok')").await;
        app.wait(&format!("[...document.querySelectorAll('select[name=model_picker] option')].some(o => o.value === '{model}')")).await;
        app.type_into("input[name=name]", "Tiny").await;
        app.click("form.locrit-form button[type=submit]").await;
        app.wait("location.pathname === '/my-locrits' && document.querySelector('[data-locrit=Tiny] .badge.engine')").await;
        let found = app.api(reqwest::Method::GET, "/api/v2/locrits?name=Tiny", None).await;
        assert_eq!(found["locrits"][0]["ollama_url"], "embedded");
        assert_eq!(found["locrits"][0]["ollama_model"], model);
    })
    .await;
}

#[tokio::test]
async fn changed_settings_persist_after_a_reload() {
    run("settings", FakeOllama::start().await, |app| async move {
        app.locrit("Bob", &app.fake.url()).await;
        app.open("/my-locrits/Bob/settings").await;
        app.type_into("textarea[name=description]", "a technician").await;
        app.type_into("input[name=public_title]", "Bob's page").await;
        app.eval("(() => { const l = [...document.querySelectorAll('label.toggle')].find(l => l.textContent.startsWith('The internet')); l.querySelector('input').click(); })()").await;
        app.click("form.locrit-form button[type=submit]").await;
        app.wait("document.getElementById('toast').textContent === 'Saved'").await;

        app.browser.refresh().await.unwrap();
        app.wait("document.querySelector('textarea[name=description]')").await;
        let state = app.eval("({
            description: document.querySelector('textarea[name=description]').value,
            title: document.querySelector('input[name=public_title]').value,
            internet: [...document.querySelectorAll('label.toggle')].find(l => l.textContent.startsWith('The internet')).querySelector('input').checked})").await;
        assert_eq!(state, json!({"description": "a technician", "title": "Bob's page", "internet": true}));
    })
    .await;
}

#[tokio::test]
async fn memory_search_highlights_and_a_session_is_deleted() {
    run("memory", FakeOllama::start().await, |app| async move {
        let locrit = app.locrit("Pixie", &app.fake.url()).await;
        let id = locrit["id"].as_str().unwrap();
        for (session, text) in [("garden", "my tomatoes are red"), ("kitchen", "soup recipe")] {
            let path = format!("/api/v2/locrits/{id}/sessions/{session}/messages");
            app.api(reqwest::Method::POST, &format!("/api/v2/locrits/{id}/sessions"), Some(json!({"id": session}))).await;
            app.api(reqwest::Method::POST, &path, Some(json!({"content": text}))).await;
        }
        app.open("/my-locrits/Pixie/memory-explorer?tab=messages").await;
        app.type_into("input[name=q]", "tomatoes").await;
        app.click("form.search button").await;
        app.wait("document.querySelectorAll('.message-row mark').length === 2").await;
        assert_eq!(app.eval("document.querySelector('.message-row mark').textContent").await, "tomatoes");

        app.eval("(() => { const s = document.querySelector('select[name=role]'); s.value = 'assistant'; s.dispatchEvent(new Event('change')); })()").await;
        let shown = app.eval("[...document.querySelectorAll('.message-row')].filter(r => !r.hidden).map(r => r.dataset.role)").await;
        assert_eq!(shown, json!(["assistant"]));

        app.eval("window.confirm = () => true").await;
        app.click("#tab-sessions").await;
        app.click("[data-session=garden] button.danger").await;
        app.wait("!document.querySelector('[data-session=garden]') && document.querySelector('[data-session=kitchen]')").await;
        let sessions = app.api(reqwest::Method::GET, &format!("/api/v2/locrits/{id}/sessions"), None).await;
        let ids: Vec<&str> = sessions["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["kitchen"]);
    })
    .await;
}

#[tokio::test]
async fn a_model_that_is_down_shows_an_error_and_keeps_the_typed_text() {
    run("model-down", FakeOllama::start().await, |app| async move {
        app.locrit("Pixie", &locrit_testkit::unused_local_url())
            .await;
        app.open("/my-locrits/Pixie/chat").await;
        app.type_into("#message", "Are you there?").await;
        app.click(".composer button[type=submit]").await;
        app.wait("!document.querySelector('.conversation .banner.error').hidden")
            .await;
        let banner = app
            .eval("document.querySelector('.conversation .banner.error').textContent")
            .await;
        assert!(
            banner.as_str().unwrap().contains("cannot be reached"),
            "{banner}"
        );
        assert_eq!(
            app.eval("document.querySelector('#message').value").await,
            "Are you there?"
        );
    })
    .await;
}

#[tokio::test]
async fn stop_generation_ends_the_reply_where_it_was() {
    let fake = FakeOllama::builder()
        .reply("word ".repeat(400))
        .token_delay(Duration::from_millis(30))
        .start()
        .await;
    run("stop", fake, |app| async move {
        let locrit = app.locrit("Pixie", &app.fake.url()).await;
        app.open("/my-locrits/Pixie/chat").await;
        app.type_into("#message", "Talk a lot").await;
        app.click(".composer button[type=submit]").await;
        app.wait("document.querySelector('.message.assistant.streaming')?.text.length > 20")
            .await;
        // The reply growing does not move the stop button under the pointer.
        let stop_at = "JSON.stringify(document.querySelector('.composer button.danger').getBoundingClientRect())";
        let before = app.eval(stop_at).await;
        app.wait("document.querySelector('.message.assistant.streaming')?.text.length > 600")
            .await;
        assert_eq!(app.eval(stop_at).await, before, "the stop button moved as the reply grew");
        app.click(".composer button.danger").await;
        app.wait("document.querySelector('.message.assistant:not(.streaming) .badge')")
            .await;
        let shown = app
            .eval("document.querySelector('.message.assistant').text")
            .await;
        let shown = shown.as_str().unwrap();
        assert!(shown.len() < 2000, "the reply was not stopped");

        let id = locrit["id"].as_str().unwrap();
        let sessions = app
            .api(
                reqwest::Method::GET,
                &format!("/api/v2/locrits/{id}/sessions"),
                None,
            )
            .await;
        let session = sessions["sessions"][0]["id"].as_str().unwrap();
        let page = app
            .api(
                reqwest::Method::GET,
                &format!("/api/v2/locrits/{id}/sessions/{session}/messages"),
                None,
            )
            .await;
        assert_eq!(page["messages"][1]["status"], "cancelled");
        assert_eq!(page["messages"][1]["content"], shown);
    })
    .await;
}

#[tokio::test]
async fn two_tabs_on_one_conversation_stay_in_sync() {
    run("two-tabs", FakeOllama::start().await, |app| async move {
        app.locrit("Pixie", &app.fake.url()).await;
        let page = "/my-locrits/Pixie/chat?session=shared";
        app.open(page).await;
        let first = app.browser.window().await.unwrap();
        let second = app.browser.new_window(true).await.unwrap().handle;
        app.browser.switch_to_window(second.clone()).await.unwrap();
        app.open(page).await;
        app.wait("document.querySelector('.messages .empty')").await;

        app.browser.switch_to_window(first).await.unwrap();
        app.chat("Sync me").await;
        app.browser.switch_to_window(second).await.unwrap();
        app.wait("document.querySelector('.message.assistant:not(.streaming)')?.text === 'You said: Sync me'").await;
        app.wait("document.querySelector('.message.user')?.text === 'Sync me'").await;
    })
    .await;
}

/// Not a timed assertion (this machine is shared): prints the figures for the report.
#[tokio::test]
async fn first_paint_of_the_main_pages_with_ten_thousand_messages() {
    run("paint", FakeOllama::start().await, |app| async move {
        let locrit = app.locrit("Pixie", &app.fake.url()).await;
        let id = locrit["id"].as_str().unwrap();
        // 10,000 messages in 50 sessions, through the clean API's store.
        let store = locrit_store::open(&locrit_store::StoreConfig::new(format!(
            "sqlite://{}",
            app.data_dir().join("locrit.db").display()
        )))
        .await
        .unwrap();
        for s in 0..50 {
            let session = store
                .open_session(&locrit_domain::NewSession {
                    locrit_id: id.parse().unwrap(),
                    key: format!("s{s}"),
                    kind: locrit_domain::SessionKind::Chat,
                    name: None,
                    user_id: None,
                    metadata: json!({}),
                })
                .await
                .unwrap();
            let messages: Vec<_> = (0..200)
                .map(|n| locrit_domain::NewMessage {
                    role: if n % 2 == 0 {
                        locrit_domain::Role::User
                    } else {
                        locrit_domain::Role::Assistant
                    },
                    content: format!("message {n} of session {s}, with **some** text and `code`"),
                    user_id: None,
                    status: locrit_domain::MessageStatus::Complete,
                    metadata: json!({}),
                })
                .collect();
            store.append_messages(session.id, &messages).await.unwrap();
        }
        for page in [
            "/",
            "/my-locrits",
            "/my-locrits/Pixie/chat?session=s0",
            "/my-locrits/Pixie/memory-explorer",
            "/my-locrits/Pixie/settings",
        ] {
            app.open(page).await;
            app.wait("performance.getEntriesByName('locrit:painted').length")
                .await;
            let ms = app
                .eval("performance.getEntriesByName('locrit:painted')[0].startTime")
                .await;
            println!(
                "first meaningful paint {page}: {ms:.0} ms",
                ms = ms.as_f64().unwrap()
            );
            app.screenshot_if_asked(&format!("paint{}", page.replace(['/', '?', '='], "-")))
                .await;
        }
    })
    .await;
}

#[tokio::test]
async fn the_dashboard_counts_what_the_settings_page_imported() {
    run("dashboard", FakeOllama::start().await, |app| async move {
        app.open("/").await;
        app.wait("document.querySelector('[data-stat=dash_locrits] dd')?.textContent === '0'").await;
        let ollama = app.eval("document.querySelector('.ollama').textContent").await;
        assert!(ollama.as_str().unwrap().contains(&app.fake.url()), "{ollama}");
        assert_eq!(app.eval("document.querySelector('.ollama .status').className").await, "status on");

        app.click("a[href='/settings']").await;
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/original-config.yaml");
        app.wait("document.querySelector('input[name=config_file]')").await;
        let input = app.browser.find(Locator::Css("input[name=config_file]")).await.unwrap();
        input.send_keys(&std::fs::canonicalize(fixture).unwrap().display().to_string()).await.unwrap();
        app.click("form.import-form button[type=submit]").await;
        app.wait("document.querySelectorAll('.import-result [data-outcome=created]').length === 4").await;

        app.click("a[href='/']").await;
        app.wait("document.querySelector('[data-stat=dash_locrits] dd')?.textContent === '4'").await;
        // The import took the file's global Ollama server too.
        let ollama = app.eval("document.querySelector('.ollama code').textContent").await;
        assert_eq!(ollama, "http://localhost:11434");

        app.eval("(() => { const s = document.getElementById('lang'); s.value = 'fr'; s.dispatchEvent(new Event('change')); })()").await;
        app.wait("document.querySelector('main h1').textContent === 'Tableau de bord'").await;
        assert_eq!(app.eval("document.documentElement.lang").await, "fr");
    })
    .await;
}

/// Prints how busy the page's main thread was while 2,000 tokens streamed in (tasks
/// over 50 ms block input); the figures are for the report, not a timed assertion.
#[tokio::test]
async fn a_reply_of_two_thousand_tokens_streams_whole() {
    let reply: String = (0..2000).map(|n| format!("w{n} ")).collect();
    let fake = FakeOllama::builder()
        .reply(reply.as_str())
        .token_delay(Duration::from_millis(2))
        .start()
        .await;
    run("stream", fake, |app| async move {
        app.locrit("Pixie", &app.fake.url()).await;
        app.open("/my-locrits/Pixie/chat").await;
        app.wait("document.querySelector('#message')").await;
        app.eval(
            "(() => { window.__longTasks = [];
                new PerformanceObserver(l => window.__longTasks.push(...l.getEntries().map(e => e.duration)))
                  .observe({type: 'longtask'}); })()",
        )
        .await;
        let started = Instant::now();
        app.chat("Count").await;
        let elapsed = started.elapsed();
        let shown = app.eval("document.querySelector('.message.assistant').text").await;
        assert_eq!(shown, reply.as_str());
        let tasks = app.eval("window.__longTasks").await;
        let tasks: Vec<f64> = serde_json::from_value(tasks).unwrap();
        println!(
            "2,000 tokens streamed in {elapsed:.1?}: {} main-thread tasks over 50 ms, longest {:.0} ms",
            tasks.len(),
            tasks.iter().cloned().fold(0.0, f64::max)
        );
    })
    .await;
}

#[tokio::test]
async fn a_locrit_is_switched_off_exported_imported_and_deleted_from_my_locrits() {
    run("my-locrits", FakeOllama::start().await, |app| async move {
        app.locrit("Pixie", &app.fake.url()).await;
        app.locrit("Tiny", "embedded").await;
        app.open("/my-locrits").await;
        // A Locrit on the embedded engine says so; one on Ollama does not.
        app.wait("document.querySelector('[data-locrit=Tiny] .engine')").await;
        assert_eq!(
            app.eval("document.querySelector('[data-locrit=Tiny] .engine')?.textContent").await,
            "embedded model, no Ollama needed"
        );
        assert_eq!(app.eval("document.querySelector('[data-locrit=Pixie] .engine') === null").await, true);
        app.click("[data-locrit=Pixie] button.toggle-active").await;
        app.wait("document.querySelector('[data-locrit=Pixie] .status.off')").await;
        let found = app.api(reqwest::Method::GET, "/api/v2/locrits?name=Pixie", None).await;
        assert_eq!(found["locrits"][0]["active"], false);

        // The export is the Locrit's whole archive, downloaded from its link.
        let id = found["locrits"][0]["id"].as_str().unwrap().to_owned();
        app.api(reqwest::Method::POST, &format!("/api/v2/locrits/{id}/memories"), Some(json!({"content": "Pixie likes tea"}))).await;
        let href = app.eval("document.querySelector('[data-locrit=Pixie] a.export').getAttribute('href')").await;
        let download = app.eval("document.querySelector('[data-locrit=Pixie] a.export').download").await;
        assert_eq!(download, "Pixie.locrit.gz");
        let archive = app.http.get(app.url(href.as_str().unwrap())).send().await.unwrap().bytes().await.unwrap();
        let file = app.data_dir().join("Pixie.locrit.gz");
        std::fs::write(&file, &archive).unwrap();
        let upload = |path: std::path::PathBuf| {
            let app = Arc::clone(&app);
            async move {
                app.wait("document.querySelector('input[name=locrit_file]')").await;
                let input = app.browser.find(Locator::Css("input[name=locrit_file]")).await.unwrap();
                input.send_keys(&path.display().to_string()).await.unwrap();
            }
        };
        // While Pixie exists, its archive is refused, and a file that is not one too.
        upload(file.clone()).await;
        app.wait("document.querySelector('.import-result .banner.error')?.textContent.startsWith('A Locrit with this name')").await;
        let junk = app.data_dir().join("junk.locrit.gz");
        std::fs::write(&junk, b"not an archive").unwrap();
        upload(junk).await;
        app.wait("document.querySelector('.import-result .banner.error')?.textContent.startsWith('This file is not a whole Locrit archive')").await;

        app.eval("window.confirm = () => true").await;
        app.click("[data-locrit=Pixie] button.danger").await;
        app.wait("!document.querySelector('[data-locrit=Pixie]')").await;
        // Deleted, then brought back whole from its archive.
        upload(file).await;
        app.wait("document.querySelector('.import-result .banner.ok')").await;
        assert_eq!(
            app.eval("document.querySelector('.import-result .banner.ok').textContent").await,
            "Imported Pixie: 0 sessions, 0 messages, 1 memories, 0 concepts."
        );
        app.wait("document.querySelector('[data-locrit=Pixie]')").await;
        let memories = app.api(reqwest::Method::GET, &format!("/api/v2/locrits/{id}/memories"), None).await;
        assert_eq!(memories["memories"][0]["content"], "Pixie likes tea");
    })
    .await;
}

#[tokio::test]
async fn replies_render_markdown_never_markup_and_regenerate_asks_again() {
    let reply = "**Bold** and `code` <img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>\n\n```rust\nfn main() {}\n```\n\n- [a link](https://example.org) [bad](javascript:alert(1))";
    let fake = FakeOllama::builder().reply(reply).start().await;
    run("markdown", fake, |app| async move {
        app.locrit("Pixie", &app.fake.url()).await;
        app.open("/my-locrits/Pixie/chat").await;
        app.chat("Show me").await;
        let body = app
            .eval(
                "(() => { const b = document.querySelector('.message.assistant .body');
                  return {strong: b.querySelector('strong')?.textContent, code: b.querySelector('pre.code code')?.textContent,
                    language: b.querySelector('pre.code code')?.dataset.language,
                    links: [...b.querySelectorAll('a')].map(a => a.getAttribute('href')),
                    elements: b.querySelectorAll('img, script').length, pwned: window.__pwned ?? null,
                    text: b.textContent}; })()",
            )
            .await;
        assert_eq!(body["strong"], "Bold");
        assert_eq!(body["code"], "fn main() {}");
        assert_eq!(body["language"], "rust");
        assert_eq!(body["links"], json!(["https://example.org"]), "only http(s) links");
        assert_eq!(body["elements"], 0, "model markup is never parsed");
        assert_eq!(body["pwned"], json!(null));
        assert!(body["text"].as_str().unwrap().contains("<img src=x"), "{body}");

        app.click(".message.assistant button.regenerate").await;
        app.wait("document.querySelectorAll('.message.assistant:not(.streaming)').length === 2").await;
        let users = app.eval("[...document.querySelectorAll('.message.user')].map(m => m.text)").await;
        assert_eq!(users, json!(["Show me", "Show me"]));
    })
    .await;
}

#[tokio::test]
async fn a_chat_that_loses_its_connection_until_the_reply_ended_shows_it_whole() {
    let reply: String = (0..150).map(|n| format!("w{n} ")).collect();
    let fake = FakeOllama::builder()
        .reply(reply.as_str())
        .token_delay(Duration::from_millis(20))
        .start()
        .await;
    run("reconnect", fake, |app| async move {
        app.locrit("Pixie", &app.fake.url()).await;
        app.open("/my-locrits/Pixie/chat").await;
        app.type_into("#message", "Go").await;
        app.click(".composer button[type=submit]").await;
        app.wait("document.querySelector('.message.assistant.streaming')?.text.length > 20").await;
        // The transport drops; the client reconnects by itself.
        app.eval("import('/assets/js/live.js').then(m => { const io = m.live().io;
            window.__reconnected = false; io.once('reconnect', () => { window.__reconnected = true; });
            // Back only once the turn has ended: its end was missed.
            io.randomizationFactor(0); io.reconnectionDelay(4000); io.reconnectionDelayMax(4000);
            io.engine.close(); return true; })").await;
        app.wait(&format!(
            "!document.querySelector('.message.assistant.streaming') && [...document.querySelectorAll('.message.assistant')].some(m => m.text.length >= {})",
            reply.len()
        ))
        .await;
        assert_eq!(app.eval("window.__reconnected").await, true, "the client reconnected");
        let replies = app.eval("[...document.querySelectorAll('.message.assistant')].map(m => m.text)").await;
        assert_eq!(replies, json!([reply]), "one reply, whole, no repeated text");
        assert_eq!(app.eval("document.querySelector('.composer button[type=submit]').disabled").await, false);
    })
    .await;
}

#[tokio::test]
async fn the_memory_explorer_updates_live_when_the_locrit_remembers() {
    run("memory-live", FakeOllama::start().await, |app| async move {
        let locrit = app.locrit("Pixie", &app.fake.url()).await;
        let id = locrit["id"].as_str().unwrap();
        app.open("/my-locrits/Pixie/memory-explorer?tab=messages").await;
        app.wait("document.querySelector('.badge.live')?.hidden === false").await;
        app.wait("document.querySelector('.message-list')").await;
        assert_eq!(app.eval("document.querySelectorAll('.message-row').length").await, 0);

        let sessions = format!("/api/v2/locrits/{id}/sessions");
        app.api(reqwest::Method::POST, &sessions, Some(json!({"id": "elsewhere"}))).await;
        let path = format!("{sessions}/elsewhere/messages");
        app.api(reqwest::Method::POST, &path, Some(json!({"content": "said over the API"}))).await;
        app.wait("[...document.querySelectorAll('.message-row .content')].some(c => c.textContent === 'said over the API')").await;
    })
    .await;
}
