//! The `cityimpact` command line: parse, set up logging and progress, call the library, and
//! turn the result into a message and an exit code (0 ok, 1 run failed, 2 bad command line or
//! pipeline file, 3 data checks failed, 4 another run holds the lock, 130 stopped by a
//! signal). No data logic lives here.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cityimpact::catalogue;
use cityimpact::config::ChartFormat;
use cityimpact::run::{self, Options, RunError};

/// Prints a line on stdout; a closed pipe (`| head`) ends the program quietly, as for any
/// command-line tool, rather than with a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

#[derive(Parser)]
#[command(
    name = "cityimpact",
    version,
    about = "Measure what social innovation does for cities",
    long_about = "cityimpact runs a pipeline declared in a TOML file: it reads city open data and \
social-innovation project records as published, checks every row, computes social exclusion, \
spending and climate indicators, and writes Parquet tables, charts, a report and a manifest.",
    after_help = "Examples:\n  cityimpact run pipelines/sample.toml\n  cityimpact plan pipelines/sample.toml\n  cityimpact validate pipelines/sample.toml\n  cityimpact indicators describe arpr\n\n\
Logs go to stderr: human-readable, or --log-format json. CITYIMPACT_LOG takes a filter (e.g. debug);\n\
NO_COLOR turns colour off. A progress line shows only when stderr is a terminal."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More detail in the logs (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Errors only.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Log format on stderr: human, or json (one object per line, for log collectors).
    #[arg(long, global = true, value_parser = ["human", "json"], default_value = "human")]
    log_format: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline and publish its outputs.
    #[command(
        after_help = "Examples:\n  cityimpact run                          # pipelines/sample.toml\n  cityimpact run pipelines/sample.toml --out /tmp/sample\n  cityimpact run pipelines/sample.toml --json --wait 600   # from a scheduler\n\n\
A run whose pipeline file, inputs and tool version are those of the last good run does nothing.\n\
Otherwise only the indicator families whose inputs changed are computed again; --force computes all.\n\n\
Exit codes: 0 published or up to date, 1 run failed (last good outputs untouched), 2 bad command line\n\
or pipeline file, 3 a data check failed (not published), 4 another run holds the lock, 130 stopped by\n\
SIGINT or SIGTERM."
    )]
    Run {
        /// The pipeline file.
        #[arg(default_value = "pipelines/sample.toml")]
        pipeline: PathBuf,
        /// Write outputs here instead of the pipeline's `out` folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Recompute everything, even when nothing changed.
        #[arg(long)]
        force: bool,
        /// When another run holds the output folder, wait up to this many seconds for it.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
        /// Print one machine-readable summary line on stdout (the last line printed).
        #[arg(long)]
        json: bool,
    },
    /// Show the stages of a run, what each reads and writes, and which would run now and why.
    #[command(
        after_help = "Examples:\n  cityimpact plan pipelines/sample.toml\n  cityimpact plan pipelines/sample.toml --force"
    )]
    Plan {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Plan against this output folder instead of the pipeline's.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Plan as if every stage were forced to run.
        #[arg(long)]
        force: bool,
    },
    /// Check a pipeline file and that every source exists and has the columns its roles need.
    #[command(after_help = "Example:\n  cityimpact validate pipelines/sample.toml")]
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Draw the charts and the report again from an output folder, without recomputing.
    #[command(
        after_help = "Examples:\n  cityimpact chart out/sample\n  cityimpact chart out/sample --format svg --width 1600 --height 900 --highlight PL_GDN_Orunia"
    )]
    Chart {
        /// A folder that `cityimpact run` published.
        out: PathBuf,
        /// Chart formats, comma-separated: png, svg.
        #[arg(long, value_delimiter = ',', value_parser = ["png", "svg"])]
        format: Option<Vec<String>>,
        /// Width in pixels (200-8000).
        #[arg(long, value_parser = clap::value_parser!(u32).range(200..=8000))]
        width: Option<u32>,
        /// Height in pixels (200-8000).
        #[arg(long, value_parser = clap::value_parser!(u32).range(200..=8000))]
        height: Option<u32>,
        /// Areas to draw in colour, comma-separated; the others are grey comparisons.
        #[arg(long, value_delimiter = ',')]
        highlight: Option<Vec<String>>,
    },
    /// Write the report again from an output folder, and print it to PDF with headless
    /// Chromium.
    #[command(
        after_help = "Examples:\n  cityimpact report out/sample --pdf     # out/sample/report.pdf\n  CITYIMPACT_CHROMIUM=/opt/chrome/chrome cityimpact report out/sample --pdf\n\n\
The charts and report.html are drawn again from the folder's tables (as `cityimpact chart` does);\n\
--pdf prints report.html to report.pdf (A4) and lists it in the manifest. Chromium is found through\n\
CITYIMPACT_CHROMIUM, else on PATH (chromium, chromium-browser, google-chrome). A new run replaces the\n\
folder, PDF included: print it again after each run."
    )]
    Report {
        /// A folder that `cityimpact run` published.
        out: PathBuf,
        /// Print report.pdf too.
        #[arg(long)]
        pdf: bool,
    },
    /// List the evaluation's estimators, aggregations and inference, or describe one. The
    /// estimates themselves come from `[evaluation]` in a pipeline file and `cityimpact run`.
    #[command(
        after_help = "Examples:\n  cityimpact evaluate\n  cityimpact evaluate describe cs_did\n\n\
In a pipeline file:\n  [evaluation]\n  outcomes = [\"arpr\", \"unemployment_rate\"]\n  treatment = \"treated_from\"        # or \"first_project\" (with min_amount)\n  control = \"never_treated\"          # or \"not_yet_treated\"\n  base_period = \"varying\"            # or \"universal\"\n  anticipation = 0\n  bootstrap = { replicates = 999, seed = 1 }\n  alpha = 0.05\n\nResults: effects.parquet, the manifest's `evaluation`, charts evaluation-*, the report."
    )]
    Evaluate {
        #[command(subcommand)]
        action: Option<EvaluateAction>,
    },
    /// List the indicator catalogue, or describe one indicator.
    #[command(
        after_help = "Examples:\n  cityimpact indicators\n  cityimpact indicators describe gini\n  cityimpact indicators --pipeline pipelines/sample.toml describe sroi"
    )]
    Indicators {
        /// Show units and definitions as this pipeline computes them (its reporting currency,
        /// discount rate and booking of amounts); default: the defaults.
        #[arg(long, global = true, value_name = "FILE")]
        pipeline: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<IndicatorsAction>,
    },
}

#[derive(Subcommand)]
enum EvaluateAction {
    /// Print one estimator, aggregation or inference method: definition and source.
    #[command(after_help = "Example:\n  cityimpact evaluate describe cs_did")]
    Describe {
        /// The method id, e.g. cs_did, dynamic, twfe.
        id: String,
    },
}

#[derive(Subcommand)]
enum IndicatorsAction {
    /// Print one indicator's definition, unit, direction and source.
    #[command(after_help = "Example:\n  cityimpact indicators describe arpr")]
    Describe {
        /// The indicator id, e.g. arpr.
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    // SIGINT and SIGTERM: remove the run's staging folder (the last good outputs stay as they
    // are) and stop with a non-zero code; the OS releases the lock.
    let _ = ctrlc::set_handler(|| {
        cityimpact::output::publish::remove_staging();
        tracing::error!("stopped by a signal; the last good outputs are untouched");
        std::process::exit(130);
    });
    match try_main(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            if let Some(hint) = e.hint() {
                tracing::error!("hint: {hint}");
            }
            if matches!(cli.command, Command::Run { json: true, .. }) {
                let line = serde_json::json!({
                    "status": "error",
                    "exit_code": e.exit_code(),
                    "error": e.to_string(),
                    "hint": e.hint(),
                });
                say!("{line}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Human logs on stderr by default, JSON lines for collectors; -v/-q and CITYIMPACT_LOG set
/// the level; colour only on a terminal and never with NO_COLOR.
fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_env("CITYIMPACT_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if cli.log_format == "json" {
        builder.json().with_current_span(false).init();
    } else {
        builder.with_ansi(colour).without_time().init();
    }
}

/// A progress line for a person watching a terminal; never in logs or CI.
fn progress(cli: &Cli) -> Option<indicatif::ProgressBar> {
    let watching = std::io::stderr().is_terminal()
        && cli.log_format == "human"
        && !cli.quiet
        && std::env::var_os("CI").is_none();
    watching.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    })
}

/// Errors at the binary's edge: the library's, plus a wrong indicator id.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("no indicator `{0}` in the catalogue")]
    UnknownIndicator(String, Option<String>),
    #[error("no evaluation method `{0}`")]
    UnknownMethod(String, Option<String>),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Run(e) => e.exit_code(),
            CliError::UnknownIndicator(..) | CliError::UnknownMethod(..) => 2,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            CliError::Run(e) => e.hint(),
            CliError::UnknownIndicator(_, Some(near)) => Some(format!(
                "did you mean `{near}`? `cityimpact indicators` lists them all"
            )),
            CliError::UnknownIndicator(_, None) => {
                Some("`cityimpact indicators` lists them all".into())
            }
            CliError::UnknownMethod(_, near) => Some(format!(
                "{}`cityimpact evaluate` lists them all",
                near.as_ref()
                    .map(|n| format!("did you mean `{n}`? "))
                    .unwrap_or_default()
            )),
        }
    }
}

fn try_main(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Run {
            pipeline,
            out,
            force,
            wait,
            json,
        } => {
            let options = Options {
                out: out.clone(),
                force: *force,
                wait: wait.map(std::time::Duration::from_secs),
            };
            run_pipeline(cli, pipeline, &options, *json)
        }
        Command::Plan {
            pipeline,
            out,
            force,
        } => {
            let options = Options {
                out: out.clone(),
                force: *force,
                wait: None,
            };
            plan(pipeline, &options)
        }
        Command::Chart {
            out,
            format,
            width,
            height,
            highlight,
        } => {
            let formats = format.as_ref().map(|f| {
                f.iter()
                    .map(|x| {
                        if x == "svg" {
                            ChartFormat::Svg
                        } else {
                            ChartFormat::Png
                        }
                    })
                    .collect()
            });
            let options = run::ChartOptions {
                formats,
                width: *width,
                height: *height,
                highlight: highlight.clone(),
                pdf: false,
            };
            let files = run::rechart(out, &options)?;
            tracing::info!(
                "{} charts and report.html drawn again in {}",
                files.len(),
                out.display()
            );
            Ok(())
        }
        Command::Report { out, pdf } => {
            let options = run::ChartOptions {
                pdf: *pdf,
                ..Default::default()
            };
            run::rechart(out, &options)?;
            match pdf {
                true => tracing::info!("report.html and report.pdf written in {}", out.display()),
                false => tracing::info!("report.html written in {}", out.display()),
            }
            Ok(())
        }
        Command::Validate { pipeline } => {
            for l in run::validate(pipeline)? {
                say!("{l}");
            }
            say!("{}: ok", pipeline.display());
            Ok(())
        }
        Command::Evaluate { action } => methods(action.as_ref()),
        Command::Indicators { pipeline, action } => {
            indicators(pipeline.as_deref(), action.as_ref())
        }
    }
}

/// `cityimpact run`: the pipeline run with a progress line on a terminal, its summary after.
fn run_pipeline(
    cli: &Cli,
    pipeline: &std::path::Path,
    options: &Options,
    json: bool,
) -> Result<(), CliError> {
    let bar = progress(cli);
    let report = |msg: &str| match &bar {
        Some(b) => b.set_message(msg.to_string()),
        None => tracing::info!("{msg}"),
    };
    let summary = run::run(pipeline, options, &report);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    report_summary(&summary?, json);
    Ok(())
}

/// `cityimpact plan`: each stage, whether it would run and why, what it reads and writes.
fn plan(pipeline: &std::path::Path, options: &Options) -> Result<(), CliError> {
    for p in run::plan(pipeline, options)? {
        say!(
            "{:<26} {:<5} {}",
            p.stage,
            if p.will_run { "RUN" } else { "skip" },
            p.reason
        );
        say!(
            "{:<26}       reads {}; writes {}",
            "",
            p.reads.join(", "),
            p.writes.join(", ")
        );
    }
    Ok(())
}

/// `cityimpact evaluate [describe ID]`: the estimators and aggregations, or one of them.
fn methods(action: Option<&EvaluateAction>) -> Result<(), CliError> {
    use cityimpact::evaluate::METHODS;
    match action {
        None => {
            say!("{:<14} {:<12} name", "id", "kind");
            for m in METHODS {
                say!("{:<14} {:<12} {}", m.id, m.kind, m.name);
            }
        }
        Some(EvaluateAction::Describe { id }) => {
            let Some(m) = METHODS.iter().find(|m| m.id == id) else {
                let near =
                    cityimpact::config::nearest(id, METHODS.iter().map(|m| m.id)).map(String::from);
                return Err(CliError::UnknownMethod(id.clone(), near));
            };
            say!("{} ({}, {})", m.name, m.id, m.kind);
            say!("definition: {}", m.definition);
            say!("source:     {}", m.source);
        }
    }
    Ok(())
}

/// `cityimpact indicators [describe ID]`: the catalogue (as a pipeline resolves it, where
/// one is given), or one entry.
fn indicators(
    pipeline: Option<&std::path::Path>,
    action: Option<&IndicatorsAction>,
) -> Result<(), CliError> {
    let settings = match pipeline {
        Some(p) => run::catalogue_settings(&cityimpact::config::load(p).map_err(RunError::from)?),
        None => catalogue::Settings::default(),
    };
    let entries = catalogue::Resolved::new(&settings);
    match action {
        None => {
            say!("{:<34} {:<10} {:<18} name", "id", "family", "unit");
            for i in &entries.entries {
                say!(
                    "{:<34} {:<10} {:<18} {}",
                    i.id,
                    i.family.as_str(),
                    i.unit,
                    i.name
                );
            }
        }
        Some(IndicatorsAction::Describe { id }) => {
            let Some(i) = entries.get(id) else {
                let near =
                    cityimpact::config::nearest(id, entries.entries.iter().map(|i| i.id.as_str()))
                        .map(String::from);
                return Err(CliError::UnknownIndicator(id.clone(), near));
            };
            say!("{} ({})", i.name, i.id);
            say!("family:     {}", i.family.as_str());
            say!("unit:       {}", i.unit);
            say!("direction:  {}", i.direction.as_str());
            say!("definition: {}", i.definition);
            say!("source:     {}", i.source);
            if let Some(sql) = &i.sql {
                say!("query:\n{}", sql);
            }
        }
    }
    Ok(())
}

/// The end of a run: row counts and stages in the logs, and with --json one summary line on
/// stdout, the last line printed (Airflow's BashOperator hands it to the next task).
fn report_summary(summary: &run::Summary, json: bool) {
    let m = &summary.manifest;
    let rows = m["rows"].as_array().cloned().unwrap_or_default();
    for r in &rows {
        tracing::info!(
            "source {}: read {}, kept {}, rejected {}",
            r["source"].as_str().unwrap_or(""),
            r["read"],
            r["kept"],
            r["rejected"]
        );
    }
    for s in m["stages"].as_array().into_iter().flatten() {
        tracing::debug!(
            "stage {} {} in {:.3} s: {}",
            s["stage"].as_str().unwrap_or(""),
            s["status"].as_str().unwrap_or(""),
            s["seconds"].as_f64().unwrap_or(0.0),
            s["reason"].as_str().unwrap_or("")
        );
    }
    let values = m["outputs"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["path"] == "indicators.parquet"))
        .and_then(|o| o["rows"].as_u64())
        .unwrap_or(0);
    if summary.status == "up-to-date" {
        tracing::info!(
            "outputs in {} are up to date: nothing to do",
            summary.out.display()
        );
    } else {
        tracing::info!(
            "{values} indicator values published to {} in {:.2} s",
            summary.out.display(),
            m["seconds"].as_f64().unwrap_or(0.0)
        );
    }
    if json {
        let sum = |k: &str| rows.iter().map(|r| r[k].as_u64().unwrap_or(0)).sum::<u64>();
        let timings: serde_json::Map<String, serde_json::Value> = m["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                (
                    s["stage"].as_str().unwrap_or("").to_string(),
                    s["seconds"].clone(),
                )
            })
            .collect();
        let rejects: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|r| {
                (
                    r["source"].as_str().unwrap_or("").to_string(),
                    r["rejected"].clone(),
                )
            })
            .collect();
        let outputs: Vec<serde_json::Value> = m["outputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| o["path"].clone())
            .collect();
        let line = serde_json::json!({
            "status": summary.status,
            "exit_code": 0,
            "out": summary.out,
            "run_id": m["run_id"],
            "outputs": outputs,
            "counts": {
                "rows_read": sum("read"),
                "rows_kept": sum("kept"),
                "rows_rejected": sum("rejected"),
                "indicator_values": values,
            },
            "rejects": rejects,
            "timings": timings,
        });
        say!("{line}");
    }
}
