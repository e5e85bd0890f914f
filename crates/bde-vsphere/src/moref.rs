use std::fmt;

use crate::xml::Element;

/// A managed object reference: `VirtualMachine` / `vm-42`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MoRef {
    /// The managed object type, e.g. `VirtualMachine`.
    pub kind: String,
    /// The server's id for it, e.g. `vm-42`.
    pub value: String,
}

impl MoRef {
    /// A reference from its type and id.
    pub fn new(kind: &str, value: &str) -> Self {
        Self {
            kind: kind.to_string(),
            value: value.to_string(),
        }
    }

    /// The element form used in requests: `<name type="Kind">value</name>`.
    pub fn to_element(&self, name: &str) -> Element {
        Element::text(name, &self.value).attr("type", &self.kind)
    }

    /// Reads `<x type="Kind">value</x>`.
    pub fn from_element(el: &Element) -> Option<Self> {
        let kind = el.attr_value("type")?;
        (!el.text.is_empty()).then(|| Self::new(kind, &el.text))
    }
}

impl fmt::Display for MoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}
