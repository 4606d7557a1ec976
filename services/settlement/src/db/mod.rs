//! Queries; every function runs on the caller's connection (its transaction, with
//! the town set for row-level security).

pub mod periods;
pub mod reconciliation;
pub mod totals;
