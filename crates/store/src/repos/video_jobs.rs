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

    /// The `limit` most recent jobs, newest first.
    async fn list_video_jobs(&self, limit: u32) -> Result<Vec<VideoJob>, StoreError>;
}
