//! BDE's Hadoop services: which roles make each one and which services each needs
//! (the Default manager's `ServiceType.java` and `ClusterValidator.validateRoleDependency`).
//! A client and a server word the problems their own way; the rules live here once.

/// A service BDE knows, the roles that make it, and the services it needs.
pub struct Service {
    /// BDE's name for it (`ServiceType`).
    pub name: &'static str,
    /// The roles that make it.
    pub roles: &'static [&'static str],
}

/// `ServiceType.values()`, in BDE's order (its messages list them in this order).
pub const SERVICES: &[Service] = &[
    Service {
        name: "HDFS",
        roles: &["hadoop_namenode", "hadoop_datanode"],
    },
    Service {
        name: "MAPRED",
        roles: &["hadoop_jobtracker", "hadoop_tasktracker"],
    },
    Service {
        name: "HBASE",
        roles: &["hbase_master", "hbase_regionserver"],
    },
    Service {
        name: "ZOOKEEPER",
        roles: &["zookeeper"],
    },
    Service {
        name: "HADOOP_CLIENT",
        roles: &["hadoop_client"],
    },
    Service {
        name: "PIG",
        roles: &["pig"],
    },
    Service {
        name: "HIVE_SERVER",
        roles: &["hive_server"],
    },
    Service {
        name: "HIVE",
        roles: &["hive"],
    },
    Service {
        name: "HBASE_CLIENT",
        roles: &["hbase_client"],
    },
    Service {
        name: "YARN",
        roles: &["hadoop_resourcemanager", "hadoop_nodemanager"],
    },
];

/// What BDE refuses in a cluster's set of roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceProblem {
    /// Some of a service's roles are there, these are not.
    Incomplete {
        /// The service.
        service: &'static str,
        /// Its roles the cluster lacks.
        missing: Vec<&'static str>,
    },
    /// MapReduce v1 and YARN in one cluster.
    MapredWithYarn,
    /// A whole service is there, but not the services it runs on.
    NeedsServices {
        /// The whole service.
        service: &'static str,
        /// The services it runs on (some missing).
        needs: Vec<&'static str>,
    },
}

/// The services a cluster's roles make whole, and what BDE refuses of them, in its order.
/// Dependencies are checked only when every service is whole and MapReduce v1 and YARN
/// are not mixed, as BDE does.
pub fn service_problems<'a>(roles: impl IntoIterator<Item = &'a str> + Clone) -> Vec<ServiceProblem> {
    let has = |role: &str| roles.clone().into_iter().any(|r| r == role);
    let mut problems = Vec::new();
    let mut whole: Vec<&'static str> = Vec::new();
    for service in SERVICES {
        let missing: Vec<&'static str> = service.roles.iter().copied().filter(|r| !has(r)).collect();
        if missing.is_empty() {
            whole.push(service.name);
        } else if missing.len() < service.roles.len() {
            problems.push(ServiceProblem::Incomplete {
                service: service.name,
                missing,
            });
        }
    }
    let yarn = whole.contains(&"YARN");
    if yarn && whole.contains(&"MAPRED") {
        problems.push(ServiceProblem::MapredWithYarn);
    }
    if problems.is_empty() {
        for service in &whole {
            let needs = depends_on(service, yarn);
            if !needs.iter().all(|n| whole.contains(n)) {
                problems.push(ServiceProblem::NeedsServices {
                    service,
                    needs: needs.to_vec(),
                });
            }
        }
    }
    problems
}

/// `ServiceType.depend`: the services one runs on (Pig and Hive on YARN when the cluster
/// has YARN, else on MapReduce v1).
fn depends_on(service: &str, yarn: bool) -> &'static [&'static str] {
    match service {
        "MAPRED" | "YARN" | "HADOOP_CLIENT" => &["HDFS"],
        "HBASE" => &["HDFS", "ZOOKEEPER"],
        "HIVE_SERVER" | "HIVE" | "PIG" if yarn => &["YARN"],
        "HIVE_SERVER" | "HIVE" | "PIG" => &["MAPRED"],
        "HBASE_CLIENT" => &["HBASE"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(roles: &[&str]) -> Vec<ServiceProblem> {
        service_problems(roles.iter().copied())
    }

    #[test]
    fn whole_services_that_have_what_they_run_on_pass() {
        assert!(problems(&["hadoop_namenode", "hadoop_datanode"]).is_empty());
        assert!(
            problems(&[
                "hadoop_namenode",
                "hadoop_resourcemanager",
                "hadoop_datanode",
                "hadoop_nodemanager",
                "hive",
                "pig",
            ])
            .is_empty()
        );
        assert!(problems(&["mesos_master", "mesos_slave", "zookeeper"]).is_empty());
    }

    #[test]
    fn a_service_with_some_of_its_roles_names_the_missing_ones() {
        assert_eq!(
            problems(&["hadoop_datanode"]),
            [ServiceProblem::Incomplete {
                service: "HDFS",
                missing: vec!["hadoop_namenode"]
            }]
        );
        assert_eq!(
            problems(&["hadoop_namenode", "hadoop_datanode", "hadoop_resourcemanager"]),
            [ServiceProblem::Incomplete {
                service: "YARN",
                missing: vec!["hadoop_nodemanager"]
            }]
        );
    }

    #[test]
    fn mapreduce_v1_and_yarn_together_are_refused() {
        let roles = [
            "hadoop_namenode",
            "hadoop_datanode",
            "hadoop_jobtracker",
            "hadoop_tasktracker",
            "hadoop_resourcemanager",
            "hadoop_nodemanager",
        ];
        assert_eq!(problems(&roles), [ServiceProblem::MapredWithYarn]);
    }

    #[test]
    fn a_service_without_what_it_runs_on_names_those_services() {
        assert_eq!(
            problems(&[
                "hbase_master",
                "hbase_regionserver",
                "hadoop_namenode",
                "hadoop_datanode"
            ]),
            [ServiceProblem::NeedsServices {
                service: "HBASE",
                needs: vec!["HDFS", "ZOOKEEPER"]
            }]
        );
        assert_eq!(
            problems(&["hadoop_resourcemanager", "hadoop_nodemanager"]),
            [ServiceProblem::NeedsServices {
                service: "YARN",
                needs: vec!["HDFS"]
            }]
        );
        // Hive runs on YARN when the cluster has it.
        assert_eq!(
            problems(&["hadoop_namenode", "hadoop_datanode", "hive"]),
            [ServiceProblem::NeedsServices {
                service: "HIVE",
                needs: vec!["MAPRED"]
            }]
        );
        assert_eq!(
            problems(&["hbase_client"]),
            [ServiceProblem::NeedsServices {
                service: "HBASE_CLIENT",
                needs: vec!["HBASE"]
            }]
        );
    }
}
