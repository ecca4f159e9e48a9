//! Before the clock starts: an administrator session, the run's stock, and
//! its customers registered and logged in. Registration hashes a password
//! (deliberately slow), so it runs with bounded concurrency and backs off
//! when the gateway's anonymous rate limit answers 429.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::{StreamExt, TryStreamExt, stream};
use uuid::Uuid;

use super::{
    LoadError,
    client::{ClientError, LoadClient},
    progress::Counters,
    schedule::Plan,
};

/// Attempts per setup call when the answer is transient (429, 503, no answer).
const MAX_ATTEMPTS: u32 = 8;
/// First pause between attempts; doubles, unless the server says how long.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// SKUs per stock query (the inventory's default batch limit).
pub const STOCK_BATCH: usize = 100;
/// Password of every load customer: long enough for any sane policy.
const PASSWORD: &str = "load-test-password-1";

/// A customer of the run, logged in.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

/// What setup produced.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub customers: Vec<Customer>,
    /// SKU → units added, as the inventory reports them after setup (a
    /// retried addition whose first attempt took effect adds twice; the
    /// inventory's count is the truth the stock invariant starts from).
    pub stocked: BTreeMap<String, i64>,
}

/// Administrator credentials for stock administration.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCredentials {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl Default for AdminCredentials {
    fn default() -> Self {
        AdminCredentials {
            email: tributary_users::DEFAULT_ADMIN_EMAIL.to_owned(),
            password: tributary_users::DEFAULT_ADMIN_PASSWORD.to_owned(),
        }
    }
}

/// Stocks the plan's SKUs and creates its customers.
pub async fn prepare(
    client: &LoadClient,
    plan: &Plan,
    admin: &AdminCredentials,
    run_id: &str,
    concurrency: usize,
    counters: &Arc<Counters>,
) -> Result<Prepared, LoadError> {
    let concurrency = concurrency.max(1);
    let admin_token = retrying(|_| client.login(&admin.email, &admin.password))
        .await
        .map_err(|source| LoadError::Setup {
            step: format!(
                "logging in as the administrator {} (set --admin-email / --admin-password, or \
                 TRIBUTARY_ADMIN_EMAIL / TRIBUTARY_ADMIN_PASSWORD)",
                admin.email
            ),
            source,
        })?;
    // Owned items: futures that borrow through closure arguments trip the
    // compiler's `Send` inference when the run is spawned (`up --demo`).
    stream::iter(plan.skus.clone())
        .map(|sku| {
            let token = admin_token.clone();
            async move {
                retrying(|_| {
                    client.add_stock(&token, &sku.name, i64::from(sku.stock), sku.price_cents)
                })
                .await
                .map_err(|source| LoadError::Setup {
                    step: format!("stocking {}", sku.name),
                    source,
                })
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let stocked = read_stock(client, plan).await?;

    let customers = stream::iter(0..plan.users)
        .map(|n| {
            let counters = Arc::clone(counters);
            async move {
                let name = format!("Load Customer {n}");
                // A retried registration gets a fresh address: the first
                // attempt may have created the account without answering,
                // and its address would now be taken.
                let (id, email) = retrying(|attempt| {
                    let email = customer_email(run_id, n, attempt);
                    let name = &name;
                    async move {
                        let id = client.register(&email, PASSWORD, name).await?;
                        Ok((id, email))
                    }
                })
                .await
                .map_err(|source| LoadError::Setup {
                    step: format!("registering customer {n}"),
                    source,
                })?;
                let token =
                    retrying(|_| client.login(&email, PASSWORD))
                        .await
                        .map_err(|source| LoadError::Setup {
                            step: format!("logging in as {email}"),
                            source,
                        })?;
                Counters::bump(&counters.customers);
                Ok::<_, LoadError>(Customer { id, email, token })
            }
        })
        // `buffered` keeps customer n at index n, as the plan numbers them.
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok(Prepared { customers, stocked })
}

/// `load-<run>-<n>@…`, with `-r<attempt>` from the second attempt on.
fn customer_email(run_id: &str, n: usize, attempt: u32) -> String {
    let retry = if attempt > 1 {
        format!("-r{attempt}")
    } else {
        String::new()
    };
    format!("load-{run_id}-{n:05}{retry}@load.tributary.test")
}

/// The inventory's count of units added to each of the plan's SKUs.
async fn read_stock(client: &LoadClient, plan: &Plan) -> Result<BTreeMap<String, i64>, LoadError> {
    let names: Vec<String> = plan.skus.iter().map(|s| s.name.clone()).collect();
    let mut stocked = BTreeMap::new();
    for chunk in names.chunks(STOCK_BATCH) {
        let levels =
            retrying(|_| client.stock(chunk))
                .await
                .map_err(|source| LoadError::Setup {
                    step: "reading the stock just added".to_owned(),
                    source,
                })?;
        stocked.extend(levels.into_iter().map(|level| (level.sku, level.added)));
    }
    if let Some(missing) = names.iter().find(|name| !stocked.contains_key(*name)) {
        return Err(LoadError::Stock {
            sku: missing.clone(),
        });
    }
    Ok(stocked)
}

/// Runs `call` (with the 1-based attempt number) until it succeeds, fails
/// for good, or [`MAX_ATTEMPTS`] pass.
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, ClientError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match call(attempt).await {
            Ok(value) => return Ok(value),
            Err(error) if error.is_transient() && attempt < MAX_ATTEMPTS => {
                let pause = error.retry_after().unwrap_or(backoff);
                tokio::time::sleep(pause.min(Duration::from_secs(10))).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}
