//! Pure rules of the users service: what a valid registration looks like and
//! how e-mail addresses are compared. No I/O.

use std::fmt;

/// Password length bounds, in characters. The upper bound keeps a single
/// request from buying seconds of Argon2 work.
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=128;
/// Display name length bounds, in characters, after trimming.
pub const NAME_LEN: std::ops::RangeInclusive<usize> = 1..=100;
/// Longest e-mail address accepted (RFC 5321 path limit).
pub const EMAIL_MAX_LEN: usize = 254;

/// A registration field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidField {
    /// The JSON field name (`email`, `password`, `name`).
    pub field: &'static str,
    /// What is wrong, in words a client can act on.
    pub message: String,
}

impl InvalidField {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        InvalidField {
            field,
            message: message.into(),
        }
    }
}

/// A validated registration.
#[derive(Clone, PartialEq, Eq)]
pub struct Registration {
    /// The address as given (trimmed), kept for display and events.
    pub email: String,
    /// The comparison key of the address (see [`email_key`]).
    pub email_key: String,
    pub password: String,
    /// The display name, trimmed.
    pub name: String,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Validates a registration's fields, reporting the first bad one.
pub fn validate_registration(
    email: &str,
    password: &str,
    name: &str,
) -> Result<Registration, InvalidField> {
    let email = validate_email(email)?;
    let password_len = password.chars().count();
    if !PASSWORD_LEN.contains(&password_len) {
        return Err(InvalidField::new(
            "password",
            format!(
                "must be {} to {} characters long",
                PASSWORD_LEN.start(),
                PASSWORD_LEN.end()
            ),
        ));
    }
    let name = name.trim();
    let name_len = name.chars().count();
    if !NAME_LEN.contains(&name_len) {
        return Err(InvalidField::new(
            "name",
            format!(
                "must be {} to {} characters long",
                NAME_LEN.start(),
                NAME_LEN.end()
            ),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(InvalidField::new(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(Registration {
        email_key: email_key(&email),
        email,
        password: password.to_owned(),
        name: name.to_owned(),
    })
}

/// Checks the shape of an e-mail address: one `@`, a non-empty local part of
/// at most 64 characters, a dotted domain of non-empty labels, no spaces or
/// control characters. Deliverability is not our business; typos are.
pub fn validate_email(email: &str) -> Result<String, InvalidField> {
    let email = email.trim();
    let invalid = || InvalidField::new("email", "must be an e-mail address like name@example.com");
    if email.is_empty() || email.len() > EMAIL_MAX_LEN {
        return Err(InvalidField::new(
            "email",
            format!("must be an e-mail address of at most {EMAIL_MAX_LEN} characters"),
        ));
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty() || local.chars().count() > 64 || domain.contains('@') {
        return Err(invalid());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels
            .iter()
            .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
    {
        return Err(invalid());
    }
    Ok(email.to_owned())
}

/// The key two addresses are compared by: trimmed and lower-cased, so
/// `Ada@Example.com` and `ada@example.com` are one account.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_registration_is_normalised() {
        let r = validate_registration(" Ada@Example.com ", "correct horse", "  Ada Lovelace ")
            .expect("valid");
        assert_eq!(r.email, "Ada@Example.com");
        assert_eq!(r.email_key, "ada@example.com");
        assert_eq!(r.name, "Ada Lovelace");
        assert!(
            !format!("{r:?}").contains("horse"),
            "password must not be printed"
        );
    }

    #[test]
    fn bad_emails_name_the_email_field() {
        for email in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada@exa mple.com",
            "ada@.example.com",
            "ada@example..com",
            "a\u{7}da@example.com",
            &format!("{}@example.com", "a".repeat(65)),
            &format!("ada@{}.com", "e".repeat(260)),
        ] {
            let error = validate_registration(email, "correct horse", "Ada").expect_err(email);
            assert_eq!(error.field, "email", "{email:?}");
        }
    }

    #[test]
    fn password_length_is_bounded_in_characters() {
        assert_eq!(
            validate_registration("a@b.co", "short", "Ada")
                .expect_err("short")
                .field,
            "password"
        );
        assert!(validate_registration("a@b.co", "12345678", "Ada").is_ok());
        assert!(validate_registration("a@b.co", &"é".repeat(128), "Ada").is_ok());
        assert_eq!(
            validate_registration("a@b.co", &"x".repeat(129), "Ada")
                .expect_err("long")
                .field,
            "password"
        );
    }

    #[test]
    fn name_length_and_content_are_checked() {
        for name in ["", "   ", &"n".repeat(101), "Ada\nLovelace"] {
            let error = validate_registration("a@b.co", "correct horse", name).expect_err(name);
            assert_eq!(error.field, "name", "{name:?}");
        }
        assert!(validate_registration("a@b.co", "correct horse", &"n".repeat(100)).is_ok());
    }

    #[test]
    fn email_keys_ignore_case_and_padding() {
        assert_eq!(email_key(" ADA@example.COM"), email_key("ada@example.com"));
    }
}
