//! What a person sees while a step loop runs: on a terminal, a spinner for
//! the phase and a line per node (or two bars for big clusters); otherwise
//! plain lines, one per change. Text from servers (node names, statuses, BDE's
//! messages) is shown with its control characters escaped.

use std::collections::BTreeMap;

use bde_engine::State;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::output::escape;

/// Above this many nodes, per-node lines give way to two bars.
const MAX_NODE_LINES: usize = 30;

/// The display of one run.
pub enum Progress {
    /// Plain lines (not a terminal, or output for scripts), or nothing (quiet).
    Plain { last: String, quiet: bool },
    /// Bars on a terminal.
    Bars {
        multi: MultiProgress,
        phase: ProgressBar,
        nodes: BTreeMap<String, ProgressBar>,
        wired: Option<ProgressBar>,
        addressed: Option<ProgressBar>,
    },
}

impl Progress {
    /// Bars when stderr is a terminal and the output is for people; nothing when quiet.
    pub fn new(terminal: bool, quiet: bool) -> Self {
        if !terminal || quiet {
            return Progress::Plain {
                last: String::new(),
                quiet,
            };
        }
        let multi = MultiProgress::new();
        let phase = multi.add(ProgressBar::new_spinner());
        phase.set_style(ProgressStyle::with_template("{spinner} {prefix:>15} {msg}").expect("template"));
        phase.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress::Bars {
            multi,
            phase,
            nodes: BTreeMap::new(),
            wired: None,
            addressed: None,
        }
    }

    /// Shows the state after a step.
    pub fn update(&mut self, state: &State, note: &str) {
        let phase = format!("{:?}", state.phase);
        match self {
            Progress::Plain { last, quiet } => {
                if !*quiet && note != last {
                    eprintln!("[{phase:>16}] {}", escape(note));
                    *last = note.to_string();
                }
            }
            Progress::Bars {
                multi,
                phase: bar,
                nodes,
                wired,
                addressed,
            } => {
                bar.set_prefix(phase);
                bar.set_message(escape(note).into_owned());
                if state.nodes.len() > MAX_NODE_LINES {
                    let total = state.nodes.len() as u64;
                    let style =
                        ProgressStyle::with_template("  {prefix:>15} [{bar:30}] {pos}/{len}").expect("template");
                    let make = |name: &str| {
                        let b = multi.add(ProgressBar::new(total).with_style(style.clone()));
                        b.set_prefix(name.to_string());
                        b
                    };
                    let w = wired.get_or_insert_with(|| make("ports"));
                    w.set_length(total);
                    w.set_position(state.nodes.values().filter(|n| !n.ports.is_empty()).count() as u64);
                    let a = addressed.get_or_insert_with(|| make("addresses"));
                    a.set_length(total);
                    a.set_position(state.nodes.values().filter(|n| n.ip.is_some()).count() as u64);
                    return;
                }
                for (name, node) in &state.nodes {
                    let line = nodes.entry(name.clone()).or_insert_with(|| {
                        let b = multi.add(ProgressBar::new(3));
                        b.set_style(ProgressStyle::with_template("  {prefix:28} [{bar:3}] {msg}").expect("template"));
                        b.set_prefix(escape(name).into_owned());
                        b
                    });
                    let done =
                        u64::from(node.vm.is_some()) + u64::from(!node.ports.is_empty()) + u64::from(node.ip.is_some());
                    line.set_position(done);
                    line.set_message(format!(
                        "{} {} {}",
                        escape(&node.status),
                        escape(node.ip.as_deref().unwrap_or("")),
                        if node.resets.is_empty() {
                            String::new()
                        } else {
                            format!("(reset {}x)", node.resets.len())
                        }
                    ));
                }
            }
        }
    }

    /// Clears the bars before the final report.
    pub fn finish(&self) {
        if let Progress::Bars { multi, .. } = self {
            let _ = multi.clear();
        }
    }
}
