//! Runs card-issuing alone (production runs each service as its own process).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::serve::run_service("card-issuing", card_issuing::router()).await
}
