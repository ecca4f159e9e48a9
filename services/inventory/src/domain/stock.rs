//! One SKU's stock level and the only ways it may change.
//!
//! Every change goes through a method here that checks its arithmetic, so a
//! stock level can never become negative or inconsistent, whatever events
//! arrive: a change that would break an invariant is refused with a
//! [`StockError`] instead.

use serde::{Deserialize, Serialize};

use super::StockError;

/// Longest SKU accepted, in bytes.
pub const MAX_SKU_LEN: usize = 64;

/// The stock of one SKU, as stored in `stock_by_sku`.
///
/// Units move `available -> reserved` when an order's reservation is held,
/// back `reserved -> available` when it is released, and
/// `reserved -> committed` when the order is confirmed (the goods leave). So
/// `available + reserved + committed == added` always holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub sku: String,
    /// Units free to reserve (held reservations excluded).
    pub available: i64,
    /// Units held by reservations of orders still in flight.
    pub reserved: i64,
    /// Unit price, in cents, for reservations made from now on.
    pub price_cents: i64,
    /// Units ever added by stock administration.
    #[serde(default)]
    pub added: i64,
    /// Units that left with confirmed orders.
    #[serde(default)]
    pub committed: i64,
}

/// Bounds on what stock administration may do to one SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockLimits {
    /// Largest quantity one addition may add.
    pub max_add_quantity: i64,
    /// Highest unit price, in cents.
    pub max_price_cents: i64,
    /// Most units one SKU may have on hand (available + reserved).
    pub max_on_hand: i64,
}

impl StockLevel {
    /// A SKU with nothing in stock and price 0; the state before its first addition.
    pub fn empty(sku: &str) -> Self {
        StockLevel {
            sku: sku.to_owned(),
            available: 0,
            reserved: 0,
            price_cents: 0,
            added: 0,
            committed: 0,
        }
    }

    /// Adds `quantity` units and sets the unit price: the effect of
    /// `PUT /stock/{sku}`. Refuses non-positive or oversized quantities,
    /// negative or oversized prices, and additions that would exceed the
    /// on-hand bound.
    pub fn add(
        &self,
        quantity: i64,
        price_cents: i64,
        limits: &StockLimits,
    ) -> Result<StockLevel, StockError> {
        if quantity <= 0 || quantity > limits.max_add_quantity {
            return Err(StockError::InvalidQuantity {
                got: quantity,
                max: limits.max_add_quantity,
            });
        }
        if !(0..=limits.max_price_cents).contains(&price_cents) {
            return Err(StockError::InvalidPrice {
                got: price_cents,
                max: limits.max_price_cents,
            });
        }
        let on_hand = self.available.saturating_add(self.reserved);
        if on_hand.saturating_add(quantity) > limits.max_on_hand {
            return Err(StockError::TooMuchStock {
                sku: self.sku.clone(),
                on_hand,
                max: limits.max_on_hand,
            });
        }
        let mut next = self.clone();
        next.available = checked(self, self.available.checked_add(quantity), "available")?;
        next.added = checked(self, self.added.checked_add(quantity), "added")?;
        next.price_cents = price_cents;
        Ok(next)
    }

    /// Moves `quantity` units from available to reserved (a reservation is held).
    pub fn hold(&self, quantity: i64) -> Result<StockLevel, StockError> {
        self.positive(quantity)?;
        if quantity > self.available {
            return Err(StockError::Insufficient {
                sku: self.sku.clone(),
                requested: quantity,
                available: self.available,
            });
        }
        let mut next = self.clone();
        next.available -= quantity;
        next.reserved = checked(self, self.reserved.checked_add(quantity), "reserved")?;
        Ok(next)
    }

    /// Moves `quantity` units from reserved back to available (a reservation
    /// is released by compensation).
    pub fn release(&self, quantity: i64) -> Result<StockLevel, StockError> {
        self.take_reserved(quantity)?;
        let mut next = self.clone();
        next.reserved -= quantity;
        next.available = checked(self, self.available.checked_add(quantity), "available")?;
        Ok(next)
    }

    /// Removes `quantity` reserved units for good (the order was confirmed
    /// and the goods leave stock); `available` is unchanged.
    pub fn commit(&self, quantity: i64) -> Result<StockLevel, StockError> {
        self.take_reserved(quantity)?;
        let mut next = self.clone();
        next.reserved -= quantity;
        next.committed = checked(self, self.committed.checked_add(quantity), "committed")?;
        Ok(next)
    }

    /// Whether the invariants hold: nothing negative and every unit ever
    /// added is available, reserved or committed.
    pub fn is_consistent(&self) -> bool {
        self.available >= 0
            && self.reserved >= 0
            && self.committed >= 0
            && self.price_cents >= 0
            && self
                .available
                .checked_add(self.reserved)
                .and_then(|n| n.checked_add(self.committed))
                == Some(self.added)
    }

    fn positive(&self, quantity: i64) -> Result<(), StockError> {
        if quantity <= 0 {
            return Err(StockError::Inconsistent {
                sku: self.sku.clone(),
                detail: format!("a stock movement of {quantity} units is not positive"),
            });
        }
        Ok(())
    }

    fn take_reserved(&self, quantity: i64) -> Result<(), StockError> {
        self.positive(quantity)?;
        if quantity > self.reserved {
            return Err(StockError::Inconsistent {
                sku: self.sku.clone(),
                detail: format!(
                    "cannot take {quantity} reserved units, only {} are reserved",
                    self.reserved
                ),
            });
        }
        Ok(())
    }
}

fn checked(stock: &StockLevel, value: Option<i64>, field: &str) -> Result<i64, StockError> {
    value.ok_or_else(|| StockError::Inconsistent {
        sku: stock.sku.clone(),
        detail: format!("{field} would overflow"),
    })
}

/// Checks a SKU: 1 to [`MAX_SKU_LEN`] bytes of ASCII letters, digits, `-`,
/// `_` and `.`, so it is safe in URLs, keys and logs.
pub fn validate_sku(sku: &str) -> Result<(), StockError> {
    let valid = !sku.is_empty()
        && sku.len() <= MAX_SKU_LEN
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(StockError::InvalidSku {
            sku: sku.chars().take(MAX_SKU_LEN + 1).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: StockLimits = StockLimits {
        max_add_quantity: 1_000,
        max_price_cents: 100_000,
        max_on_hand: 5_000,
    };

    fn stocked(available: i64) -> StockLevel {
        StockLevel::empty("sku-1")
            .add(available, 250, &LIMITS)
            .expect("valid addition")
    }

    #[test]
    fn add_increases_available_and_sets_price() {
        let s = stocked(10).add(5, 300, &LIMITS).expect("valid");
        assert_eq!(
            (s.available, s.reserved, s.added, s.price_cents),
            (15, 0, 15, 300)
        );
        assert!(s.is_consistent());
    }

    #[test]
    fn add_rejects_bad_quantities_and_prices() {
        let s = stocked(1);
        for q in [0, -1, 1_001, i64::MIN, i64::MAX] {
            assert!(
                matches!(
                    s.add(q, 1, &LIMITS),
                    Err(StockError::InvalidQuantity { .. })
                ),
                "{q}"
            );
        }
        for p in [-1, 100_001, i64::MIN] {
            assert!(
                matches!(s.add(1, p, &LIMITS), Err(StockError::InvalidPrice { .. })),
                "{p}"
            );
        }
        assert!(s.add(1, 0, &LIMITS).is_ok(), "a price of 0 is allowed");
    }

    #[test]
    fn add_is_bounded_by_on_hand_including_reserved() {
        let s = stocked(1_000).add(1_000, 1, &LIMITS).expect("2000");
        let s = s.add(1_000, 1, &LIMITS).expect("3000");
        let s = s.add(1_000, 1, &LIMITS).expect("4000");
        let s = s.hold(3_000).expect("hold");
        let s = s.add(1_000, 1, &LIMITS).expect("5000 on hand");
        assert!(matches!(
            s.add(1, 1, &LIMITS),
            Err(StockError::TooMuchStock { .. })
        ));
        // Committed units left the shelf: there is room again.
        let s = s.commit(3_000).expect("commit");
        assert!(s.add(1_000, 1, &LIMITS).is_ok());
    }

    #[test]
    fn hold_release_commit_move_units() {
        let s = stocked(10).hold(4).expect("hold");
        assert_eq!((s.available, s.reserved), (6, 4));
        let released = s.release(4).expect("release");
        assert_eq!((released.available, released.reserved), (10, 0));
        let committed = s.commit(4).expect("commit");
        assert_eq!(
            (committed.available, committed.reserved, committed.committed),
            (6, 0, 4)
        );
        for level in [s, released, committed] {
            assert!(level.is_consistent(), "{level:?}");
        }
    }

    #[test]
    fn movements_that_would_break_invariants_are_refused() {
        let s = stocked(3);
        assert!(matches!(
            s.hold(4),
            Err(StockError::Insufficient {
                requested: 4,
                available: 3,
                ..
            })
        ));
        assert!(matches!(s.hold(0), Err(StockError::Inconsistent { .. })));
        assert!(matches!(s.release(1), Err(StockError::Inconsistent { .. })));
        assert!(matches!(s.commit(1), Err(StockError::Inconsistent { .. })));
        assert!(matches!(
            s.hold(3).expect("hold").release(-1),
            Err(StockError::Inconsistent { .. })
        ));
    }

    #[test]
    fn old_rows_without_audit_fields_still_decode() {
        let row: StockLevel =
            serde_json::from_str(r#"{"sku":"a","available":1,"reserved":0,"price_cents":5}"#)
                .expect("decodes");
        assert_eq!(row.added, 0);
    }

    #[test]
    fn skus_are_validated() {
        for ok in ["a", "SKU-1", "widget_2.blue", &"x".repeat(MAX_SKU_LEN)] {
            assert!(validate_sku(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "a/b",
            "é",
            &"x".repeat(MAX_SKU_LEN + 1),
            "a\u{0}",
        ] {
            assert!(validate_sku(bad).is_err(), "{bad:?}");
        }
    }
}
