//! The all-in-one binary's library: mounting the three services in one process,
//! and the admin commands (migrate, seed-demo, audit, keys).

pub mod all_in_one;
pub mod cli;
pub mod migrate;
pub mod seed;
