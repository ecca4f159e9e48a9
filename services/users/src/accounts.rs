//! Account operations on the users view: register, log in, ensure the admin.
//!
//! Registration writes the e-mail index row with `Expect::Absent`, the
//! account row and the `UserRegistered` event in one commit, so an address is
//! taken exactly once even when two replicas race, and the event exists iff
//! the account does.

use std::time::Duration;

use tributary_contracts::Envelope;
use tributary_contracts::events::UserRegistered;
use tributary_service::{CommitError, Effects, ServiceContext};
use tributary_views::{Expect, Outcome, ViewError};
use uuid::Uuid;

use crate::domain::{InvalidField, Registration, email_key, validate_registration};
use crate::password::{PasswordError, Passwords};
use crate::token::{IssuedToken, Role, Subject, TokenError, TokenIssuer};
use crate::views::{EMAILS, EmailRecord, USERS, USERS_BY_EMAIL, UserRecord, user_key};

/// The `producer` of emitted events and the store's name.
pub const SERVICE: &str = "users";

/// Namespace of admin account ids: the admin's id is derived from its
/// e-mail, so every replica ensuring it at start-up writes the same row.
const ADMIN_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5a0c_2f7e_91d4_4c3b_8e6a_7b1f_d2c9_0e44);

/// Attempts when a concurrent writer keeps changing the admin's rows.
const ADMIN_ATTEMPTS: u32 = 5;

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the e-mail address is already registered")]
    EmailTaken,
    #[error("wrong e-mail or password")]
    BadCredentials,
    #[error("{0}")]
    Invalid(InvalidField),
    #[error("the admin e-mail {0} belongs to a customer account; choose another admin_email")]
    AdminEmailTaken(String),
    #[error("the admin account kept changing concurrently; gave up after {0} attempts")]
    Contended(u32),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error(transparent)]
    View(#[from] ViewError),
    #[error("cannot serialize a user row: {0}")]
    Row(#[from] serde_json::Error),
}

impl AccountError {
    /// Worth retrying later (storage or registry temporarily unavailable).
    pub fn is_transient(&self) -> bool {
        match self {
            AccountError::Commit(e) => e.is_transient(),
            AccountError::View(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// What [`Accounts::ensure_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Created(Uuid),
    Unchanged(Uuid),
    PasswordReset(Uuid),
}

/// The account operations, over a service context.
#[derive(Debug, Clone)]
pub struct Accounts {
    ctx: ServiceContext,
    passwords: Passwords,
    issuer: TokenIssuer,
}

impl Accounts {
    pub fn new(ctx: ServiceContext, passwords: Passwords, issuer: TokenIssuer) -> Self {
        Accounts {
            ctx,
            passwords,
            issuer,
        }
    }

    /// The service context (for handlers needing the clock or store).
    pub fn context(&self) -> &ServiceContext {
        &self.ctx
    }

    /// Creates a customer account.
    pub async fn register(&self, registration: Registration) -> Result<UserRecord, AccountError> {
        // Cheap early answer for the common duplicate, before paying for a
        // hash; the Expect::Absent write below is what actually decides.
        if self.find_by_email(&registration.email_key).await?.is_some() {
            return Err(AccountError::EmailTaken);
        }
        self.create(registration, Role::Customer, Uuid::new_v4())
            .await
    }

    /// Checks credentials and issues a session token. Unknown addresses and
    /// wrong passwords fail alike, after the same amount of hashing work.
    pub async fn login(&self, email: &str, password: String) -> Result<IssuedToken, AccountError> {
        let user = self.find_by_email(&email_key(email)).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        if !self.passwords.verify(password, hash).await? {
            return Err(AccountError::BadCredentials);
        }
        let Some(user) = user else {
            return Err(AccountError::BadCredentials);
        };
        let subject = Subject {
            user_id: user.id,
            email: user.email,
            role: user.role,
        };
        Ok(self.issuer.issue(&subject, self.ctx.now_ms() / 1000)?)
    }

    /// One account by id.
    pub async fn get(&self, id: Uuid) -> Result<Option<UserRecord>, AccountError> {
        Ok(USERS
            .get(self.ctx.store(), &user_key(id), "")
            .await?
            .map(|row| row.value))
    }

    /// Makes sure the configured admin account exists with the configured
    /// password. Safe to run on every replica at every start.
    pub async fn ensure_admin(
        &self,
        email: &str,
        password: &str,
    ) -> Result<AdminOutcome, AccountError> {
        let registration = validate_registration(email, password, "Administrator")
            .map_err(AccountError::Invalid)?;
        let id = Uuid::new_v5(&ADMIN_ID_NAMESPACE, registration.email_key.as_bytes());
        for _ in 0..ADMIN_ATTEMPTS {
            let existing = self
                .find_versioned_by_email(&registration.email_key)
                .await?;
            match existing {
                None => match self.create(registration.clone(), Role::Admin, id).await {
                    Ok(user) => return Ok(AdminOutcome::Created(user.id)),
                    // Another replica created it meanwhile: look again.
                    Err(AccountError::EmailTaken) => continue,
                    Err(e) => return Err(e),
                },
                Some((user, _)) if user.role != Role::Admin => {
                    return Err(AccountError::AdminEmailTaken(user.email));
                }
                Some((user, version)) => {
                    let current = self
                        .passwords
                        .verify(password.to_owned(), Some(user.password_hash.clone()))
                        .await?;
                    if current {
                        return Ok(AdminOutcome::Unchanged(user.id));
                    }
                    let updated = UserRecord {
                        password_hash: self.passwords.hash(password.to_owned()).await?,
                        ..user
                    };
                    let write = USERS.put(
                        &user_key(updated.id),
                        "",
                        &updated,
                        Expect::Version(version),
                    )?;
                    match self.ctx.commit(None, Effects::none().write(write)).await? {
                        Outcome::Applied => return Ok(AdminOutcome::PasswordReset(updated.id)),
                        Outcome::Duplicate | Outcome::Conflict { .. } => continue,
                    }
                }
            }
        }
        Err(AccountError::Contended(ADMIN_ATTEMPTS))
    }

    /// [`Self::ensure_admin`] with bounded retries of transient failures,
    /// for start-up, when the store may still be coming up.
    pub async fn ensure_admin_with_retries(
        &self,
        email: &str,
        password: &str,
        attempts: u32,
        backoff: Duration,
    ) -> Result<AdminOutcome, AccountError> {
        let mut delay = backoff;
        let mut attempt = 1;
        loop {
            match self.ensure_admin(email, password).await {
                Err(error) if error.is_transient() && attempt < attempts => {
                    tracing::warn!(%error, attempt, "cannot ensure the admin account yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2).min(Duration::from_secs(10));
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn create(
        &self,
        registration: Registration,
        role: Role,
        id: Uuid,
    ) -> Result<UserRecord, AccountError> {
        let now = self.ctx.now_ms();
        let user = UserRecord {
            id,
            email: registration.email.clone(),
            name: registration.name.clone(),
            role,
            password_hash: self.passwords.hash(registration.password).await?,
            created_at: now,
        };
        let event = UserRegistered {
            envelope: Envelope::originating(SERVICE, id.to_string(), now),
            user_id: id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: role.as_str().to_owned(),
        };
        let effects = Effects::none()
            .write(EMAILS.put(
                &registration.email_key,
                "",
                &EmailRecord { user_id: id },
                Expect::Absent,
            )?)
            .write(USERS.put(&user_key(id), "", &user, Expect::Absent)?)
            .emit(event);
        match self.ctx.commit(None, effects).await? {
            Outcome::Applied => {
                tracing::info!(user_id = %id, role = %role, "user registered");
                Ok(user)
            }
            Outcome::Conflict { table, .. } if table == USERS_BY_EMAIL.name => {
                Err(AccountError::EmailTaken)
            }
            // An id collision (only the admin's derived id can collide, and
            // it is keyed by the same e-mail) or a duplicate: the address is
            // effectively taken.
            Outcome::Conflict { .. } | Outcome::Duplicate => Err(AccountError::EmailTaken),
        }
    }

    async fn find_by_email(&self, key: &str) -> Result<Option<UserRecord>, AccountError> {
        Ok(self
            .find_versioned_by_email(key)
            .await?
            .map(|(user, _)| user))
    }

    async fn find_versioned_by_email(
        &self,
        key: &str,
    ) -> Result<Option<(UserRecord, i64)>, AccountError> {
        let Some(entry) = EMAILS.get(self.ctx.store(), key, "").await? else {
            return Ok(None);
        };
        let user = USERS
            .get(self.ctx.store(), &user_key(entry.value.user_id), "")
            .await?;
        Ok(user.map(|row| (row.value, row.version)))
    }
}
