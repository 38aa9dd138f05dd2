//! The command-line grammar (spec §2): global client flags and every subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `--upstream-limit`: a finite amount in USD above 0. (An `f64` flag would otherwise take
/// `nan` or `inf`, which serialise as JSON `null`: no limit at all, said nowhere.)
fn positive_usd(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd > 0.0 => Ok(usd),
        _ => Err("expected an amount in USD above 0, like 10 or 2.5".into()),
    }
}

/// `--speed`: a finite number (the daemon checks its range, 0.25 to 4.0). `nan` or `inf`
/// would serialise as JSON `null`, the default speed, said nowhere.
fn finite_speed(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(speed) if speed.is_finite() => Ok(speed),
        _ => Err("expected a playback speed between 0.25 and 4.0, like 1.25".into()),
    }
}

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
    /// Runs: list, show, events, cancel.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Assets: import, list, show, get, delete.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// Audio tools: speak (text-to-speech), transcribe.
    #[command(subcommand)]
    Audio(AudioCommand),
    /// Image tools: generate, edit (no chat model involved).
    #[command(subcommand)]
    Image(ImageCommand),
    /// Video tools: generate (an asynchronous job with live progress), status, list.
    #[command(subcommand)]
    Video(VideoCommand),
    /// Virtual keys for a team: scopes, routes, model globs, budgets, rate limits, expiry.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The spend ledger: every paid upstream call, grouped by key, model, route, kind or day.
    Spend(SpendArgs),
    /// The routes' model catalogs and the key's credit and limits.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Write a routes file and store the OpenRouter key (first-time set-up).
    Onboard(OnboardArgs),
    /// Move a single-node install to shared backends (PostgreSQL, an S3-compatible store).
    #[command(subcommand)]
    Db(DbCommand),
    /// The effective configuration the daemon loaded (defaults filled in, never secrets).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check routes file, master key, secrets, bind/auth posture and upstream reachability.
    Doctor(DoctorArgs),
    /// Print a shell completion script (e.g. `ferry completions bash > /etc/bash_completion.d/ferry`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
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
        #[command(flatten)]
        page: PageArgs,
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
    /// Synthesise speech from text (the route's media.tts_model and voice).
    Speak {
        /// The text to speak.
        text: String,
        /// TTS model (default: the route's media.tts_model).
        #[arg(long)]
        model: Option<String>,
        /// Voice (default: the route's media.tts_voice).
        #[arg(long)]
        voice: Option<String>,
        /// mp3, or pcm (saved as a playable WAV).
        #[arg(long, value_parser = ["mp3", "pcm"])]
        format: Option<String>,
        /// Playback speed (0.25-4.0; models that support it).
        #[arg(long, value_parser = finite_speed, allow_negative_numbers = true)]
        speed: Option<f64>,
        /// Route whose key and media settings to use (default route).
        #[arg(long)]
        route: Option<String>,
        /// Write the audio here (relative to the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
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

/// Options shared by `image generate` and `image edit`.
#[derive(Debug, Args)]
pub struct ImageOptions {
    /// Image model (default: the route's media.image_model).
    #[arg(long)]
    pub model: Option<String>,
    /// Aspect ratio: 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9.
    #[arg(long)]
    pub aspect_ratio: Option<String>,
    /// Image size: 1K, 2K or 4K.
    #[arg(long)]
    pub size: Option<String>,
    /// Give up after this many milliseconds (default: the route's media.image_timeout_ms).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Route whose key and media settings to use (default route).
    #[arg(long)]
    pub route: Option<String>,
    /// Write the image here (relative to the current directory); with several images
    /// NAME.png becomes NAME-1.png, NAME-2.png, …
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Generate images from a prompt.
    Generate {
        /// What to draw.
        prompt: String,
        /// How many images (1-4), made by repeated calls.
        #[arg(short = 'n', long = "count", default_value_t = 1)]
        n: u32,
        #[command(flatten)]
        options: ImageOptions,
    },
    /// Edit or combine images according to a prompt.
    Edit {
        /// The change to make.
        prompt: String,
        /// An input image (repeatable, at most 5); uploaded as an asset first.
        #[arg(long = "image", value_name = "PATH", required = true)]
        images: Vec<PathBuf>,
        #[command(flatten)]
        options: ImageOptions,
    },
}

#[derive(Debug, Subcommand)]
pub enum VideoCommand {
    /// Generate a video: submits the job, shows live progress, downloads the result.
    Generate(Box<VideoGenerateArgs>),
    /// Show a video job; with --wait, follow it until it ends (resume after Ctrl-C).
    Status {
        /// The job id (vid_…).
        id: String,
        /// Wait until the job ends, with live progress.
        #[arg(long)]
        wait: bool,
        /// Once completed, write the video here (relative to the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List recent video jobs.
    List {
        /// How many.
        #[arg(long)]
        limit: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub struct VideoGenerateArgs {
    /// What to film.
    pub prompt: String,
    /// Video model (default: the route's media.video_model).
    #[arg(long)]
    pub model: Option<String>,
    /// Seconds; snapped to the nearest duration the model supports.
    #[arg(long)]
    pub duration: Option<u32>,
    /// Resolution: 480p, 720p, 768p, 1080p, 1K, 2K, 4K.
    #[arg(long)]
    pub resolution: Option<String>,
    /// Aspect ratio: 16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3, 21:9, 9:21.
    #[arg(long)]
    pub aspect_ratio: Option<String>,
    /// Image to start from.
    #[arg(long, value_name = "IMG")]
    pub first_frame: Option<PathBuf>,
    /// Image to end on.
    #[arg(long, value_name = "IMG")]
    pub last_frame: Option<PathBuf>,
    /// Reference image (repeatable).
    #[arg(long = "reference", value_name = "IMG")]
    pub references: Vec<PathBuf>,
    /// Route whose key and media settings to use (default route).
    #[arg(long)]
    pub route: Option<String>,
    /// Write the video here (relative to the current directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the job id and return at once (follow it with `ferry video status ID --wait`).
    #[arg(long)]
    pub detach: bool,
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

/// How `onboard` authenticates to the upstream.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AuthChoice {
    /// An OpenRouter API key (`sk-or-v1-…`), stored encrypted as `openrouter.primary`.
    OpenrouterApiKey,
}

#[derive(Debug, Args)]
pub struct OnboardArgs {
    /// How to authenticate to the upstream.
    #[arg(long, value_enum, default_value = "openrouter-api-key")]
    pub auth_choice: AuthChoice,
    /// Never prompt; everything comes from flags and the environment.
    #[arg(long)]
    pub non_interactive: bool,
    /// The OpenRouter API key (else OPENROUTER_API_KEY, else a prompt that does not echo).
    #[arg(long, env = "OPENROUTER_API_KEY", hide_env_values = true)]
    pub openrouter_api_key: Option<String>,
    /// The routes file to write.
    #[arg(long, env = "FERRY_ROUTES_FILE", default_value = "./routes.toml")]
    pub routes_file: PathBuf,
    /// The state root that holds the secret store.
    #[arg(long, env = "FERRY_STATE_ROOT", default_value = "./state")]
    pub state_root: PathBuf,
    /// The route's default model.
    #[arg(long, default_value = "openai/gpt-5.4-mini")]
    pub model: String,
    /// A custom OpenAI-compatible base URL (a proxy); default: OpenRouter itself.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Overwrite an existing routes file.
    #[arg(long)]
    pub force: bool,
    /// Do not check the key with OpenRouter (`GET /key`) before storing it.
    #[arg(long)]
    pub offline: bool,
    /// Also write a systemd user unit (ferry.service, next to the routes file) that runs
    /// `ferry serve` with these files; interactive runs are asked.
    #[arg(long)]
    pub service: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show the routes configuration as the daemon loaded it.
    Show {
        /// Only this route.
        #[arg(long)]
        route: Option<String>,
        /// toml: a valid routes file (save it and load it with --routes-file); json: the
        /// document of `GET /v1/config` (as `--json`).
        #[arg(long, value_parser = ["toml", "json"], default_value = "toml")]
        format: String,
    },
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The routes file to check (default: ./routes.toml when present, else the built-in
    /// default route, as `ferry serve` does).
    #[arg(long, env = "FERRY_ROUTES_FILE")]
    pub routes_file: Option<PathBuf>,
    /// The state root to check.
    #[arg(long, env = "FERRY_STATE_ROOT", default_value = "./state")]
    pub state_root: PathBuf,
    /// Skip the upstream reachability checks (no network).
    #[arg(long)]
    pub offline: bool,
    /// Check the secret store the replicas share in this PostgreSQL database instead of
    /// the state root's file (read only: nothing is migrated or written).
    #[arg(long, env = "FERRY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
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
    /// Keep sessions, runs, assets' rows, keys and the ledger in this PostgreSQL
    /// database (`postgres://user:password@host:5432/db`, PostgreSQL 14 or newer) instead
    /// of the embedded SQLite database in the state root; replicas share it.
    #[arg(long, env = "FERRY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Root for `{path}` attachments; nothing outside it is readable.
    #[arg(long, env = "FERRY_WORKSPACE_ROOT", default_value = ".")]
    pub workspace_root: PathBuf,
    /// The routes file (must exist). Without it: ./routes.toml when present, else the
    /// built-in default route (openrouter, model openrouter/auto).
    #[arg(long, env = "FERRY_ROUTES_FILE")]
    pub routes_file: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, value_enum, env = "FERRY_LOG_FORMAT", default_value = "pretty")]
    pub log_format: LogFormat,
    /// How long a shutdown waits for runs in flight before interrupting them.
    #[arg(long, env = "FERRY_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
    /// After each completed run on an openrouter.ai route, look up what was actually billed
    /// (`GET /generation`, in the background) and record it as the run's `billed_cost`.
    #[arg(long, env = "FERRY_RECONCILE_COST")]
    pub reconcile_cost: bool,
    /// Largest asset (upload, attachment, observation) accepted, in bytes (default 25 MiB).
    #[arg(long, env = "FERRY_MAX_ASSET_BYTES", default_value_t = 25 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_asset_bytes: u64,
    /// Keep asset bytes in an S3-compatible bucket, s3://BUCKET/PREFIX, instead of under
    /// the state root. Endpoint, region and credentials come from the AWS_* variables
    /// (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; see
    /// docs/operations.md). The bucket is checked at start.
    #[arg(long, env = "FERRY_ASSET_STORE", value_name = "s3://BUCKET/PREFIX")]
    pub asset_store: Option<String>,
    /// Export OpenTelemetry traces of model calls over OTLP/HTTP (protobuf) to this
    /// collector, e.g. http://127.0.0.1:4318 (`/v1/traces` is appended unless given).
    #[arg(long, env = "FERRY_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// Milliseconds between upstream reachability probes (`GET /key` per route; 0 = off).
    /// An unreachable upstream makes `status` say "degraded"; start never waits for it.
    #[arg(long, env = "FERRY_UPSTREAM_PROBE_MS", default_value_t = 30_000)]
    pub upstream_probe_ms: u64,
    /// Record every OpenAI-facade call as a run (session `openai`, or the `X-Ferry-Session`
    /// header's). Off by default: recording adds durable writes to each call.
    #[arg(long, env = "FERRY_RECORD_FACADE_RUNS")]
    pub record_facade_runs: bool,
    /// A host name clients may put in `Host` besides localhost and IP addresses (a
    /// reverse proxy's name). Repeatable; the env var takes a comma-separated list.
    #[arg(
        long = "allowed-host",
        value_name = "NAME",
        env = "FERRY_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// A web origin (`https://app.example.com`) allowed to call ferry from a browser, with
    /// CORS. Repeatable; the env var takes a comma-separated list.
    #[arg(
        long = "allowed-origin",
        value_name = "ORIGIN",
        env = "FERRY_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Time a connection has to send a complete request head, counted from when it starts
    /// waiting for one (so it also closes idle keep-alive connections).
    #[arg(long, env = "FERRY_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,
    /// Longest wait for the next part of a request body; a request whose body stops
    /// arriving for longer fails with 408 `body_timeout` and frees its connection.
    #[arg(long, env = "FERRY_BODY_READ_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout_ms: u64,
    /// Most client connections served at once; more wait in the listen backlog.
    #[arg(long, env = "FERRY_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Delete runs, their events and recorded facade calls older than N days (0 = keep
    /// everything). Sessions' history is never deleted. Overrides routes.toml's
    /// `retention_days`.
    #[arg(long, env = "FERRY_RETENTION_DAYS")]
    pub retention_days: Option<u32>,
    /// Require a credential (the token or an `fk-…` virtual key) even on loopback; a
    /// non-loopback daemon always does.
    #[arg(long, env = "FERRY_REQUIRE_KEYS")]
    pub require_keys: bool,
    /// How long a web console sign-in lasts, in seconds (default 12 hours).
    #[arg(long, env = "FERRY_CONSOLE_SESSION_TTL", default_value_t = 43_200,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub console_session_ttl: u64,
}

/// Cursor pagination of the list commands.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Continue after this cursor (printed at the end of a full page).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Page size (1–500).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

impl PageArgs {
    /// [`PageArgs::query`] plus `&key=value` for each filter that is set.
    pub fn query_with(&self, path: &str, filters: &[(&str, &Option<String>)]) -> String {
        let mut q = self.query(path);
        for (key, value) in filters {
            if let Some(v) = value {
                q.push_str(&format!("&{key}="));
                q.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
            }
        }
        q
    }

    /// `path?limit=N[&cursor=C]`, to which more `&key=value` pairs can be appended.
    pub fn query(&self, path: &str) -> String {
        let mut q = format!("{path}?limit={}", self.limit);
        if let Some(c) = &self.cursor {
            q.push_str("&cursor=");
            q.extend(url::form_urlencoded::byte_serialize(c.as_bytes()));
        }
        q
    }
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
        /// Rotate the secret store the replicas share in this PostgreSQL database instead
        /// of the state root's file (stop every replica first).
        #[arg(long, env = "FERRY_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
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

/// Settings of `keys create` / `keys update`.
#[derive(Debug, Args, Default)]
pub struct KeyLimitArgs {
    /// Budget in USD per period (`keys update --budget none` removes it).
    #[arg(long, value_name = "USD", allow_negative_numbers = true)]
    pub budget: Option<String>,
    /// Budget period: day, week, month (default), total. Resets on UTC calendar boundaries.
    #[arg(long)]
    pub period: Option<String>,
    /// Requests per minute (`none` removes the limit).
    #[arg(long, value_name = "N")]
    pub rpm: Option<String>,
    /// Tokens per minute: input estimate + max_tokens (`none` removes the limit).
    #[arg(long, value_name = "N")]
    pub tpm: Option<String>,
    /// Allowed model glob, e.g. 'anthropic/*' (repeatable; default: every model).
    #[arg(long = "model", value_name = "GLOB")]
    pub models: Vec<String>,
    /// Allowed route id (repeatable; default: every route).
    #[arg(long = "route", value_name = "ID")]
    pub routes: Vec<String>,
    /// Scope: facade, sessions, admin (repeatable; default for create: facade).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Lifetime, e.g. 30d, 12h, 90m, 2w (`none` removes the expiry).
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Issue a key (`fk-…`); it is printed once and never again.
    Create {
        /// Who or what the key is for.
        name: String,
        #[command(flatten)]
        limits: KeyLimitArgs,
        /// Also provision an OpenRouter key with this USD limit and the budget's reset
        /// (needs the route's management_auth_ref), used for this key's traffic.
        #[arg(long, value_name = "USD", value_parser = positive_usd, allow_negative_numbers = true)]
        upstream_limit: Option<f64>,
    },
    /// Every key with its spend against its budget and its limits.
    List,
    /// One key.
    Show {
        /// Key id (`key_…`).
        id: String,
    },
    /// Change a key's settings (given flags replace the old values).
    Update {
        /// Key id (`key_…`).
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        limits: KeyLimitArgs,
    },
    /// Revoke a key at once (and disable its OpenRouter key, if one was provisioned).
    Revoke {
        /// Key id (`key_…`).
        id: String,
    },
}

/// `ferry spend`.
#[derive(Debug, Args)]
pub struct SpendArgs {
    /// Group by key (default), model, route, kind or day.
    #[arg(long, default_value = "key")]
    pub by: String,
    /// Divide each group by a second grouping (key, model, route, kind or day), e.g.
    /// `--by day --split model`.
    #[arg(long)]
    pub split: Option<String>,
    /// From this UTC date (2026-12-01) or time, inclusive.
    #[arg(long)]
    pub since: Option<String>,
    /// Until this UTC date or time, exclusive.
    #[arg(long)]
    pub until: Option<String>,
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
        /// Speak every reply (`always`) or never (`off`); default: the route's setting.
        #[arg(long, value_parser = ["off", "always"])]
        speak_replies: Option<String>,
    },
    /// Change a session's settings.
    Set {
        /// Session id.
        id: String,
        /// Speak every reply (`always`) or never (`off`); `route` follows the route again.
        #[arg(long, value_parser = ["off", "always", "route"])]
        speak_replies: Option<String>,
        /// The session's system prompt (`""` clears it).
        #[arg(long)]
        system_prompt: Option<String>,
    },
    /// List sessions.
    List {
        #[command(flatten)]
        page: PageArgs,
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
    /// Also speak the answer (the route's TTS model and voice); saved with --save-dir.
    #[arg(long, conflicts_with = "no_speak")]
    pub speak: bool,
    /// Do not speak the answer even if the session or route would.
    #[arg(long)]
    pub no_speak: bool,
    /// Write the assets of the answer (images, audio, video) into this directory.
    #[arg(long, value_name = "DIR")]
    pub save_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs of every session, newest first (failed and cancelled ones included).
    List {
        /// Only this session's runs.
        #[arg(long)]
        session: Option<String>,
        /// Only runs in this status.
        #[arg(long, value_parser = ["queued", "running", "completed", "failed", "cancelled", "interrupted"])]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
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

/// `ferry db …`: the database of a stopped install.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy every row of a state root's SQLite database (sessions, history, runs, events,
    /// asset rows, video jobs, keys, the ledger) into an empty PostgreSQL database, in one
    /// transaction, and the asset bytes into an S3-compatible store (`--assets-to`). The
    /// daemon on that state root must be stopped; the state root itself is not changed.
    Copy(DbCopyArgs),
}

/// Arguments of `ferry db copy`.
#[derive(Debug, clap::Args)]
pub struct DbCopyArgs {
    /// The install to copy: `sqlite://STATE_ROOT` (the directory `serve --state-root` used).
    #[arg(long)]
    pub from: String,
    /// The PostgreSQL database to copy into: `postgres://user:password@host:5432/db`.
    #[arg(long, env = "FERRY_DATABASE_URL", hide_env_values = true)]
    pub to: String,
    /// Also copy the asset bytes into this S3-compatible store (`s3://BUCKET/PREFIX`, with
    /// the `AWS_*` variables), each verified by its SHA-256 on the way.
    #[arg(long)]
    pub assets_to: Option<String>,
    /// Copy into a database that already holds rows: add the rows it lacks, keep the rows
    /// it has (default: refuse a non-empty target).
    #[arg(long)]
    pub merge: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_limit_is_a_finite_amount_above_zero() {
        assert_eq!(positive_usd("20"), Ok(20.0));
        assert_eq!(positive_usd(" 0.5 "), Ok(0.5));
        for bad in ["0", "-1", "nan", "NaN", "inf", "-inf", "ten"] {
            assert!(positive_usd(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_speed_is_a_finite_number() {
        assert_eq!(finite_speed("1.25"), Ok(1.25));
        for bad in ["nan", "inf", "-inf", "fast"] {
            assert!(finite_speed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nan_is_refused_by_the_parser_with_usage_exit_code() {
        for args in [
            &["ferry", "keys", "create", "x", "--upstream-limit", "nan"][..],
            &["ferry", "audio", "speak", "hi", "--speed", "NaN"][..],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        // A negative number is a value for the amount flags (then refused), not a flag.
        let err = Cli::try_parse_from(["ferry", "keys", "create", "x", "--upstream-limit", "-1"])
            .unwrap_err();
        assert!(err.to_string().contains("above 0"), "{err}");
    }
}
