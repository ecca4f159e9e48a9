//! Mapping of driver errors to [`ViewError`], naming the keyspace and URI.

use ::scylla::errors::ExecutionError;

use crate::error::ViewError;

/// A failed request: unreachable/overloaded cluster is transient
/// ([`ViewError::Unavailable`]), anything else a storage error.
pub(crate) fn execution_error(location: &str, e: ExecutionError) -> ViewError {
    match e {
        ExecutionError::EmptyPlan
        | ExecutionError::ConnectionPoolError(_)
        | ExecutionError::RequestTimeout(_) => ViewError::Unavailable {
            location: location.to_owned(),
            source: Box::new(e),
        },
        other => ViewError::Storage {
            location: location.to_owned(),
            source: Box::new(other),
        },
    }
}

/// A response that is not shaped as this crate's schema says.
pub(crate) fn shape_error(location: &str, e: impl std::fmt::Display) -> ViewError {
    ViewError::Corrupted {
        location: location.to_owned(),
        detail: e.to_string(),
    }
}
