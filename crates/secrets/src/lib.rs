//! ferry-secrets
