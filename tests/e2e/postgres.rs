//! The e2e scenarios of sessions, assets, keys and the facade's recording run again with
//! every daemon on PostgreSQL (`serve --database-url`, a throwaway cluster per test): the
//! same test bodies and assertions as on the embedded SQLite database; the asset scenarios
//! keep their bytes in the S3-compatible store at the same time (PostgreSQL + S3).

use crate::support::{on_postgresql, AssetBackend};

#[test]
fn sessions_seed_command_streams_and_history_is_replayed() {
    on_postgresql(crate::sessions::seed_command_streams_and_history_is_replayed);
}

#[test]
fn sessions_detached_runs_with_idempotency_keys_and_queueing() {
    on_postgresql(crate::sessions::detached_runs_with_idempotency_keys_and_queueing);
}

#[test]
fn sessions_fifty_sessions_stream_concurrently_with_unmixed_histories() {
    on_postgresql(crate::sessions::fifty_sessions_stream_concurrently_with_unmixed_histories);
}

#[test]
fn sessions_kill_9_mid_run_then_restart_recovers() {
    on_postgresql(crate::sessions::kill_9_mid_run_then_restart_recovers);
}

#[test]
fn sessions_sse_replay_from_last_event_id_returns_exactly_the_missed_events() {
    on_postgresql(crate::sessions::sse_replay_from_last_event_id_returns_exactly_the_missed_events);
}

#[test]
fn sessions_cancel_mid_stream_aborts_the_run() {
    on_postgresql(crate::sessions::cancel_mid_stream_aborts_the_run);
}

#[test]
fn assets_duplicates_dedupe_and_downloads_verify() {
    on_postgresql(|| crate::assets::duplicates_dedupe_and_downloads_verify(AssetBackend::S3));
}

#[test]
fn assets_delete_and_multipart_and_cli_round_trip() {
    on_postgresql(|| crate::assets::delete_and_multipart_and_cli_round_trip(AssetBackend::S3));
}

#[test]
fn team_budgets_never_overshoot_under_concurrency_and_reservations_die_with_the_daemon() {
    on_postgresql(
        crate::team::budgets_never_overshoot_under_concurrency_and_reservations_die_with_the_daemon,
    );
}

#[test]
fn team_scopes_routes_globs_expiry_and_revocation() {
    on_postgresql(crate::team::scopes_routes_globs_expiry_and_revocation);
}

#[test]
fn team_the_61st_request_in_a_minute_is_rate_limited_with_openai_headers() {
    on_postgresql(crate::team::the_61st_request_in_a_minute_is_rate_limited_with_openai_headers);
}

#[test]
fn team_the_ledger_matches_what_the_fake_billed_per_key_model_and_kind() {
    on_postgresql(crate::team::the_ledger_matches_what_the_fake_billed_per_key_model_and_kind);
}

#[test]
fn openai_facade_calls_are_recorded_as_runs_only_when_enabled() {
    on_postgresql(crate::openai::facade_calls_are_recorded_as_runs_only_when_enabled);
}

#[test]
fn foundation_seed_flow_end_to_end() {
    on_postgresql(crate::foundation::seed_flow_end_to_end);
}

#[test]
fn foundation_runtime_model_survives_restart_and_bad_selectors_are_rejected() {
    on_postgresql(crate::foundation::runtime_model_survives_restart_and_bad_selectors_are_rejected);
}
