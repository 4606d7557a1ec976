//! Runs merchant-redemption alone (production runs each service as its own process).

// A request allocates and frees many small buffers across the runtime's threads;
// mimalloc does that for less CPU than glibc's malloc (docs/performance.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::serve::run_service("merchant-redemption", merchant_redemption::router()).await
}
