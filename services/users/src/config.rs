//! `[users]` configuration.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{InvalidField, validate_registration};
use crate::password::{PasswordHashingConfig, Passwords};
use crate::token::{JwtConfig, TokenError};

/// E-mail of the admin account created on a laptop when none is configured.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@tributary.local";
/// Password of that account. Public, like [`crate::token::LOCAL_DEFAULT_SECRET`]:
/// `tributary up` prints it, deployments set `TRIBUTARY_ADMIN_PASSWORD`.
pub const DEFAULT_ADMIN_PASSWORD: &str = "tributary-admin";

/// Settings of the users service.
///
/// ```toml
/// [users]
/// admin_email = "ops@example.com"
/// admin_password = "a long passphrase"
///
/// [users.jwt]
/// secret = "at least 32 bytes of randomness ........"
/// ttl = "1h"
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsersConfig {
    /// Signing of session tokens; must equal the gateway's `jwt` section.
    pub jwt: JwtConfig,
    /// E-mail of the admin account ensured at start-up (created if absent,
    /// its password reset to `admin_password` if it differs). Empty disables
    /// the admin account. Environment: `TRIBUTARY_ADMIN_EMAIL`.
    pub admin_email: String,
    /// Password of the admin account (8 to 128 characters). Environment:
    /// `TRIBUTARY_ADMIN_PASSWORD`.
    pub admin_password: String,
    /// Argon2id cost of password hashes.
    pub password_hashing: PasswordHashingConfig,
}

impl Default for UsersConfig {
    fn default() -> Self {
        UsersConfig {
            jwt: JwtConfig::default(),
            admin_email: DEFAULT_ADMIN_EMAIL.to_owned(),
            admin_password: DEFAULT_ADMIN_PASSWORD.to_owned(),
            password_hashing: PasswordHashingConfig::default(),
        }
    }
}

impl fmt::Debug for UsersConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsersConfig")
            .field("jwt", &self.jwt)
            .field("admin_email", &self.admin_email)
            .field("admin_password", &"<redacted>")
            .field("password_hashing", &self.password_hashing)
            .finish()
    }
}

/// A configuration value the service cannot start with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Jwt(#[from] TokenError),
    #[error("users.password_hashing: {0}")]
    Hashing(String),
    #[error("users.admin_{0}")]
    Admin(InvalidField),
}

impl UsersConfig {
    /// Whether any public local default (JWT secret, admin password) is in
    /// use; `tributary up` prints a warning naming them.
    pub fn uses_local_defaults(&self) -> bool {
        self.jwt.uses_local_default_secret()
            || (!self.admin_email.is_empty() && self.admin_password == DEFAULT_ADMIN_PASSWORD)
    }

    /// Checks every value before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.jwt.validate()?;
        Passwords::new(&self.password_hashing).map_err(|e| ConfigError::Hashing(e.to_string()))?;
        if !self.admin_email.is_empty() {
            validate_registration(&self.admin_email, &self.admin_password, "Administrator")
                .map_err(ConfigError::Admin)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_flagged_as_local() {
        let config = UsersConfig::default();
        assert!(config.validate().is_ok());
        assert!(config.uses_local_defaults());
        assert!(!format!("{config:?}").contains(DEFAULT_ADMIN_PASSWORD));
    }

    #[test]
    fn bad_values_are_named() {
        let config = UsersConfig {
            admin_password: "short".into(),
            ..UsersConfig::default()
        };
        let error = config.validate().expect_err("short password");
        assert!(error.to_string().contains("admin_password"), "{error}");

        let config = UsersConfig {
            admin_email: "nobody".into(),
            ..UsersConfig::default()
        };
        let error = config.validate().expect_err("bad email");
        assert!(error.to_string().contains("admin_email"), "{error}");

        let mut config = UsersConfig::default();
        config.jwt.secret = "short".into();
        assert!(
            config
                .validate()
                .expect_err("short secret")
                .to_string()
                .contains("jwt.secret")
        );
    }

    #[test]
    fn toml_sections_parse_with_humane_durations() {
        let config: UsersConfig = serde_json::from_value(serde_json::json!({
            "admin_email": "",
            "jwt": {"ttl": "15m", "secret": "s".repeat(32)}
        }))
        .expect("parse");
        assert_eq!(config.jwt.ttl, std::time::Duration::from_secs(900));
        assert!(!config.uses_local_defaults());
        assert!(
            serde_json::from_value::<UsersConfig>(serde_json::json!({"admin_mail": "x"})).is_err()
        );
    }
}
