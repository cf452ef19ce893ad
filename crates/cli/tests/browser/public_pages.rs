//! Public pages in the browser: a visitor chats on a Locrit's page (streamed reply,
//! history back after a reload), finds it in the directory, and chats through the
//! widget that another site embeds with one script tag. Only the embedded chat may be
//! framed.

use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use locrit_testkit::{FakeOllama, Reply};
use reqwest::Method;
use serde_json::{Value, json};

use super::{App, run};

impl App {
    /// Creates an active Locrit open to the internet, with a public page.
    async fn public_locrit(&self, name: &str) -> Value {
        self.api(
            Method::POST,
            "/api/v2/locrits",
            Some(json!({
                "name": name, "ollama_model": "llama3.2", "ollama_url": self.fake.url(),
                "active": true, "open_to": {"internet": true},
                "public_page": {"title": format!("Chez {name}"), "avatar": "🦊",
                                "welcome_message": "Bienvenue !"},
            })),
        )
        .await
    }

    /// Sends a message from an open public chat and waits for the whole reply.
    async fn visitor_says(&self, text: &str) {
        let replies =
            "document.querySelectorAll('.message.assistant:not(.welcome):not(.streaming)').length";
        let before = self.eval(replies).await;
        self.type_into("#message", text).await;
        self.click(".composer button[type=submit]").await;
        self.wait(&format!("{replies} > {before}")).await;
    }

    /// The (role, text) of the messages shown, the welcome message left out.
    async fn shown_messages(&self) -> Value {
        self.eval(
            "[...document.querySelectorAll('.message:not(.welcome)')]
                .map(m => [m.dataset.role, m.querySelector('.body').textContent])",
        )
        .await
    }
}

/// Another web site, on its own loopback port: one page with the widget's script tag.
async fn other_site(locrit_server: &str, locrit: &str) -> String {
    let page = format!(
        "<!doctype html><html><head><title>Another site</title></head><body>\
         <h1>Another site</h1>\
         <script src=\"{locrit_server}/widget.js\" data-locrit=\"{locrit}\" async></script>\
         </body></html>"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route("/", get(move || async move { Html(page) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn a_visitor_chats_on_the_public_page_and_finds_the_history_after_a_reload() {
    let fake = FakeOllama::start().await;
    fake.set_reply(Reply::Tokens(
        ["Bon", "jour", " visiteur", " !"]
            .map(String::from)
            .to_vec(),
    ));
    fake.set_token_delay(Duration::from_millis(150));
    run("public-page", fake, |app| async move {
        app.public_locrit("Pixie l'Organisateur").await;
        app.open("/explore").await;
        app.wait("document.querySelector('.public-list [data-locrit] a')").await;
        let title = app.eval("document.querySelector('.public-list h2 a').textContent").await;
        assert_eq!(title, "Chez Pixie l'Organisateur");
        app.click(".public-list a.button").await;
        app.wait("location.pathname === '/p/Pixie%20l\\'Organisateur'").await;
        app.wait("document.querySelector('.message.welcome')").await;
        let welcome = app.eval("document.querySelector('.message.welcome .body').textContent").await;
        assert_eq!(welcome, "Bienvenue !");

        app.type_into("#visitor-name", "Zoé").await;
        app.type_into("#message", "Salut").await;
        app.click(".composer button[type=submit]").await;
        // The reply arrives piece by piece.
        app.wait("document.querySelector('.message.assistant.streaming .body')?.textContent.length > 0").await;
        app.wait("document.querySelectorAll('.message.assistant:not(.welcome):not(.streaming)').length === 1").await;
        assert_eq!(
            app.shown_messages().await,
            json!([["user", "Salut"], ["assistant", "Bonjour visiteur !"]])
        );
        let visitor = app.eval("localStorage.getItem('locrit.visitor')").await;
        let visitor = visitor.as_str().expect("the visitor id is kept").to_owned();

        app.visitor_says("Encore").await;
        app.open("/p/Pixie%20l'Organisateur").await;
        app.wait("document.querySelectorAll('.message:not(.welcome)').length === 4").await;
        assert_eq!(
            app.shown_messages().await,
            json!([["user", "Salut"], ["assistant", "Bonjour visiteur !"],
                   ["user", "Encore"], ["assistant", "Bonjour visiteur !"]])
        );
        let name = app.eval("document.querySelector('#visitor-name').value").await;
        assert_eq!(name, "Zoé");

        // The server kept them in this visitor's own session.
        let history = app
            .api(
                Method::GET,
                &format!("/public/Pixie%20l'Organisateur/chat/history?visitor_id={visitor}"),
                None,
            )
            .await;
        assert_eq!(history["count"], 4);
        app.screenshot_if_asked("public-page").await;
    })
    .await;
}

#[tokio::test]
async fn another_site_embeds_the_chat_with_one_script_tag() {
    run("widget", FakeOllama::start().await, |app| async move {
        app.public_locrit("Pixie").await;
        let site = other_site(&app.server.base, "Pixie").await;
        assert_ne!(site, app.server.base);

        app.browser.goto(&format!("{site}/")).await.unwrap();
        app.click("button.locrit-widget-button").await;
        app.wait("document.querySelector('iframe.locrit-widget-frame')")
            .await;
        let src = app
            .eval("document.querySelector('iframe.locrit-widget-frame').src")
            .await;
        assert_eq!(src, format!("{}/p/Pixie/embed", app.server.base));

        app.browser.enter_frame(0).await.unwrap();
        app.wait("document.querySelector('.public-chat.compact .message.welcome')")
            .await;
        let topbar_hidden = app
            .eval("getComputedStyle(document.querySelector('.topbar')).display === 'none'")
            .await;
        assert_eq!(topbar_hidden, true, "the embedded chat is the page alone");
        app.visitor_says("Hello from another site").await;
        assert_eq!(
            app.shown_messages().await,
            json!([
                ["user", "Hello from another site"],
                ["assistant", "You said: Hello from another site"]
            ])
        );
        app.assert_no_errors().await;
        app.browser.enter_parent_frame().await.unwrap();

        // The button closes and opens the same chat.
        app.click("button.locrit-widget-button").await;
        app.wait("document.querySelector('iframe.locrit-widget-frame').hidden")
            .await;
        app.screenshot_if_asked("widget").await;

        // Only the embedded chat may be framed, by any site; every other page by none.
        for (path, framable) in [
            ("/p/Pixie/embed", true),
            ("/p/Pixie", false),
            ("/explore", false),
            ("/my-locrits", false),
        ] {
            let response = app.http.get(app.url(path)).send().await.unwrap();
            let headers = response.headers();
            let csp = headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
            if framable {
                assert!(csp.contains("frame-ancestors *"), "{path}: {csp}");
                assert!(headers.get("x-frame-options").is_none(), "{path}");
            } else {
                assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
                assert_eq!(headers["x-frame-options"], "DENY", "{path}");
            }
        }
    })
    .await;
}
