//! Who may come in (`docs/ACCESS.md`), on a server without local trust, as it runs when
//! it listens beyond loopback: sign-in, CSRF, API keys and their scopes, owners, the
//! chat and reading tables per caller kind, on every transport.

use crate::common;
use crate::socketio_driver as driver;

use common::{TestServer, read, segment};
use locrit_core::token_digest;
use locrit_domain::{
    AccessTo, Account, AccountRole, Locrit, LocritPatch, NewLocrit, OpenTo, Requester,
};
use locrit_server::ServerConfig;
use locrit_store::{MessagePage, SessionQuery};
use locrit_testkit::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

/// How a request presents itself.
#[derive(Clone, Debug)]
enum As {
    Anonymous,
    /// A sign-in: the cookie, and the CSRF token (sent unless told not to).
    SignedIn {
        cookie: String,
        csrf: String,
    },
    SignedInWithoutCsrf {
        cookie: String,
    },
    Key(String),
}

struct Server {
    server: TestServer,
    admin: Account,
}

impl Server {
    /// A server that trusts no one: every request needs credentials.
    async fn start() -> Self {
        let config = ServerConfig {
            local_trust: false,
            ..ServerConfig::default()
        };
        let server = TestServer::start_with(TestDatabase::sqlite(), config).await;
        let admin = server
            .core
            .create_first_admin("root", PASSWORD)
            .await
            .unwrap();
        Self { server, admin }
    }

    async fn account(&self, name: &str) -> Account {
        self.server
            .core
            .create_account(&Requester::Local, name, PASSWORD, AccountRole::User)
            .await
            .unwrap()
    }

    async fn call(
        &self,
        who: &As,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.server.http.request(method, self.server.url(path));
        request = match who {
            As::Anonymous => request,
            As::SignedIn { cookie, csrf } => request
                .header("cookie", format!("locrit_session={cookie}"))
                .header("x-csrf-token", csrf),
            As::SignedInWithoutCsrf { cookie } => {
                request.header("cookie", format!("locrit_session={cookie}"))
            }
            As::Key(key) => request.bearer_auth(key),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let streamed = response
            .headers()
            .get("content-type")
            .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
        if streamed {
            // A stream's status is the answer here; drain it so the turn completes.
            let status = response.status();
            let _ = response.bytes().await;
            return (status, Value::Null);
        }
        read(response).await
    }

    async fn get(&self, who: &As, path: &str) -> (StatusCode, Value) {
        self.call(who, Method::GET, path, None).await
    }

    async fn post(&self, who: &As, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(who, Method::POST, path, Some(body)).await
    }

    /// Signs in over HTTP and returns the cookie and the CSRF token.
    async fn sign_in(&self, username: &str) -> As {
        let response = self
            .server
            .http
            .post(self.server.url("/api/v2/auth/login"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let cookie = response
            .headers()
            .get("set-cookie")
            .expect("a cookie")
            .to_str()
            .unwrap()
            .to_owned();
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = cookie
            .strip_prefix("locrit_session=")
            .and_then(|rest| rest.split(';').next())
            .unwrap()
            .to_owned();
        As::SignedIn {
            cookie: token,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A Locrit owned by `owner`, active, with these flags.
    async fn locrit(
        &self,
        name: &str,
        owner: &Account,
        open_to: OpenTo,
        access_to: AccessTo,
    ) -> Locrit {
        let core = &self.server.core;
        let requester = Requester::Account {
            account: owner.clone(),
            key: None,
        };
        let new = NewLocrit {
            name: name.into(),
            description: "Expert".into(),
            ollama_model: "llama3.2".into(),
            open_to: Some(open_to),
            access_to: Some(access_to),
            active: true,
            ..NewLocrit::default()
        };
        core.create_locrit_for(new, &requester).await.unwrap()
    }

    async fn set(&self, locrit: &Locrit, patch: LocritPatch) -> Locrit {
        let core = &self.server.core;
        let current = core.locrit(locrit.id).await.unwrap();
        core.update_locrit(current, patch).await.unwrap()
    }

    /// Every message the Locrit has stored, in all its sessions.
    async fn stored(&self, locrit: &Locrit) -> Vec<String> {
        let core = &self.server.core;
        let sessions = core
            .sessions(&SessionQuery {
                locrit_id: Some(locrit.id),
                ..SessionQuery::default()
            })
            .await
            .unwrap();
        let mut texts = Vec::new();
        for session in sessions {
            let page = MessagePage::Before {
                before: None,
                limit: 100,
            };
            for message in core.messages(&session, page).await.unwrap() {
                texts.push(message.content);
            }
        }
        texts
    }
}

const CLOSED: OpenTo = OpenTo {
    humans: false,
    locrits: false,
    invitations: false,
    internet: false,
    platform: false,
};

const PRIVATE: AccessTo = AccessTo {
    logs: false,
    quick_memory: false,
    full_memory: false,
    llm_info: false,
};

fn assert_refused(answer: &(StatusCode, Value), status: StatusCode, what: &str) {
    assert_eq!(answer.0, status, "{what}: {}", answer.1);
    assert_eq!(answer.1["success"], false, "{what}: {}", answer.1);
    assert!(answer.1["error"].is_string(), "{what}: {}", answer.1);
}

#[tokio::test]
async fn without_credentials_only_the_open_routes_answer() {
    let s = Server::start().await;
    for (method, path) in [
        (Method::GET, "/api/locrits"),
        (Method::GET, "/api/v2/locrits"),
        (Method::POST, "/api/locrits/Bob/chat"),
        (Method::POST, "/config/save"),
        (Method::GET, "/api/v2/auth/keys"),
        (Method::GET, "/api/conversations?user_id=x"),
    ] {
        let answer = s
            .call(&As::Anonymous, method.clone(), path, Some(json!({})))
            .await;
        assert_refused(&answer, StatusCode::UNAUTHORIZED, path);
        assert_eq!(answer.1["code"], "unauthenticated", "{path}");
    }
    // The OpenAI and Ollama surfaces refuse in their protocols' own shapes.
    let (status, openai) = s.get(&As::Anonymous, "/v1/models").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(openai["error"]["type"], "authentication_error", "{openai}");
    let (status, ollama) = s.get(&As::Anonymous, "/api/tags").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        ollama["error"].is_string() && ollama.get("success").is_none(),
        "{ollama}"
    );
    for path in [
        "/public/list",
        "/api/v1/ping",
        "/api/v2/auth/status",
        "/api/v2/openapi.json",
    ] {
        let (status, body) = s.get(&As::Anonymous, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, status) = s.get(&As::Anonymous, "/api/v2/auth/status").await;
    assert_eq!(status["setup_needed"], false);
    assert_eq!(status["local_trust"], false);
    assert_eq!(status["account"], Value::Null);
}

#[tokio::test]
async fn the_web_apps_pages_of_a_locrit_are_its_shell_for_anyone() {
    // The shell holds nothing of the Locrit: the calls it makes are what is gated.
    let s = Server::start().await;
    s.locrit("Bot", &s.admin, CLOSED, PRIVATE).await;
    for path in [
        "/p/Bot",
        "/p/Bot/embed",
        "/my-locrits/Bot/settings",
        "/my-locrits/Bot/chat",
    ] {
        let response = s.server.http.get(s.server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.starts_with("<!doctype html>"), "{path}: {html}");
    }
    let (status, _) = s.get(&As::Anonymous, "/public/Bot").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sign_in_gives_a_strict_http_only_cookie_and_changes_need_its_csrf_token() {
    let s = Server::start().await;
    let wrong = s
        .post(
            &As::Anonymous,
            "/api/v2/auth/login",
            json!({"username": "root", "password": "not the password"}),
        )
        .await;
    assert_refused(&wrong, StatusCode::UNAUTHORIZED, "wrong password");
    let unknown = s
        .post(
            &As::Anonymous,
            "/api/v2/auth/login",
            json!({"username": "nobody", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        unknown.1["error"], wrong.1["error"],
        "the same answer either way"
    );

    let response = s
        .server
        .http
        .post(s.server.url("/api/v2/auth/login"))
        .json(&json!({"username": "ROOT", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    drop(response);

    let root = s.sign_in("root").await;
    let (status, me) = s.get(&root, "/api/v2/auth/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["account"]["username"], "root");
    assert_eq!(me["account"]["role"], "admin");
    let As::SignedIn { cookie, csrf } = root.clone() else {
        unreachable!()
    };
    assert_eq!(me["csrf_token"], csrf.as_str());

    let new = json!({"name": "Nova", "ollama_model": "llama3.2"});
    let forged = s
        .post(
            &As::SignedInWithoutCsrf {
                cookie: cookie.clone(),
            },
            "/api/v2/locrits",
            new.clone(),
        )
        .await;
    assert_refused(&forged, StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(forged.1["code"], "csrf");
    let wrong_token = As::SignedIn {
        cookie: cookie.clone(),
        csrf: "guess".into(),
    };
    assert_eq!(
        s.post(&wrong_token, "/api/v2/locrits", new.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(
        s.server.core.locrit_named("Nova").await.is_err(),
        "nothing created"
    );
    // Reading needs no token: a cross-site page cannot read the answer anyway.
    assert_eq!(
        s.get(
            &As::SignedInWithoutCsrf {
                cookie: cookie.clone()
            },
            "/api/v2/locrits"
        )
        .await
        .0,
        StatusCode::OK
    );

    let (status, created) = s.post(&root, "/api/v2/locrits", new).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["owner_id"],
        s.admin.id.to_string(),
        "the creator owns it"
    );

    let (status, _) = s.post(&root, "/api/v2/auth/logout", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = s.get(&root, "/api/v2/locrits").await;
    assert_refused(&after, StatusCode::UNAUTHORIZED, "signed out");
}

#[tokio::test]
async fn an_expired_sign_in_is_no_sign_in() {
    let s = Server::start().await;
    let token = "an expired session token";
    s.server
        .core
        .store()
        .insert_login(
            &token_digest(token),
            s.admin.id,
            "csrf",
            chrono::Utc::now() - chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    let expired = As::SignedIn {
        cookie: token.into(),
        csrf: "csrf".into(),
    };
    assert_refused(
        &s.get(&expired, "/api/v2/locrits").await,
        StatusCode::UNAUTHORIZED,
        "expired",
    );
}

#[tokio::test]
async fn people_see_and_manage_their_own_locrits_and_admins_all() {
    let s = Server::start().await;
    let ada = s.account("ada").await;
    let bob = s.account("bob").await;
    let open = OpenTo {
        humans: true,
        ..CLOSED
    };
    let adas = s.locrit("AdaBot", &ada, open, PRIVATE).await;
    let bobs = s.locrit("BobBot", &bob, open, PRIVATE).await;
    let (ada_in, root) = (s.sign_in("ada").await, s.sign_in("root").await);

    let names = |body: &Value| -> Vec<String> {
        body["locrits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&s.get(&ada_in, "/api/v2/locrits").await.1),
        ["AdaBot"]
    );
    assert_eq!(
        names(&s.get(&root, "/api/v2/locrits").await.1),
        ["AdaBot", "BobBot"]
    );
    let (_, original) = s.get(&ada_in, "/api/locrits").await;
    let instances = original["locrits"]["instances"].as_object().unwrap();
    assert_eq!(
        instances.keys().collect::<Vec<_>>(),
        ["AdaBot"],
        "the original's list too"
    );

    // Another's Locrit: neither its settings nor any change, on either API.
    let theirs = format!("/api/v2/locrits/{}", bobs.id);
    assert_refused(
        &s.get(&ada_in, &theirs).await,
        StatusCode::FORBIDDEN,
        "read settings",
    );
    let patch = s
        .call(
            &ada_in,
            Method::PATCH,
            &theirs,
            Some(json!({"description": "mine"})),
        )
        .await;
    assert_refused(&patch, StatusCode::FORBIDDEN, "change");
    let toggle = s
        .post(&ada_in, "/api/locrits/BobBot/toggle", json!({}))
        .await;
    assert_refused(&toggle, StatusCode::FORBIDDEN, "original toggle");
    let delete = s.call(&ada_in, Method::DELETE, &theirs, None).await;
    assert_refused(&delete, StatusCode::FORBIDDEN, "delete");
    assert_eq!(
        s.server.core.locrit(bobs.id).await.unwrap().description,
        "Expert"
    );
    let invite = s
        .post(
            &ada_in,
            &format!("{theirs}/invitations"),
            json!({"label": "x"}),
        )
        .await;
    assert_refused(&invite, StatusCode::FORBIDDEN, "invite to another's Locrit");

    // Their own, and the admin on anyone's.
    let mine = format!("/api/v2/locrits/{}", adas.id);
    assert_eq!(
        s.call(
            &ada_in,
            Method::PATCH,
            &mine,
            Some(json!({"description": "mine"}))
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        s.call(
            &root,
            Method::PATCH,
            &theirs,
            Some(json!({"description": "admin"}))
        )
        .await
        .0,
        StatusCode::OK
    );

    // Global settings and arbitrary URLs are the admins'.
    let save = s
        .post(&ada_in, "/api/config/save", json!({"ollama_timeout": 5}))
        .await;
    assert_refused(&save, StatusCode::FORBIDDEN, "global settings");
    let probe = s
        .post(
            &ada_in,
            "/config/test-ollama",
            json!({"ollama_url": "http://10.1.2.3:11434"}),
        )
        .await;
    assert_refused(&probe, StatusCode::FORBIDDEN, "probe a URL");
    assert_eq!(probe.1["code"], "admin_only");
    let probe_default = s
        .post(
            &ada_in,
            "/config/test-ollama",
            json!({"ollama_url": s.server.ollama.url()}),
        )
        .await;
    assert_eq!(
        probe_default.0,
        StatusCode::OK,
        "the default server: {}",
        probe_default.1
    );
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_bound_and_revocable() {
    let s = Server::start().await;
    let ada = s.account("ada").await;
    let open = OpenTo {
        humans: true,
        ..CLOSED
    };
    let adas = s.locrit("AdaBot", &ada, open, PRIVATE).await;
    let other = s.locrit("Other", &ada, open, PRIVATE).await;
    let ada_in = s.sign_in("ada").await;
    let key = async |scopes: Value, locrit: Option<&str>| -> String {
        let (status, body) = s
            .post(
                &ada_in,
                "/api/v2/auth/keys",
                json!({"name": "script", "scopes": scopes, "locrit": locrit}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body["key"].get("token").is_none());
        body["token"].as_str().unwrap().to_owned()
    };
    let reader = As::Key(key(json!({"read": true}), None).await);
    let chatter = As::Key(key(json!({"chat": true}), None).await);
    let bound = As::Key(
        key(
            json!({"read": true, "chat": true, "manage": true}),
            Some("AdaBot"),
        )
        .await,
    );
    let (_, listed) = s.get(&ada_in, "/api/v2/auth/keys").await;
    assert_eq!(listed["keys"].as_array().unwrap().len(), 3);
    assert!(
        !listed.to_string().contains("\"token\""),
        "tokens are never listed"
    );

    let chat = |name: &str| format!("/api/locrits/{}/chat", segment(name));
    assert_eq!(s.get(&reader, "/api/v2/locrits").await.0, StatusCode::OK);
    let refused = s
        .post(&reader, &chat("AdaBot"), json!({"message": "hi"}))
        .await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "read-only key chatting");
    assert_eq!(refused.1["code"], "insufficient_scope");
    assert!(s.stored(&adas).await.is_empty(), "nothing stored");
    let (status, body) = s
        .post(&chatter, &chat("AdaBot"), json!({"message": "hi"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let change = s
        .post(&chatter, "/api/locrits/AdaBot/toggle", json!({}))
        .await;
    assert_eq!(change.1["code"], "insufficient_scope");

    // A key bound to one Locrit is a mere visitor to the others.
    let (_, seen) = s.get(&bound, "/api/v2/locrits").await;
    assert_eq!(seen["locrits"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.post(&bound, &chat("AdaBot"), json!({"message": "hi"}))
            .await
            .0,
        StatusCode::OK
    );
    let elsewhere = s
        .post(&bound, &chat("Other"), json!({"message": "hi"}))
        .await;
    assert_refused(
        &elsewhere,
        StatusCode::FORBIDDEN,
        "bound key on another Locrit",
    );
    assert!(s.stored(&other).await.is_empty());
    let keys_by_key = s.get(&bound, "/api/v2/auth/keys").await;
    assert_eq!(
        keys_by_key.1["code"], "sign_in_required",
        "keys do not make keys"
    );

    // Revoked: refused at once, with a 401, never downgraded to anonymous.
    let As::Key(token) = &reader else {
        unreachable!()
    };
    let (_, listed) = s.get(&ada_in, "/api/v2/auth/keys").await;
    let id = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| token.starts_with(k["prefix"].as_str().unwrap()) && k["scopes"]["chat"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, revoked) = s
        .call(
            &ada_in,
            Method::DELETE,
            &format!("/api/v2/auth/keys/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    assert_refused(
        &s.get(&reader, "/api/v2/locrits").await,
        StatusCode::UNAUTHORIZED,
        "revoked key",
    );
    assert_refused(
        &s.get(&reader, "/public/list").await,
        StatusCode::UNAUTHORIZED,
        "even on open routes",
    );
    let made_up = As::Key("lk_made_up".into());
    assert_refused(
        &s.get(&made_up, "/api/v2/locrits").await,
        StatusCode::UNAUTHORIZED,
        "unknown key",
    );
}

/// The chat table of docs/ACCESS.md: each kind of caller, each flag, through the
/// transport that caller uses; a refusal stores nothing.
#[tokio::test]
async fn the_chat_table() {
    let s = Server::start().await;
    let owner = s.account("owner").await;
    let _ = s.account("guest").await;
    let bot = s.locrit("Bot", &owner, CLOSED, PRIVATE).await;
    let (owner_in, guest_in) = (s.sign_in("owner").await, s.sign_in("guest").await);
    let (_, invited) = s
        .post(
            &owner_in,
            &format!("/api/v2/locrits/{}/invitations", bot.id),
            json!({"label": "Zoé"}),
        )
        .await;
    let invitation = invited["token"].as_str().unwrap().to_owned();
    assert_eq!(invited["link"], format!("/p/Bot?invitation={invitation}"));
    let s = &s;

    let rest = |who: As| async move {
        s.post(&who, "/api/locrits/Bot/chat", json!({"message": "hi"}))
            .await
            .0
    };
    let visitor = || async {
        s.post(&As::Anonymous, "/public/Bot/chat", json!({"message": "hi"}))
            .await
            .0
    };
    let invitee = |token: String| async move {
        let response = s
            .server
            .http
            .post(s.server.url("/public/Bot/chat"))
            .header("x-locrit-invitation", token)
            .json(&json!({"message": "hi"}))
            .send()
            .await
            .unwrap();
        read(response).await.0
    };
    let locrit = || async {
        let body = json!({"message": "hi", "sender_type": "locrit", "sender_name": "Peer"});
        s.post(&As::Anonymous, "/api/v1/locrits/Bot/chat", body)
            .await
            .0
    };
    let ok = StatusCode::OK;
    let no = StatusCode::FORBIDDEN;

    // Everything closed: only the owner.
    assert_eq!(rest(owner_in.clone()).await, ok, "owner");
    assert_eq!(rest(guest_in.clone()).await, no, "signed-in, humans off");
    assert_eq!(visitor().await, no, "visitor, internet off");
    assert_eq!(
        invitee(invitation.clone()).await,
        no,
        "invited, invitations off"
    );
    assert_eq!(locrit().await, no, "Locrit, locrits off");
    assert_eq!(
        s.stored(&bot).await.len(),
        2,
        "only the owner's turn is stored"
    );

    // Each flag opens the door of its kind of caller, and only that one.
    let open = |open_to: OpenTo| LocritPatch {
        open_to: Some(open_to),
        ..LocritPatch::default()
    };
    s.set(
        &bot,
        open(OpenTo {
            humans: true,
            ..CLOSED
        }),
    )
    .await;
    assert_eq!((rest(guest_in.clone()).await, visitor().await), (ok, no));
    s.set(
        &bot,
        open(OpenTo {
            internet: true,
            ..CLOSED
        }),
    )
    .await;
    assert_eq!((visitor().await, rest(guest_in.clone()).await), (ok, no));
    s.set(
        &bot,
        open(OpenTo {
            invitations: true,
            ..CLOSED
        }),
    )
    .await;
    assert_eq!(
        (invitee(invitation.clone()).await, visitor().await),
        (ok, no)
    );
    assert_eq!(
        invitee("not an invitation".into()).await,
        no,
        "a made-up invitation"
    );
    s.set(
        &bot,
        open(OpenTo {
            locrits: true,
            ..CLOSED
        }),
    )
    .await;
    assert_eq!((locrit().await, visitor().await), (ok, no));

    // A revoked invitation opens nothing.
    s.set(
        &bot,
        open(OpenTo {
            invitations: true,
            ..CLOSED
        }),
    )
    .await;
    let id = invited["invitation"]["id"].as_str().unwrap();
    let path = format!("/api/v2/locrits/{}/invitations/{id}", bot.id);
    assert_eq!(s.call(&owner_in, Method::DELETE, &path, None).await.0, ok);
    assert_eq!(invitee(invitation).await, no, "revoked");

    // Inactive: no one, the owner included.
    s.set(
        &bot,
        LocritPatch {
            active: Some(false),
            ..LocritPatch::default()
        },
    )
    .await;
    assert_ne!(rest(owner_in).await, ok, "inactive");
}

/// The reading table: what a signed-in person who may chat reads besides the replies,
/// by what the owner shares.
#[tokio::test]
async fn the_reading_table() {
    let s = Server::start().await;
    let owner = s.account("owner").await;
    let _ = s.account("guest").await;
    let humans = OpenTo {
        humans: true,
        ..CLOSED
    };
    let bot = s.locrit("Bot", &owner, humans, PRIVATE).await;
    let (owner_in, guest_in) = (s.sign_in("owner").await, s.sign_in("guest").await);
    let (status, created) = s
        .post(
            &guest_in,
            "/api/conversations/create",
            json!({"locrit_name": "Bot", "user_id": "someone else"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let cid = created["conversation_id"].as_str().unwrap().to_owned();
    let (status, body) = s
        .post(
            &guest_in,
            &format!("/api/conversations/{cid}/message"),
            json!({"message": "hello"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let quick = "/api/locrits/Bot/memory/search?q=hello";
    let full = "/api/locrits/Bot/memory/summary";
    let logs = format!("/api/conversations/{cid}");
    let reads = || async {
        (
            s.get(&guest_in, quick).await.0,
            s.get(&guest_in, full).await.0,
            s.get(&guest_in, &logs).await.0,
        )
    };
    let (ok, no) = (StatusCode::OK, StatusCode::FORBIDDEN);
    assert_eq!(reads().await, (no, no, no), "nothing shared");
    let share = |access_to: AccessTo| LocritPatch {
        access_to: Some(access_to),
        ..LocritPatch::default()
    };
    let cases = [
        (
            AccessTo {
                logs: true,
                ..PRIVATE
            },
            (no, no, ok),
            "logs: their own conversation",
        ),
        (
            AccessTo {
                quick_memory: true,
                ..PRIVATE
            },
            (ok, no, no),
            "quick memory",
        ),
        (
            AccessTo {
                full_memory: true,
                ..PRIVATE
            },
            (ok, ok, no),
            "full memory, read-only",
        ),
    ];
    for (shared, expected, what) in cases {
        s.set(&bot, share(shared)).await;
        assert_eq!(reads().await, expected, "{what}");
    }
    let delete = s
        .call(
            &guest_in,
            Method::DELETE,
            "/api/locrits/Bot/memory/clear",
            Some(json!({"confirm": true})),
        )
        .await;
    assert_refused(&delete, StatusCode::FORBIDDEN, "full memory is read-only");
    assert!(!s.stored(&bot).await.is_empty());

    // Their conversation is stored under who they are, not the name they gave.
    let (_, listed) = s
        .get(&guest_in, "/api/conversations?user_id=someone%20else")
        .await;
    assert_eq!(listed["count"], 1, "{listed}");
    let (_, owner_view) = s
        .get(&owner_in, "/api/conversations?user_id=someone%20else")
        .await;
    assert_eq!(
        owner_view["count"], 0,
        "the name given was not used: {owner_view}"
    );

    // Shut the door and nothing is readable, even what is shared.
    s.set(
        &bot,
        LocritPatch {
            open_to: Some(CLOSED),
            ..LocritPatch::default()
        },
    )
    .await;
    assert_eq!(reads().await.0, no);
}

#[tokio::test]
async fn conversations_of_other_people_and_other_locrits_are_not_found() {
    let s = Server::start().await;
    let owner = s.account("owner").await;
    let _ = (s.account("ada").await, s.account("eve").await);
    let humans = OpenTo {
        humans: true,
        ..CLOSED
    };
    let shared = AccessTo {
        logs: true,
        ..PRIVATE
    };
    let bot = s.locrit("Bot", &owner, humans, shared).await;
    s.locrit("Other", &owner, humans, shared).await;
    let (ada, eve) = (s.sign_in("ada").await, s.sign_in("eve").await);
    let (_, created) = s
        .post(
            &ada,
            "/api/conversations/create",
            json!({"locrit_name": "Bot"}),
        )
        .await;
    let cid = created["conversation_id"].as_str().unwrap().to_owned();
    let before = s.stored(&bot).await.len();

    let message = json!({"message": "let me in", "conversation_id": cid});
    for path in [
        format!("/api/conversations/{cid}/message"),
        "/api/locrits/Bot/chat".to_owned(),
    ] {
        let answer = s.post(&eve, &path, message.clone()).await;
        assert_refused(&answer, StatusCode::NOT_FOUND, &path);
    }
    assert_refused(
        &s.get(&eve, &format!("/api/conversations/{cid}")).await,
        StatusCode::NOT_FOUND,
        "history",
    );
    let through_other = s.post(&ada, "/api/locrits/Other/chat", message).await;
    assert_refused(
        &through_other,
        StatusCode::NOT_FOUND,
        "another Locrit's path",
    );
    assert_eq!(s.stored(&bot).await.len(), before, "nothing stored");
}

#[tokio::test]
async fn socket_io_clients_are_who_their_key_says() {
    let s = Server::start().await;
    let owner = s.account("owner").await;
    s.locrit("Bot", &owner, CLOSED, PRIVATE).await;
    let owner_in = s.sign_in("owner").await;
    let (_, created) = s
        .post(
            &owner_in,
            "/api/v2/auth/keys",
            json!({"name": "sock", "scopes": {"chat": true}}),
        )
        .await;
    let token = created["token"].as_str().unwrap().to_owned();
    let (_, created) = s
        .post(
            &owner_in,
            "/api/v2/auth/keys",
            json!({"name": "ro", "scopes": {"read": true}}),
        )
        .await;
    let read_only = created["token"].as_str().unwrap().to_owned();

    let driver = driver::Driver::start().await;
    let message = json!({"locrit_name": "Bot", "session_id": "s1", "message": "hi"});
    let anonymous = driver.connect("anonymous", &s.server.base, "/").await;
    anonymous.emit("chat_message", message.clone()).await;
    let events = anonymous.wait_for("error").await;
    assert!(driver::named(&events, "error")[0]["message"].is_string());

    let headers = json!({"Authorization": format!("Bearer {token}")});
    let owner_socket = driver
        .connect_with("owner", &s.server.base, "/", Value::Null, headers)
        .await
        .unwrap();
    owner_socket.emit("chat_message", message.clone()).await;
    owner_socket.wait_for("chat_complete").await;

    let headers = json!({"Authorization": format!("Bearer {read_only}")});
    let reader = driver
        .connect_with("reader", &s.server.base, "/", Value::Null, headers)
        .await
        .unwrap();
    reader.emit("chat_message", message).await;
    let events = reader.wait_for("error").await;
    assert_eq!(
        driver::named(&events, "error")[0]["message"],
        "This API key lacks the chat scope"
    );

    let bad = json!({"Authorization": "Bearer lk_revoked_or_made_up"});
    let refused = driver
        .connect_with("bad", &s.server.base, "/", Value::Null, bad)
        .await;
    assert!(refused.is_err(), "a wrong key cannot connect");
}

/// One refused caller, every transport it could try: nothing gets through, nothing is
/// stored; the same caller let in gets through everywhere.
#[tokio::test]
async fn a_caller_is_gated_alike_on_every_transport() {
    let s = Server::start().await;
    let owner = s.account("owner").await;
    let guest = s.account("guest").await;
    let bot = s.locrit("Bot", &owner, CLOSED, PRIVATE).await;
    let guest_in = s.sign_in("guest").await;
    let (_, key) = s
        .post(
            &guest_in,
            "/api/v2/auth/keys",
            json!({"name": "all", "scopes": {"read": true, "chat": true}}),
        )
        .await;
    let key = As::Key(key["token"].as_str().unwrap().to_owned());
    let _ = guest;
    let driver = driver::Driver::start().await;

    let attempts = async |who: &As| -> Vec<StatusCode> {
        let hi = json!({"message": "hi"});
        let openai = json!({"model": "Bot", "messages": [{"role": "user", "content": "hi"}]});
        let ollama = json!({"model": "Bot", "stream": false, "messages": [{"role": "user", "content": "hi"}]});
        vec![
            s.post(who, "/api/locrits/Bot/chat", hi.clone()).await.0,
            s.call(who, Method::POST, "/api/locrits/Bot/chat/stream", Some(hi))
                .await
                .0,
            s.post(
                who,
                "/api/conversations/create",
                json!({"locrit_name": "Bot"}),
            )
            .await
            .0,
            s.post(who, "/v1/chat/completions", openai).await.0,
            s.post(who, "/api/chat", ollama).await.0,
        ]
    };
    // The terminal event of one Socket.IO chat message, waited for by name.
    let socket_io = async |name: &str, expected: &str| {
        let As::Key(token) = &key else { unreachable!() };
        let headers = json!({"Authorization": format!("Bearer {token}")});
        let client = driver
            .connect_with(name, &s.server.base, "/", Value::Null, headers)
            .await
            .unwrap();
        client
            .emit(
                "chat_message",
                json!({"locrit_name": "Bot", "session_id": "s", "message": "hi"}),
            )
            .await;
        let events = client.wait_for(expected).await;
        assert!(driver::named(&events, "chat_complete").len() <= 1);
        events
    };

    for who in [&guest_in, &key] {
        for status in attempts(who).await {
            assert!(
                matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{who:?}: {status}"
            );
        }
    }
    let events = socket_io("before", "error").await;
    assert!(
        driver::named(&events, "chat_complete").is_empty(),
        "Socket.IO"
    );
    assert!(s.stored(&bot).await.is_empty(), "nothing stored");

    s.set(
        &bot,
        LocritPatch {
            open_to: Some(OpenTo {
                humans: true,
                ..CLOSED
            }),
            ..LocritPatch::default()
        },
    )
    .await;
    for who in [&guest_in, &key] {
        for status in attempts(who).await {
            assert_eq!(status, StatusCode::OK, "{who:?}");
        }
    }
    socket_io("after", "chat_complete").await;
}

/// Recall never shows a caller what they could not read: a visitor's turn carries the
/// Locrit's long-term memories to the model only where the owner shares the full memory.
#[tokio::test]
async fn a_visitor_s_reply_recalls_only_what_the_visitor_may_see() {
    let s = Server::start().await;
    let owner = s.account("owner").await;
    let public = OpenTo {
        internet: true,
        ..CLOSED
    };
    let bot = s.locrit("Bot", &owner, public, PRIVATE).await;
    let secret = "the owner's door code is 4711";
    s.server
        .core
        .add_memory(
            &bot,
            locrit_domain::NewMemory {
                content: secret.into(),
                pinned: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let prompt_of_a_visit = async || -> String {
        s.server.ollama.clear_requests();
        let (status, body) = s
            .post(&As::Anonymous, "/public/Bot/chat", json!({"message": "hi"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        s.server
            .ollama
            .requests_on(locrit_testkit::Endpoint::Chat)
            .iter()
            .map(Value::to_string)
            .collect()
    };
    assert!(!prompt_of_a_visit().await.contains("4711"), "not shared");
    s.set(
        &bot,
        LocritPatch {
            access_to: Some(AccessTo {
                full_memory: true,
                ..PRIVATE
            }),
            ..LocritPatch::default()
        },
    )
    .await;
    assert!(
        prompt_of_a_visit().await.contains("4711"),
        "shared with everyone it talks to"
    );
}

/// The account, key and invitation routes answer bad input with a clear JSON error and
/// store nothing; what they store reads back.
#[tokio::test]
async fn account_routes_refuse_bad_input_and_read_back_what_they_store() {
    let s = Server::start().await;
    let owner = s.account("owner").await;
    let bot = s.locrit("Bot", &owner, CLOSED, PRIVATE).await;
    let (root, owner_in) = (s.sign_in("root").await, s.sign_in("owner").await);
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let cases = [
        (
            &owner_in,
            "/api/v2/auth/keys",
            json!({"name": "", "scopes": {"read": true}}),
            unprocessable,
        ),
        (
            &owner_in,
            "/api/v2/auth/keys",
            json!({"name": "k", "scopes": {}}),
            unprocessable,
        ),
        (
            &owner_in,
            "/api/v2/auth/keys",
            json!({"name": "k", "scopes": {"read": true}, "locrit": "Nobody"}),
            StatusCode::NOT_FOUND,
        ),
        (
            &owner_in,
            "/api/v2/auth/keys",
            json!({"name": "k"}),
            unprocessable,
        ),
        (
            &root,
            "/api/v2/accounts",
            json!({"username": "ada", "password": "short"}),
            unprocessable,
        ),
        (
            &root,
            "/api/v2/accounts",
            json!({"username": "a/b", "password": PASSWORD}),
            unprocessable,
        ),
        (
            &root,
            "/api/v2/accounts",
            json!({"username": "OWNER", "password": PASSWORD}),
            StatusCode::CONFLICT,
        ),
        (
            &owner_in,
            "/api/v2/accounts",
            json!({"username": "eve", "password": PASSWORD}),
            StatusCode::FORBIDDEN,
        ),
        (
            &owner_in,
            "/api/v2/auth/password",
            json!({"current_password": "wrong one!", "new_password": PASSWORD}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            &owner_in,
            "/api/v2/auth/password",
            json!({"current_password": PASSWORD, "new_password": "short"}),
            unprocessable,
        ),
        (
            &owner_in,
            &format!("/api/v2/locrits/{}/invitations", bot.id),
            json!({"label": "x".repeat(101)}),
            unprocessable,
        ),
        (
            &As::Anonymous,
            "/api/v2/auth/login",
            json!({"username": "owner"}),
            unprocessable,
        ),
    ];
    for (who, path, body, expected) in cases {
        let answer = s.post(who, path, body.clone()).await;
        assert_refused(&answer, expected, &format!("{path} {body}"));
    }
    let (_, keys) = s.get(&owner_in, "/api/v2/auth/keys").await;
    assert_eq!(keys["keys"], json!([]), "no key stored");
    let (_, invitations) = s
        .get(
            &owner_in,
            &format!("/api/v2/locrits/{}/invitations", bot.id),
        )
        .await;
    assert_eq!(
        invitations["invitations"],
        json!([]),
        "no invitation stored"
    );

    let (status, created) = s
        .post(
            &root,
            "/api/v2/accounts",
            json!({"username": "ada", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, accounts) = s.get(&root, "/api/v2/accounts").await;
    let names: Vec<&str> = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada", "owner", "root"]);
    assert!(
        !accounts.to_string().contains("password"),
        "hashes never answered"
    );
    // The new account signs in; deleting it ends that.
    s.sign_in("ada").await;
    let id = created["id"].as_str().unwrap();
    let (status, _) = s
        .call(
            &root,
            Method::DELETE,
            &format!("/api/v2/accounts/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = s
        .post(
            &As::Anonymous,
            "/api/v2/auth/login",
            json!({"username": "ada", "password": PASSWORD}),
        )
        .await;
    assert_refused(&gone, StatusCode::UNAUTHORIZED, "deleted account");
    let last = s
        .call(
            &root,
            Method::DELETE,
            &format!("/api/v2/accounts/{}", s.admin.id),
            None,
        )
        .await;
    assert_refused(&last, StatusCode::CONFLICT, "the last admin stays");
}
