//! Why the fake could not start: the only fallible part of this crate's public surface.

use std::io;

/// A failure while starting the fake server (binding, runtime, certificates).
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// Binding the loopback listener failed.
    #[error("binding the fake OpenRouter listener failed: {0}")]
    Bind(#[source] io::Error),
    /// Building the tokio runtime or spawning its thread failed.
    #[error("starting the fake OpenRouter runtime failed: {0}")]
    Runtime(#[source] io::Error),
    /// Generating the self-signed CA or the leaf certificate failed.
    #[error("generating the fake OpenRouter certificates failed: {0}")]
    Certificate(#[from] rcgen::Error),
    /// Building the rustls server configuration failed.
    #[error("configuring TLS for the fake OpenRouter failed: {0}")]
    Tls(#[from] rustls::Error),
    /// Writing the CA certificate PEM to a temporary file failed.
    #[error("writing the fake OpenRouter CA certificate failed: {0}")]
    CaFile(#[source] io::Error),
}
