use crate::ValidationError;

/// Client-chosen identifiers (session ids, conversation ids) are opaque keys: never file
/// paths, never longer than this.
pub const MAX_ID_BYTES: usize = 256;

/// Checks an identifier a client chose. Spaces are allowed (the original's REST session
/// key is `web_<user>_<locrit name>`); control characters and empty ids are not.
pub fn validate_client_id(field: &'static str, id: &str) -> Result<(), ValidationError> {
    if id.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_ID_BYTES} bytes"),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spaces_and_unicode_rejects_control_and_long() {
        assert!(validate_client_id("session_id", "web_anonymous_user_Bob Technique").is_ok());
        assert!(
            validate_client_id("session_id", "../../etc/passwd").is_ok(),
            "opaque, never a path"
        );
        assert!(validate_client_id("session_id", "a\nb").is_err());
        assert!(validate_client_id("session_id", "").is_err());
        assert!(validate_client_id("session_id", &"x".repeat(257)).is_err());
        assert!(validate_client_id("session_id", &"x".repeat(256)).is_ok());
    }
}
