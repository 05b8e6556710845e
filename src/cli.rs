//! Command-line types (clap derive). Doc comments are the help text. Nothing else lives here.
//! May import: `graph` (selection types).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::graph::select::IndirectSelection;

/// strata: a declarative SQL pipeline compiler. SQL models with YAML metadata, compiled to
/// DuckDB or Postgres and run as a DAG with tests, contracts, freshness and lineage.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, long_about = None)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How output is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line, for CI.
    Json,
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The project directory (the one holding project.yml or dbt_project.yml).
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub project_dir: PathBuf,
    /// Output format of diagnostics and progress.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Print only errors: no progress lines, notes, warnings, `log()` output or summary. The
    /// nodes that failed and the final list of failures still print, and so does what a
    /// command is asked for (`ls`, `show`'s rows, a dry run's statements).
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Treat warnings as errors: a compile warning stops the command (exit 2) and a test with
    /// `severity: warn` that finds rows fails (exit 1, its dependents are skipped).
    #[arg(long, global = true)]
    pub warn_error: bool,
}

/// Options of commands that compile the project.
#[derive(Debug, Args, Clone)]
pub struct CompileArgs {
    /// Target to use (default: `target:` in project.yml, or the profile's `target:`).
    #[arg(short = 't', long)]
    pub target: Option<String>,
    /// The folder holding profiles.yml (default: $DBT_PROFILES_DIR, else the project
    /// directory, else ~/.dbt). Used when project.yml has no `targets:`.
    #[arg(long, value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,
    /// The profile in profiles.yml to use (default: the project's `profile:`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Vars as YAML or JSON, overriding project.yml: --vars '{as_of_date: 2024-07-31}'.
    #[arg(long, value_name = "YAML")]
    pub vars: Option<String>,
    /// The artifacts of an earlier run (a directory with manifest.json): a contract version
    /// that lost, renamed or retyped a column since then is an error.
    #[arg(long, value_name = "DIR")]
    pub state: Option<std::path::PathBuf>,
}

/// Node selection, as in dbt.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Nodes to include: name, +name, name+, 2+name, @name, tag:x, path:models/marts,
    /// config.materialized:table, source:odoo, resource_type:model, unions (space), intersections (comma).
    /// A selector that matches no node is an error (exit 2), with a did-you-mean.
    #[arg(short = 's', long = "select", num_args = 1.., value_name = "SELECTOR")]
    pub select: Vec<String>,
    /// Nodes to leave out (same syntax). Each selector must match some node of the project
    /// (exit 2 otherwise: a typo would run what you meant to leave out); it need not be selected.
    #[arg(long, num_args = 1.., value_name = "SELECTOR")]
    pub exclude: Vec<String>,
    /// How tests of selected nodes are added.
    #[arg(long, value_enum, default_value_t = IndirectSelection::Eager)]
    pub indirect_selection: IndirectSelection,
}

/// What `strata ls` prints per node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LsOutput {
    /// Dotted fully qualified name (`ofitec.marts.mart_ar_aging`).
    #[default]
    Selector,
    /// Node name.
    Name,
    /// Unique id (`model.ofitec.mart_ar_aging`).
    Id,
    /// Defining file.
    Path,
    /// One JSON object per node.
    Json,
}

/// What `strata show` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ShowOutput {
    /// A table.
    #[default]
    Text,
    /// One JSON object: the columns and the rows (also with `--log-format json`).
    Json,
}

/// How `strata lineage` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LineageOutput {
    /// An indented tree.
    #[default]
    Text,
    /// One JSON object: the root, the direction, the edges and what is unknown.
    Json,
    /// A Graphviz digraph (`strata lineage x -o dot | dot -Tsvg > lineage.svg`).
    Dot,
}

/// Options of commands that run nodes against the target.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Worker threads, each with its own connection, at least 1 (default: the target's
    /// `threads`).
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Stop starting nodes after the first failure.
    #[arg(long, short = 'x')]
    pub fail_fast: bool,
    /// Rebuild incremental models (and reload seeds) from scratch.
    #[arg(long)]
    pub full_refresh: bool,
    /// Print the statements each node would run, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the results as a JUnit XML report (for CI systems). Its directory must exist
    /// and be writable: that is checked before anything runs (exit 2 otherwise).
    #[arg(long, value_name = "PATH")]
    pub junit_xml: Option<std::path::PathBuf>,
    /// Do not check freshness in this run: sources with `freshness:` are not checked before
    /// the models that read them, models are not checked after they build.
    #[arg(long)]
    pub skip_freshness: bool,
    /// Where the run's metrics go.
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// Where a command's Prometheus metrics go.
#[derive(Debug, Args, Clone, Default)]
pub struct MetricsArgs {
    /// Write the metrics in Prometheus's text format to PATH (atomically: a temporary file,
    /// then a rename), for node exporter's textfile collector (name it `*.prom`).
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// Push the metrics to a Prometheus pushgateway at URL (grouped by job `strata` and the
    /// project's name), e.g. http://127.0.0.1:9091.
    #[arg(long, value_name = "URL")]
    pub pushgateway: Option<String>,
}

/// Options of `strata source freshness` and `strata freshness`.
#[derive(Debug, Args, Clone)]
pub struct FreshnessArgs {
    /// Which project to compile.
    #[command(flatten)]
    pub compile: CompileArgs,
    /// Which nodes to check (`-s source:odoo`, `-s mart_fact_sales`).
    #[command(flatten)]
    pub select: SelectArgs,
    /// Worker threads, each with its own connection (default: the target's `threads`).
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Where to write the results (default: sources.json in the artifacts directory).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Also write the results as a JUnit XML report: one testcase per check, a stale one a
    /// failure, a check that could not run an error.
    #[arg(long, value_name = "PATH")]
    pub junit_xml: Option<PathBuf>,
    /// Where the metrics go.
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// `strata source ...`.
#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Check the freshness of the selected sources (dbt's `source freshness`): max of each
    /// table's `loaded_at_field` against its `warn_after`/`error_after`. Writes sources.json
    /// (dbt's v3 shape). Exit 0 on pass and warn, 1 on error or runtime error.
    Freshness(FreshnessArgs),
}

/// `--threads`: a whole number of at least 1.
fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err(
            "0 workers would run nothing; give at least 1 (e.g. --threads 4), or leave \
the flag out to use the target's `threads`"
                .into(),
        ),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "`{s}` is not a whole number; give the number of workers, e.g. --threads 4"
        )),
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the project and write the manifest (no SQL analysis output, no database).
    Parse {
        #[command(flatten)]
        compile: CompileArgs,
    },
    /// Compile models and tests to SQL for the target, under the artifacts directory.
    Compile {
        #[command(flatten)]
        compile: CompileArgs,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// List the selected nodes.
    #[command(alias = "list")]
    Ls {
        #[command(flatten)]
        compile: CompileArgs,
        #[command(flatten)]
        select: SelectArgs,
        /// What to print for each node.
        #[arg(short = 'o', long, value_enum, default_value_t = LsOutput::Selector)]
        output: LsOutput,
        /// Only nodes of these types (model, seed, source, test, exposure).
        #[arg(long, num_args = 1.., value_name = "TYPE")]
        resource_type: Vec<String>,
    },
    /// Load CSV seeds into tables (each replaced atomically).
    Seed {
        #[command(flatten)]
        compile: CompileArgs,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Build the selected models in dependency order.
    Run {
        #[command(flatten)]
        compile: CompileArgs,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        run: RunArgs,
        /// Build every selected model with zero rows: each query runs as
        /// `select * from (...) where false limit 0`, so the SQL is checked against the
        /// database (columns, types, functions) without reading data. Replaces the relations it
        /// builds with empty ones: use a development or CI target.
        #[arg(long)]
        empty: bool,
    },
    /// Run the data tests and unit tests of the selected nodes.
    Test {
        #[command(flatten)]
        compile: CompileArgs,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Seed, build and test the selected nodes in dependency order (the main job).
    Build {
        #[command(flatten)]
        compile: CompileArgs,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        run: RunArgs,
        /// Build every selected model with zero rows (see `strata run --empty`); data tests
        /// read zero rows too, so they pass once their SQL is valid. Seeds load as usual.
        #[arg(long)]
        empty: bool,
    },
    /// Call a macro of the project on the target and run its SQL.
    ///
    /// What the macro sends through `run_query()` runs as it renders; then the SQL it outputs
    /// runs statement by statement (each commits on its own; the first that fails stops the
    /// rest).
    RunOperation {
        #[command(flatten)]
        compile: CompileArgs,
        /// The macro to call.
        #[arg(value_name = "MACRO")]
        macro_name: String,
        /// The macro's keyword arguments, as YAML or JSON: --args '{role: reporter, days: 7}'.
        #[arg(long, value_name = "YAML")]
        args: Option<String>,
    },
    /// Preview the first rows of a node or of an inline query, building nothing.
    ///
    /// A model runs its compiled query, a seed or a source reads its relation, a data test
    /// shows its failing rows; on a read-only connection to the target.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["select", "inline"])))]
    Show {
        #[command(flatten)]
        compile: CompileArgs,
        /// The one node to preview (a model runs its compiled query; a seed or a source reads
        /// its relation; a data test shows its failing rows).
        #[arg(short = 's', long = "select", value_name = "NODE", num_args = 1..)]
        select: Vec<String>,
        /// A query to preview instead of a node; it may use `ref`, `source`, vars and macros.
        #[arg(long, value_name = "SQL", conflicts_with = "select")]
        inline: Option<String>,
        /// How many rows to show; -1 for all of them.
        #[arg(
            long,
            value_name = "N",
            default_value_t = 5,
            allow_negative_numbers = true
        )]
        limit: i64,
        /// How to print the rows.
        #[arg(short = 'o', long, value_enum, default_value_t = ShowOutput::Text)]
        output: ShowOutput,
    },
    /// Rerun only the nodes that failed or were skipped in the last seed/run/build.
    Retry,
    /// Commands on sources: `strata source freshness`.
    Source {
        #[command(subcommand)]
        command: SourceCommand,
    },
    /// Check the freshness of sources, models and seeds together (those with `freshness:`
    /// and `loaded_at_field:`); writes sources.json. Exit 0 on pass and warn, 1 otherwise.
    Freshness {
        #[command(flatten)]
        args: FreshnessArgs,
        /// Also write Prometheus alerting rules (one per freshness SLO, like
        /// `FreshnessAbove20m`) to FILE, from the project's freshness config.
        #[arg(long, value_name = "FILE")]
        prometheus_rules: Option<PathBuf>,
    },
    /// Serve Prometheus metrics: each scrape of /metrics checks freshness live.
    ServeMetrics {
        #[command(flatten)]
        compile: CompileArgs,
        #[command(flatten)]
        select: SelectArgs,
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
        listen: String,
        /// Seconds a scrape may spend on its checks; a check still running then is reported
        /// as failed (`strata_freshness_check_success 0`).
        #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
        scrape_timeout: f64,
    },
    /// Remove strata's artifacts directory (never cargo's target/ nor the warehouse).
    Clean,
    /// Check the project and the target connection, and say what is wrong.
    Debug {
        #[command(flatten)]
        compile: CompileArgs,
    },
    /// Install the packages of packages.yml (or dependencies.yml) into dbt_packages/: local
    /// packages are linked there; hub and git packages are not downloaded (no network access):
    /// they must be installed already, by `dbt deps` or by hand.
    Deps,
    /// Show column-level lineage: what a model's columns come from, down to seeds and
    /// sources, or (with --downstream) what reads them. Needs no database.
    ///
    /// NODE is a model, seed or source (`stg_orders`, `odoo.invoices`, or a unique
    /// id), optionally followed by `.COLUMN`; without a column, every column of the node and
    /// what affects all its rows (joins, filters, grouping). `strata lineage send` delivers
    /// the OpenLineage events kept while the backend was down.
    Lineage(LineageArgs),
    /// The docs site: `strata docs generate` writes it, `strata docs serve` serves it.
    Docs {
        #[command(subcommand)]
        command: DocsCommand,
    },
    /// Create a new project in directory NAME that compiles and builds as it is.
    Init {
        /// Project name (an identifier); also the directory created.
        name: String,
    },
}

/// The verbs of `strata docs`.
#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Write the docs site into `<artifacts>/docs/` (`.strata/docs/` by default, `target/docs/`
    /// in a dbt project), and `catalog.json` with the warehouse's column types when the
    /// warehouse can be read. The site opens from disk: open `docs/index.html` in a browser.
    Generate {
        #[command(flatten)]
        compile: CompileArgs,
        /// Do not read the warehouse: no catalog.json, declared column types only.
        #[arg(long)]
        empty_catalog: bool,
    },
    /// Serve the generated site on 127.0.0.1 (only), for browsers or setups that will not
    /// open files from disk.
    Serve {
        /// Port to listen on (0: any free port, printed).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

/// Arguments of `strata lineage`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct LineageArgs {
    /// `send`: deliver the kept OpenLineage events (instead of showing lineage).
    #[command(subcommand)]
    pub action: Option<LineageAction>,
    #[command(flatten)]
    pub compile: CompileArgs,
    /// The node, or `node.column`.
    #[arg(value_name = "NODE[.COLUMN]", required = true)]
    pub node: Option<String>,
    /// Follow what the node reads (the default).
    #[arg(long, conflicts_with = "downstream")]
    pub upstream: bool,
    /// Follow what reads the node instead.
    #[arg(long)]
    pub downstream: bool,
    /// Follow at most N steps.
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,
    /// How to print.
    #[arg(short = 'o', long, value_enum, default_value_t = LineageOutput::Text)]
    pub output: LineageOutput,
}

/// The verbs of `strata lineage`.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum LineageAction {
    /// Deliver the OpenLineage events kept in the artifacts directory
    /// (`lineage-spool.jsonl`) while the backend was down, in order; those delivered are
    /// removed, the rest stays for the next try.
    Send,
}
