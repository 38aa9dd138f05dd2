//! ferry-fake-openrouter
