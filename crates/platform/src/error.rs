//! One error envelope for every service: `{"code", "message", "request_id"}`.
//!
//! Codes are stable strings clients can switch on. Database text never reaches a
//! client; each error is logged once, here, when it becomes a response.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

tokio::task_local! {
    /// The id of the request being served, set by the request-id middleware.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `card_replaced`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Quote this when reporting a problem; it is in the logs too.
    pub request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// An unexpected failure: the cause is logged, the client sees a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; quote the request id when reporting it",
        )
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::info!(
                error.code = self.code,
                status = self.status.as_u16(),
                "request refused"
            );
        }
        let body = ErrorBody {
            code: self.code.to_owned(),
            message: self.message,
            request_id: current_request_id(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // Named constraints are client mistakes; their names are the codes' source.
            match db.code().as_deref() {
                Some("23505") => {
                    return ApiError::conflict(
                        "already_exists",
                        "a record with these values already exists",
                    );
                }
                Some("23503") => {
                    return ApiError::unprocessable(
                        "unknown_reference",
                        "a referenced record does not exist",
                    );
                }
                Some("23514") => {
                    return ApiError::unprocessable(
                        "constraint_violated",
                        "a value is out of its allowed range",
                    );
                }
                Some("40001") | Some("40P01") => {
                    return ApiError::unavailable("retry", "busy, please retry");
                }
                // Postgres stores no NUL character (`\u0000`) in text or jsonb; it is
                // the one character a Rust string can hold that it refuses.
                Some("22021") | Some("22P05") => {
                    return ApiError::bad_request(
                        "invalid_text",
                        "text may not contain the NUL character (\\u0000)",
                    );
                }
                _ => {}
            }
        }
        if matches!(e, sqlx::Error::PoolTimedOut) {
            return ApiError::unavailable("database_busy", "the database is busy, please retry");
        }
        ApiError::internal(e)
    }
}

impl From<ledger::LedgerError> for ApiError {
    fn from(e: ledger::LedgerError) -> Self {
        use ledger::LedgerError as L;
        match e {
            L::Db(db) => db.into(),
            L::IdempotencyConflict(_) => ApiError::conflict(e.code(), e.to_string()),
            L::InsufficientBalance(_) => ApiError::conflict(e.code(), e.to_string()),
            L::Invalid(_) | L::UnknownAccount(_) => {
                ApiError::unprocessable(e.code(), e.to_string())
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return payload_too_large();
        }
        let code = match r {
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::JsonDataError(_) => "invalid_body",
            _ => "invalid_body",
        };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return payload_too_large();
        }
        ApiError::bad_request("invalid_body", r.body_text())
    }
}

/// A body over `server.body_limit_bytes`, whichever extractor read it.
fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is too large",
    )
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

/// `Json` that turns every rejection into the envelope.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// A raw body (a CSV upload, an optional JSON body) whose rejections, a body over
/// the limit above all, are in the envelope too.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Ok(ApiBytes(axum::body::Bytes::from_request(req, state).await?))
    }
}

/// `Path` that turns every rejection into the envelope.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Query` that turns every rejection into the envelope.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);
