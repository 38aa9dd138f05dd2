//! Video generation jobs, so polling resumes after a restart.

use async_trait::async_trait;

use crate::{NewVideoJob, StoreError, VideoJob, VideoJobUpdate};

/// Video generation jobs.
#[async_trait]
pub trait VideoJobRepo: Send + Sync {
    /// Records a job just submitted upstream.
    async fn insert_video_job(&self, new: NewVideoJob) -> Result<VideoJob, StoreError>;

    /// Applies a state change; a finished job is never changed again (refused with
    /// [`StoreError::VideoJobFinished`]).
    async fn update_video_job(
        &self,
        id: &str,
        update: VideoJobUpdate,
    ) -> Result<VideoJob, StoreError>;

    /// The job with this id, if any.
    async fn get_video_job(&self, id: &str) -> Result<Option<VideoJob>, StoreError>;

    /// Jobs not finished yet, oldest first.
    async fn unfinished_video_jobs(&self) -> Result<Vec<VideoJob>, StoreError>;

    /// Unfinished jobs for this process to start polling, at start-up (`at_start`) and
    /// then every few seconds. A process alone on its database polls every unfinished job
    /// from its start, so later calls find nothing new. On a database shared by replicas
    /// a job is polled by the replica that owns it: this takes over (each for exactly one
    /// replica) the jobs whose owner died, and answers only those.
    async fn claim_video_jobs(&self, at_start: bool) -> Result<Vec<VideoJob>, StoreError> {
        if at_start {
            self.unfinished_video_jobs().await
        } else {
            Ok(Vec::new())
        }
    }

    /// The `limit` most recent jobs, newest first.
    async fn list_video_jobs(&self, limit: u32) -> Result<Vec<VideoJob>, StoreError>;
}
