//! The gateway's shared state, handed to every handler and middleware.

use std::sync::Arc;

use tributary_service::ServiceContext;
use tributary_users::TokenValidator;

use crate::config::{ConfigError, GatewayConfig};
use crate::rate_limit::RateLimiter;
use crate::upstream::Upstreams;

/// Cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ctx: ServiceContext,
    config: GatewayConfig,
    validator: TokenValidator,
    limiter: RateLimiter,
    upstreams: Upstreams,
}

/// The parts of the state that need no running service: built (and
/// checked) before the runtime exists, completed with the context later.
#[derive(Debug)]
pub struct Parts {
    config: GatewayConfig,
    validator: TokenValidator,
    upstreams: Upstreams,
}

impl Parts {
    pub fn new(config: GatewayConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let validator = TokenValidator::new(&config.jwt)?;
        let upstreams = Upstreams::new(&config.upstreams).map_err(|e| ConfigError::Invalid {
            key: "upstreams",
            detail: format!("cannot create the HTTP client: {e}"),
        })?;
        Ok(Parts {
            config,
            validator,
            upstreams,
        })
    }

    pub fn with_context(self, ctx: ServiceContext) -> Gateway {
        Gateway {
            inner: Arc::new(Inner {
                limiter: RateLimiter::new(&self.config.rate_limit),
                ctx,
                config: self.config,
                validator: self.validator,
                upstreams: self.upstreams,
            }),
        }
    }
}

impl Gateway {
    pub fn context(&self) -> &ServiceContext {
        &self.inner.ctx
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    pub fn validator(&self) -> &TokenValidator {
        &self.inner.validator
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    pub fn upstreams(&self) -> &Upstreams {
        &self.inner.upstreams
    }
}
