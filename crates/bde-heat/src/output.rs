//! The report as the `openstack` CLI shows things: `-f table|json|yaml|value`
//! and `-c NAME` (repeatable) choosing fields.
//!
//! JSON is the report's document (what `--output json` printed), YAML the same
//! in its fields' order; in both, times are RFC 3339 (UTC, milliseconds), as the
//! `openstack` CLI prints them. Text from servers (names, statuses, BDE's messages) has its
//! control characters escaped in every format but JSON, which escapes them itself.

use std::borrow::Cow;
use std::fmt::Write as _;

use bde_engine::{ClusterReport, Drift, NodeReport};
use clap::ValueEnum;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use unicode_width::UnicodeWidthStr;

/// How the report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for people: the cluster's fields, then its nodes.
    Table,
    /// The document scripts read (times as RFC 3339).
    Json,
    /// The same document in YAML.
    Yaml,
    /// Bare values, one per line (a node or drift per line).
    Value,
}

/// The cluster's fields.
pub const CLUSTER_FIELDS: &[&str] = &["cluster", "status", "status_reason", "resets", "portgroup", "groups"];
/// Every node's fields.
pub const NODE_COLUMNS: &[&str] = &[
    "name",
    "group",
    "moid",
    "instance_uuid",
    "mac",
    "ip",
    "port_id",
    "status",
    "resets",
    "timeline",
];
/// The node columns a table or `value` shows when none is chosen.
const NODE_DEFAULT: &[&str] = &["name", "group", "moid", "mac", "ip", "port_id", "status"];
/// A drift's fields (`check`).
pub const DRIFT_COLUMNS: &[&str] = &["kind", "subject", "detail"];
/// Every name `-c` takes: the three lists above, each name once.
pub const COLUMNS: &[&str] = &[
    "cluster",
    "status",
    "status_reason",
    "resets",
    "portgroup",
    "groups",
    "name",
    "group",
    "moid",
    "instance_uuid",
    "mac",
    "ip",
    "port_id",
    "timeline",
    "kind",
    "subject",
    "detail",
];

/// The fields `-c` chose, by part of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// `-c` was given (JSON is then cut to the chosen fields).
    explicit: bool,
    cluster: Vec<&'static str>,
    nodes: Vec<&'static str>,
    drift: Vec<&'static str>,
}

impl Selection {
    /// The fields named, in the order given (every field when none is).
    /// `status` and `resets` are both the cluster's and each node's: they are
    /// the nodes' when a node-only column (`name`, `ip`, ...) is chosen too.
    pub fn new(columns: &[String]) -> Self {
        if columns.is_empty() {
            return Self {
                explicit: false,
                cluster: CLUSTER_FIELDS.to_vec(),
                nodes: NODE_DEFAULT.to_vec(),
                drift: DRIFT_COLUMNS.to_vec(),
            };
        }
        let mut names: Vec<&'static str> = Vec::new();
        for column in columns {
            if let Some(name) = COLUMNS.iter().find(|n| **n == column.as_str())
                && !names.contains(name)
            {
                names.push(name);
            }
        }
        let node_only = |n: &str| NODE_COLUMNS.contains(&n) && !CLUSTER_FIELDS.contains(&n);
        let for_nodes = names.iter().any(|n| node_only(n));
        let pick = |keep: &dyn Fn(&str) -> bool| names.iter().copied().filter(|n| keep(n)).collect::<Vec<_>>();
        Self {
            explicit: true,
            cluster: pick(&|n| CLUSTER_FIELDS.contains(&n) && !(for_nodes && NODE_COLUMNS.contains(&n))),
            nodes: if for_nodes {
                pick(&|n| NODE_COLUMNS.contains(&n))
            } else {
                Vec::new()
            },
            drift: pick(&|n| DRIFT_COLUMNS.contains(&n)),
        }
    }

    /// The node fields a format shows: a document has them all unless `-c` chose.
    fn node_columns(&self, format: Format) -> &[&'static str] {
        if !self.explicit && matches!(format, Format::Json | Format::Yaml) {
            NODE_COLUMNS
        } else {
            &self.nodes
        }
    }
}

/// The report (with `check`'s drift) in a format, ending in a newline unless empty.
pub fn render(report: &ClusterReport, drift: Option<&[Drift]>, format: Format, selection: &Selection) -> String {
    match format {
        Format::Json => json(report, drift, selection),
        Format::Yaml => yaml(report, drift, selection),
        Format::Table => table(report, drift, selection),
        Format::Value => value(report, drift, selection),
    }
}

/// What an apply would change: a table (kind, subject, detail), JSON or YAML (a list of
/// `{kind, subject, detail}`), or a value line per change.
pub fn render_changes(changes: &[bde_engine::changes::Change], format: Format) -> String {
    match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(changes).expect("serializable");
            text.push('\n');
            text
        }
        Format::Yaml => serde_saphyr::to_string(&changes.to_vec()).expect("serializable"),
        Format::Value => changes
            .iter()
            .map(|c| format!("{} {} {}\n", c.kind, escape(&c.subject), escape(&c.detail)))
            .collect(),
        Format::Table if changes.is_empty() => "nothing to change\n".into(),
        Format::Table => {
            let rows: Vec<[String; 3]> = changes
                .iter()
                .map(|c| {
                    [
                        c.kind.to_string(),
                        escape(&c.subject).into_owned(),
                        escape(&c.detail).into_owned(),
                    ]
                })
                .collect();
            let width = |i: usize, title: &str| {
                rows.iter()
                    .map(|r| r[i].width())
                    .chain([title.width()])
                    .max()
                    .unwrap_or(0)
            };
            let (w0, w1) = (width(0, "change"), width(1, "subject"));
            let mut out = format!("{:<w0$}  {:<w1$}  detail\n", "change", "subject");
            for [kind, subject, detail] in rows {
                let _ = writeln!(out, "{kind:<w0$}  {subject:<w1$}  {detail}");
            }
            out
        }
    }
}

/// Whether a character is shown escaped: C0 and C1 controls, DEL, line and
/// paragraph separators, and the bidirectional overrides that reorder what a
/// terminal shows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Text with its control characters shown as escapes: ESC as `\x1b`, a
/// newline as `\x0a`, others past ASCII as `\u{...}`.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if c.is_ascii() {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// Unix seconds as RFC 3339 in UTC with milliseconds (`2023-11-14T22:13:20.123Z`).
pub fn rfc3339(unix_seconds: f64) -> String {
    if !unix_seconds.is_finite() {
        return unix_seconds.to_string();
    }
    let ms = (unix_seconds * 1000.0).floor() as i64;
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

// ---- JSON: the document as it has always been, cut to the chosen fields.

fn json(report: &ClusterReport, drift: Option<&[Drift]>, selection: &Selection) -> String {
    use serde_json::{Map, Value};
    let mut doc = serde_json::to_value(report).expect("serializable");
    for node in doc["nodes"].as_array_mut().into_iter().flatten() {
        times_as_rfc3339(&mut node["timeline"]);
    }
    if let Some(drift) = drift {
        doc["drift"] = serde_json::to_value(drift).expect("serializable");
    }
    if selection.explicit {
        let cut = |items: &mut Value, keys: &[&str]| -> Value {
            let items = items.as_array_mut().map(std::mem::take).unwrap_or_default();
            Value::Array(
                items
                    .into_iter()
                    .map(|mut item| Value::Object(keys.iter().map(|k| (k.to_string(), item[*k].take())).collect()))
                    .collect(),
            )
        };
        let mut out = Map::new();
        for field in &selection.cluster {
            out.insert(field.to_string(), doc[*field].take());
        }
        if !selection.nodes.is_empty() {
            out.insert("nodes".into(), cut(&mut doc["nodes"], &selection.nodes));
        }
        if drift.is_some() && !selection.drift.is_empty() {
            out.insert("drift".into(), cut(&mut doc["drift"], &selection.drift));
        }
        doc = Value::Object(out);
    }
    let mut text = serde_json::to_string_pretty(&doc).expect("serializable");
    text.push('\n');
    text
}

/// Every unix time in a node's timeline (its moments, its resets) as RFC 3339.
fn times_as_rfc3339(timeline: &mut serde_json::Value) {
    match timeline {
        serde_json::Value::Number(n) => *timeline = serde_json::Value::String(rfc3339(n.as_f64().unwrap_or(0.0))),
        serde_json::Value::Array(items) => items.iter_mut().for_each(times_as_rfc3339),
        serde_json::Value::Object(map) => map.values_mut().for_each(times_as_rfc3339),
        _ => {}
    }
}

// ---- YAML: the same document in its fields' order, times as RFC 3339.

/// A document whose maps keep their keys' order.
#[derive(Debug, Clone, PartialEq)]
enum Doc {
    Null,
    Int(u64),
    Str(String),
    Seq(Vec<Doc>),
    Map(Vec<(&'static str, Doc)>),
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Doc::Null => serializer.serialize_none(),
            Doc::Int(n) => serializer.serialize_u64(*n),
            Doc::Str(s) => serializer.serialize_str(s),
            Doc::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Doc::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

fn text_doc(text: &str) -> Doc {
    Doc::Str(escape(text).into_owned())
}

fn opt_doc(text: Option<&str>) -> Doc {
    text.map_or(Doc::Null, text_doc)
}

fn int_doc(n: Option<u64>) -> Doc {
    n.map_or(Doc::Null, Doc::Int)
}

fn time_doc(t: Option<f64>) -> Doc {
    t.map_or(Doc::Null, |t| Doc::Str(rfc3339(t)))
}

fn cluster_doc(report: &ClusterReport, field: &str) -> Doc {
    match field {
        "cluster" => text_doc(&report.cluster),
        "status" => text_doc(&report.status),
        "status_reason" => opt_doc(report.status_reason.as_deref()),
        "resets" => Doc::Int(report.resets.into()),
        "portgroup" => opt_doc(report.portgroup.as_deref()),
        "groups" => Doc::Seq(
            report
                .groups
                .iter()
                .map(|g| {
                    Doc::Map(vec![
                        ("name", text_doc(&g.name)),
                        ("nodes", Doc::Int(g.nodes as u64)),
                        ("desired", int_doc(g.desired.map(u64::from))),
                        ("file_says", int_doc(g.file_says.map(u64::from))),
                    ])
                })
                .collect(),
        ),
        _ => Doc::Null,
    }
}

fn node_doc(node: &NodeReport, field: &str) -> Doc {
    match field {
        "name" => text_doc(&node.name),
        "group" => text_doc(&node.group),
        "moid" => opt_doc(node.moid.as_deref()),
        "instance_uuid" => opt_doc(node.instance_uuid.as_deref()),
        "mac" => opt_doc(node.mac.as_deref()),
        "ip" => opt_doc(node.ip.as_deref()),
        "port_id" => opt_doc(node.port_id.as_deref()),
        "status" => text_doc(&node.status),
        "resets" => Doc::Int(node.resets as u64),
        "timeline" => {
            let t = &node.timeline;
            Doc::Map(vec![
                ("cloned", time_doc(t.cloned)),
                ("powered_on", time_doc(t.powered_on)),
                ("port_created", time_doc(t.port_created)),
                ("address_seen", time_doc(t.address_seen)),
                (
                    "resets",
                    Doc::Seq(t.resets.iter().map(|r| Doc::Str(rfc3339(*r))).collect()),
                ),
            ])
        }
        _ => Doc::Null,
    }
}

fn drift_text(drift: &Drift, field: &str) -> String {
    match field {
        "kind" => drift.kind.to_string(),
        "subject" => escape(&drift.subject).into_owned(),
        "detail" => escape(&drift.detail).into_owned(),
        _ => String::new(),
    }
}

fn yaml(report: &ClusterReport, drift: Option<&[Drift]>, selection: &Selection) -> String {
    let mut doc: Vec<(&'static str, Doc)> = selection.cluster.iter().map(|f| (*f, cluster_doc(report, f))).collect();
    let columns = selection.node_columns(Format::Yaml);
    if !columns.is_empty() {
        let nodes = report
            .nodes
            .iter()
            .map(|n| Doc::Map(columns.iter().map(|c| (*c, node_doc(n, c))).collect()))
            .collect();
        doc.push(("nodes", Doc::Seq(nodes)));
    }
    if let Some(drift) = drift.filter(|_| !selection.drift.is_empty()) {
        let items = drift
            .iter()
            .map(|d| {
                Doc::Map(
                    selection
                        .drift
                        .iter()
                        .map(|c| (*c, Doc::Str(drift_text(d, c))))
                        .collect(),
                )
            })
            .collect();
        doc.push(("drift", Doc::Seq(items)));
    }
    let mut text = serde_saphyr::to_string(&Doc::Map(doc)).expect("a YAML document");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

// ---- Table and value: text for people and for shell scripts.

/// A cluster field as text (`None`: it has no value); `groups` is a line per group.
fn cluster_text(report: &ClusterReport, field: &str) -> Option<String> {
    match field {
        "cluster" => Some(escape(&report.cluster).into_owned()),
        "status" => Some(escape(&report.status).into_owned()),
        "status_reason" => report.status_reason.as_deref().map(|s| escape(s).into_owned()),
        "resets" => Some(report.resets.to_string()),
        "portgroup" => report.portgroup.as_deref().map(|s| escape(s).into_owned()),
        "groups" => {
            let lines: Vec<String> = report
                .groups
                .iter()
                .map(|g| {
                    let asked = g.desired.map_or_else(|| "-".into(), |d| d.to_string());
                    let name = escape(&g.name);
                    match g.file_says {
                        Some(f) => format!("group {name}: {asked} (resized; the file says {f})"),
                        None => format!("group {name}: {asked}"),
                    }
                })
                .collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        }
        _ => None,
    }
}

/// A node field as text; the timeline's entries are joined by `separator`.
fn node_text(node: &NodeReport, field: &str, separator: &str) -> Option<String> {
    let text = |s: Option<&str>| s.map(|s| escape(s).into_owned());
    match field {
        "name" => text(Some(&node.name)),
        "group" => text(Some(&node.group)),
        "moid" => text(node.moid.as_deref()),
        "instance_uuid" => text(node.instance_uuid.as_deref()),
        "mac" => text(node.mac.as_deref()),
        "ip" => text(node.ip.as_deref()),
        "port_id" => text(node.port_id.as_deref()),
        "status" => text(Some(&node.status)),
        "resets" => Some(node.resets.to_string()),
        "timeline" => {
            let t = &node.timeline;
            let entries: Vec<String> = [
                ("cloned", t.cloned),
                ("powered_on", t.powered_on),
                ("port_created", t.port_created),
                ("address_seen", t.address_seen),
            ]
            .into_iter()
            .chain(t.resets.iter().map(|r| ("reset", Some(*r))))
            .filter_map(|(what, at)| at.map(|at| format!("{what}={}", rfc3339(at))))
            .collect();
            (!entries.is_empty()).then(|| entries.join(separator))
        }
        _ => None,
    }
}

/// An aligned table like the openstack CLI's; a cell may hold several lines.
fn draw(headers: &[&str], rows: &[Vec<String>]) -> String {
    let lines = |cell: &str| cell.split('\n').map(str::to_string).collect::<Vec<_>>();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            for line in cell.split('\n') {
                widths[i] = widths[i].max(line.width());
            }
        }
    }
    let rule = {
        let mut rule = String::from("+");
        for w in &widths {
            rule.push_str(&"-".repeat(w + 2));
            rule.push('+');
        }
        rule.push('\n');
        rule
    };
    let mut out = String::new();
    let put_row = |out: &mut String, cells: Vec<Vec<String>>| {
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for at in 0..height {
            out.push('|');
            for (cell, w) in cells.iter().zip(&widths) {
                let line = cell.get(at).map_or("", String::as_str);
                let pad = w - line.width();
                let _ = write!(out, " {line}{} |", " ".repeat(pad));
            }
            out.push('\n');
        }
    };
    out.push_str(&rule);
    put_row(&mut out, headers.iter().map(|h| vec![h.to_string()]).collect());
    out.push_str(&rule);
    for row in rows {
        put_row(&mut out, row.iter().map(|c| lines(c)).collect());
    }
    out.push_str(&rule);
    out
}

fn table(report: &ClusterReport, drift: Option<&[Drift]>, selection: &Selection) -> String {
    let mut parts = Vec::new();
    if !selection.cluster.is_empty() {
        let rows: Vec<Vec<String>> = selection
            .cluster
            .iter()
            .map(|f| vec![f.to_string(), cluster_text(report, f).unwrap_or_else(|| "-".into())])
            .collect();
        parts.push(draw(&["Field", "Value"], &rows));
    }
    let columns = selection.node_columns(Format::Table);
    if !columns.is_empty() && !report.nodes.is_empty() {
        let rows: Vec<Vec<String>> = report
            .nodes
            .iter()
            .map(|n| {
                columns
                    .iter()
                    .map(|c| node_text(n, c, "\n").unwrap_or_else(|| "-".into()))
                    .collect()
            })
            .collect();
        parts.push(draw(columns, &rows));
    }
    if let Some(drift) = drift.filter(|d| !d.is_empty() && !selection.drift.is_empty()) {
        let rows: Vec<Vec<String>> = drift
            .iter()
            .map(|d| selection.drift.iter().map(|c| drift_text(d, c)).collect())
            .collect();
        parts.push(draw(&selection.drift, &rows));
    }
    parts.join("\n")
}

fn value(report: &ClusterReport, drift: Option<&[Drift]>, selection: &Selection) -> String {
    let mut out = String::new();
    for field in &selection.cluster {
        out.push_str(&cluster_text(report, field).unwrap_or_default());
        out.push('\n');
    }
    let columns = selection.node_columns(Format::Value);
    if !columns.is_empty() {
        for node in &report.nodes {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| node_text(node, c, ",").unwrap_or_default())
                .collect();
            out.push_str(&cells.join(" "));
            out.push('\n');
        }
    }
    for d in drift.filter(|_| !selection.drift.is_empty()).unwrap_or_default() {
        let cells: Vec<String> = selection.drift.iter().map(|c| drift_text(d, c)).collect();
        out.push_str(&cells.join(" "));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use bde_engine::{DriftKind, GroupReport, NodeTimeline};

    use super::*;

    fn node(name: &str, ip: Option<&str>, status: &str) -> NodeReport {
        NodeReport {
            name: name.into(),
            group: "worker".into(),
            moid: Some("vm-42".into()),
            instance_uuid: Some("5003a1b2-0000-4000-8000-000000000042".into()),
            mac: Some("00:50:56:aa:bb:01".into()),
            port_id: Some("6f1c7e0e-port".into()),
            nics: Vec::new(),
            ip: ip.map(Into::into),
            status: status.into(),
            resets: 1,
            timeline: NodeTimeline {
                cloned: Some(1_700_000_000.0),
                powered_on: Some(1_700_000_012.5),
                port_created: Some(1_700_000_013.25),
                address_seen: None,
                resets: vec![1_700_000_100.0],
            },
        }
    }

    fn report() -> ClusterReport {
        ClusterReport {
            cluster: "hadoop1".into(),
            status: "RUNNING".into(),
            status_reason: None,
            resets: 1,
            portgroup: Some("dvportgroup-17".into()),
            groups: vec![
                GroupReport {
                    name: "master".into(),
                    nodes: 1,
                    desired: Some(1),
                    file_says: None,
                },
                GroupReport {
                    name: "worker".into(),
                    nodes: 2,
                    desired: Some(2),
                    file_says: Some(3),
                },
            ],
            nodes: vec![
                node("hadoop1-worker-0", Some("10.0.0.5"), "VM Ready"),
                node("hadoop1-worker-1", None, "Powered On"),
            ],
        }
    }

    fn drift() -> Vec<Drift> {
        vec![Drift {
            kind: DriftKind::VmWithoutPort,
            subject: "hadoop1-worker-1".into(),
            detail: "NIC 00:50:56:aa:bb:02 has no port".into(),
        }]
    }

    fn cols(names: &[&str]) -> Selection {
        Selection::new(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn a_plan_prints_as_a_table_json_or_value_lines() {
        use bde_engine::changes::{Change, ChangeKind};
        let plan = vec![Change {
            kind: ChangeKind::Scale,
            subject: "worker".into(),
            detail: "memory 1024 → 2048 MB".into(),
        }];
        let table = render_changes(&plan, Format::Table);
        assert!(table.starts_with("change  subject  detail\n"), "{table}");
        assert!(table.contains("scale   worker   memory 1024 → 2048 MB"), "{table}");
        let json: serde_json::Value = serde_json::from_str(&render_changes(&plan, Format::Json)).unwrap();
        assert_eq!(json[0]["kind"], "scale");
        assert_eq!(
            render_changes(&plan, Format::Value),
            "scale worker memory 1024 → 2048 MB\n"
        );
        assert_eq!(render_changes(&[], Format::Table), "nothing to change\n");
    }

    #[test]
    fn columns_is_every_field_name_once() {
        let mut all: Vec<&str> = Vec::new();
        for name in CLUSTER_FIELDS.iter().chain(NODE_COLUMNS).chain(DRIFT_COLUMNS) {
            if !all.contains(name) {
                all.push(name);
            }
        }
        assert_eq!(all, COLUMNS);
    }

    #[test]
    fn json_is_the_report_with_times_as_rfc3339() {
        let r = report();
        let text = render(&r, None, Format::Json, &Selection::new(&[]));
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["nodes"][0]["timeline"]["cloned"], "2023-11-14T22:13:20.000Z");
        let mut expected = serde_json::to_value(&r).unwrap();
        for node in [&mut doc, &mut expected]
            .into_iter()
            .flat_map(|d| d["nodes"].as_array_mut().unwrap())
        {
            node["timeline"] = serde_json::Value::Null;
        }
        assert_eq!(doc, expected, "the report's serialization but for its times");
        assert!(doc.get("drift").is_none(), "drift only for check");
        let checked: serde_json::Value =
            serde_json::from_str(&render(&r, Some(&drift()), Format::Json, &Selection::new(&[]))).unwrap();
        assert_eq!(checked["drift"][0]["kind"], "vm_without_port");
        assert_eq!(checked["status"], "RUNNING");
    }

    #[test]
    fn yaml_is_the_document_in_order_times_as_rfc3339() {
        let text = render(&report(), Some(&drift()), Format::Yaml, &Selection::new(&[]));
        let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(doc["cluster"], "hadoop1");
        assert_eq!(doc["status_reason"], serde_json::Value::Null);
        assert_eq!(doc["groups"][1]["file_says"], 3);
        assert_eq!(doc["nodes"].as_array().unwrap().len(), 2);
        assert_eq!(doc["nodes"][0]["instance_uuid"], "5003a1b2-0000-4000-8000-000000000042");
        let timeline = &doc["nodes"][0]["timeline"];
        assert_eq!(timeline["cloned"], "2023-11-14T22:13:20.000Z");
        assert_eq!(timeline["powered_on"], "2023-11-14T22:13:32.500Z");
        assert_eq!(timeline["port_created"], "2023-11-14T22:13:33.250Z");
        assert_eq!(timeline["address_seen"], serde_json::Value::Null);
        assert_eq!(timeline["resets"][0], "2023-11-14T22:15:00.000Z");
        assert_eq!(doc["drift"][0]["subject"], "hadoop1-worker-1");
        let at = |key: &str| text.find(&format!("\n{key}:")).unwrap_or(usize::MAX);
        assert!(text.starts_with("cluster:"), "{text}");
        assert!(at("status") < at("groups") && at("groups") < at("nodes") && at("nodes") < at("drift"));
    }

    #[test]
    fn a_table_shows_the_cluster_fields_then_the_nodes() {
        let text = render(&report(), None, Format::Table, &Selection::new(&[]));
        let expected = "\
+---------------+--------------------------------------------+
| Field         | Value                                      |
+---------------+--------------------------------------------+
| cluster       | hadoop1                                    |
| status        | RUNNING                                    |
| status_reason | -                                          |
| resets        | 1                                          |
| portgroup     | dvportgroup-17                             |
| groups        | group master: 1                            |
|               | group worker: 2 (resized; the file says 3) |
+---------------+--------------------------------------------+

+------------------+--------+-------+-------------------+----------+---------------+------------+
| name             | group  | moid  | mac               | ip       | port_id       | status     |
+------------------+--------+-------+-------------------+----------+---------------+------------+
| hadoop1-worker-0 | worker | vm-42 | 00:50:56:aa:bb:01 | 10.0.0.5 | 6f1c7e0e-port | VM Ready   |
| hadoop1-worker-1 | worker | vm-42 | 00:50:56:aa:bb:01 | -        | 6f1c7e0e-port | Powered On |
+------------------+--------+-------+-------------------+----------+---------------+------------+
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn a_check_table_ends_with_the_drift() {
        let text = render(&report(), Some(&drift()), Format::Table, &Selection::new(&[]));
        let expected = "\
| hadoop1-worker-1 | worker | vm-42 | 00:50:56:aa:bb:01 | -        | 6f1c7e0e-port | Powered On |
+------------------+--------+-------+-------------------+----------+---------------+------------+

+-----------------+------------------+-----------------------------------+
| kind            | subject          | detail                            |
+-----------------+------------------+-----------------------------------+
| vm_without_port | hadoop1-worker-1 | NIC 00:50:56:aa:bb:02 has no port |
+-----------------+------------------+-----------------------------------+
";
        assert!(text.ends_with(expected), "\n{text}");
        let clean = render(&report(), Some(&[]), Format::Table, &Selection::new(&[]));
        assert!(!clean.contains("kind"), "no drift table without drift");
        let only = render(&report(), Some(&drift()), Format::Table, &cols(&["kind", "detail"]));
        assert!(
            only.starts_with("+-----------------+-----------------------------------+\n| kind "),
            "{only}"
        );
    }

    #[test]
    fn value_prints_bare_values() {
        let r = report();
        assert_eq!(render(&r, None, Format::Value, &cols(&["status"])), "RUNNING\n");
        assert_eq!(
            render(
                &r,
                None,
                Format::Value,
                &cols(&["cluster", "portgroup", "status_reason"])
            ),
            "hadoop1\ndvportgroup-17\n\n",
            "an absent value is an empty line"
        );
        assert_eq!(
            render(&r, None, Format::Value, &cols(&["name", "ip"])),
            "hadoop1-worker-0 10.0.0.5\nhadoop1-worker-1 \n"
        );
        assert_eq!(
            render(&r, Some(&drift()), Format::Value, &cols(&["kind", "subject"])),
            "vm_without_port hadoop1-worker-1\n"
        );
        let all = render(&r, None, Format::Value, &Selection::new(&[]));
        assert!(
            all.starts_with("hadoop1\nRUNNING\n\n1\ndvportgroup-17\ngroup master: 1\n"),
            "{all}"
        );
        assert!(all.ends_with("hadoop1-worker-1 worker vm-42 00:50:56:aa:bb:01  6f1c7e0e-port Powered On\n"));
    }

    #[test]
    fn columns_choose_the_cluster_fields_and_the_node_columns() {
        // status alone is the cluster's; with a node column it is the nodes'.
        assert_eq!(
            cols(&["status"]),
            Selection {
                explicit: true,
                cluster: vec!["status"],
                nodes: vec![],
                drift: vec![]
            }
        );
        let s = cols(&["name", "status", "cluster", "name", "kind"]);
        assert_eq!(
            (s.cluster, s.nodes, s.drift),
            (vec!["cluster"], vec!["name", "status"], vec!["kind"])
        );

        let r = report();
        let table = render(&r, None, Format::Table, &cols(&["status", "portgroup"]));
        assert!(table.contains("| status    | RUNNING        |"), "{table}");
        assert!(
            !table.contains("cluster") && !table.contains("hadoop1-worker-0"),
            "{table}"
        );
        let table = render(&r, None, Format::Table, &cols(&["ip", "name"]));
        assert!(
            table.starts_with("+----------+------------------+\n| ip       | name             |"),
            "{table}"
        );
        assert!(!table.contains("Field"), "{table}");
        let table = render(&r, None, Format::Table, &cols(&["name", "timeline"]));
        assert!(
            table.contains("| hadoop1-worker-0 | cloned=2023-11-14T22:13:20.000Z       |"),
            "{table}"
        );
        assert!(
            table.contains("|                  | reset=2023-11-14T22:15:00.000Z        |"),
            "{table}"
        );

        let json: serde_json::Value =
            serde_json::from_str(&render(&r, None, Format::Json, &cols(&["status", "resets"]))).unwrap();
        assert_eq!(json, serde_json::json!({"status": "RUNNING", "resets": 1}));
        let json: serde_json::Value =
            serde_json::from_str(&render(&r, None, Format::Json, &cols(&["name", "ip", "cluster"]))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"cluster": "hadoop1", "nodes": [
                {"name": "hadoop1-worker-0", "ip": "10.0.0.5"}, {"name": "hadoop1-worker-1", "ip": null}]})
        );
        let yaml: serde_json::Value =
            serde_saphyr::from_str(&render(&r, None, Format::Yaml, &cols(&["name", "status"]))).unwrap();
        assert_eq!(
            yaml,
            serde_json::json!({"nodes": [{"name": "hadoop1-worker-0", "status": "VM Ready"},
                                         {"name": "hadoop1-worker-1", "status": "Powered On"}]})
        );
    }

    #[test]
    fn control_characters_are_escaped_in_every_format_but_json() {
        assert_eq!(escape("plain text, ünïcode"), "plain text, ünïcode");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("a\u{1b}[31mred\u{7}"), "a\\x1b[31mred\\x07");
        assert_eq!(escape("line\nforged\r\t\u{7f}"), "line\\x0aforged\\x0d\\x09\\x7f");
        assert_eq!(escape("c1\u{9b}bidi\u{202e}"), "c1\\u{9b}bidi\\u{202e}");

        let mut r = report();
        r.cluster = "evil\u{1b}]0;pwned\u{7}".into();
        r.status_reason = Some("BDE said:\n\u{1b}[2Jdone".into());
        r.nodes[0].name = "n\u{1b}[31m".into();
        r.nodes[0].status = "VM\u{0}Ready".into();
        let d = vec![Drift {
            kind: DriftKind::NodeMissing,
            subject: "x\u{1b}y".into(),
            detail: "gone\r\n".into(),
        }];
        for format in [Format::Table, Format::Yaml, Format::Value] {
            let text = render(&r, Some(&d), format, &Selection::new(&[]));
            let name = format!("{format:?}");
            assert!(!text.chars().any(needs_escape_except_newline), "{name}: {text:?}");
            assert!(text.contains("evil\\x1b]0;pwned\\x07"), "{name}: {text}");
            assert!(text.contains("BDE said:\\x0a\\x1b[2Jdone"), "{name}: {text}");
            assert!(
                text.contains("n\\x1b[31m") && text.contains("VM\\x00Ready"),
                "{name}: {text}"
            );
            assert!(
                text.contains("x\\x1by") && text.contains("gone\\x0d\\x0a"),
                "{name}: {text}"
            );
        }
        // JSON escapes by itself, and keeps the text as it came.
        let json = render(&r, Some(&d), Format::Json, &Selection::new(&[]));
        assert!(json.contains("evil\\u001b]0;pwned\\u0007"), "{json}");
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["cluster"], "evil\u{1b}]0;pwned\u{7}");
    }

    fn needs_escape_except_newline(c: char) -> bool {
        c != '\n' && needs_escape(c)
    }

    #[test]
    fn rfc3339_is_utc_with_milliseconds() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400.0), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000.123_9), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(4_102_444_799.999), "2099-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(1_709_208_000.0), "2024-02-29T12:00:00.000Z");
        assert_eq!(rfc3339(-1.0), "1969-12-31T23:59:59.000Z");
    }
}
