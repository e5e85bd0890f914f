//! The state as Heat stores it: resource data is a `TEXT` column, 64 KiB on
//! MySQL/MariaDB, and one row holds the whole state.
//!
//! What vCenter and Neutron say at every read (instanceUuids, port ids) is not
//! stored at all (`#[serde(skip)]` in [`crate::state`]). The rest stays JSON,
//! readable, but for the nodes: they are packed as columns (one list per field,
//! a node per position), their times as whole tenths of a second after an
//! epoch (its timeline's later moments: after its first sighting), compressed
//! with zlib and written in base64. A 1,000-VM cluster takes
//! about 20 KiB (see the tests). A state written before packing (`nodes` as a
//! map) still loads.

use std::io::{Read, Write};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::state::State;

/// The node fields that are unix times (alone, or a list of them).
const TIME_KEYS: [&str; 7] = [
    "seen_at",
    "powered_on_at",
    "port_created_at",
    "waiting_since",
    "address_at",
    "last_addressed",
    "resets",
];

/// The time a node was first seen; the rest of its timeline is kept relative to it.
const SEEN: &str = "seen_at";

/// The timeline's other moments, a few seconds after the first sighting.
const AFTER_SEEN: [&str; 3] = ["powered_on_at", "port_created_at", "address_at"];

/// Times are kept to a tenth of a second: finer than any wait the engine decides on.
const TICKS_PER_SECOND: f64 = 10.0;

/// The key of the packed nodes in the stored JSON.
const PACKED: &str = "nodes_packed";

/// The state as stored: JSON, its nodes packed.
pub fn encode(state: &State) -> String {
    let mut doc = serde_json::to_value(state).expect("the state serializes");
    let nodes = doc
        .as_object_mut()
        .and_then(|o| o.remove("nodes"))
        .and_then(|n| match n {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default();
    if !nodes.is_empty() {
        doc[PACKED] = pack(nodes);
    }
    serde_json::to_string(&doc).expect("JSON serializes")
}

/// The state from its stored form (packed, or a plain state from before packing).
pub fn decode(text: &str) -> Result<State, String> {
    let mut doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if let Some(packed) = doc.as_object_mut().and_then(|o| o.remove(PACKED)) {
        doc["nodes"] = Value::Object(unpack(&packed)?);
    }
    serde_json::from_value(doc).map_err(|e| e.to_string())
}

/// The stored state with its nodes unpacked: for people and tests reading resource data.
pub fn readable(text: &str) -> Result<String, String> {
    let mut doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if let Some(packed) = doc.as_object_mut().and_then(|o| o.remove(PACKED)) {
        doc["nodes"] = Value::Object(unpack(&packed)?);
    }
    Ok(serde_json::to_string_pretty(&doc).expect("JSON serializes"))
}

fn pack(nodes: Map<String, Value>) -> Value {
    let epoch = nodes.values().flat_map(times).fold(f64::INFINITY, f64::min).floor();
    let epoch = if epoch.is_finite() { epoch } else { 0.0 };
    let mut columns: Map<String, Value> = Map::new();
    let count = nodes.len();
    let ticks = |t: f64| ((t - epoch) * TICKS_PER_SECOND).round() as i64;
    for (i, node) in nodes.values().enumerate() {
        // A node's other times are kept after its first sighting: small numbers.
        let seen = node.get(SEEN).and_then(Value::as_f64).map(ticks).unwrap_or(0);
        for (key, value) in node.as_object().into_iter().flatten() {
            let column = columns
                .entry(key.clone())
                .or_insert_with(|| Value::Array(vec![Value::Null; count]));
            column[i] = match key.as_str() {
                SEEN => json!(seen),
                k if AFTER_SEEN.contains(&k) => map_numbers(value, &|t| json!(ticks(t) - seen)),
                k if TIME_KEYS.contains(&k) => map_numbers(value, &|t| json!(ticks(t))),
                _ => value.clone(),
            };
        }
    }
    let names: Vec<String> = nodes.into_iter().map(|(name, _)| name).collect();
    let plain = serde_json::to_vec(&json!({"names": names, "columns": columns})).expect("JSON serializes");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&plain).expect("writing to memory");
    let zlib = base64::engine::general_purpose::STANDARD.encode(z.finish().expect("writing to memory"));
    json!({"epoch": epoch as i64, "zlib": zlib})
}

fn unpack(packed: &Value) -> Result<Map<String, Value>, String> {
    let bad = |why: &str| format!("{PACKED}: {why}");
    let epoch = packed["epoch"].as_f64().ok_or_else(|| bad("no epoch"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(packed["zlib"].as_str().ok_or_else(|| bad("no zlib"))?)
        .map_err(|e| bad(&e.to_string()))?;
    let mut plain = Vec::new();
    flate2::read::ZlibDecoder::new(&bytes[..])
        .read_to_end(&mut plain)
        .map_err(|e| bad(&e.to_string()))?;
    let doc: Value = serde_json::from_slice(&plain).map_err(|e| bad(&e.to_string()))?;
    let names = doc["names"].as_array().ok_or_else(|| bad("no names"))?;
    let columns = doc["columns"].as_object().ok_or_else(|| bad("no columns"))?;
    let mut nodes = Map::new();
    for (i, name) in names.iter().enumerate() {
        let seen = columns.get(SEEN).and_then(|c| c[i].as_f64()).unwrap_or(0.0);
        let mut node = Map::new();
        for (key, column) in columns {
            let value = &column[i];
            if value.is_null() {
                continue;
            }
            let value = match key.as_str() {
                SEEN => json!(epoch + seen / TICKS_PER_SECOND),
                k if AFTER_SEEN.contains(&k) => map_numbers(value, &|t| json!(epoch + (seen + t) / TICKS_PER_SECOND)),
                k if TIME_KEYS.contains(&k) => map_numbers(value, &|t| json!(epoch + t / TICKS_PER_SECOND)),
                _ => value.clone(),
            };
            node.insert(key.clone(), value);
        }
        nodes.insert(
            name.as_str().ok_or_else(|| bad("a name is not text"))?.to_string(),
            Value::Object(node),
        );
    }
    Ok(nodes)
}

/// The times of one node (its time fields' numbers).
fn times(node: &Value) -> Vec<f64> {
    TIME_KEYS
        .iter()
        .filter_map(|k| node.get(*k))
        .flat_map(|v| match v {
            Value::Array(items) => items.iter().filter_map(Value::as_f64).collect::<Vec<_>>(),
            other => other.as_f64().into_iter().collect(),
        })
        .collect()
}

/// A number, or each number of a list, through `f`.
fn map_numbers(value: &Value, f: &dyn Fn(f64) -> Value) -> Value {
    match value {
        Value::Number(n) => f(n.as_f64().unwrap_or_default()),
        Value::Array(items) => Value::Array(items.iter().map(|v| map_numbers(v, f)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
