//! ferry-openrouter
