//! Problem codes: the stable, machine-readable `code` of every failure ferry reports —
//! in `application/problem+json` bodies, in `run.failed` / `run.cancelled` events, in tool
//! results and in stored runs. One enum, serialised as today's snake_case strings.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! problem_codes {
    ($($variant:ident => $code:literal,)*) => {
        /// A stable problem code (`code` of a problem document, a failed run or tool).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ProblemCode {
            $(
                #[doc = concat!("`", $code, "`")]
                $variant,
            )*
        }

        impl ProblemCode {
            /// Every code, in alphabetical order of its string.
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant,)*];

            /// The code as it is written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $code,)*
                }
            }

            /// The code written as `code`, if ferry has such a code.
            pub fn from_code(code: &str) -> Option<ProblemCode> {
                match code {
                    $($code => Some(ProblemCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

problem_codes! {
    AssetBlobMissing => "asset_blob_missing",
    AssetCorrupted => "asset_corrupted",
    AssetIoError => "asset_io_error",
    AssetNotFound => "asset_not_found",
    AssetTooLarge => "asset_too_large",
    AttachmentNotAFile => "attachment_not_a_file",
    AttachmentNotFound => "attachment_not_found",
    AttachmentUnreadable => "attachment_unreadable",
    AudioGenerationDisabled => "audio_generation_disabled",
    BodyTimeout => "body_timeout",
    BodyTooLarge => "body_too_large",
    BudgetExceeded => "budget_exceeded",
    BudgetUnpricedModel => "budget_unpriced_model",
    ClientHeaderRequired => "client_header_required",
    ConsoleScopeDenied => "console_scope_denied",
    CookieCrossSite => "cookie_cross_site",
    CredentialRequired => "credential_required",
    CsrfOriginRequired => "csrf_origin_required",
    CsrfTokenInvalid => "csrf_token_invalid",
    Draining => "draining",
    EmptyAsset => "empty_asset",
    EmptyInput => "empty_input",
    EmptyPrompt => "empty_prompt",
    EmptySecretValue => "empty_secret_value",
    EmptyText => "empty_text",
    HostNotAllowed => "host_not_allowed",
    IdempotencyKeyReused => "idempotency_key_reused",
    ImageEditDisabled => "image_edit_disabled",
    ImageGenerationDisabled => "image_generation_disabled",
    InternalError => "internal_error",
    Interrupted => "interrupted",
    InvalidAttachment => "invalid_attachment",
    InvalidAudioFormat => "invalid_audio_format",
    InvalidBody => "invalid_body",
    InvalidBudget => "invalid_budget",
    InvalidCursor => "invalid_cursor",
    InvalidDate => "invalid_date",
    InvalidDuration => "invalid_duration",
    InvalidExpiry => "invalid_expiry",
    InvalidFallback => "invalid_fallback",
    InvalidFilter => "invalid_filter",
    InvalidFormat => "invalid_format",
    InvalidGrouping => "invalid_grouping",
    InvalidIdempotencyKey => "invalid_idempotency_key",
    InvalidInput => "invalid_input",
    InvalidJson => "invalid_json",
    InvalidKeyName => "invalid_key_name",
    InvalidLanguage => "invalid_language",
    InvalidLastEventId => "invalid_last_event_id",
    InvalidLimit => "invalid_limit",
    InvalidMaxTokens => "invalid_max_tokens",
    InvalidMessages => "invalid_messages",
    InvalidModel => "invalid_model",
    InvalidModelGlob => "invalid_model_glob",
    InvalidMultipart => "invalid_multipart",
    InvalidN => "invalid_n",
    InvalidObservationSource => "invalid_observation_source",
    InvalidParams => "invalid_params",
    InvalidPeriod => "invalid_period",
    InvalidProviderRouting => "invalid_provider_routing",
    InvalidRateLimit => "invalid_rate_limit",
    InvalidReasoning => "invalid_reasoning",
    InvalidReasoningEffort => "invalid_reasoning_effort",
    InvalidRequest => "invalid_request",
    InvalidResponseFormat => "invalid_response_format",
    InvalidScope => "invalid_scope",
    InvalidSecretProvider => "invalid_secret_provider",
    InvalidSecretRef => "invalid_secret_ref",
    InvalidSelector => "invalid_selector",
    InvalidSessionId => "invalid_session_id",
    InvalidSize => "invalid_size",
    InvalidSpeakReplies => "invalid_speak_replies",
    InvalidSpeed => "invalid_speed",
    InvalidStatus => "invalid_status",
    InvalidStream => "invalid_stream",
    InvalidThinking => "invalid_thinking",
    InvalidTimeout => "invalid_timeout",
    InvalidToolArguments => "invalid_tool_arguments",
    InvalidTools => "invalid_tools",
    InvalidUpstreamLimit => "invalid_upstream_limit",
    InvalidVoice => "invalid_voice",
    InvalidWorkspaceRoot => "invalid_workspace_root",
    JsonContentTypeRequired => "json_content_type_required",
    MasterKeyMissing => "master_key_missing",
    MediaDownloadFailed => "media_download_failed",
    MediaDownloadTimeout => "media_download_timeout",
    MediaTooLarge => "media_too_large",
    MediaTooManyRedirects => "media_too_many_redirects",
    MediaTypeMismatch => "media_type_mismatch",
    MediaUrlBlocked => "media_url_blocked",
    MethodNotAllowed => "method_not_allowed",
    MissingFile => "missing_file",
    MissingImage => "missing_image",
    MissingMessages => "missing_messages",
    MissingModel => "missing_model",
    MissingPrompt => "missing_prompt",
    MissingSession => "missing_session",
    ModelCannotTakeImages => "model_cannot_take_images",
    ModelCannotTakeVideo => "model_cannot_take_video",
    ModelDenied => "model_denied",
    ModelNotFound => "model_not_found",
    MultimodalInputDisabled => "multimodal_input_disabled",
    NoImageReturned => "no_image_returned",
    NoManagementKey => "no_management_key",
    NotAnImage => "not_an_image",
    NotAnImageModel => "not_an_image_model",
    NotAudio => "not_audio",
    NotFound => "not_found",
    OriginNotAllowed => "origin_not_allowed",
    OutputAlreadyEmitted => "output_already_emitted",
    PathOutsideWorkspace => "path_outside_workspace",
    PromptTooLong => "prompt_too_long",
    RangeNotSatisfiable => "range_not_satisfiable",
    RateLimited => "rate_limited",
    RequestFailed => "request_failed",
    RouteDenied => "route_denied",
    RouteNotFound => "route_not_found",
    RouteNotReady => "route_not_ready",
    RunCancelled => "run_cancelled",
    RunFailed => "run_failed",
    RunFinished => "run_finished",
    RunNotFound => "run_not_found",
    ScopeDenied => "scope_denied",
    SecretNotFound => "secret_not_found",
    SecretStoreCorrupted => "secret_store_corrupted",
    SecretsError => "secrets_error",
    SessionBusy => "session_busy",
    SessionExists => "session_exists",
    SessionNotFound => "session_not_found",
    StorageError => "storage_error",
    StorageFull => "storage_full",
    TextTooLong => "text_too_long",
    TooManyAttachments => "too_many_attachments",
    TooManyImages => "too_many_images",
    TooManyReferences => "too_many_references",
    ToolDisabled => "tool_disabled",
    ToolNotFound => "tool_not_found",
    ToolStepsExceeded => "tool_steps_exceeded",
    TranscriptionDisabled => "transcription_disabled",
    Unauthorized => "unauthorized",
    UnknownModel => "unknown_model",
    UnknownParameter => "unknown_parameter",
    UnsupportedAudioFormat => "unsupported_audio_format",
    UnsupportedMediaType => "unsupported_media_type",
    UnsupportedObservationType => "unsupported_observation_type",
    UnsupportedParameter => "unsupported_parameter",
    UnsupportedResponseFormat => "unsupported_response_format",
    UpstreamBadRequest => "upstream_bad_request",
    UpstreamConnectFailed => "upstream_connect_failed",
    UpstreamError => "upstream_error",
    UpstreamForbidden => "upstream_forbidden",
    UpstreamInsufficientCredits => "upstream_insufficient_credits",
    UpstreamPayloadTooLarge => "upstream_payload_too_large",
    UpstreamProtocolError => "upstream_protocol_error",
    UpstreamRateLimited => "upstream_rate_limited",
    UpstreamStreamError => "upstream_stream_error",
    UpstreamTimeout => "upstream_timeout",
    UpstreamUnauthorized => "upstream_unauthorized",
    UpstreamUnavailable => "upstream_unavailable",
    VideoCancelled => "video_cancelled",
    VideoExpired => "video_expired",
    VideoFailed => "video_failed",
    VideoGenerationDisabled => "video_generation_disabled",
    VideoJobNotFound => "video_job_not_found",
    VideoTimeout => "video_timeout",
    WrongMasterKey => "wrong_master_key",
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProblemCode {
    type Err = UnknownProblemCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProblemCode::from_code(s).ok_or_else(|| UnknownProblemCode(s.to_owned()))
    }
}

/// A string that is not one of ferry's problem codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a ferry problem code")]
pub struct UnknownProblemCode(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serialises_to_its_snake_case_string_and_back() {
        for code in ProblemCode::ALL {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire, serde_json::Value::String(code.as_str().to_owned()));
            let back: ProblemCode = serde_json::from_value(wire).unwrap();
            assert_eq!(back, *code);
            assert_eq!(code.as_str().parse::<ProblemCode>(), Ok(*code));
            assert_eq!(code.to_string(), code.as_str());
        }
    }

    #[test]
    fn codes_are_sorted_and_unique() {
        let strings: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = strings.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(strings, sorted);
    }

    #[test]
    fn known_codes_keep_their_wire_strings() {
        assert_eq!(ProblemCode::StorageFull.as_str(), "storage_full");
        assert_eq!(ProblemCode::InvalidN.as_str(), "invalid_n");
        assert_eq!(ProblemCode::RunCancelled.as_str(), "run_cancelled");
        assert_eq!(
            ProblemCode::ModelCannotTakeImages.as_str(),
            "model_cannot_take_images"
        );
    }

    #[test]
    fn an_unknown_code_is_an_error_naming_it() {
        let err = "no_such_code".parse::<ProblemCode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`no_such_code` is not a ferry problem code"
        );
        assert!(serde_json::from_str::<ProblemCode>("\"no_such_code\"").is_err());
    }
}
