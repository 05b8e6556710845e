//! The `strata` binary: parses the command line, runs the command, maps the outcome to an exit
//! code (0 success, 1 a model/test/check failed, 2 invalid project or invocation). May import
//! everything.

use clap::Parser;

use strata::cli::{Cli, Command};

// Compiling a large project allocates millions of small strings and vectors across threads;
// mimalloc does that markedly faster than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use strata::commands::{self, ExitStatus};

fn main() {
    strata::timing::start();
    let cli = Cli::parse();
    let result = run(&cli);
    strata::timing::report();
    let status = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitStatus::Error
        }
    };
    std::process::exit(status.code());
}

/// dbt's `flags` of the command line, for templates.
fn template_flags(command: &Command) -> strata::jinja::flags::Flags {
    let (which, full_refresh) = match command {
        Command::Parse { .. } => ("parse", false),
        Command::Compile { .. } => ("compile", false),
        Command::Ls { .. } => ("list", false),
        Command::Init { .. } => ("init", false),
        Command::Seed { run, .. } => ("seed", run.full_refresh),
        Command::Run { run, .. } => ("run", run.full_refresh),
        Command::Test { run, .. } => ("test", run.full_refresh),
        Command::Build { run, .. } => ("build", run.full_refresh),
        Command::Retry => ("retry", false),
        Command::Source { .. } | Command::Freshness { .. } => ("freshness", false),
        Command::ServeMetrics { .. } => ("serve-metrics", false),
        Command::Clean => ("clean", false),
        Command::Deps => ("deps", false),
        Command::Lineage(_) => ("lineage", false),
        Command::Docs { .. } => ("generate", false),
        Command::Debug { .. } => ("debug", false),
        Command::RunOperation { .. } => ("run-operation", false),
        Command::Show { .. } => ("show", false),
    };
    strata::jinja::flags::Flags {
        which: which.into(),
        full_refresh,
    }
}

/// Runs the command of the command line.
fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    strata::jinja::flags::set(template_flags(&cli.command));
    match &cli.command {
        Command::Parse { compile } => commands::parse::run(&cli.global, compile),
        Command::Compile { compile, select } => {
            commands::compile::run(&cli.global, compile, select)
        }
        Command::Ls {
            compile,
            select,
            output,
            resource_type,
        } => commands::ls::run(&cli.global, compile, select, *output, resource_type),
        Command::Init { name } => commands::init::run(&cli.global, name),
        Command::Seed {
            compile,
            select,
            run,
        } => commands::run::run(
            &cli.global,
            commands::run::RunKind::Seed,
            compile,
            select,
            run,
            false,
        ),
        Command::Run {
            compile,
            select,
            run,
            empty,
        } => commands::run::run(
            &cli.global,
            commands::run::RunKind::Run,
            compile,
            select,
            run,
            *empty,
        ),
        Command::Test {
            compile,
            select,
            run,
        } => commands::run::run(
            &cli.global,
            commands::run::RunKind::Test,
            compile,
            select,
            run,
            false,
        ),
        Command::Build {
            compile,
            select,
            run,
            empty,
        } => commands::run::run(
            &cli.global,
            commands::run::RunKind::Build,
            compile,
            select,
            run,
            *empty,
        ),
        Command::Retry => commands::run::retry(&cli.global),
        Command::Source {
            command: strata::cli::SourceCommand::Freshness(args),
        } => commands::freshness::run(&cli.global, args, commands::freshness::Scope::Sources, None),
        Command::Freshness {
            args,
            prometheus_rules,
        } => commands::freshness::run(
            &cli.global,
            args,
            commands::freshness::Scope::All,
            prometheus_rules.as_deref(),
        ),
        Command::ServeMetrics {
            compile,
            select,
            listen,
            scrape_timeout,
        } => commands::serve_metrics::run(&cli.global, compile, select, listen, *scrape_timeout),
        Command::Clean => commands::clean::run(&cli.global),
        Command::Deps => commands::deps::run(&cli.global),
        Command::Lineage(args) => commands::lineage::dispatch(&cli.global, args),
        Command::Docs { command } => commands::docs::dispatch(&cli.global, command),
        Command::Debug { compile } => commands::debug::run(&cli.global, compile),
        Command::RunOperation {
            compile,
            macro_name,
            args,
        } => commands::operation::run(&cli.global, compile, macro_name, args.as_deref()),
        Command::Show {
            compile,
            select,
            inline,
            limit,
            output,
        } => commands::show::run(
            &cli.global,
            compile,
            &commands::show::What {
                select,
                inline: inline.as_deref(),
                limit: *limit,
                output: *output,
            },
        ),
    }
}
