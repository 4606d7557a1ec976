//! Structured logs. JSON in production; every request runs in a span with its id.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(format: &str, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Tests log only with `TEST_LOG=1`, to keep failures readable.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init("pretty", "debug,sqlx=warn,hyper=info");
    }
}
