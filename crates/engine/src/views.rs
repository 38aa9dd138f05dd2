//! Builds ferry-types' views from the engine's and store's data: runs, sessions, session
//! totals, history messages, assets, store counts and route capabilities, as the API's JSON shows them.

use ferry_assets::AssetView;
use ferry_store::{Run, Session, StoredMessage};
use ferry_types::{
    AssetInfo, HistoryMessage, RouteCapabilities, RunErrorView, RunStatus, RunView, SessionInfo,
    SessionTotals, StorageStats,
};

pub use ferry_types::{ActiveTarget, RuntimeView, SessionView, StatusView};

/// A stored run as the API shows it.
pub fn run_view(run: Run) -> RunView {
    RunView {
        status: run_status(run.status),
        error: run.error.map(|e| RunErrorView {
            code: e.code,
            message: e.message,
        }),
        id: run.id,
        session_id: run.session_id,
        created_at: run.created_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
        input: run.input,
        route: run.route,
        model_requested: run.model_requested,
        model_served: run.model_served,
        usage: run.usage,
        cost: run.cost,
        output: run.output,
        attempts: run.attempts,
        idempotency_key: run.idempotency_key,
        cache_status: run.cache_status,
        generation_id: run.generation_id,
        billed_cost: run.billed_cost,
    }
}

/// A stored asset as the API shows it.
pub fn asset_info(view: AssetView) -> AssetInfo {
    AssetInfo {
        kind: view.kind.as_str().to_owned(),
        id: view.asset.id,
        sha256: view.asset.sha256,
        media_type: view.asset.media_type,
        size: view.asset.size,
        file_name: view.asset.file_name,
        source: view.asset.source,
        created_at: view.asset.created_at,
    }
}

/// A stored history message as the API shows it.
pub fn history_message(message: StoredMessage) -> HistoryMessage {
    HistoryMessage {
        seq: message.seq,
        run_id: message.run_id,
        role: message.role,
        body: message.body,
        created_at: message.created_at,
    }
}

/// A stored run status as the views show it.
fn run_status(status: ferry_store::RunStatus) -> RunStatus {
    match status {
        ferry_store::RunStatus::Queued => RunStatus::Queued,
        ferry_store::RunStatus::Running => RunStatus::Running,
        ferry_store::RunStatus::Completed => RunStatus::Completed,
        ferry_store::RunStatus::Failed => RunStatus::Failed,
        ferry_store::RunStatus::Cancelled => RunStatus::Cancelled,
        ferry_store::RunStatus::Interrupted => RunStatus::Interrupted,
    }
}

/// A stored session as the API shows it.
pub fn session_info(session: Session) -> SessionInfo {
    SessionInfo {
        id: session.id,
        created_at: session.created_at,
        updated_at: session.updated_at,
        pinned_selector: session.pinned_selector,
        system_prompt: session.system_prompt,
        speak_replies: session.speak_replies,
        message_count: session.message_count,
        run_count: session.run_count,
    }
}

/// A session's stored totals as the API shows them.
pub(crate) fn session_totals(t: ferry_store::SessionTotals) -> SessionTotals {
    SessionTotals {
        runs: t.runs,
        prompt_tokens: t.prompt_tokens,
        completion_tokens: t.completion_tokens,
        cost: t.cost,
        billed_cost: t.billed_cost,
    }
}

/// The store's counts as the status view shows them.
pub(crate) fn storage_stats(stats: ferry_store::StoreStats) -> StorageStats {
    StorageStats {
        sessions: stats.sessions,
        runs: stats.runs,
        messages: stats.messages,
        events: stats.events,
        assets: stats.assets,
        asset_bytes: stats.asset_bytes,
        db_bytes: stats.db_bytes,
        runs_by_status: stats
            .runs_by_status
            .into_iter()
            .map(|(status, n)| (run_status(status), n))
            .collect(),
    }
}

/// A route's capability flags as the status and runtime views show them.
pub(crate) fn route_capabilities(c: ferry_config::Capabilities) -> RouteCapabilities {
    RouteCapabilities {
        multimodal_input: c.multimodal_input,
        native_web_search: c.native_web_search,
        image_generation: c.image_generation,
        image_edit: c.image_edit,
        audio_generation: c.audio_generation,
        transcription: c.transcription,
        video_generation: c.video_generation,
    }
}
