//! A Locrit's public face: its page, with the original's defaults (contract §1.6), and
//! the anonymous visitors who chat with it.
//!
//! A visitor is known only by a random id the server hands out on the first message
//! ([`VisitorId`]): 122 random bits, so knowing one's own id says nothing about anyone
//! else's. Each visitor has one session per Locrit, keyed by that id.

use std::fmt;

use uuid::Uuid;

use crate::{Locrit, PublicPage, ValidationError};

/// The avatar of a page that names none.
pub const DEFAULT_AVATAR: &str = "🤖";
/// The theme of a page that names none.
pub const DEFAULT_THEME: &str = "default";
/// What a visitor who gives no name is called.
pub const DEFAULT_VISITOR_NAME: &str = "Visiteur";
/// The longest visitor name kept, in characters; the rest is cut.
pub const MAX_VISITOR_NAME_CHARS: usize = 64;

impl Locrit {
    /// The title of its public page: the stored one, else `Parlez avec <name>`.
    pub fn public_title(&self) -> String {
        self.public_page
            .as_ref()
            .and_then(|page| page.title.clone())
            .unwrap_or_else(|| default_title(&self.name))
    }

    /// The avatar of its public page: the stored one, else 🤖.
    pub fn public_avatar(&self) -> String {
        self.public_page
            .as_ref()
            .and_then(|page| page.avatar.clone())
            .unwrap_or_else(|| DEFAULT_AVATAR.to_owned())
    }

    /// The page the public profile shows: the stored one as it is, or, when none is
    /// stored, the original's default of five keys.
    pub fn page_config(&self) -> PublicPage {
        self.public_page.clone().unwrap_or_else(|| PublicPage {
            title: Some(default_title(&self.name)),
            description: Some(if self.description.is_empty() {
                "Un Locrit intelligent".to_owned()
            } else {
                self.description.clone()
            }),
            welcome_message: Some(format!(
                "Bonjour ! Je suis {}. Comment puis-je vous aider ?",
                self.name
            )),
            theme: Some(DEFAULT_THEME.to_owned()),
            avatar: Some(DEFAULT_AVATAR.to_owned()),
            custom_css: None,
            show_model_info: None,
        })
    }
}

impl PublicPage {
    /// The page `PUT /public/<name>/settings` stores: the given keys, and for every
    /// missing one its default, never its previous value. All seven keys are set.
    pub fn rebuilt_for(self, locrit: &Locrit) -> PublicPage {
        PublicPage {
            title: Some(self.title.unwrap_or_else(|| default_title(&locrit.name))),
            description: Some(
                self.description
                    .unwrap_or_else(|| locrit.description.clone()),
            ),
            welcome_message: Some(
                self.welcome_message
                    .unwrap_or_else(|| format!("Bonjour ! Je suis {}.", locrit.name)),
            ),
            theme: Some(self.theme.unwrap_or_else(|| DEFAULT_THEME.to_owned())),
            avatar: Some(self.avatar.unwrap_or_else(|| DEFAULT_AVATAR.to_owned())),
            custom_css: Some(self.custom_css.unwrap_or_default()),
            show_model_info: Some(self.show_model_info.unwrap_or(false)),
        }
    }
}

fn default_title(name: &str) -> String {
    format!("Parlez avec {name}")
}

/// An anonymous visitor of public pages: a random UUID (v4), written as 32 lowercase
/// hex digits. It is a key, never a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VisitorId(Uuid);

impl VisitorId {
    /// A new visitor.
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    /// A visitor id sent back by a client: 32 hex digits of a version-4 UUID. Anything
    /// else is refused, so no other session key can be reached through it.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let invalid =
            || ValidationError::new("visitor_id", "must be a visitor id from this server");
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let uuid = Uuid::try_parse(text).map_err(|_| invalid())?;
        if uuid.get_version_num() != 4 {
            return Err(invalid());
        }
        Ok(Self(uuid))
    }

    /// The key of this visitor's session with a Locrit.
    pub fn session_key(&self) -> String {
        format!("public_{self}")
    }

    /// The `user_id` of this visitor's messages.
    pub fn user_id(&self) -> String {
        format!("visitor:{self}")
    }
}

impl fmt::Display for VisitorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

/// The name a visitor gave, made safe to show and to put in a prompt: control
/// characters removed, trimmed, at most [`MAX_VISITOR_NAME_CHARS`]; `Visiteur` when
/// none is left.
pub fn visitor_name(given: Option<&str>) -> String {
    let cleaned: String = given
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let name: String = cleaned
        .trim()
        .chars()
        .take(MAX_VISITOR_NAME_CHARS)
        .collect();
    let name = name.trim_end();
    if name.is_empty() {
        DEFAULT_VISITOR_NAME.to_owned()
    } else {
        name.to_owned()
    }
}

/// The line added to the system prompt of a visitor's turn (contract §6.1).
pub fn visitor_prompt_line(visitor_name: &str) -> String {
    format!(
        "Tu es en train de communiquer avec {visitor_name}, un visiteur humain sur ton interface web publique."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewLocrit;

    fn bob(description: &str) -> Locrit {
        NewLocrit {
            name: "Bob".into(),
            description: description.into(),
            ollama_model: "m".into(),
            ..Default::default()
        }
        .into_locrit("http://h:1")
        .unwrap()
    }

    #[test]
    fn the_profile_page_defaults_to_five_keys_and_keeps_a_stored_page_as_is() {
        let page = bob("").page_config();
        assert_eq!(page.title.as_deref(), Some("Parlez avec Bob"));
        assert_eq!(page.description.as_deref(), Some("Un Locrit intelligent"));
        assert_eq!(
            page.welcome_message.as_deref(),
            Some("Bonjour ! Je suis Bob. Comment puis-je vous aider ?")
        );
        assert_eq!(page.avatar.as_deref(), Some("🤖"));
        assert_eq!((page.custom_css, page.show_model_info), (None, None));
        let mut bob = bob("Expert");
        assert_eq!(bob.page_config().description.as_deref(), Some("Expert"));
        let stored = PublicPage {
            avatar: Some("🦊".into()),
            ..PublicPage::default()
        };
        bob.public_page = Some(stored.clone());
        assert_eq!(bob.page_config(), stored);
        assert_eq!(
            (bob.public_title(), bob.public_avatar()),
            ("Parlez avec Bob".into(), "🦊".into())
        );
    }

    #[test]
    fn a_rebuilt_page_takes_the_defaults_not_the_previous_values() {
        let mut bob = bob("Expert");
        bob.public_page = Some(PublicPage {
            title: Some("Old".into()),
            ..PublicPage::default()
        });
        let page = PublicPage {
            avatar: Some("🦊".into()),
            ..PublicPage::default()
        }
        .rebuilt_for(&bob);
        assert_eq!(
            page,
            PublicPage {
                title: Some("Parlez avec Bob".into()),
                description: Some("Expert".into()),
                welcome_message: Some("Bonjour ! Je suis Bob.".into()),
                theme: Some("default".into()),
                avatar: Some("🦊".into()),
                custom_css: Some(String::new()),
                show_model_info: Some(false),
            }
        );
    }

    #[test]
    fn visitor_ids_are_random_v4_hex_and_nothing_else_parses() {
        let id = VisitorId::generate();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(VisitorId::parse(&text), Ok(id));
        assert_ne!(id, VisitorId::generate());
        assert_eq!(id.session_key(), format!("public_{text}"));
        assert_eq!(id.user_id(), format!("visitor:{text}"));
        let hyphenated = Uuid::new_v4().hyphenated().to_string();
        let v7 = Uuid::now_v7().simple().to_string();
        for bad in [
            "",
            "../../etc/passwd",
            hyphenated.as_str(),
            v7.as_str(),
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            &text[..31],
        ] {
            assert!(VisitorId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn visitor_names_are_cleaned_and_bounded() {
        assert_eq!(visitor_name(None), "Visiteur");
        assert_eq!(visitor_name(Some("  \n ")), "Visiteur");
        assert_eq!(visitor_name(Some(" Zoé\u{7}\n ")), "Zoé");
        assert_eq!(visitor_name(Some(&"é".repeat(100))).chars().count(), 64);
    }
}
