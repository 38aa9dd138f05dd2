//! The storage seams: one trait per aggregate (sessions, runs and their events, assets,
//! video jobs, runtime config, team access), async, object-safe and `Send + Sync`, so the
//! engine, the API and the asset store depend on these and not on SQLite. [`Storage`]
//! bundles them; [`crate::Store`] (SQLite) implements every one.
//!
//! The contract every backend keeps: each method is one transaction that commits before
//! it returns (no write waits in a queue for a later one, so nothing depends on queue
//! order); sequence numbers are given by the caller (run events) or assigned inside the
//! transaction (history messages, run order); ordering uses explicit columns; cursors and
//! timestamps cross the seam as typed values.

mod access;
mod assets;
mod budgets;
mod rates;
mod runs;
mod secrets;
mod sessions;
mod upkeep;
mod video_jobs;

pub use access::AccessRepo;
pub use assets::{AssetRepo, BlobLease};
pub use budgets::{budget_fits, BudgetAccount, BudgetRepo};
pub use rates::{gcra, RateLeft, RateRefused, RateRepo, RateTake};
pub use runs::RunRepo;
pub use secrets::{SecretRepo, SHARED_SECRETS_ORIGIN};
pub use sessions::{RuntimeConfigRepo, SessionRepo};
pub use upkeep::UpkeepRepo;
pub use video_jobs::VideoJobRepo;

/// Every repository of one backend, as the engine holds it (`Arc<dyn Storage>`).
pub trait Storage:
    SessionRepo + RunRepo + AssetRepo + VideoJobRepo + RuntimeConfigRepo + AccessRepo + UpkeepRepo
{
}

impl<T> Storage for T where
    T: SessionRepo
        + RunRepo
        + AssetRepo
        + VideoJobRepo
        + RuntimeConfigRepo
        + AccessRepo
        + UpkeepRepo
{
}
