//! Errors the engine reports to its callers, each with a stable problem `code` and the
//! HTTP status the API answers with. Messages say what was wrong and how to fix it, and
//! never carry a secret value.

use ferry_openrouter::media::MediaError;
use ferry_openrouter::UpstreamError;
use ferry_types::{ProblemCode, RunEnded, ToolError};

/// What a client is told when the disk under the state root is full.
pub const STORAGE_FULL: &str = "the disk holding ferry's state directory is full, so nothing new can be stored; free space on it — delete old runs (`ferry serve --retention-days N`), unused assets (`ferry assets delete ID`) or other files on that disk — then retry";

/// Everything that can go wrong in a request to the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input body or a flag was invalid (bad selector, unknown param, empty input…).
    #[error("{message}")]
    BadInput { code: &'static str, message: String },
    /// A session, run or other object does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// The object already exists (e.g. `sessions create` for an existing id).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The route cannot serve: no key, bad transport config…
    #[error("{message}")]
    RouteNotReady { route: String, message: String },
    /// The content type of an upload or attachment is refused (415).
    #[error("{message}")]
    UnsupportedMediaType { code: &'static str, message: String },
    /// The asset store refused or failed.
    #[error("{0}")]
    Asset(#[from] ferry_assets::AssetError),
    /// The upstream failed; carries the driver's classification.
    #[error("{0}")]
    Upstream(Box<UpstreamError>),
    /// A media call failed for a reason other than the upstream call itself (no image in
    /// the reply, a refused download, a video job that ended without a video…).
    #[error("{0}")]
    Media(Box<MediaError>),
    /// A video job ended without a video (failed, cancelled, expired, timed out, or its
    /// download failed); `code` is one of [`VIDEO_JOB_CODES`].
    #[error("{message}")]
    VideoJob { code: &'static str, message: String },
    /// The model kept calling tools past the route's `max_tool_steps`.
    #[error("the model was still calling tools after {steps} steps (route {route} allows {steps}); raise max_tool_steps in [routes.{route}] or ask for less at once")]
    ToolStepsExceeded { steps: u32, route: String },
    /// The daemon is shutting down and takes no new work.
    #[error("ferry is shutting down and accepts no new runs; retry once it is back")]
    Draining,
    /// The shutdown grace period ended before this call finished.
    #[error("ferry was shut down before this call finished; send the request again")]
    Interrupted,
    /// The secret store refused (no master key, invalid ref…).
    #[error("{0}")]
    Secrets(#[from] ferry_secrets::SecretsError),
    /// Storage failed.
    #[error("storage error: {0}")]
    Store(#[from] ferry_store::StoreError),
    /// A bug or an unexpected state.
    #[error("internal error: {0}")]
    Internal(String),
    /// Team access refused: credential, scope, budget or rate limit (spec §14).
    #[error("{0}")]
    Access(#[from] crate::access::AccessError),
}

impl From<crate::secrets::SecretsWriteError> for EngineError {
    fn from(e: crate::secrets::SecretsWriteError) -> Self {
        use crate::secrets::SecretsWriteError as W;
        match e {
            W::Secrets(e) => EngineError::Secrets(e),
            W::Store(e) => EngineError::Store(e),
            W::Contended => EngineError::Store(ferry_store::StoreError::Backend {
                backend: "database",
                message: e.to_string(),
                disk_full: false,
            }),
        }
    }
}

impl From<UpstreamError> for EngineError {
    fn from(e: UpstreamError) -> Self {
        EngineError::Upstream(Box::new(e))
    }
}

impl From<MediaError> for EngineError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Upstream(u) => EngineError::Upstream(u),
            MediaError::Invalid { code, message } => EngineError::BadInput { code, message },
            other => EngineError::Media(Box::new(other)),
        }
    }
}

/// Problem codes a failed video job can carry.
pub const VIDEO_JOB_CODES: &[&str] = &[
    "video_failed",
    "video_cancelled",
    "video_expired",
    "video_timeout",
    "media_too_large",
    "media_download_failed",
    "media_download_timeout",
    "media_too_many_redirects",
    "upstream_protocol_error",
];

impl EngineError {
    /// A failed video job with its stored code (unknown codes read as `video_failed`).
    pub fn video_job(code: &str, message: &str) -> Self {
        EngineError::VideoJob {
            code: VIDEO_JOB_CODES
                .iter()
                .find(|c| **c == code)
                .copied()
                .unwrap_or("video_failed"),
            message: message.to_owned(),
        }
    }

    /// Shorthand for a 400 with a code.
    pub fn bad_input(code: &'static str, message: impl Into<String>) -> Self {
        EngineError::BadInput {
            code,
            message: message.into(),
        }
    }

    /// Whether the failure is a full disk (or quota) under the state root.
    pub fn is_disk_full(&self) -> bool {
        use ferry_assets::AssetError;
        match self {
            EngineError::Store(e) | EngineError::Asset(AssetError::Store(e)) => e.is_disk_full(),
            EngineError::Asset(AssetError::Io { source, .. }) => {
                ferry_store::is_disk_full_io(source)
            }
            _ => false,
        }
    }

    /// The message a client is shown: like `Display`, but a full disk says what to free
    /// and file-system failures name no path (the full error is logged instead).
    pub fn client_message(&self) -> String {
        use ferry_assets::AssetError;
        if self.is_disk_full() {
            return STORAGE_FULL.to_string();
        }
        match self {
            EngineError::Store(ferry_store::StoreError::Io { action, source, .. })
            | EngineError::Asset(AssetError::Store(ferry_store::StoreError::Io {
                action,
                source,
                ..
            })) => format!("storage error: cannot {action} the state directory ({source})"),
            EngineError::Asset(AssetError::Io { action, source, .. }) => {
                format!("cannot {action} an asset file ({source})")
            }
            EngineError::Asset(AssetError::ObjectStore { action, .. }) => format!(
                "cannot {action} an asset in the asset store (object storage); the daemon's log has the details"
            ),
            EngineError::Asset(AssetError::BlobMissing { id, fix, .. }) => {
                format!("asset {id}'s bytes are missing from the asset store: {fix}")
            }
            _ => self.to_string(),
        }
    }

    /// The stable problem code.
    pub fn code(&self) -> &'static str {
        if self.is_disk_full() {
            return "storage_full";
        }
        match self {
            EngineError::BadInput { code, .. } => code,
            EngineError::NotFound { what, .. } => match *what {
                "session" => "session_not_found",
                "run" => "run_not_found",
                "secret" => "secret_not_found",
                "route" => "route_not_found",
                "tool" => "tool_not_found",
                "video job" => "video_job_not_found",
                "model" => "model_not_found",
                _ => "not_found",
            },
            EngineError::Conflict { code, .. } => code,
            EngineError::RouteNotReady { .. } => "route_not_ready",
            EngineError::UnsupportedMediaType { code, .. } => code,
            EngineError::Asset(e) => e.code(),
            EngineError::Upstream(e) => e.code(),
            EngineError::Media(e) => e.code(),
            EngineError::VideoJob { code, .. } => code,
            EngineError::ToolStepsExceeded { .. } => "tool_steps_exceeded",
            EngineError::Draining => "draining",
            EngineError::Interrupted => "interrupted",
            EngineError::Secrets(e) => secrets_code(e),
            EngineError::Store(_) => "storage_error",
            EngineError::Internal(_) => "internal_error",
            EngineError::Access(e) => e.code(),
        }
    }

    /// The stable problem code, typed. A code missing from [`ProblemCode`] (a bug: every
    /// code ferry writes is listed there) is logged and reported as `internal_error`.
    pub fn problem_code(&self) -> ProblemCode {
        problem_code(self.code())
    }

    /// The run end (`run.failed` payload) this error makes, with `message`.
    pub fn run_ended(&self, message: String) -> RunEnded {
        RunEnded {
            code: self.problem_code(),
            message,
            status: Some(self.status()),
            retryable: Some(self.retryable()),
        }
    }

    /// The error of a failed tool call with this error, as the model and events see it.
    pub fn tool_error(&self, message: String) -> ToolError {
        ToolError {
            code: self.problem_code(),
            message,
        }
    }

    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        if self.is_disk_full() {
            return 503;
        }
        match self {
            EngineError::BadInput { .. } => 400,
            EngineError::NotFound { .. } => 404,
            EngineError::Conflict { .. } => 409,
            EngineError::RouteNotReady { .. } => 503,
            EngineError::UnsupportedMediaType { .. } => 415,
            EngineError::Asset(e) => e.status(),
            EngineError::Upstream(e) => e.problem_status(),
            EngineError::Media(e) => e.status(),
            EngineError::VideoJob { code, .. } => {
                if *code == "video_timeout" || *code == "media_download_timeout" {
                    504
                } else {
                    502
                }
            }
            EngineError::ToolStepsExceeded { .. } => 502,
            EngineError::Draining | EngineError::Interrupted => 503,
            EngineError::Secrets(e) => match e {
                ferry_secrets::SecretsError::NoMasterKey => 503,
                ferry_secrets::SecretsError::WrongMasterKey
                | ferry_secrets::SecretsError::Corrupted { .. } => 500,
                ferry_secrets::SecretsError::Io { .. } => 500,
                _ => 400,
            },
            EngineError::Store(_) | EngineError::Internal(_) => 500,
            EngineError::Access(e) => e.status(),
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn retryable(&self) -> bool {
        if self.is_disk_full() {
            return true;
        }
        match self {
            // Transient upstream trouble: sending the input again later may well succeed,
            // even when this run could not retry because output had already streamed.
            EngineError::Upstream(e) => e.is_transient(),
            EngineError::Media(e) => e.retryable(),
            EngineError::VideoJob { code, .. } => *code == "video_expired",
            EngineError::Draining | EngineError::Interrupted => true,
            _ => false,
        }
    }
}

/// The typed form of a code written as a string by a lower crate.
pub(crate) fn problem_code(code: &str) -> ProblemCode {
    ProblemCode::from_code(code).unwrap_or_else(|| {
        tracing::error!(
            code,
            "problem code missing from ferry_types::ProblemCode; reported as internal_error"
        );
        ProblemCode::InternalError
    })
}

fn secrets_code(e: &ferry_secrets::SecretsError) -> &'static str {
    use ferry_secrets::SecretsError as S;
    match e {
        S::NoMasterKey => "master_key_missing",
        S::WrongMasterKey => "wrong_master_key",
        S::Corrupted { .. } => "secret_store_corrupted",
        S::InvalidRef { .. } => "invalid_secret_ref",
        S::InvalidProvider { .. } => "invalid_secret_provider",
        S::EmptyValue => "empty_secret_value",
        _ => "secrets_error",
    }
}
