//! Runs merchant-redemption alone (production runs each service as its own process).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::serve::run_service("merchant-redemption", merchant_redemption::router()).await
}
