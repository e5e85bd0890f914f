//! What the caller asks for, parsed once.

use std::fmt;
use std::str::FromStr;

use crate::error::EngineError;

/// An action on a cluster. Every face (CLI verb, Heat handler) names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Make the cluster and wire every VM (resumes an interrupted create).
    Create,
    /// Take over a cluster that exists in BDE, after checking it is on the spec's network.
    Adopt,
    /// Remove the cluster, its ports and the BDE network, if this product made them.
    Delete,
    /// Power the VMs off (ports are kept).
    Stop,
    /// Power them on again; every node gets its address back.
    Start,
    /// Set a node group's VM count; remembered as what the user asked for.
    Resize {
        /// The group.
        group: String,
        /// Its new total.
        count: u32,
    },
    /// Look at the live cluster and record what is seen; changes nothing.
    Check,
    /// Mend drift: back to what the user last asked for.
    Repair,
    /// Take the cluster to what the spec now says (its node counts), then mend drift.
    Apply,
}

impl Action {
    /// The verb, as the CLI and the Heat adapter name it.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Adopt => "adopt",
            Action::Delete => "delete",
            Action::Stop => "stop",
            Action::Start => "start",
            Action::Resize { .. } => "resize",
            Action::Check => "check",
            Action::Repair => "repair",
            Action::Apply => "apply",
        }
    }

    /// A verb with its arguments (`resize` needs a group and a count).
    pub fn parse(verb: &str, group: Option<String>, count: Option<u32>) -> Result<Self, EngineError> {
        match (verb.parse::<Action>(), group, count) {
            (Ok(Action::Resize { .. }), Some(group), Some(count)) => Ok(Action::Resize { group, count }),
            (Ok(Action::Resize { .. }), _, _) => Err(EngineError::field("action", "resize needs a group and a count")),
            (other, _, _) => other,
        }
    }
}

impl FromStr for Action {
    type Err = EngineError;

    /// Parses a verb; `resize` comes back with an empty group (see [`Action::parse`]).
    fn from_str(verb: &str) -> Result<Self, Self::Err> {
        Ok(match verb {
            "create" => Action::Create,
            "adopt" => Action::Adopt,
            "delete" => Action::Delete,
            "stop" => Action::Stop,
            "start" => Action::Start,
            "resize" => Action::Resize {
                group: String::new(),
                count: 0,
            },
            "check" => Action::Check,
            "repair" => Action::Repair,
            "apply" => Action::Apply,
            other => {
                return Err(EngineError::field(
                    "action",
                    format!(
                        "{other:?} is not an action: create, adopt, delete, stop, start, resize, check, repair or apply"
                    ),
                ));
            }
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Resize { group, count } => write!(f, "resize {group} to {count}"),
            other => f.write_str(other.verb()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_parses_and_names_itself_back() {
        for verb in ["create", "adopt", "delete", "stop", "start", "check", "repair", "apply"] {
            assert_eq!(verb.parse::<Action>().unwrap().verb(), verb);
        }
    }

    #[test]
    fn resize_needs_its_group_and_count() {
        assert_eq!(
            Action::parse("resize", Some("worker".into()), Some(3)).unwrap(),
            Action::Resize {
                group: "worker".into(),
                count: 3
            }
        );
        assert_eq!(
            Action::parse("resize", None, Some(3)).unwrap_err().fields[0].field,
            "action"
        );
    }

    #[test]
    fn an_unknown_verb_is_refused_naming_the_verbs() {
        let e = "destroy".parse::<Action>().unwrap_err();
        assert!(e.to_string().contains("create, adopt"), "{e}");
    }
}
