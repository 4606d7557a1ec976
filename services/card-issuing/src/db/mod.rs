//! SQL, one module per table group. The caller owns the transaction.

pub mod benefits;
pub mod cards;
pub mod events;
pub mod keys;
pub mod products;
pub mod promotions;
pub mod towns;
