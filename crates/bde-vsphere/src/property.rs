use std::collections::BTreeMap;

use crate::error::Error;
use crate::moref::MoRef;
use crate::session::Client;
use crate::xml::Element;

/// Objects per page asked of the property collector; vCenter may page
/// smaller, and the rest comes through `ContinueRetrievePropertiesEx`.
const PAGE: &str = "1000";

/// One object and the properties read of it (each the `val` element).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectContent {
    /// The object.
    pub obj: MoRef,
    /// Property path to its value.
    pub props: BTreeMap<String, Element>,
}

impl ObjectContent {
    /// A property's value element.
    pub fn get(&self, path: &str) -> Option<&Element> {
        self.props.get(path)
    }

    /// A simple property's text.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.props.get(path).map(|v| v.text.as_str())
    }
}

/// What to read: which type, which properties, below which container.
#[derive(Debug, Clone)]
pub struct PropertyRead<'a> {
    /// The managed object type, e.g. `VirtualMachine`.
    pub kind: &'a str,
    /// Property paths, e.g. `name`, `config.instanceUuid`.
    pub paths: &'a [&'a str],
    /// Where to look (recursively); `None` means the whole inventory.
    pub container: Option<&'a MoRef>,
}

impl Client {
    /// Reads properties of every object of a type below a container, in one
    /// batched property-collector read (plus continuation pages).
    pub async fn read(&self, what: &PropertyRead<'_>) -> Result<Vec<ObjectContent>, Error> {
        let root = self.content().root_folder.clone();
        let container = what.container.unwrap_or(&root);
        let view = self.container_view(container, what.kind).await?;
        let object_set = view_object_set(&view);
        let result = self.retrieve(what.kind, what.paths, vec![object_set]).await;
        // A view left behind costs vCenter memory until the session ends.
        if let Err(e) = self.call("DestroyView", &view, vec![]).await {
            tracing::debug!(error = %e, "DestroyView failed");
        }
        result
    }

    /// A container view of the objects of a type below `container` (recursive).
    pub(crate) async fn container_view(&self, container: &MoRef, kind: &str) -> Result<MoRef, Error> {
        self.call(
            "CreateContainerView",
            &self.content().view_manager,
            vec![
                container.to_element("container"),
                Element::text("type", kind),
                Element::text("recursive", "true"),
            ],
        )
        .await?
        .and_then(|rv| MoRef::from_element(&rv))
        .ok_or_else(|| Error::Parse {
            method: "CreateContainerView".into(),
            reason: "no view returned".into(),
        })
    }

    /// Reads properties of the given objects (all of one type) in one call.
    pub async fn read_objects(&self, objs: &[MoRef], paths: &[&str]) -> Result<Vec<ObjectContent>, Error> {
        let Some(first) = objs.first() else {
            return Ok(Vec::new());
        };
        let object_sets = objs
            .iter()
            .map(|o| Element::new("objectSet").child(o.to_element("obj")))
            .collect();
        self.retrieve(&first.kind, paths, object_sets).await
    }

    async fn retrieve(
        &self,
        kind: &str,
        paths: &[&str],
        object_sets: Vec<Element>,
    ) -> Result<Vec<ObjectContent>, Error> {
        let mut prop_set = Element::new("propSet").child(Element::text("type", kind));
        for p in paths {
            prop_set = prop_set.child(Element::text("pathSet", p));
        }
        let mut spec = Element::new("specSet").child(prop_set);
        spec.children.extend(object_sets);
        let pc = self.content().property_collector.clone();
        let reply = self
            .call(
                "RetrievePropertiesEx",
                &pc,
                vec![spec, Element::new("options").child(Element::text("maxObjects", PAGE))],
            )
            .await?;
        let (mut objects, mut token) = read_page(reply.as_ref());
        let mut pages = 1;
        while let Some(t) = token {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Error::Parse {
                    method: "ContinueRetrievePropertiesEx".into(),
                    reason: format!("more than {MAX_PAGES} pages: refusing to read on"),
                });
            }
            let reply = self
                .call("ContinueRetrievePropertiesEx", &pc, vec![Element::text("token", &t)])
                .await?;
            let (more, next) = read_page(reply.as_ref());
            objects.extend(more);
            token = next;
        }
        Ok(objects)
    }
}

/// The object set of everything a container view holds.
pub(crate) fn view_object_set(view: &MoRef) -> Element {
    Element::new("objectSet")
        .child(view.to_element("obj"))
        .child(Element::text("skip", "true"))
        .child(
            Element::new("selectSet")
                .typed("TraversalSpec")
                .child(Element::text("name", "view"))
                .child(Element::text("type", "ContainerView"))
                .child(Element::text("path", "view"))
                .child(Element::text("skip", "false")),
        )
}

/// Pages of one read at most (of `PAGE` objects each): far beyond any inventory, short of a
/// server that never stops answering with a token.
pub const MAX_PAGES: usize = 1000;

/// Reads one `RetrieveResult`: its objects and the continuation token, if any.
pub(crate) fn read_page(returnval: Option<&Element>) -> (Vec<ObjectContent>, Option<String>) {
    let Some(rv) = returnval else {
        return (Vec::new(), None);
    };
    let objects = rv
        .all("objects")
        .filter_map(|o| {
            let obj = MoRef::from_element(o.get("obj")?)?;
            let props = o
                .all("propSet")
                .filter_map(|p| Some((p.child_text("name")?.to_string(), p.get("val")?.clone())))
                .collect();
            Some(ObjectContent { obj, props })
        })
        .collect();
    let token = rv.child_text("token").filter(|t| !t.is_empty()).map(str::to_string);
    (objects, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml;

    // vcsim never pages (it ignores maxObjects), so paging is checked on canned replies
    // shaped like a real vCenter's.
    const FIRST_PAGE: &[u8] = br#"<RetrievePropertiesExResponse xmlns="urn:vim25" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><returnval><token>page-2</token><objects><obj type="VirtualMachine">vm-1</obj><propSet><name>name</name><val xsi:type="xsd:string">a</val></propSet></objects><objects><obj type="VirtualMachine">vm-2</obj><propSet><name>name</name><val xsi:type="xsd:string">b</val></propSet></objects></returnval></RetrievePropertiesExResponse>"#;
    const LAST_PAGE: &[u8] = br#"<ContinueRetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-3</obj><propSet><name>name</name><val>c</val></propSet></objects></returnval></ContinueRetrievePropertiesExResponse>"#;

    #[test]
    fn a_page_yields_its_objects_and_the_continuation_token() {
        let reply = xml::parse(FIRST_PAGE).unwrap();
        let (objects, token) = read_page(reply.get("returnval"));
        assert_eq!(token.as_deref(), Some("page-2"));
        let names: Vec<_> = objects.iter().map(|o| o.text("name").unwrap()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(objects[1].obj, MoRef::new("VirtualMachine", "vm-2"));
    }

    #[test]
    fn the_last_page_has_no_token() {
        let reply = xml::parse(LAST_PAGE).unwrap();
        let (objects, token) = read_page(reply.get("returnval"));
        assert_eq!(token, None);
        assert_eq!(objects.len(), 1);
    }

    #[test]
    fn an_empty_result_has_no_returnval() {
        let (objects, token) = read_page(None);
        assert!(objects.is_empty() && token.is_none());
    }
}
