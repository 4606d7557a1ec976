//! Business rules: no HTTP here; database access only through `crate::db`.

pub mod events;
pub mod issue;
pub mod keys;
pub mod lifecycle;
pub mod qr;
pub mod sheet;
pub mod verify;
