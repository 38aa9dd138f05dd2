//! The facade's shared machinery for every client protocol (spec §13): the wire dialects
//! (error shapes, stream endings, the retry contract), one forwarding path from body to
//! response, and the streamed body that settles usage and recorded runs. The handlers
//! under `handlers::openai` and `handlers::anthropic` are thin entry points over it.

pub mod dialect;
pub mod forward;
pub mod stream;

pub use dialect::{Dialect, ErrorShape};
pub use forward::{forward, parse_body, MAX_FACADE_BODY};
