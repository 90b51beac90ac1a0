//! The `tapvs` binary: a thin command-line front over the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tapvs::scenario::Scenario;

/// Large tables get transparent huge pages (see `tapvs::io::hugepages`).
#[global_allocator]
static ALLOC: tapvs::io::hugepages::HugePageAlloc = tapvs::io::hugepages::HugePageAlloc;

/// A userspace IPVS + keepalived + ldirectord on TAP devices, and the lab that measures it.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios in fresh labs and write results/<scenario>/<run-id>/.
    Run(tapvs::run::RunArgs),
    /// Check scenario files without running anything.
    Check {
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Build, remove or clean up labs by hand.
    #[command(subcommand)]
    Lab(LabCommand),
    /// Run one director on a TAP device.
    Director(tapvs::director::DirectorArgs),
    /// Run the built-in HTTP real server.
    Server(tapvs::server::Args),
    /// Run the bounded load generator.
    Client(tapvs::client::Args),
    /// Send one command to a director's control socket and print its answer (exit 1 on an
    /// `error` answer): `stats`, `weight SERVICE SERVER WEIGHT`, `active 0|1`, `role
    /// [master|backup]`.
    Control(tapvs::director::control::ControlArgs),
    /// Ask a director's status port for its status line (exit 1 when none comes).
    Probe(tapvs::probe::ProbeArgs),
    /// Send a bounded number of forged packets in a lab (hostile-host scenarios).
    #[command(subcommand)]
    Spoof(tapvs::spoof::SpoofCommand),
    /// Join two TAP devices through a fault injector each way (an impaired lab link).
    Wire(tapvs::impairment::wire::WireArgs),
    /// tapvs side by side with no balancer, the kernel's bridge, router and NAT, HAProxy and
    /// the raw TAP wire, in one lab: bench.csv, summary.md and charts (needs root).
    Bench(tapvs::bench::BenchArgs),
    /// Redraw the CSV files and plots of a result folder.
    Plot { dir: PathBuf },
    /// Print every metric a run reports (README.md's "Metrics" table, from the registry).
    Metrics,
    /// ipvsadm's command line against a running director: `tapvs ipvsadm [--director
    /// SOCKET] -Ln` (or TAPVS_DIRECTOR=SOCKET); see README "tapvs ipvsadm".
    #[command(disable_help_flag = true)]
    Ipvsadm {
        #[arg(allow_hyphen_values = true, trailing_var_arg = true, num_args = 0..)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum LabCommand {
    /// Build the topology of a scenario and leave it up (prints its prefix).
    Up { scenario: PathBuf },
    /// Remove the lab with this prefix (e.g. tv1a2b).
    Down { prefix: String },
    /// Remove every lab whose owner process is gone (crashed runs, manual labs), ending the
    /// processes left inside it first.
    Clean,
    /// Internal: started by `tapvs run` beside its lab; removes the lab if the run dies.
    #[command(hide = true)]
    Guard {
        prefix: String,
        /// The run that owns the lab (this guardian's parent).
        #[arg(long)]
        owner: u32,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tapvs: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => {
            let passed = tapvs::run::run(&args)?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Check { scenarios } => {
            for path in scenarios {
                let s = Scenario::load(&path)?;
                s.check_engine(&path, s.lab.engine)?;
                println!(
                    "{}: ok ({}, {} real servers, {} loads, {} events, {} expectations)",
                    path.display(),
                    s.name,
                    s.real_servers.len(),
                    s.loads.len(),
                    s.events.len(),
                    s.expectations.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Lab(LabCommand::Up { scenario }) => {
            let s = Scenario::load(&scenario)?;
            s.check_engine(&scenario, tapvs::run::EngineKind::Netns)?;
            let lab = tapvs::lab::Lab::up_kernel_nat(
                &tapvs::run::topology(&s),
                &tapvs::run::knat_services(&s),
            )?;
            let prefix = lab.keep()?;
            println!(
                "lab {prefix} is up: namespaces {prefix}-sw (bridge br0, TAP d1), {prefix}-rt, {prefix}-cl, {prefix}-<server>"
            );
            println!("remove it with: tapvs lab down {prefix}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Lab(LabCommand::Down { prefix }) => {
            tapvs::lab::down_prefix(&prefix)?;
            println!("lab {prefix} removed");
            Ok(ExitCode::SUCCESS)
        }
        Command::Lab(LabCommand::Clean) => {
            tapvs::lab::check_privileges()?;
            let removed = tapvs::lab::clean()?;
            if removed.is_empty() {
                println!("nothing to clean");
            }
            for r in removed {
                println!("removed {r}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Lab(LabCommand::Guard { prefix, owner }) => {
            if let tapvs::lab::Guarded::Removed { processes } = tapvs::lab::guard(&prefix, owner)? {
                eprintln!(
                    "lab {prefix}: run {owner} died; ended {processes} processes, removed the lab"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Director(args) => tapvs::director::run(args).map(|()| ExitCode::SUCCESS),
        Command::Server(args) => tapvs::server::run(args).map(|()| ExitCode::SUCCESS),
        Command::Client(args) => tapvs::client::run(args).map(|()| ExitCode::SUCCESS),
        Command::Probe(args) => Ok(tapvs::probe::run(&args)),
        Command::Control(args) => Ok(if tapvs::director::control::run_command(&args)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Command::Wire(args) => tapvs::impairment::wire::run(args).map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => tapvs::bench::run(args).map(|()| ExitCode::SUCCESS),
        Command::Spoof(command) => tapvs::spoof::run(command).map(|()| ExitCode::SUCCESS),
        Command::Plot { dir } => {
            tapvs::results::redraw(&dir)?;
            println!("redrew {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Ipvsadm { args } => Ok(ExitCode::from(tapvs::ipvsadm::main(args))),
        Command::Metrics => {
            print!("{}", tapvs::metrics::registry::markdown_table());
            Ok(ExitCode::SUCCESS)
        }
    }
}
