//! Settlement rules: periods, statements, reconciliation, payout, the data generator.

pub mod adjust;
pub mod bulk;
pub mod close;
pub mod export;
pub mod generate;
pub mod month;
pub mod payout;
pub mod reconcile;
pub mod statement;
