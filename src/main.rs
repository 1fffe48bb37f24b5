//! The `cityimpact` command line: parse, call the library, and turn the result into a message
//! and an exit code (0 ok, 1 run failed, 2 bad command line or pipeline file, 3 data checks
//! failed, 4 another run holds the lock). No data logic lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cityimpact::catalogue;
use cityimpact::config::ChartFormat;
use cityimpact::run::{self, Options, RunError};

#[derive(Parser)]
#[command(
    name = "cityimpact",
    version,
    about = "Measure what social innovation does for cities",
    long_about = "cityimpact runs a pipeline declared in a TOML file: it reads city open data and \
social-innovation project records as published, checks every row, computes social exclusion, \
spending and climate indicators, and writes Parquet tables, charts and a manifest.",
    after_help = "Examples:\n  cityimpact run pipelines/sample.toml\n  cityimpact validate pipelines/sample.toml\n  cityimpact indicators describe arpr"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline and publish its outputs.
    #[command(
        after_help = "Examples:\n  cityimpact run                          # pipelines/sample.toml\n  cityimpact run pipelines/sample.toml --out /tmp/sample\n\n\
Exit codes: 0 published, 1 run failed (last good outputs untouched), 2 bad command line or pipeline file,\n\
3 a data check failed (not published), 4 another run holds the lock."
    )]
    Run {
        /// The pipeline file.
        #[arg(default_value = "pipelines/sample.toml")]
        pipeline: PathBuf,
        /// Write outputs here instead of the pipeline's `out` folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print only errors.
        #[arg(short, long)]
        quiet: bool,
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
    /// List the indicator catalogue, or describe one indicator.
    #[command(
        after_help = "Examples:\n  cityimpact indicators\n  cityimpact indicators describe gini"
    )]
    Indicators {
        #[command(subcommand)]
        action: Option<IndicatorsAction>,
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
    match try_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Errors at the binary's edge: the library's, plus a wrong indicator id.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("no indicator `{0}` in the catalogue")]
    UnknownIndicator(String, Option<String>),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Run(e) => e.exit_code(),
            CliError::UnknownIndicator(..) => 2,
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
        }
    }
}

fn try_main(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Run {
            pipeline,
            out,
            quiet,
        } => {
            let report = move |msg: &str| {
                if !quiet {
                    eprintln!("cityimpact: {msg}");
                }
            };
            let summary = run::run(&pipeline, &Options { out }, &report)?;
            if !quiet {
                for r in &summary.manifest.rows {
                    eprintln!(
                        "  {:<16} read {:>7}  kept {:>7}  rejected {:>5}",
                        r.source, r.read, r.kept, r.rejected
                    );
                }
                for s in &summary.manifest.stages {
                    eprintln!("  stage {:<24} {:>8.3} s", s.stage, s.seconds);
                }
                eprintln!(
                    "cityimpact: {} indicator values, {} files published to {} ({:.2} s)",
                    summary.rows,
                    summary.manifest.outputs.len() + 1,
                    summary.out.display(),
                    summary.manifest.seconds
                );
            }
            Ok(())
        }
        Command::Chart {
            out,
            format,
            width,
            height,
            highlight,
        } => {
            let formats = format.map(|f| {
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
            let files = run::rechart(
                &out,
                &run::ChartOptions {
                    formats,
                    width,
                    height,
                    highlight,
                },
            )?;
            eprintln!(
                "cityimpact: {} charts and report.html drawn again in {}",
                files.len(),
                out.display()
            );
            Ok(())
        }
        Command::Validate { pipeline } => {
            let lines = run::validate(&pipeline)?;
            for l in lines {
                println!("{l}");
            }
            println!("{}: ok", pipeline.display());
            Ok(())
        }
        Command::Indicators { action: None } => {
            println!("{:<30} {:<10} {:<18} name", "id", "family", "unit");
            for i in catalogue::all() {
                println!(
                    "{:<30} {:<10} {:<18} {}",
                    i.id,
                    i.family.as_str(),
                    i.unit,
                    i.name
                );
            }
            Ok(())
        }
        Command::Indicators {
            action: Some(IndicatorsAction::Describe { id }),
        } => {
            let Some(i) = catalogue::get(&id) else {
                let near = cityimpact::config::nearest(&id, catalogue::all().iter().map(|i| i.id))
                    .map(String::from);
                return Err(CliError::UnknownIndicator(id, near));
            };
            println!("{} ({})", i.name, i.id);
            println!("family:     {}", i.family.as_str());
            println!("unit:       {}", i.unit);
            println!("direction:  {}", i.direction.as_str());
            println!("definition: {}", i.definition);
            println!("source:     {}", i.source);
            Ok(())
        }
    }
}
