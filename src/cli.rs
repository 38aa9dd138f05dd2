//! The command-line grammar (spec §2): global client flags and every subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// ferry — a daemon that owns your model routes, and its CLI.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every client command takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The daemon's URL.
    #[arg(
        long,
        global = true,
        env = "FERRY_URL",
        default_value = "http://127.0.0.1:4000"
    )]
    pub url: String,
    /// Bearer token for the control API (for `serve`: the token clients must present).
    #[arg(long, global = true, env = "FERRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the bearer token.
    #[arg(long, global = true, env = "FERRY_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Serve(ServeArgs),
    /// Daemon health, routes and their readiness, storage figures.
    Status,
    /// Manage the encrypted secret store.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Inspect and steer the runtime (active model).
    #[command(subcommand)]
    Runtime(RuntimeCommand),
    /// Sessions: create, list, show, send input.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Runs: show, events, cancel.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Assets: import, list, show, get, delete.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// Audio tools: transcribe.
    #[command(subcommand)]
    Audio(AudioCommand),
    /// The routes' model catalogs and the key's credit and limits.
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// Upload a file as an asset (its type is detected from the bytes).
    Import {
        /// The file.
        path: PathBuf,
        /// Declare the media type (e.g. audio/pcm for raw PCM); must agree with the bytes.
        #[arg(long = "type", value_name = "MEDIA_TYPE")]
        media_type: Option<String>,
    },
    /// List assets, newest first.
    List {
        /// Only this kind: image, audio, video, document, text.
        #[arg(long)]
        kind: Option<String>,
        /// Only this media type, e.g. image/png.
        #[arg(long)]
        media_type: Option<String>,
        /// Only this source: upload, workspace, inline, observation, generated.
        #[arg(long)]
        source: Option<String>,
        /// Continue after this cursor (printed at the end of a full page).
        #[arg(long)]
        cursor: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show an asset and its derivations (transcripts).
    Show {
        /// Asset id.
        id: String,
    },
    /// Download an asset's bytes (verified against its SHA-256).
    Get {
        /// Asset id.
        id: String,
        /// Where to write (relative to the current directory; `-` for stdout).
        #[arg(long)]
        out: PathBuf,
    },
    /// Delete an asset (and its derivations).
    Delete {
        /// Asset id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AudioCommand {
    /// Transcribe an audio file (daemon-owned speech-to-text; cached per file and model).
    Transcribe {
        /// The audio file (wav, mp3, m4a, aac, ogg, flac, webm; raw PCM with --type audio/pcm).
        path: PathBuf,
        /// Language hint (ISO 639-1, e.g. de).
        #[arg(long)]
        language: Option<String>,
        /// STT model (default: the route's media.stt_model).
        #[arg(long)]
        model: Option<String>,
        /// Route whose key and STT model to use (default route).
        #[arg(long)]
        route: Option<String>,
        /// Declare the file's media type.
        #[arg(long = "type", value_name = "MEDIA_TYPE")]
        media_type: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The route's model catalog (cached from OpenRouter's /models).
    List {
        /// Route id (default route).
        #[arg(long)]
        route: Option<String>,
        /// Only models taking or producing this modality: text, image, file, audio, video.
        #[arg(long)]
        modality: Option<String>,
        /// Only models whose id or name contains this (case-insensitive).
        #[arg(long)]
        search: Option<String>,
        /// Fetch a fresh catalog now instead of using the cache.
        #[arg(long)]
        refresh: bool,
    },
    /// Key validity, label, credit limit, remaining credit, usage and free tier (GET /key).
    Status {
        /// Route whose key to check (default route when omitted).
        #[arg(long)]
        route: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. A non-loopback address requires a token.
    #[arg(long, env = "FERRY_BIND", default_value = "127.0.0.1:4000")]
    pub bind: String,
    /// Where the database, secret store and assets live.
    #[arg(long, env = "FERRY_STATE_ROOT", default_value = "./state")]
    pub state_root: PathBuf,
    /// Root for `{path}` attachments; nothing outside it is readable.
    #[arg(long, env = "FERRY_WORKSPACE_ROOT", default_value = ".")]
    pub workspace_root: PathBuf,
    /// The routes file.
    #[arg(long, env = "FERRY_ROUTES_FILE", default_value = "./routes.toml")]
    pub routes_file: PathBuf,
    /// Log format on stderr.
    #[arg(long, value_enum, env = "FERRY_LOG_FORMAT", default_value = "pretty")]
    pub log_format: LogFormat,
    /// How long a shutdown waits for runs in flight before interrupting them.
    #[arg(long, env = "FERRY_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
    /// Largest asset (upload, attachment, observation) accepted, in bytes (default 25 MiB).
    #[arg(long, env = "FERRY_MAX_ASSET_BYTES", default_value_t = 25 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_asset_bytes: u64,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new master key (base64 of 32 random bytes) and nothing else.
    Generate,
    /// Store a secret (through the daemon, or directly with --offline).
    Set(SecretsSetArgs),
    /// List secrets: ref, provider, fingerprint, updated time — never a value.
    List(OfflineArgs),
    /// Delete a secret.
    Delete {
        /// The secret's ref.
        #[arg(value_name = "REF")]
        reference: String,
        #[command(flatten)]
        offline: OfflineArgs,
    },
    /// Re-encrypt every slot under a new master key (offline; the daemon must be stopped).
    RotateMasterKey {
        /// State root holding secrets.json.
        #[arg(long, env = "FERRY_STATE_ROOT")]
        state_root: PathBuf,
        /// File with the new key (a `secrets generate` key or a passphrase of ≥ 12 chars).
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct OfflineArgs {
    /// Work on the store directly instead of through the daemon.
    #[arg(long, requires = "state_root")]
    pub offline: bool,
    /// State root for --offline.
    #[arg(long)]
    pub state_root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SecretsSetArgs {
    /// Slot name, e.g. openrouter.primary.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Provider the key belongs to.
    #[arg(long)]
    pub provider: String,
    #[command(flatten)]
    pub source: SecretSource,
    #[command(flatten)]
    pub offline: OfflineArgs,
}

/// Exactly one source for the value.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SecretSource {
    /// Read the value from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub from_env: Option<String>,
    /// Read the value from this file (trailing newline removed).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Read the value from standard input.
    #[arg(long)]
    pub stdin: bool,
    /// The value itself (visible in shell history and `ps`; prefer the others).
    #[arg(long, value_name = "VALUE")]
    pub value: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RuntimeCommand {
    /// Default route, active model, each route's capabilities and readiness.
    Get,
    /// Set the active model, e.g. openrouter/openai/gpt-5.4-mini (persisted).
    SetModel {
        /// A selector: ROUTE/MODEL or a model on the default route.
        selector: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Create a session.
    Create {
        /// Session id.
        id: String,
        /// Pin the session to a selector.
        #[arg(long)]
        model: Option<String>,
        /// Override the route's system prompt for this session.
        #[arg(long)]
        system_prompt: Option<String>,
    },
    /// List sessions.
    List {
        /// Continue after this session id.
        #[arg(long)]
        cursor: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show a session with its totals and recent history.
    Show {
        /// Session id.
        id: String,
    },
    /// Send input; creates the session on first use and streams the answer.
    Input(Box<InputArgs>),
    /// Append an audio observation: stored, transcribed, added to the session as text.
    Observe {
        /// Session id (created on first use).
        id: String,
        /// The audio file (audio/wav or audio/webm).
        file: PathBuf,
        /// Observation source.
        #[arg(long, default_value = "microphone_segment")]
        source: String,
    },
}

#[derive(Debug, Args)]
pub struct InputArgs {
    /// Session id.
    pub id: String,
    /// The text (or use --stdin).
    pub text: Option<String>,
    /// Route id to use.
    #[arg(long)]
    pub provider: Option<String>,
    /// Model or selector to use.
    #[arg(long)]
    pub model: Option<String>,
    /// Fallback model (repeatable); replaces the route's fallbacks.
    #[arg(long = "fallback-model", value_name = "MODEL")]
    pub fallback_models: Vec<String>,
    /// Thinking level: off|minimal|low|medium|high|xhigh.
    #[arg(long)]
    pub thinking: Option<String>,
    /// Model params as JSON, e.g. '{"temperature":0.2}'.
    #[arg(long, value_name = "JSON")]
    pub params: Option<String>,
    /// Provider routing as JSON, e.g. '{"order":["anthropic"],"sort":"price"}' (the
    /// flags below override its keys).
    #[arg(long, value_name = "JSON")]
    pub provider_routing: Option<String>,
    /// OpenRouter providers to try in this order (comma-separated or repeated).
    #[arg(long, value_name = "SLUGS", value_delimiter = ',')]
    pub provider_order: Vec<String>,
    /// Only these OpenRouter providers (comma-separated or repeated).
    #[arg(long, value_name = "SLUGS", value_delimiter = ',')]
    pub provider_only: Vec<String>,
    /// Never these OpenRouter providers (comma-separated or repeated).
    #[arg(long, value_name = "SLUGS", value_delimiter = ',')]
    pub provider_ignore: Vec<String>,
    /// Do not let OpenRouter fall back to providers outside order/only.
    #[arg(long)]
    pub no_provider_fallbacks: bool,
    /// Read the text from standard input.
    #[arg(long)]
    pub stdin: bool,
    /// Attach a file (repeatable): uploaded as an asset first.
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Attach an existing asset (repeatable).
    #[arg(long = "asset", value_name = "ID")]
    pub assets: Vec<String>,
    /// Start the run and print its id without waiting.
    #[arg(long)]
    pub detach: bool,
    /// Idempotency key for --detach (the same key returns the same run).
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Show a run.
    Show {
        /// Run id.
        id: String,
    },
    /// Print a run's events.
    Events {
        /// Run id.
        id: String,
        /// Keep following until the run ends.
        #[arg(long)]
        follow: bool,
        /// Only events after this seq.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
    /// Cancel a run (aborts the upstream request).
    Cancel {
        /// Run id.
        id: String,
    },
}
