//! Runs merchant-redemption alone (production runs each service as its own process).

use platform::{Application, Context, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(
        std::env::var_os("TOWNCARD_CONFIG")
            .as_deref()
            .map(std::path::Path::new),
    )?;
    platform::telemetry::init(&settings.log.format, &settings.log.filter);
    let ctx = Context::connect(settings.clone()).await?;
    let app = platform::serve::app(merchant_redemption::router(), ctx);
    let server = Application::build(&settings, app).await?;
    tracing::info!(addr = %server.local_addr()?, "merchant-redemption listening");
    server.run_until_stopped().await?;
    Ok(())
}
