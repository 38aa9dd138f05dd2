//! Video jobs: insert, state changes, the finished guard, and what a restart resumes.

use ferry_store::prelude::*;
use ferry_store::{NewVideoJob, Store, StoreError, VideoJobUpdate};
use serde_json::json;

use crate::support::open_temp;

fn new_job(id: &str) -> NewVideoJob {
    NewVideoJob {
        id: id.to_owned(),
        route: "openrouter".into(),
        model: "google/veo-3.1-fast".into(),
        upstream_id: format!("job-{id}"),
        polling_url: Some(format!("/api/v1/videos/job-{id}")),
        status: "pending".into(),
        request: json!({"prompt": "a fox", "duration": 6, "duration_requested": 5}),
        run_id: None,
    }
}

#[tokio::test]
async fn lifecycle_and_resume_survive_a_reopen() {
    let (dir, store) = open_temp();
    let job = store.insert_video_job(new_job("v1")).await.unwrap();
    assert_eq!(job.status, "pending");
    assert_eq!(job.request["duration_requested"], 5);
    assert!(job.finished_at.is_none());
    store.insert_video_job(new_job("v2")).await.unwrap();

    let job = store
        .update_video_job(
            "v1",
            VideoJobUpdate {
                status: "in_progress".into(),
                ..VideoJobUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(job.status, "in_progress");
    store
        .update_video_job(
            "v2",
            VideoJobUpdate {
                status: "completed".into(),
                cost: Some(0.5),
                asset_id: Some("ast_1".into()),
                finished: true,
                ..VideoJobUpdate::default()
            },
        )
        .await
        .unwrap();
    store.close().await;
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    let unfinished = store.unfinished_video_jobs().await.unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].id, "v1");
    assert_eq!(unfinished[0].status, "in_progress");
    let done = store.get_video_job("v2").await.unwrap().unwrap();
    assert_eq!(done.asset_id.as_deref(), Some("ast_1"));
    assert_eq!(done.cost, Some(0.5));
    assert!(done.finished_at.is_some());
    let listed = store.list_video_jobs(10).await.unwrap();
    assert_eq!(listed.len(), 2);
}

#[tokio::test]
async fn finished_jobs_do_not_change_and_unknown_ids_are_errors() {
    let (_dir, store) = open_temp();
    store.insert_video_job(new_job("v1")).await.unwrap();
    store
        .update_video_job(
            "v1",
            VideoJobUpdate {
                status: "failed".into(),
                error_code: Some("video_failed".into()),
                error_message: Some("content policy".into()),
                finished: true,
                ..VideoJobUpdate::default()
            },
        )
        .await
        .unwrap();
    let err = store
        .update_video_job(
            "v1",
            VideoJobUpdate {
                status: "completed".into(),
                finished: true,
                ..VideoJobUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VideoJobFinished { .. }), "{err}");
    let job = store.get_video_job("v1").await.unwrap().unwrap();
    assert_eq!(job.status, "failed");
    assert_eq!(job.error_message.as_deref(), Some("content policy"));
    let err = store
        .update_video_job("nope", VideoJobUpdate::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VideoJobNotFound { .. }));
    assert!(store.get_video_job("nope").await.unwrap().is_none());
}
