//! The use cases, between the routes and the db/ledger: each takes the caller's
//! transaction and returns domain results or `ApiError`s.

pub mod batch;
pub mod card;
pub mod offline;
pub mod postings;
pub mod receipt;
pub mod redeem;
pub mod reverse;
pub mod scan;
pub mod sync;
