//! Tools (spec §7): the media tools models may call and ferry runs directly, plus
//! `emit_output`. This module holds what does not depend on a run: names and capability
//! gates, the JSON schemas offered to models, strict argument parsing, and the
//! composition of a run's final output.

mod args;
mod context;
mod names;
mod offer;
mod output;
mod schema;

pub use args::{
    parse_call, parse_value, EditImageArgs, EmitOutputArgs, EmitPart, GenerateAudioArgs,
    GenerateImageArgs, GenerateVideoArgs, ToolArgs, TranscribeAudioArgs,
};
pub(crate) use context::{require_tool, ToolCtx};
pub use names::ToolName;
pub(crate) use offer::RouteTools;
pub use output::{compose, named_asset_ids, text_of, AssetRef, Composed, OutputPart};
pub use schema::{definition, offered};
