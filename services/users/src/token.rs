//! Session tokens: issued by the users service, validated by the gateway.
//!
//! Both sides live here so that the claim set, the algorithm and the checks
//! can never drift apart. Tokens are HS256 JWTs signed with a shared secret
//! ([`JwtConfig::secret`]); validation pins the algorithm (a token announcing
//! `none`, `HS512` or an asymmetric algorithm is rejected before any
//! signature work), the issuer, the audience and the expiry, with a small
//! leeway for clock skew between replicas.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The only signing algorithm issued and accepted.
pub const ALGORITHM: Algorithm = Algorithm::HS256;

/// Minimum secret length in bytes: HS256 keys shorter than the hash output
/// weaken the MAC (RFC 7518 section 3.2).
pub const MIN_SECRET_LEN: usize = 32;

/// The secret used when none is configured. It is public (it is in this
/// source file), so it is only fit for a laptop: `tributary up` warns when it
/// is in use, and any deployment sets `TRIBUTARY__USERS__JWT__SECRET` and
/// `TRIBUTARY__GATEWAY__JWT__SECRET` (the same value) instead.
pub const LOCAL_DEFAULT_SECRET: &str = "tributary-local-development-only-jwt-secret-change-me";

/// How session tokens are signed and checked. The users service and the
/// gateway must be given the same values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// HMAC-SHA256 secret, at least 32 bytes. Defaults to a public local
    /// development secret (see [`LOCAL_DEFAULT_SECRET`]); set it in any
    /// shared deployment.
    pub secret: String,
    /// `iss` claim written by the users service and required by the gateway.
    pub issuer: String,
    /// `aud` claim written by the users service and required by the gateway.
    pub audience: String,
    /// Lifetime of an issued token, e.g. `"1h"`.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Clock skew tolerated when checking `exp`, e.g. `"30s"`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            secret: LOCAL_DEFAULT_SECRET.to_owned(),
            issuer: "tributary-users".to_owned(),
            audience: "tributary-api".to_owned(),
            ttl: Duration::from_secs(3600),
            leeway: Duration::from_secs(30),
        }
    }
}

// The secret must never reach a log line, so Debug is written by hand.
impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl JwtConfig {
    /// Whether the public development secret is in use (callers warn).
    pub fn uses_local_default_secret(&self) -> bool {
        self.secret == LOCAL_DEFAULT_SECRET
    }

    /// Checks the settings can produce and verify sound tokens.
    pub fn validate(&self) -> Result<(), TokenError> {
        if self.secret.len() < MIN_SECRET_LEN {
            return Err(TokenError::Config(format!(
                "jwt.secret is {} bytes long; at least {MIN_SECRET_LEN} are required",
                self.secret.len()
            )));
        }
        if self.issuer.is_empty() || self.audience.is_empty() {
            return Err(TokenError::Config(
                "jwt.issuer and jwt.audience must not be empty".to_owned(),
            ));
        }
        if self.ttl.is_zero() {
            return Err(TokenError::Config("jwt.ttl must be positive".to_owned()));
        }
        Ok(())
    }
}

/// Authorization role carried in the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Places and reads their own orders.
    Customer,
    /// Administers stock and reads everybody's orders.
    Admin,
}

impl Role {
    /// The role's wire name (`customer`, `admin`), as in `UserRegistered.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The user's e-mail address.
    pub email: String,
    /// The user's role.
    pub role: Role,
    /// Issuer ([`JwtConfig::issuer`]).
    pub iss: String,
    /// Audience ([`JwtConfig::audience`]).
    pub aud: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
}

/// Who a token is issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
}

/// A freshly signed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: i64,
}

/// Why a token (or the token configuration) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token configuration: {0}")]
    Config(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token is not signed with HS256")]
    WrongAlgorithm,
    #[error("the token was issued by somebody else")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(String),
    #[error("the token is not used yet")]
    NotYetValid,
    #[error("the token is malformed")]
    Malformed,
    #[error("cannot sign the token: {0}")]
    Signing(String),
}

impl TokenError {
    /// A stable short code for logs and metrics (bounded label values).
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Config(_) => "config",
            TokenError::Expired => "expired",
            TokenError::BadSignature => "bad_signature",
            TokenError::WrongAlgorithm => "wrong_algorithm",
            TokenError::WrongIssuer => "wrong_issuer",
            TokenError::WrongAudience => "wrong_audience",
            TokenError::MissingClaim(_) => "missing_claim",
            TokenError::NotYetValid => "not_yet_valid",
            TokenError::Malformed => "malformed",
            TokenError::Signing(_) => "signing",
        }
    }
}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(error: jsonwebtoken::errors::Error) -> Self {
        match error.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                TokenError::WrongAlgorithm
            }
            ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
            ErrorKind::InvalidAudience => TokenError::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            _ => TokenError::Malformed,
        }
    }
}

/// Signs session tokens (users service).
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer for `config`, which must pass [`JwtConfig::validate`].
    pub fn new(config: &JwtConfig) -> Result<Self, TokenError> {
        config.validate()?;
        Ok(TokenIssuer {
            key: EncodingKey::from_secret(config.secret.as_bytes()),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl_secs: i64::try_from(config.ttl.as_secs()).unwrap_or(i64::MAX),
        })
    }

    /// Signs a token for `subject`, issued at `now_secs` (Unix seconds).
    pub fn issue(&self, subject: &Subject, now_secs: i64) -> Result<IssuedToken, TokenError> {
        let expires_at = now_secs.saturating_add(self.ttl_secs);
        let claims = Claims {
            sub: subject.user_id,
            email: subject.email.clone(),
            role: subject.role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now_secs,
            exp: expires_at,
        };
        let token = jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &self.key)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(IssuedToken { token, expires_at })
    }
}

/// Checks session tokens (gateway).
#[derive(Clone)]
pub struct TokenValidator {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for TokenValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenValidator")
            .field("issuer", &self.validation.iss)
            .field("audience", &self.validation.aud)
            .field("leeway", &self.validation.leeway)
            .finish_non_exhaustive()
    }
}

impl TokenValidator {
    /// A validator for `config`, which must pass [`JwtConfig::validate`].
    pub fn new(config: &JwtConfig) -> Result<Self, TokenError> {
        config.validate()?;
        // `Validation::new` pins the algorithm list to exactly HS256; the
        // header's `alg` is compared with it before the signature is checked.
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.leeway = config.leeway.as_secs();
        Ok(TokenValidator {
            key: DecodingKey::from_secret(config.secret.as_bytes()),
            validation,
        })
    }

    /// The claims of `token` if it is genuine, current and meant for us.
    pub fn validate(&self, token: &str) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)?;
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use jsonwebtoken::get_current_timestamp;

    fn config() -> JwtConfig {
        JwtConfig {
            secret: "a-test-secret-that-is-long-enough-for-hs256".to_owned(),
            ..JwtConfig::default()
        }
    }

    fn subject() -> Subject {
        Subject {
            user_id: Uuid::new_v4(),
            email: "ada@example.com".to_owned(),
            role: Role::Customer,
        }
    }

    fn now() -> i64 {
        i64::try_from(get_current_timestamp()).expect("time fits")
    }

    fn b64(bytes: &[u8]) -> String {
        // URL-safe base64 without padding, as JWT segments are written.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    fn forge(header: &serde_json::Value, claims: &serde_json::Value, signature: &str) -> String {
        format!(
            "{}.{}.{signature}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn an_issued_token_validates_with_its_claims() {
        let issuer = TokenIssuer::new(&config()).expect("issuer");
        let validator = TokenValidator::new(&config()).expect("validator");
        let subject = subject();
        let issued = issuer.issue(&subject, now()).expect("issue");
        let claims = validator.validate(&issued.token).expect("valid");
        assert_eq!(claims.sub, subject.user_id);
        assert_eq!(claims.email, subject.email);
        assert_eq!(claims.role, Role::Customer);
        assert_eq!(claims.iss, "tributary-users");
        assert_eq!(claims.aud, "tributary-api");
        assert_eq!(claims.exp, issued.expires_at);
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn expired_tokens_are_rejected_beyond_the_leeway() {
        let issuer = TokenIssuer::new(&config()).expect("issuer");
        let validator = TokenValidator::new(&config()).expect("validator");
        // Expired 10 s ago: within the 30 s leeway.
        let recent = issuer.issue(&subject(), now() - 3610).expect("issue");
        assert!(validator.validate(&recent.token).is_ok());
        // Expired 2 minutes ago.
        let stale = issuer.issue(&subject(), now() - 3720).expect("issue");
        assert_eq!(validator.validate(&stale.token), Err(TokenError::Expired));
    }

    #[test]
    fn wrong_issuer_audience_or_secret_are_rejected() {
        let validator = TokenValidator::new(&config()).expect("validator");
        let other_iss = TokenIssuer::new(&JwtConfig {
            issuer: "someone-else".into(),
            ..config()
        })
        .expect("issuer");
        let token = other_iss.issue(&subject(), now()).expect("issue").token;
        assert_eq!(validator.validate(&token), Err(TokenError::WrongIssuer));

        let other_aud = TokenIssuer::new(&JwtConfig {
            audience: "another-api".into(),
            ..config()
        })
        .expect("issuer");
        let token = other_aud.issue(&subject(), now()).expect("issue").token;
        assert_eq!(validator.validate(&token), Err(TokenError::WrongAudience));

        let other_key = TokenIssuer::new(&JwtConfig {
            secret: "x".repeat(40),
            ..config()
        })
        .expect("issuer");
        let token = other_key.issue(&subject(), now()).expect("issue").token;
        assert_eq!(validator.validate(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_claims_break_the_signature() {
        let issuer = TokenIssuer::new(&config()).expect("issuer");
        let validator = TokenValidator::new(&config()).expect("validator");
        let token = issuer.issue(&subject(), now()).expect("issue").token;
        let mut parts: Vec<&str> = token.split('.').collect();
        let claims = serde_json::json!({
            "sub": Uuid::new_v4(), "email": "eve@example.com", "role": "admin",
            "iss": "tributary-users", "aud": "tributary-api", "iat": now(), "exp": now() + 3600,
        });
        let forged = b64(claims.to_string().as_bytes());
        parts[1] = &forged;
        assert_eq!(
            validator.validate(&parts.join(".")),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn other_algorithms_and_none_are_rejected() {
        let validator = TokenValidator::new(&config()).expect("validator");
        let claims = serde_json::json!({
            "sub": Uuid::new_v4(), "email": "eve@example.com", "role": "admin",
            "iss": "tributary-users", "aud": "tributary-api", "iat": now(), "exp": now() + 3600,
        });
        let none = forge(
            &serde_json::json!({"alg": "none", "typ": "JWT"}),
            &claims,
            "",
        );
        assert!(validator.validate(&none).is_err());
        let hs512 = forge(
            &serde_json::json!({"alg": "HS512", "typ": "JWT"}),
            &claims,
            "c2ln",
        );
        assert_eq!(validator.validate(&hs512), Err(TokenError::WrongAlgorithm));
        let rs256 = forge(
            &serde_json::json!({"alg": "RS256", "typ": "JWT"}),
            &claims,
            "c2ln",
        );
        assert_eq!(validator.validate(&rs256), Err(TokenError::WrongAlgorithm));
        // A genuine HS512 token signed with the right secret is still refused.
        let hs512_signed = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(config().secret.as_bytes()),
        )
        .expect("encode");
        assert_eq!(
            validator.validate(&hs512_signed),
            Err(TokenError::WrongAlgorithm)
        );
    }

    #[test]
    fn missing_claims_and_garbage_are_rejected() {
        let validator = TokenValidator::new(&config()).expect("validator");
        let claims = serde_json::json!({"sub": Uuid::new_v4(), "iss": "tributary-users"});
        let token = jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            &claims,
            &EncodingKey::from_secret(config().secret.as_bytes()),
        )
        .expect("encode");
        // Claims that do not form a session (no exp, email, role) never validate.
        assert!(matches!(
            validator.validate(&token),
            Err(TokenError::MissingClaim(_) | TokenError::Malformed)
        ));
        assert_eq!(validator.validate("not-a-jwt"), Err(TokenError::Malformed));
        assert_eq!(validator.validate(""), Err(TokenError::Malformed));
    }

    #[test]
    fn short_secrets_are_refused() {
        let short = JwtConfig {
            secret: "too-short".into(),
            ..JwtConfig::default()
        };
        assert!(matches!(short.validate(), Err(TokenError::Config(_))));
        assert!(TokenIssuer::new(&short).is_err());
        assert!(TokenValidator::new(&short).is_err());
        assert!(JwtConfig::default().validate().is_ok());
        assert!(JwtConfig::default().uses_local_default_secret());
        assert!(!format!("{:?}", config()).contains("long-enough"));
    }
}
