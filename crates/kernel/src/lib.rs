//! Pure domain types: no I/O, no async, no database. Every service speaks these.

pub mod card_number;
pub mod iban;
pub mod ids;
pub mod money;
pub mod role;

pub use card_number::CardNumber;
pub use iban::Iban;
pub use ids::*;
pub use money::{Money, MoneyError, Percent};
pub use role::Role;
