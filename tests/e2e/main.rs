//! End-to-end tests: the real `ferry` binary, a real daemon on a loopback port with a temp
//! state root, the CLI as a user types it, and a fake OpenRouter that records every request.

mod support;

mod agents;
mod assets;
mod browser;
mod cli_edges;
mod console;
mod db_copy;
mod first_run;
mod foundation;
mod hardening;
mod hostile;
mod media;
mod multimodal;
mod observability;
mod openai;
mod operator;
mod postgres;
mod protocols;
mod replicas;
mod sessions;
mod shaping;
mod team;
mod tool_loop;
mod views;
