//! Queries. Every function takes the caller's connection (its transaction, with
//! the town set for row-level security).

pub mod cards;
pub mod counters;
pub mod devices;
pub mod offline;
pub mod promotions;
pub mod redemptions;
pub mod towns;
