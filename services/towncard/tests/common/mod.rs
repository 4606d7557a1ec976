//! Helpers shared by the all-in-one server's tests.

use serde_json::Value;

/// Each service's OpenAPI document, by its path prefix.
pub async fn documents(http: &reqwest::Client, base: &str) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for prefix in ["issuing", "redemption", "settlement"] {
        let doc: Value = http
            .get(format!("{base}/{prefix}/openapi.json"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{prefix}: {e}"));
        out.push((prefix, doc));
    }
    out
}
