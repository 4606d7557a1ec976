//! The shared runtime: the context every handler gets, the middleware stack, and
//! `Application` (bind, serve, shut down gracefully).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::auth::JwtKeys;
use crate::error::{ApiError, REQUEST_ID};
use crate::ratelimit::Limiter;
use crate::settings::Settings;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    /// Connected as the service role: row-level security applies.
    pub db: PgPool,
    pub redis: ConnectionManager,
    pub jwt: Arc<JwtKeys>,
    pub settings: Arc<Settings>,
    pub metrics: PrometheusHandle,
    /// Velocity limits shared by the routes of this process (login per IP).
    pub limiter: Arc<Limiter>,
}

impl FromRef<Context> for Arc<JwtKeys> {
    fn from_ref(ctx: &Context) -> Self {
        ctx.jwt.clone()
    }
}

/// The process-wide Prometheus recorder (installed once; tests build many apps).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub async fn connect_redis(
    url: &str,
    response_timeout: Duration,
) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(2);
    ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Redis at {}: {e}", redact_url(url)))
}

/// Drops any password from a URL before it is printed.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

impl Context {
    /// Connects to Postgres (as the service role) and Redis and loads the signing keys,
    /// failing with a message that names what could not be reached.
    pub async fn connect(settings: Settings) -> anyhow::Result<Context> {
        let db = crate::db::connect(settings.database.url.expose(), &settings.database).await?;
        let redis = connect_redis(
            settings.redis.url.expose(),
            Duration::from_millis(settings.redis.response_timeout_ms),
        )
        .await?;
        let jwt = JwtKeys::load(&settings.auth)?;
        Ok(Context {
            db,
            redis,
            jwt: Arc::new(jwt),
            settings: Arc::new(settings),
            metrics: metrics_handle(),
            limiter: Arc::new(Limiter::default()),
        })
    }
}

/// Wraps service routes with health, metrics, request ids, logging, limits.
pub fn app(routes: Router<Context>, ctx: Context) -> Router {
    let timeout = Duration::from_secs(ctx.settings.server.request_timeout_secs);
    let limit = ctx.settings.server.body_limit_bytes;
    let (auth, _) = crate::login::router().split_for_parts();
    routes
        .merge(auth)
        .merge(crate::health::router())
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(timeout, observe))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("handler panicked").into_response()
        }))
        .with_state(ctx)
}

/// Gives every request an id (kept from `x-request-id` when sane), a span, a log
/// line, metrics and a deadline.
async fn observe(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id, http.method = %method, http.route = %path, user.role = tracing::field::Empty);
    let started = Instant::now();
    let run = REQUEST_ID.scope(id.clone(), async move {
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::unavailable("timeout", "the request took too long").into_response(),
        }
    });
    let mut response = run.instrument(span.clone()).await;
    let status = response.status();
    let secs = started.elapsed().as_secs_f64();
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(
                http.status = status.as_u16(),
                latency_ms = secs * 1e3,
                "request failed"
            );
        } else {
            tracing::info!(
                http.status = status.as_u16(),
                latency_ms = secs * 1e3,
                "request served"
            );
        }
    });
    let labels = [
        ("method", method.to_string()),
        ("route", path),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(secs);
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// All of a service binary's `main`: settings (file from `TOWNCARD_CONFIG`, then
/// environment), telemetry, connections, then serve `routes` until stopped.
pub async fn run_service(name: &str, routes: Router<Context>) -> anyhow::Result<()> {
    let file = std::env::var_os("TOWNCARD_CONFIG");
    let settings = Settings::load(file.as_deref().map(std::path::Path::new))?;
    crate::telemetry::init(&settings.log.format, &settings.log.filter);
    let ctx = Context::connect(settings.clone()).await?;
    let server = Application::build(&settings, app(routes, ctx)).await?;
    tracing::info!(service = name, addr = %server.local_addr()?, "listening");
    server.run_until_stopped().await?;
    Ok(())
}

/// A bound server, ready to run. Port 0 picks a free port (tests use that).
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    pub async fn build(settings: &Settings, router: Router) -> anyhow::Result<Application> {
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        Ok(Application { listener, router })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// For handlers: a status code alone as an envelope-less success.
pub fn no_content() -> StatusCode {
    StatusCode::NO_CONTENT
}
