//! ferry-config
