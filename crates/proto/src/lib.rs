//! Wire formats that outlive releases, generated from `proto/*.proto`.

#![allow(clippy::all)]

pub mod qr {
    include!(concat!(env!("OUT_DIR"), "/towncard.qr.v1.rs"));
}

pub mod events {
    include!(concat!(env!("OUT_DIR"), "/towncard.events.v1.rs"));
}
