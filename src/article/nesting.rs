//! How deep an HTML page nests, and how many elements it has, counted the way an HTML5 parser
//! builds it: html5ever's tree builder runs over the page with a sink that keeps only each
//! node's depth in the tree (no DOM), so `<div/>` opens a div, `<p.x>` is an element of its own
//! that `<p>` does not close, and a `<p>` inside a `<p>` closes it, as in a browser. The page is
//! fed in chunks; the count stops as soon as the tree passes the nesting limit, an element limit
//! or the time budget, so the tree builder's own cost (it scans its stack of open elements for
//! many tags) never grows with a hostile depth. Past the limit, the rest of the page is only
//! tokenized, counting start tags against end tags, to say how deep it would go.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tokenizer::{BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer};
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{local_name, ns, Attribute, QualName};

/// Bytes of the page fed to the tree builder between two checks of the depth and the clock.
const CHUNK: usize = 8 * 1024;

/// `html` in pieces of about `size` bytes, each ending on a character boundary: how a page is fed
/// to html5ever a piece at a time, with a look at the limits between pieces (here and in `flat`).
pub(crate) fn chunks(html: &str, size: usize) -> impl Iterator<Item = &str> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= html.len() {
            return None;
        }
        let mut end = (at + size).min(html.len());
        while !html.is_char_boundary(end) {
            end += 1;
        }
        let chunk = &html[at..end];
        at = end;
        Some(chunk)
    })
}

/// What counting found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// The page's tree is this deep (the document is 0, `<html>` 1).
    Depth(usize),
    /// The tree passes `limit`: it is at least this deep.
    TooDeep(usize),
    /// Building the tree took longer than the budget.
    TooSlow,
    /// The page has more elements than the count was asked to go to: it stopped there.
    TooManyElements,
}

/// What counting found, with the number of elements the tree builder made on the way (the
/// elements of the whole page when the count went to its end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    pub nesting: Nesting,
    pub elements: usize,
}

/// Counts how deep `html` nests, stopping once the depth passes `limit` or `budget` is spent.
pub fn measure(html: &str, limit: usize, budget: Duration) -> Nesting {
    measure_tree(html, limit, usize::MAX, budget).nesting
}

/// Counts how deep `html` nests and how many elements it has, stopping once the depth passes
/// `limit`, the elements pass `max_elements` or `budget` is spent.
pub fn measure_tree(html: &str, limit: usize, max_elements: usize, budget: Duration) -> Measured {
    let start = Instant::now();
    let sink = DepthSink::default();
    let depth = sink.max.clone();
    let elements = sink.elements.clone();
    let measured = |nesting| Measured { nesting, elements: elements.get() };
    let mut parser = html5ever::parse_document(sink, Default::default());
    let mut at = 0;
    for chunk in chunks(html, CHUNK) {
        parser.process(StrTendril::from_slice(chunk));
        at += chunk.len();
        if depth.get() > limit {
            return measured(Nesting::TooDeep(depth.get() + tag_balance(&html[at..])));
        }
        if start.elapsed() > budget {
            return measured(Nesting::TooSlow);
        }
        if elements.get() > max_elements {
            return measured(Nesting::TooManyElements);
        }
    }
    parser.finish();
    if elements.get() > max_elements {
        return measured(Nesting::TooManyElements);
    }
    if depth.get() > limit {
        return measured(Nesting::TooDeep(depth.get()));
    }
    measured(Nesting::Depth(depth.get()))
}

/// A tree sink that keeps, for each node, its depth and (for elements) its interned name.
#[derive(Default)]
struct DepthSink {
    /// Depth of each node by handle; the document is handle 0.
    depth: RefCell<Vec<u32>>,
    /// Index into `names` of each node's name (`u32::MAX` for nodes that are not elements).
    name: RefCell<Vec<u32>>,
    names: RefCell<Vec<Rc<QualName>>>,
    interned: RefCell<HashMap<QualName, u32>>,
    /// Template element handle -> its contents' handle.
    templates: RefCell<HashMap<usize, usize>>,
    max: Rc<Cell<usize>>,
    /// Elements made.
    elements: Rc<Cell<usize>>,
}

impl DepthSink {
    fn node(&self, name: u32) -> usize {
        let mut depth = self.depth.borrow_mut();
        if depth.is_empty() {
            // The document.
            depth.push(0);
            self.name.borrow_mut().push(u32::MAX);
        }
        depth.push(0);
        self.name.borrow_mut().push(name);
        depth.len() - 1
    }

    fn depth_of(&self, node: usize) -> u32 {
        self.depth.borrow().get(node).copied().unwrap_or(0)
    }

    fn place(&self, child: NodeOrText<usize>, depth: u32) {
        if let NodeOrText::AppendNode(node) = child {
            if let Some(d) = self.depth.borrow_mut().get_mut(node) {
                *d = depth;
            }
            self.max.set(self.max.get().max(depth as usize));
        }
    }
}

/// An element's name, as the tree builder asks for it.
#[derive(Debug)]
struct Name(Rc<QualName>);

impl html5ever::interface::ElemName for Name {
    fn ns(&self) -> &html5ever::Namespace {
        &self.0.ns
    }

    fn local_name(&self) -> &html5ever::LocalName {
        &self.0.local
    }
}

impl TreeSink for DepthSink {
    type Handle = usize;
    type Output = ();
    type ElemName<'a> = Name;

    fn finish(self) {}

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> usize {
        0
    }

    fn elem_name(&self, target: &usize) -> Name {
        let index = self.name.borrow().get(*target).copied().unwrap_or(u32::MAX);
        let names = self.names.borrow();
        Name(
            names
                .get(index as usize)
                .cloned()
                .unwrap_or_else(|| Rc::new(QualName::new(None, ns!(html), local_name!("")))),
        )
    }

    fn create_element(&self, name: QualName, _attrs: Vec<Attribute>, _flags: ElementFlags) -> usize {
        self.elements.set(self.elements.get() + 1);
        let is_template = name.local == local_name!("template");
        let index = *self.interned.borrow_mut().entry(name.clone()).or_insert_with(|| {
            let mut names = self.names.borrow_mut();
            names.push(Rc::new(name));
            (names.len() - 1) as u32
        });
        let node = self.node(index);
        if is_template {
            let contents = self.node(u32::MAX);
            self.templates.borrow_mut().insert(node, contents);
        }
        node
    }

    fn create_comment(&self, _text: StrTendril) -> usize {
        self.node(u32::MAX)
    }

    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> usize {
        self.node(u32::MAX)
    }

    fn append(&self, parent: &usize, child: NodeOrText<usize>) {
        self.place(child, self.depth_of(*parent) + 1);
    }

    fn append_based_on_parent_node(&self, element: &usize, prev_element: &usize, child: NodeOrText<usize>) {
        // Beside `element` when it has a parent, else inside `prev_element`: the deeper of the two.
        self.place(child, self.depth_of(*element).max(self.depth_of(*prev_element) + 1));
    }

    fn append_doctype_to_document(&self, _name: StrTendril, _public_id: StrTendril, _system_id: StrTendril) {}

    fn get_template_contents(&self, target: &usize) -> usize {
        let contents = self.templates.borrow().get(target).copied().unwrap_or(*target);
        let depth = self.depth_of(*target) + 1;
        if let Some(d) = self.depth.borrow_mut().get_mut(contents) {
            *d = depth;
        }
        contents
    }

    fn same_node(&self, x: &usize, y: &usize) -> bool {
        x == y
    }

    fn set_quirks_mode(&self, _mode: QuirksMode) {}

    fn append_before_sibling(&self, sibling: &usize, new_node: NodeOrText<usize>) {
        self.place(new_node, self.depth_of(*sibling));
    }

    fn add_attrs_if_missing(&self, _target: &usize, _attrs: Vec<Attribute>) {}

    fn remove_from_parent(&self, _target: &usize) {}

    fn reparent_children(&self, _node: &usize, _new_parent: &usize) {}
}

/// The most start tags open at once in `html`, counted by the tokenizer alone (void elements
/// and the contents of comments do not count); used only past the limit, to say how deep.
fn tag_balance(html: &str) -> usize {
    #[derive(Default)]
    struct Balance {
        open: Cell<usize>,
        max: Cell<usize>,
    }
    impl TokenSink for Balance {
        type Handle = ();
        fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
            if let Token::TagToken(tag) = token {
                let void = matches!(
                    &*tag.name,
                    "area"
                        | "base"
                        | "br"
                        | "col"
                        | "embed"
                        | "hr"
                        | "img"
                        | "input"
                        | "link"
                        | "meta"
                        | "source"
                        | "track"
                        | "wbr"
                );
                match tag.kind {
                    TagKind::StartTag if !void => {
                        self.open.set(self.open.get() + 1);
                        self.max.set(self.max.get().max(self.open.get()));
                    }
                    TagKind::EndTag if !void => self.open.set(self.open.get().saturating_sub(1)),
                    _ => {}
                }
            }
            TokenSinkResult::Continue
        }
    }
    let tokenizer = Tokenizer::new(Balance::default(), Default::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.max.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_LIMIT: usize = usize::MAX;

    fn depth(html: &str) -> Nesting {
        measure(html, NO_LIMIT, Duration::from_secs(60))
    }

    #[test]
    fn depth_is_the_tree_a_browser_builds() {
        // html, body, div, p and the br inside it (the second p closes the first).
        assert_eq!(depth("<html><body><div><p>a<br><img src=x><p>b</div></body></html>"), Nesting::Depth(5));
        // `<div/>` opens a div; the comment's tags are text.
        assert_eq!(depth("<!-- <div><div> --><div/><div/><div/>"), Nesting::Depth(5));
        // `<p.x>` is an element that `<p.x>` does not close.
        assert_eq!(depth(&"<p.x>".repeat(50)), Nesting::Depth(52));
        // Tags inside a script are text.
        assert_eq!(depth("<script>if (a<b) { x = '<div><div>' }</script><div></div>"), Nesting::Depth(3));
    }

    #[test]
    fn counting_stops_past_the_limit_and_says_how_deep() {
        match measure(&"<div/>".repeat(200_000), 1_000, Duration::from_secs(60)) {
            Nesting::TooDeep(d) => assert!(d >= 200_000, "{d}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(measure(&"<div>".repeat(998), 1_000, Duration::from_secs(60)), Nesting::Depth(1000));
    }

    #[test]
    fn elements_are_counted_and_counting_stops_past_their_limit() {
        let page = "<p>a<br><b>b</b>".repeat(1_000);
        // html, head, body, then three elements a paragraph.
        let all = measure_tree(&page, NO_LIMIT, NO_LIMIT, Duration::from_secs(60));
        assert_eq!(all, Measured { nesting: Nesting::Depth(4), elements: 3_003 });
        let some = measure_tree(&page, NO_LIMIT, 1_000, Duration::from_secs(60));
        assert_eq!(some.nesting, Nesting::TooManyElements);
        assert!(some.elements > 1_000 && some.elements < 3_003, "{}", some.elements);
    }
}
