//! Pure rules: no I/O. The same functions check an online redemption now and an
//! offline batch later (pass the counters and the time the tablet recorded).

pub mod limits;
pub mod pricing;
pub mod rules;
