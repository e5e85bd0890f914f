//! A small element tree for SOAP messages: written with escaping, read with
//! namespace-aware attribute resolution (vcsim writes `xsi:type` under other
//! prefixes, so polymorphic types are matched by namespace, not by prefix).

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::writer::Writer;

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// One XML element: local name, `xsi:type` if any, attributes, text, children.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    /// Local name (no prefix).
    pub name: String,
    /// The `xsi:type` of a polymorphic value, without prefix.
    pub xsi_type: Option<String>,
    /// Other attributes as (local name, value).
    pub attrs: Vec<(String, String)>,
    /// Concatenated text content.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// A new element with a name.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Self::default()
        }
    }

    /// A leaf element holding text.
    pub fn text(name: &str, text: &str) -> Self {
        Self {
            name: name.to_string(),
            text: text.to_string(),
            ..Self::default()
        }
    }

    /// Adds an attribute (builder style).
    pub fn attr(mut self, name: &str, value: &str) -> Self {
        self.attrs.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the `xsi:type` (builder style).
    pub fn typed(mut self, xsi_type: &str) -> Self {
        self.xsi_type = Some(xsi_type.to_string());
        self
    }

    /// Adds a child (builder style).
    pub fn child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    /// The first child with this local name.
    pub fn get(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follows a path of child names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |el, name| el.get(name))
    }

    /// The text of a child, if present.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.get(name).map(|c| c.text.as_str())
    }

    /// The value of an attribute.
    pub fn attr_value(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let mut start = BytesStart::new(self.name.as_str());
        if let Some(t) = &self.xsi_type {
            start.push_attribute(("xsi:type", t.as_str()));
        }
        for (k, v) in &self.attrs {
            start.push_attribute((k.as_str(), v.as_str()));
        }
        w.write_event(Event::Start(start))?;
        if !self.text.is_empty() {
            w.write_event(Event::Text(BytesText::new(&self.text)))?;
        }
        for c in &self.children {
            c.write(w)?;
        }
        w.write_event(Event::End(BytesEnd::new(self.name.as_str())))
    }
}

/// Wraps one vim25 method call in a SOAP envelope.
pub fn envelope(call: &Element) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    let write = |w: &mut Writer<Vec<u8>>| -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let mut env = BytesStart::new("soapenv:Envelope");
        env.push_attribute(("xmlns:soapenv", "http://schemas.xmlsoap.org/soap/envelope/"));
        env.push_attribute(("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"));
        env.push_attribute(("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"));
        env.push_attribute(("xmlns", "urn:vim25"));
        w.write_event(Event::Start(env))?;
        w.write_event(Event::Start(BytesStart::new("soapenv:Body")))?;
        call.write(w)?;
        w.write_event(Event::End(BytesEnd::new("soapenv:Body")))?;
        w.write_event(Event::End(BytesEnd::new("soapenv:Envelope")))
    };
    write(&mut w).expect("writing XML into memory cannot fail");
    w.into_inner()
}

/// Why a reply could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct ParseError(pub String);

/// Deepest nesting accepted: vim25 replies nest a few dozen levels; more is an attack or a fault.
pub const MAX_DEPTH: usize = 128;

/// Parses a whole document into its root element.
pub fn parse(xml: &[u8]) -> Result<Element, ParseError> {
    let mut reader = NsReader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = vec![Element::new("#document")];
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| ParseError(e.to_string()))?;
        match event {
            (_, Event::Start(start)) => {
                if stack.len() > MAX_DEPTH {
                    return Err(ParseError(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                stack.push(open(&reader, &start)?)
            }
            (_, Event::Empty(start)) => {
                let el = open(&reader, &start)?;
                stack.last_mut().expect("document root").children.push(el);
            }
            (_, Event::End(_)) => {
                let done = stack.pop().expect("balanced by the reader");
                let parent = stack
                    .last_mut()
                    .ok_or_else(|| ParseError("unbalanced end tag".into()))?;
                parent.children.push(done);
            }
            (_, Event::Text(text)) => {
                let s = text.xml10_content();
                stack.last_mut().expect("document root").text.push_str(&s);
            }
            (_, Event::GeneralRef(r)) => {
                let ch = match r.resolve_char_ref().map_err(|e| ParseError(e.to_string()))? {
                    Some(c) => c,
                    None => match r.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(ParseError(format!("unknown entity &{other};"))),
                    },
                };
                stack.last_mut().expect("document root").text.push(ch);
            }
            (_, Event::CData(data)) => {
                stack.last_mut().expect("document root").text.push_str(data.as_ref());
            }
            (_, Event::Eof) => break,
            _ => {}
        }
        buf.clear();
    }
    let mut doc = stack.pop().expect("document root");
    if !stack.is_empty() || doc.children.len() != 1 {
        return Err(ParseError("the document is not one balanced element".into()));
    }
    Ok(doc.children.remove(0))
}

fn open(reader: &NsReader<&[u8]>, start: &BytesStart) -> Result<Element, ParseError> {
    let mut el = Element::new(start.local_name().as_ref());
    for attr in start.attributes() {
        let attr = attr.map_err(|e| ParseError(e.to_string()))?;
        let (ns, local) = reader.resolver().resolve_attribute(attr.key);
        let local = local.as_ref().to_string();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| ParseError(e.to_string()))?
            .into_owned();
        match ns {
            ResolveResult::Bound(ns) if ns.as_ref() == XSI && local == "type" => {
                let bare = value.rsplit(':').next().unwrap_or(&value).to_string();
                el.xsi_type = Some(bare);
            }
            _ if attr.key.as_ref().starts_with("xmlns") => {}
            _ => el.attrs.push((local, value)),
        }
    }
    Ok(el)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        let deep = format!("{}{}", "<a>".repeat(MAX_DEPTH + 5), "</a>".repeat(MAX_DEPTH + 5));
        assert!(parse(deep.as_bytes()).unwrap_err().0.contains("nested deeper"));
        let fine = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        assert!(parse(fine.as_bytes()).is_ok());
    }

    #[test]
    fn xsi_type_is_found_under_any_prefix() {
        let xml = br#"<a xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"><val XMLSchema-instance:type="xsd:string">x</val></a>"#;
        let root = parse(xml).unwrap();
        assert_eq!(root.get("val").unwrap().xsi_type.as_deref(), Some("string"));
    }

    #[test]
    fn text_is_escaped_on_write_and_unescaped_on_read() {
        let call = Element::new("Login").child(Element::text("password", "a<b&c\"'"));
        let xml = envelope(&call);
        let text = String::from_utf8(xml.clone()).unwrap();
        assert!(!text.contains("a<b&c"), "{text}");
        let root = parse(&xml).unwrap();
        let body = root.path(&["Body", "Login"]).unwrap();
        assert_eq!(body.child_text("password"), Some("a<b&c\"'"));
    }

    #[test]
    fn an_unbalanced_document_is_an_error() {
        assert!(parse(b"<a><b></a>").is_err());
    }
}
