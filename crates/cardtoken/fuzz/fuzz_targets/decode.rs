//! Feeds arbitrary bytes to the token decoder: it must answer Ok or a TokenError,
//! never panic, and anything it accepts must re-encode to a token it accepts again.
#![no_main]

use cardtoken::{TokenError, base45, parse, verify};
use ed25519_dalek::{SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

/// The test vectors' key k1 (proto/testvectors/qr-v1.json), derived once.
fn public_key() -> VerifyingKey {
    static KEY: std::sync::OnceLock<VerifyingKey> = std::sync::OnceLock::new();
    *KEY.get_or_init(|| SigningKey::from_bytes(&[1; 32]).verifying_key())
}

fuzz_target!(|data: &[u8]| {
    let public = public_key();
    let keys = |kid: &str| (kid == "k1").then_some(public);

    // 1. The raw input as text (what a scanner hands over).
    if let Ok(text) = std::str::from_utf8(data) {
        check(text, keys);
    }
    // 2. The input as a token body: reaches the protobuf and claim decoding.
    let text = format!("{}{}", cardtoken::PREFIX, base45::encode(data));
    check(&text, keys);
});

fn check(text: &str, keys: impl Fn(&str) -> Option<VerifyingKey>) {
    match verify(text, 101, keys) {
        Ok(claim) => {
            // Only a genuinely signed token verifies; parsing must agree with it.
            let again = parse(text).map(|u| u.claim);
            assert_eq!(again, Ok(claim));
        }
        Err(e) => {
            let code = e.code();
            assert!(code.starts_with("token_"), "{code}");
            let _: TokenError = e;
        }
    }
}
