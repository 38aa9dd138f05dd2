//! Integration tests of ferry-store against real SQLite files in temporary state roots.

mod support;
mod video_jobs;

mod assets;
mod durability;
mod events;
mod lock;
mod retention;
mod runs;
mod sessions;
mod stats;
mod writer;
