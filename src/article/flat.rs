//! The whole text of an HTML page, read in one pass over its tokens without building a tree: for
//! pages too large or too crowded for the article extractor (`html`), whose cost grows with the
//! page's elements and text (measured, `trafilatura` takes about 10 µs an element and 0.4 µs a
//! byte of text, and its tree about a kilobyte an element: 4 GB for 44 MB of empty `div`s).
//! html5ever's tokenizer reads the page (entities decoded, scripts and styles read as raw text as
//! a browser does); what a reader does not see (scripts, styles, forms' lists, navigation, inline
//! drawings) is left out, block elements end paragraphs and `<br>` ends a line. Time and memory
//! grow with the page's bytes alone. Unlike the extractor it keeps the page's menus and footers;
//! it is the fallback that reads a page rather than refusing it.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer};

/// The title and text of a page.
pub struct Flat {
    /// The `<title>`, whitespace collapsed.
    pub title: Option<String>,
    /// Paragraphs separated by blank lines.
    pub text: String,
}

/// Elements whose content a reader does not see as the page's text.
const HIDDEN: &[&str] =
    &["script", "style", "noscript", "template", "svg", "math", "select", "textarea", "nav", "iframe", "object"];

/// Elements that start and end a paragraph (or a line, for list items and table rows).
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "aside",
    "header",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "blockquote",
    "pre",
    "hr",
    "figure",
    "figcaption",
    "form",
    "address",
    "details",
    "summary",
    "body",
    "caption",
];
const LINES: &[&str] = &["li", "tr", "br"];

/// Bytes of the page fed to the tokenizer between two looks at the clock.
const CHUNK: usize = 64 * 1024;

/// The title and text of `html`; at most `max_text` bytes of text are kept (a few more mark that
/// there was more, for the size check that follows). `None` when reading takes longer than
/// `budget`: the tokenizer's work per byte is small, but not for every byte (a named entity is
/// looked up character by character, about a microsecond each, so 40 MB of `&amp;` take seconds).
pub fn read(html: &str, max_text: usize, budget: Duration) -> Option<Flat> {
    let start = Instant::now();
    let sink = Sink { max_text, ..Sink::default() };
    let tokenizer = Tokenizer::new(sink, Default::default());
    let input = BufferQueue::default();
    for chunk in super::nesting::chunks(html, CHUNK) {
        input.push_back(StrTendril::from_slice(chunk));
        let _ = tokenizer.feed(&input);
        if start.elapsed() > budget {
            return None;
        }
    }
    tokenizer.end();
    let sink = tokenizer.sink;
    let title = sink.title.into_inner().split_whitespace().collect::<Vec<_>>().join(" ");
    let mut text = sink.text.into_inner();
    text.truncate(text.trim_end().len());
    Some(Flat { title: (!title.is_empty()).then_some(title), text })
}

#[derive(Default)]
struct Sink {
    text: RefCell<String>,
    title: RefCell<String>,
    in_title: Cell<bool>,
    /// How many hidden elements are open.
    hidden: Cell<usize>,
    max_text: usize,
}

impl Sink {
    /// Ends the current paragraph (`"\n\n"`) or line (`"\n"`).
    fn end(&self, with: &str) {
        let mut text = self.text.borrow_mut();
        let kept = text.trim_end_matches(' ').len();
        text.truncate(kept);
        // Nothing to end at the start, after a paragraph, or (for a line) after a line.
        let ended = text.is_empty() || text.ends_with("\n\n") || with == "\n" && text.ends_with('\n');
        if !ended {
            let ending = if text.ends_with('\n') { "\n" } else { with };
            text.push_str(ending);
        }
    }

    /// Appends text, runs of whitespace as one space.
    fn push(&self, chars: &str) {
        let mut text = self.text.borrow_mut();
        if text.len() > self.max_text {
            return;
        }
        if chars.starts_with(char::is_whitespace) && !text.is_empty() && !text.ends_with([' ', '\n']) {
            text.push(' ');
        }
        let mut words = chars.split_whitespace();
        if let Some(first) = words.next() {
            text.push_str(first);
            for word in words {
                text.push(' ');
                text.push_str(word);
            }
            if chars.ends_with(char::is_whitespace) {
                text.push(' ');
            }
        }
    }
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                let start = tag.kind == TagKind::StartTag;
                if name == "title" {
                    self.in_title.set(start && !tag.self_closing);
                } else if HIDDEN.contains(&name) && !tag.self_closing {
                    let open = self.hidden.get();
                    self.hidden.set(if start { open + 1 } else { open.saturating_sub(1) });
                } else if self.hidden.get() == 0 {
                    if LINES.contains(&name) {
                        self.end("\n");
                    } else if BLOCKS.contains(&name) {
                        self.end("\n\n");
                    } else if matches!(name, "td" | "th") {
                        self.push(" ");
                    }
                }
                // The tokenizer alone does not know which elements hold raw text; a tree builder
                // would tell it, as this does.
                if start && !tag.self_closing {
                    match name {
                        "title" | "textarea" => return TokenSinkResult::RawData(RawKind::Rcdata),
                        "script" => return TokenSinkResult::RawData(RawKind::ScriptData),
                        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
                            return TokenSinkResult::RawData(RawKind::Rawtext)
                        }
                        "plaintext" => return TokenSinkResult::Plaintext,
                        _ => {}
                    }
                }
            }
            Token::CharacterTokens(chars) if self.in_title.get() => self.title.borrow_mut().push_str(&chars),
            Token::CharacterTokens(chars) if self.hidden.get() == 0 => self.push(&chars),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_in_paragraphs_without_what_a_reader_does_not_see() {
        let page = "<!doctype html><html><head><title> Night\n buses </title><style>p { color: red }</style>\
                    <script>if (a<b) document.write('<p>injected</p>')</script></head><body>\
                    <nav><a href=/>Home</a></nav><h1>Night buses</h1><p>The council   voted &amp; agreed.\n\
                    It starts<br>in March.<p>Twelve <b>new</b> routes.<ul><li>One<li>Two</ul>\
                    <table><tr><td>a<td>b<tr><td>c</table><svg><text>drawn</text></svg>The end.</body></html>";
        let flat = read(page, 1 << 20, Duration::from_secs(60)).unwrap();
        assert_eq!(flat.title.as_deref(), Some("Night buses"));
        assert_eq!(
            flat.text,
            "Night buses\n\nThe council voted & agreed. It starts\nin March.\n\nTwelve new routes.\n\nOne\nTwo\n\n\
             a b\nc\n\nThe end."
        );
    }

    #[test]
    fn text_stops_growing_past_its_limit() {
        let page = "<p>word word word</p>".repeat(1000);
        let flat = read(&page, 100, Duration::from_secs(60)).unwrap();
        assert!(flat.text.len() > 100 && flat.text.len() < 200, "{}", flat.text.len());
    }

    #[test]
    fn reading_stops_when_the_budget_is_spent() {
        let page = "<p>word &amp; word</p>".repeat(100_000);
        assert!(read(&page, 1 << 30, Duration::ZERO).is_none());
        // Split into chunks anywhere, the page reads the same.
        let all = read(&page, 1 << 30, Duration::from_secs(60)).unwrap();
        assert_eq!(all.text.split("\n\n").count(), 100_000);
        assert!(all.text.split("\n\n").all(|p| p == "word & word"));
    }
}
