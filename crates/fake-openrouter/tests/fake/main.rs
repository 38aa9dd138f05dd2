//! End-to-end tests of the fake OpenRouter over real sockets, driven with reqwest (and raw
//! TCP where the exact bytes on the wire matter).

mod chat_json;
mod chat_stream;
mod endpoints;
mod failures;
mod media;
mod support;
mod tls;
