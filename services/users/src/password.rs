//! Password hashing with Argon2id.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=...`), so each one carries its
//! own parameters and salt and raising the cost later keeps old hashes
//! verifiable. Hashing is deliberately slow and memory-hungry, so it runs on
//! the blocking pool behind a semaphore: a burst of log-ins queues instead of
//! starving the async runtime or exhausting memory. Passwords are never
//! logged; the request types that carry them redact them in `Debug`.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, Semaphore};

/// Argon2id cost settings. The defaults follow the OWASP password storage
/// recommendation (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordHashingConfig {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism (lanes).
    pub parallelism: u32,
    /// Hashes computed at the same time at most; further requests wait.
    pub max_concurrent: usize,
}

impl Default for PasswordHashingConfig {
    fn default() -> Self {
        PasswordHashingConfig {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 4,
        }
    }
}

/// A hashing failure. Never caused by the password itself.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid password hashing parameters: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the hashing task was lost: {0}")]
    Task(String),
}

/// Hashes and verifies passwords off the async runtime.
#[derive(Debug, Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    params: Params,
    permits: Semaphore,
    /// A hash of a random password, verified against when the e-mail is
    /// unknown so that a failed log-in takes the same time either way.
    dummy: OnceCell<String>,
}

impl Passwords {
    /// A hasher with the given costs.
    pub fn new(config: &PasswordHashingConfig) -> Result<Self, PasswordError> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        Ok(Passwords {
            inner: Arc::new(Inner {
                params,
                permits: Semaphore::new(config.max_concurrent.max(1)),
                dummy: OnceCell::new(),
            }),
        })
    }

    /// The PHC string of a fresh salted hash of `password`.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let params = self.inner.params.clone();
        self.blocking(move || hash_with(params, &password)).await?
    }

    /// Whether `password` matches `phc`. With `phc = None` (unknown account)
    /// a dummy hash is verified instead and the answer is always `false`.
    /// A stored hash that does not parse counts as a mismatch.
    pub async fn verify(
        &self,
        password: String,
        phc: Option<String>,
    ) -> Result<bool, PasswordError> {
        let (phc, known) = match phc {
            Some(phc) => (phc, true),
            None => (self.dummy().await?, false),
        };
        let matches = self
            .blocking(move || {
                PasswordHash::new(&phc).is_ok_and(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
            })
            .await?;
        Ok(known && matches)
    }

    async fn dummy(&self) -> Result<String, PasswordError> {
        self.inner
            .dummy
            .get_or_try_init(|| async {
                let random = uuid::Uuid::new_v4().to_string();
                self.hash(random).await
            })
            .await
            .cloned()
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Task(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| PasswordError::Task(e.to_string()))
    }
}

fn hash_with(params: Params, password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Cheap parameters so tests do not spend seconds per hash.
    pub(crate) fn fast() -> PasswordHashingConfig {
        PasswordHashingConfig {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        }
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let passwords = Passwords::new(&fast()).expect("params");
        let a = passwords.hash("correct horse".into()).await.expect("hash");
        let b = passwords.hash("correct horse".into()).await.expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(
            passwords
                .verify("correct horse".into(), Some(a.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify("wrong horse".into(), Some(a))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn unknown_accounts_and_corrupt_hashes_never_match() {
        let passwords = Passwords::new(&fast()).expect("params");
        assert!(
            !passwords
                .verify("anything".into(), None)
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify("anything".into(), Some("not a phc string".into()))
                .await
                .expect("verify")
        );
    }

    #[test]
    fn invalid_parameters_are_reported() {
        let bad = PasswordHashingConfig {
            memory_kib: 1,
            ..fast()
        };
        assert!(matches!(
            Passwords::new(&bad),
            Err(PasswordError::Params(_))
        ));
    }
}
