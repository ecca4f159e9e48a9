//! Pure input rules of the public API. No I/O.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tributary_service::{ApiError, FieldError};

/// Longest SKU (the inventory's rule, checked here so that a bad SKU never
/// reaches a URL).
pub const MAX_SKU_LEN: usize = 64;
/// Longest payment token accepted.
pub const MAX_PAYMENT_TOKEN_LEN: usize = 256;
/// Longest `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// `POST /v1/orders` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    pub lines: Vec<OrderLine>,
    pub payment: Payment,
}

/// One requested line. The quantity is read as a wide integer so that a
/// negative or huge value gets our message rather than a type error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
}

/// How the order is paid.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// Opaque token the payment provider charges.
    pub token: String,
}

impl std::fmt::Debug for Payment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payment").finish_non_exhaustive()
    }
}

/// Limits of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLimits {
    pub max_lines: usize,
    pub max_quantity: u32,
}

/// Checks an order's shape, reporting every bad field at once.
pub fn validate_order(order: &PlaceOrder, limits: OrderLimits) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if order.lines.is_empty() || order.lines.len() > limits.max_lines {
        errors.push(FieldError::new(
            "lines",
            format!("must have 1 to {} lines", limits.max_lines),
        ));
    }
    for (i, line) in order.lines.iter().enumerate().take(limits.max_lines) {
        if let Err(detail) = validate_sku(&line.sku) {
            errors.push(FieldError::new(format!("lines[{i}].sku"), detail));
        }
        if line.quantity < 1 || line.quantity > i64::from(limits.max_quantity) {
            errors.push(FieldError::new(
                format!("lines[{i}].quantity"),
                format!(
                    "must be between 1 and {}, got {}",
                    limits.max_quantity, line.quantity
                ),
            ));
        }
    }
    let token = order.payment.token.trim();
    if token.is_empty() || token.len() > MAX_PAYMENT_TOKEN_LEN {
        errors.push(FieldError::new(
            "payment.token",
            format!("must be 1 to {MAX_PAYMENT_TOKEN_LEN} characters"),
        ));
    }
    match errors.first() {
        None => Ok(()),
        Some(first) => Err(ApiError::unprocessable(format!(
            "Invalid order: `{}` {}{}.",
            first.field,
            first.detail,
            if errors.len() > 1 {
                format!(" (and {} more problems)", errors.len() - 1)
            } else {
                String::new()
            }
        ))
        .with_errors(errors)),
    }
}

/// 1 to [`MAX_SKU_LEN`] ASCII letters, digits, `-`, `_` or `.`.
pub fn validate_sku(sku: &str) -> Result<(), String> {
    let valid = !sku.is_empty()
        && sku.len() <= MAX_SKU_LEN
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {MAX_SKU_LEN} ASCII letters, digits, '-', '_' or '.'"
        ))
    }
}

/// The distinct SKUs of an order, in first-seen order.
pub fn distinct_skus(order: &PlaceOrder) -> Vec<&str> {
    let mut skus: Vec<&str> = Vec::with_capacity(order.lines.len());
    for line in &order.lines {
        if !skus.contains(&line.sku.as_str()) {
            skus.push(&line.sku);
        }
    }
    skus
}

/// Checks an `Idempotency-Key` header value: 1 to 255 visible ASCII
/// characters (the IETF draft leaves the format open; this keeps keys safe
/// in logs and store keys).
pub fn validate_idempotency_key(raw: &[u8]) -> Result<String, ApiError> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && raw.iter().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(String::from_utf8_lossy(raw).into_owned())
    } else {
        Err(ApiError::bad_request(format!(
            "The Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters."
        ))
        .with_field("Idempotency-Key", "invalid format"))
    }
}

/// SHA-256 (hex) of what a request asked for: the route and the parsed
/// body, so formatting differences do not matter but any change of content
/// does.
pub fn fingerprint<T: Serialize>(route: &str, body: &T) -> String {
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update([0]);
    // Serializing plain data cannot fail; an empty body still separates
    // routes.
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: OrderLimits = OrderLimits {
        max_lines: 50,
        max_quantity: 1000,
    };

    fn order(lines: &[(&str, i64)]) -> PlaceOrder {
        PlaceOrder {
            lines: lines
                .iter()
                .map(|(sku, quantity)| OrderLine {
                    sku: (*sku).to_owned(),
                    quantity: *quantity,
                })
                .collect(),
            payment: Payment {
                token: "tok_visa".to_owned(),
            },
        }
    }

    #[test]
    fn valid_orders_pass() {
        assert!(validate_order(&order(&[("sku-1", 1), ("sku-2", 1000)]), LIMITS).is_ok());
    }

    #[test]
    fn every_bad_field_is_named() {
        let error = validate_order(&order(&[("ok", 0), ("bad sku", -3), ("ok", 1001)]), LIMITS)
            .expect_err("invalid");
        let fields: Vec<&str> = error.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "lines[0].quantity",
                "lines[1].sku",
                "lines[1].quantity",
                "lines[2].quantity"
            ]
        );
        assert_eq!(error.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn line_counts_and_tokens_are_bounded() {
        let error = validate_order(&order(&[]), LIMITS).expect_err("empty");
        assert_eq!(error.errors()[0].field, "lines");
        let many: Vec<(&str, i64)> = (0..51).map(|_| ("sku", 1)).collect();
        let error = validate_order(&order(&many), LIMITS).expect_err("too many");
        assert_eq!(error.errors()[0].field, "lines");
        let mut o = order(&[("sku", 1)]);
        o.payment.token = " ".into();
        assert_eq!(
            validate_order(&o, LIMITS).expect_err("token").errors()[0].field,
            "payment.token"
        );
        assert!(!format!("{o:?}").contains("tok_"), "tokens are not printed");
    }

    #[test]
    fn skus_are_checked_and_deduplicated() {
        assert!(validate_sku("widget_2.blue-XL").is_ok());
        for bad in ["", "a/b", "a,b", "ä", &"x".repeat(65)] {
            assert!(validate_sku(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            distinct_skus(&order(&[("b", 1), ("a", 1), ("b", 2)])),
            ["b", "a"]
        );
    }

    #[test]
    fn idempotency_keys_and_fingerprints() {
        assert_eq!(validate_idempotency_key(b"k-1").expect("valid"), "k-1");
        assert!(validate_idempotency_key(b"").is_err());
        assert!(validate_idempotency_key(b"has space").is_err());
        assert!(validate_idempotency_key(&[b'k'; 256]).is_err());
        let a = fingerprint("POST /v1/orders", &order(&[("a", 1)]));
        assert_eq!(a, fingerprint("POST /v1/orders", &order(&[("a", 1)])));
        assert_ne!(a, fingerprint("POST /v1/orders", &order(&[("a", 2)])));
        assert_ne!(a, fingerprint("POST /v1/other", &order(&[("a", 1)])));
        assert_eq!(a.len(), 64);
    }
}
