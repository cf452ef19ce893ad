//! Accounts in the browser: sign-in on a server without local trust (every change the
//! app makes then carries the sign-in's CSRF token), the one-time setup of a fresh
//! server, an API key shown once that works until revoked, and an invitation link that
//! lets someone with no account chat with a Locrit closed to the internet.

use locrit_testkit::FakeOllama;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{ADMIN, ADMIN_PASSWORD, Access, App, Tab, run_with};

impl Tab {
    /// Signs in from the open sign-in page.
    async fn sign_in(&self, username: &str, password: &str) {
        self.wait("location.pathname === '/login'").await;
        self.type_into("form.sign-in input[name=username]", username)
            .await;
        self.type_into("form.sign-in input[name=password]", password)
            .await;
        self.click("form.sign-in button[type=submit]").await;
    }

    /// The text of the first element `css` finds, once it shows.
    async fn text_of(&self, css: &str) -> String {
        let shown = format!("document.querySelector({css:?})?.offsetParent");
        self.wait(&shown).await;
        let text = self
            .eval(&format!("document.querySelector({css:?}).textContent"))
            .await;
        text.as_str().unwrap().to_owned()
    }

    /// Ticks the checkbox whose label starts with `label`.
    async fn tick(&self, label: &str) {
        self.eval(&format!(
            "[...document.querySelectorAll('label.toggle')].find(l => l.textContent.startsWith({label:?}))
                .querySelector('input').checked = true"
        ))
        .await;
    }

    /// The links of the main navigation.
    async fn nav(&self) -> Value {
        self.eval("[...document.querySelectorAll('#nav a')].map(a => a.textContent)")
            .await
    }
}

impl App {
    /// The status of `GET path` with this API key.
    async fn with_key(&self, key: &str, path: &str) -> StatusCode {
        self.http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Creates a Locrit through the form, signed in as the admin, with `open_to` ticked
    /// besides "Humans".
    async fn create_in_form(&self, name: &str, open_to: &[&str]) {
        self.open("/create-locrit").await;
        self.sign_in(ADMIN, ADMIN_PASSWORD).await;
        self.type_into("form.locrit-form input[name=name]", name)
            .await;
        self.type_into("input[name=ollama_model]", "llama3.2").await;
        for label in open_to {
            self.tick(label).await;
        }
        self.click("form.locrit-form button[type=submit]").await;
        self.wait(&format!(
            "location.pathname === '/my-locrits' && document.querySelector('[data-locrit={name:?}]')"
        ))
        .await;
    }
}

#[tokio::test]
async fn without_local_trust_the_app_signs_in_and_its_changes_carry_the_csrf_token() {
    let fake = FakeOllama::start().await;
    run_with("sign-in", fake, Access::SignIn, |app| async move {
        // The server trusts no one here, not even this machine.
        let anonymous = app.http.get(app.url("/api/v2/locrits")).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

        app.open("/my-locrits").await;
        app.wait("location.pathname === '/login' && document.querySelector('form.sign-in')")
            .await;
        assert_eq!(app.eval("location.search").await, "?next=%2Fmy-locrits");
        assert_eq!(app.nav().await, json!(["Explore"]), "only the public pages");

        app.sign_in(ADMIN, "not the password").await;
        assert_eq!(
            app.text_of("form.sign-in .banner.error").await,
            "Wrong username or password."
        );
        app.screenshot_if_asked("sign-in").await;
        assert_eq!(app.eval("location.pathname").await, "/login");

        app.sign_in(ADMIN, ADMIN_PASSWORD).await;
        // Back where the app was going, as the admin.
        app.wait("location.pathname === '/my-locrits' && document.querySelector('main .page-head h1')")
            .await;
        assert_eq!(app.text_of("main h1").await, "My Locrits");
        assert_eq!(app.text_of("#account .who").await, "admin admin");
        assert_eq!(app.nav().await.as_array().unwrap().len(), 6);

        // The server refuses a change without the sign-in's token…
        let bare = app
            .eval(
                "fetch('/api/v2/locrits', {method: 'POST', headers: {'Content-Type': 'application/json'},
                    body: JSON.stringify({name: 'Intruder', ollama_model: 'llama3.2'})}).then(r => r.status)",
            )
            .await;
        assert_eq!(bare, 403);
        // …so a Locrit made through the form, after a reload (the token comes back from
        // the status), proves the app sends it.
        app.open("/create-locrit").await;
        app.type_into("form.locrit-form input[name=name]", "Marie")
            .await;
        app.type_into("input[name=ollama_model]", "llama3.2").await;
        app.click("form.locrit-form button[type=submit]").await;
        app.wait("location.pathname === '/my-locrits' && document.querySelector('[data-locrit=Marie]')")
            .await;

        // A sign-in that ends under the app (expired, or ended elsewhere): the next call
        // the app makes is refused, and sends it to sign in, then back.
        app.browser.delete_cookie("locrit_session").await.unwrap();
        app.click("#nav a[href='/settings']").await;
        app.wait("location.pathname === '/login' && location.search === '?next=%2Fsettings'")
            .await;
        app.sign_in(ADMIN, ADMIN_PASSWORD).await;
        app.wait("location.pathname === '/settings' && document.querySelector('form.settings-form')")
            .await;

        app.click("#account button.sign-out").await;
        app.wait("location.pathname === '/login' && document.querySelector('form.sign-in')")
            .await;
        assert_eq!(app.nav().await, json!(["Explore"]));
        app.open("/my-locrits").await;
        app.wait("location.pathname === '/login' && location.search === '?next=%2Fmy-locrits'")
            .await;
    })
    .await;
}

#[tokio::test]
async fn a_fresh_server_offers_the_one_time_setup_which_signs_the_admin_in() {
    let fake = FakeOllama::start().await;
    run_with("setup", fake, Access::Fresh, |app| async move {
        // Offered, not forced: the app works, and its top bar leads to the setup.
        app.open("/my-locrits").await;
        app.wait("location.pathname === '/my-locrits' && document.querySelector('#account a[href=\"/setup\"]')")
            .await;
        app.click("#account a[href='/setup']").await;
        app.wait("location.pathname === '/setup' && document.querySelector('form.setup')")
            .await;
        app.type_into("form.setup input[name=username]", "owner")
            .await;
        app.type_into("input[name=new_password]", "too short").await;
        app.type_into("input[name=new_password_again]", "too short")
            .await;
        app.click("form.setup button[type=submit]").await;
        assert_eq!(
            app.text_of("form.setup .banner.error").await,
            "The password needs at least 10 characters."
        );
        app.type_into("input[name=new_password]", "long enough, surely")
            .await;
        app.click("form.setup button[type=submit]").await;
        app.wait("document.querySelector('form.setup .banner.error').textContent === 'The two passwords differ.'")
            .await;
        app.type_into("input[name=new_password_again]", "long enough, surely")
            .await;
        app.click("form.setup button[type=submit]").await;

        app.wait("location.pathname === '/' && document.querySelector('.stats')")
            .await;
        assert_eq!(app.text_of("#account .who").await, "owner admin");
        let status = app
            .eval("fetch('/api/v2/auth/status').then(r => r.json())")
            .await;
        assert_eq!(status["setup_needed"], false);
        assert_eq!(status["account"]["username"], "owner");
        assert_eq!(status["account"]["role"], "admin");
        // One time only.
        app.open("/setup").await;
        app.wait("location.pathname === '/' && document.querySelector('.stats')")
            .await;
    })
    .await;
}

#[tokio::test]
async fn an_api_key_is_shown_once_works_and_stops_when_revoked() {
    let fake = FakeOllama::start().await;
    run_with("api-key", fake, Access::SignIn, |app| async move {
        app.open("/account").await;
        app.sign_in(ADMIN, ADMIN_PASSWORD).await;
        app.wait("location.pathname === '/account' && document.querySelector('form.key-form')")
            .await;
        app.type_into("input[name=key_name]", "my script").await;
        app.click("form.key-form button[type=submit]").await;
        let token = app.text_of(".api-keys .secret .secret-value").await;
        assert!(token.starts_with("lk_"), "{token}");
        assert_eq!(
            app.text_of(".api-keys .secret .help").await,
            "Copy it now: you will not see it again."
        );
        let prefix = app.text_of(".api-keys [data-key] .prefix").await;
        assert!(token.starts_with(prefix.trim_end_matches('…')), "{prefix}");
        assert_eq!(app.text_of(".api-keys [data-key] .scope").await, "Read");
        app.screenshot_if_asked("account").await;

        // Shown once: the page shows the key again, never its token.
        app.open("/account").await;
        app.wait("document.querySelector('.api-keys [data-key]')")
            .await;
        let page = app.eval("document.querySelector('main').textContent").await;
        assert!(!page.as_str().unwrap().contains(&token));
        assert_eq!(
            app.eval("document.querySelector('.secret')").await,
            Value::Null
        );

        assert_eq!(
            app.with_key(&token, "/api/v2/locrits").await,
            StatusCode::OK
        );
        app.eval("window.confirm = () => true").await;
        app.click(".api-keys [data-key] button.danger").await;
        app.wait("document.querySelector('.api-keys [data-key] .badge.revoked')")
            .await;
        assert_eq!(
            app.with_key(&token, "/api/v2/locrits").await,
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}

#[tokio::test]
async fn an_invitation_link_lets_someone_without_an_account_chat_with_a_closed_locrit() {
    let fake = FakeOllama::start().await;
    run_with("invitation", fake, Access::SignIn, |app| async move {
        app.create_in_form("Pixie", &["Invited guests"]).await;
        app.open("/my-locrits/Pixie/settings").await;
        app.type_into("input[name=invitation_label]", "Zoé").await;
        app.type_into("input[name=invitation_hours]", "24").await;
        app.click("form.invitation-form button[type=submit]").await;
        let link = app.text_of(".invitations .secret .secret-value").await;
        assert!(link.starts_with(&app.url("/p/Pixie?invitation=")), "{link}");
        assert_eq!(
            app.text_of(".invitations [data-invitation] .label").await,
            "Zoé"
        );
        app.screenshot_if_asked("invitations").await;

        // Someone else, in a browser of their own: no account, no cookie.
        let guest = app.new_tab().await;
        guest.open("/p/Pixie").await;
        assert_eq!(guest.text_of("#account .sign-in").await, "Sign in");
        assert_eq!(
            guest.text_of("main .banner.error").await,
            "This Locrit is not open to the public."
        );
        guest
            .open(link.strip_prefix(&app.server.base).unwrap())
            .await;
        guest
            .wait("document.querySelector('.public-chat #message')")
            .await;
        guest.chat("Hello from a guest").await;
        let reply = guest
            .text_of(".message.assistant:not(.welcome):not(.streaming) .body")
            .await;
        assert_eq!(reply, "You said: Hello from a guest");
        guest.assert_no_errors().await;
        guest.browser.clone().close().await.unwrap();
    })
    .await;
}
