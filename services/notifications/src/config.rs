//! `[notifications]` configuration.

use serde::{Deserialize, Serialize};

use crate::channel::{ChannelConfig, ChannelError};

/// Every default, in one place.
pub mod defaults {
    pub const PAGE_SIZE: usize = 20;
    pub const MAX_PAGE_SIZE: usize = 200;
}

/// The notifications service's business settings.
///
/// ```toml
/// [notifications.channel]
/// kind = "webhook"
/// url = "https://hooks.example.com/tributary"
/// timeout = "2s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// How notifications are delivered: `log` (a JSON-lines file, the
    /// default) or `webhook` (HTTP POST behind a circuit breaker).
    pub channel: ChannelConfig,
    /// Notifications returned by `GET /notifications` without `limit`.
    pub default_page_size: usize,
    /// Largest `limit` accepted by `GET /notifications`.
    pub max_page_size: usize,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            channel: ChannelConfig::default(),
            default_page_size: defaults::PAGE_SIZE,
            max_page_size: defaults::MAX_PAGE_SIZE,
        }
    }
}

impl NotificationsConfig {
    /// Checks what serde cannot: the channel can be built (a parsable
    /// http(s) webhook URL) and the page sizes are usable.
    pub fn validate(&self) -> Result<(), ChannelError> {
        if self.max_page_size == 0
            || self.default_page_size == 0
            || self.default_page_size > self.max_page_size
        {
            return Err(ChannelError::Config(
                "notifications.default_page_size must be between 1 and max_page_size".into(),
            ));
        }
        self.channel.build().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::{path::PathBuf, time::Duration};

    use super::*;
    use crate::channel::BreakerConfig;

    #[test]
    fn defaults_to_the_log_channel() {
        let config: NotificationsConfig = toml::from_str("").expect("empty is fine");
        assert_eq!(config, NotificationsConfig::default());
        assert!(matches!(config.channel, ChannelConfig::Log { .. }));
        config.validate().expect("valid");
    }

    #[test]
    fn parses_both_channels() {
        let log: NotificationsConfig =
            toml::from_str("[channel]\nkind = \"log\"\npath = \"/tmp/n.jsonl\"").expect("log");
        assert_eq!(
            log.channel,
            ChannelConfig::Log {
                path: PathBuf::from("/tmp/n.jsonl")
            }
        );
        let hook: NotificationsConfig = toml::from_str(
            "[channel]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\ntimeout = \"250ms\"\nbreaker = { failure_threshold = 2, open_for = \"3s\" }",
        )
        .expect("webhook");
        assert_eq!(
            hook.channel,
            ChannelConfig::Webhook {
                url: "http://127.0.0.1:9/hook".into(),
                timeout: Duration::from_millis(250),
                breaker: BreakerConfig {
                    failure_threshold: 2,
                    open_for: Duration::from_secs(3)
                },
            }
        );
        hook.validate().expect("valid");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_urls() {
        assert!(toml::from_str::<NotificationsConfig>("chanel = 1").is_err());
        assert!(
            toml::from_str::<NotificationsConfig>(
                "[channel]\nkind = \"log\"\npath = \"x\"\nurl = \"y\""
            )
            .is_err()
        );
        assert!(toml::from_str::<NotificationsConfig>("[channel]\nkind = \"email\"").is_err());
        let bad: NotificationsConfig =
            toml::from_str("[channel]\nkind = \"webhook\"\nurl = \"ftp://x\"").expect("parses");
        assert!(bad.validate().is_err());
        let bad: NotificationsConfig =
            toml::from_str("[channel]\nkind = \"webhook\"\nurl = \"not a url\"").expect("parses");
        assert!(bad.validate().is_err());
    }
}
