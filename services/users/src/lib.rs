//! Users service: registration, credentials and JWT sessions; owns
//! `users_by_id` and `users_by_email`.
//!
//! - `POST /users` validates the fields, hashes the password with Argon2id and
//!   commits the e-mail index row (`Expect::Absent`, the uniqueness guard
//!   across replicas), the account row and `UserRegistered` atomically.
//! - `POST /sessions` checks credentials in constant-shape time and issues an
//!   HS256 JWT ([`token`]); the gateway validates it with the same module.
//! - At start-up the admin account from the configuration is ensured
//!   (created if absent, password reset if changed) on every replica.
//!
//! The service consumes nothing: it is the source of `UserRegistered`.

mod accounts;
pub mod api;
mod config;
pub mod domain;
mod password;
pub mod token;
pub mod views;

#[cfg(test)]
mod tests;

use std::time::Duration;

use futures::FutureExt as _;
use tributary_service::{ServiceContext, ServiceDefinition};

pub use accounts::{AccountError, Accounts, AdminOutcome, SERVICE};
pub use config::{ConfigError, DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, UsersConfig};
pub use password::{PasswordError, PasswordHashingConfig, Passwords};
pub use token::{Claims, JwtConfig, Role, TokenError, TokenIssuer, TokenValidator};

/// Start-up attempts to ensure the admin while the store is unavailable.
const ADMIN_ATTEMPTS: u32 = 8;

/// The users service for the runtime.
///
/// An invalid configuration does not panic: the definition then carries a
/// single task that fails at once with the reason, so the service refuses to
/// start and says why. Call [`UsersConfig::validate`] first to report it
/// earlier.
pub fn definition(config: UsersConfig) -> ServiceDefinition {
    let base = ServiceDefinition::new(SERVICE).with_tables(views::TABLES);
    let (passwords, issuer) = match parts(&config) {
        Ok(parts) => parts,
        Err(error) => {
            return base.with_task(move |_, _| async move { Err(error.into()) }.boxed());
        }
    };
    let routes_accounts = (passwords.clone(), issuer.clone());
    let UsersConfig {
        admin_email,
        admin_password,
        ..
    } = config;
    let definition = base.with_routes(move |ctx: ServiceContext| {
        let (passwords, issuer) = routes_accounts;
        api::router(Accounts::new(ctx, passwords, issuer))
    });
    if admin_email.is_empty() {
        return definition;
    }
    definition.with_task(move |ctx, cancel| {
        async move {
            let accounts = Accounts::new(ctx, passwords, issuer);
            let ensure = accounts.ensure_admin_with_retries(
                &admin_email,
                &admin_password,
                ADMIN_ATTEMPTS,
                Duration::from_millis(250),
            );
            tokio::select! {
                () = cancel.cancelled() => Ok(()),
                outcome = ensure => match outcome {
                    Ok(outcome) => {
                        tracing::info!(?outcome, email = %admin_email, "admin account ensured");
                        Ok(())
                    }
                    Err(error) => Err(error.into()),
                },
            }
        }
        .boxed()
    })
}

fn parts(config: &UsersConfig) -> Result<(Passwords, TokenIssuer), ConfigError> {
    config.validate()?;
    let passwords = Passwords::new(&config.password_hashing)
        .map_err(|e| ConfigError::Hashing(e.to_string()))?;
    let issuer = TokenIssuer::new(&config.jwt)?;
    Ok((passwords, issuer))
}
