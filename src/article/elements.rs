//! What the article extractor is shown of the elements it would take the rest of a paragraph
//! with. `trafilatura` (0.6) removes the elements it cleans (`time`, `iframe`, `button`, `svg`,
//! `script`, ...) together with the text after them up to the next element, where the Python
//! original keeps that text; and inside a paragraph it drops an element it has no rule for
//! (`nobr`, `wbr`, a custom element) the same way. So `<p>met on <time>Tuesday</time> and voted
//! to ...</p>` came out as "met on". Before it runs, each element of the parsed page is given a
//! fate here by its HTML content category, in one walk over the tree:
//! - what shows no text of the page's own is removed, the text after it left in place: embedded
//!   content (pictures, frames, media, drawings, formulas), form controls and their captions,
//!   ruby annotations, and what a browser does not render (scripts that run, styles, templates,
//!   `noscript`, dialogs);
//! - phrasing elements the extractor has no rule for (`time`, `nobr`, `slot`, ...), and elements
//!   HTML does not define (custom elements, Word's `o:p`), which browsers show inline, become
//!   `<span>`, which the extractor reads with its text;
//! - obsolete elements with a modern equivalent become it (`center` a `div`, `xmp` a `pre`);
//! - every other element is left as it is, so a page without such elements is extracted exactly
//!   as before.
//!
//! The page's metadata is read before this runs (`html::extract_tree`): a `<time>` also dates it.

use trafilatura::dom::{Document, NodeId};

/// What becomes of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Left to the extractor, which has a rule for it.
    Keep,
    /// Taken out with its content; the text after it stays where it was.
    Remove,
    /// Read as this element instead.
    Rename(&'static str),
}

/// What the walk changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    pub removed: usize,
    pub renamed: usize,
}

/// Gives every element of `doc` its fate. Time and memory grow with the number of elements: one
/// list of them, in document order, then a constant amount of work each (a removal detaches the
/// element, a renaming changes its name; nothing is copied). The list is the extractor's own walk,
/// which stops as deep as the extractor looks (it never reads below that either).
pub fn prepare(doc: &mut Document) -> Prepared {
    let mut done = Prepared::default();
    for id in doc.get_elements_by_tag_name(doc.root(), "*") {
        // An element inside one removed before is out of the tree already; what happens to it
        // changes nothing the extractor sees.
        match fate(doc, id) {
            Fate::Keep => {}
            Fate::Remove => {
                doc.remove(id, true);
                done.removed += 1;
            }
            Fate::Rename(to) => {
                doc.set_tag_name(id, to);
                done.renamed += 1;
            }
        }
    }
    done
}

/// The fate of element `id`, by its name (lower case, as the HTML parser gives it).
fn fate(doc: &Document, id: NodeId) -> Fate {
    match doc.tag_name(id) {
        // Embedded content, and the elements that only feed it: a picture, a frame, a player, a
        // drawing or a formula. Their children are sources or a fallback ("your browser does not
        // support video"); a formula's text is its symbols one after another.
        "audio" | "canvas" | "embed" | "iframe" | "fencedframe" | "math" | "object" | "picture" | "svg" | "video"
        | "applet" | "frame" | "frameset" | "param" | "source" | "track" => Fate::Remove,
        // Form controls and their captions: the text of a button, a label, a list of options or
        // a gauge is the page's interface ("Share", "Search", "Email"), not its text.
        "button" | "input" | "select" | "option" | "optgroup" | "datalist" | "textarea" | "label" | "output"
        | "meter" | "progress" | "keygen" => Fate::Remove,
        // Ruby annotations (a reading written over the base text, and the brackets shown where
        // ruby is not): the base text is the sentence's.
        "rt" | "rp" | "rtc" => Fate::Remove,
        // Void elements that show no text: a line-break opportunity, an image map's area, a
        // stylesheet link, obsolete font and sound settings.
        "wbr" | "area" | "link" | "basefont" | "bgsound" => Fate::Remove,
        // Not rendered: styles, templates, what is shown only without scripts or plug-ins, and
        // dialogs (closed, or a box over the page).
        "style" | "template" | "noscript" | "noembed" | "noframes" | "dialog" => Fate::Remove,
        // A script that runs is not text; a data block (JSON-LD) is what the extractor reads the
        // page's metadata and its fallback article body from, and stays.
        "script" if runs(doc, id) => Fate::Remove,
        // Phrasing elements whose text is read in line with the sentence around them.
        "time" | "slot" | "map" | "nobr" | "marquee" | "blink" | "rb" => Fate::Rename("span"),
        // Obsolete elements read as what replaced them.
        "center" | "multicol" => Fate::Rename("div"),
        "dir" => Fate::Rename("ul"),
        "listing" | "xmp" | "plaintext" => Fate::Rename("pre"),
        "" => Fate::Keep,
        tag if KNOWN.binary_search(&tag).is_ok() => Fate::Keep,
        // Not an element of HTML: a custom element or a stray tag, which browsers show inline.
        _ => Fate::Rename("span"),
    }
}

/// True when script `id` runs rather than holding data: no type, a JavaScript type, or a module.
fn runs(doc: &Document, id: NodeId) -> bool {
    let kind = doc.get_attribute(id, "type").unwrap_or_default().trim().to_ascii_lowercase();
    kind.is_empty()
        || kind == "module"
        || ["javascript", "ecmascript", "jscript", "livescript"].iter().any(|k| kind.contains(k))
}

/// The elements of HTML the extractor is left to handle as they are (the others are named in
/// `fate`), in byte order for a binary search: the document, sections, grouping, tables, forms'
/// containers and the text-level elements it keeps, strips or formats, with the obsolete ones it
/// knows (`acronym`, `big`, `font`, `strike`, `tt`). The children of an `svg` or a `math` are not
/// listed: whatever their fate, they leave with their parent.
const KNOWN: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "article",
    "aside",
    "b",
    "base",
    "bdi",
    "bdo",
    "big",
    "blockquote",
    "body",
    "br",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "fieldset",
    "figcaption",
    "figure",
    "font",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "i",
    "img",
    "ins",
    "kbd",
    "legend",
    "li",
    "main",
    "mark",
    "menu",
    "meta",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "ruby",
    "s",
    "samp",
    "script",
    "search",
    "section",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::html;

    const BEFORE: &str = "Night buses will run on twelve new routes from spring, the transport office said, \
        and evening service will be extended until midnight on every weekday of the year.";
    const AFTER: &str = "Drivers were hired over the winter, and the first buses have already been tested on \
        the routes through the harbour district and the old town during the night.";

    /// A saved page whose article holds `sentence` between two ordinary paragraphs.
    fn page(sentence: &str) -> String {
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Night buses</title></head><body>\
             <nav><a href=\"/\">Home</a></nav><article><h1>Night buses</h1><p>{BEFORE}</p><p>{sentence}</p>\
             <p>{AFTER}</p></article><footer>Copyright 2024</footer></body></html>"
        )
    }

    fn text_of(html: &str) -> String {
        html::extract(html).unwrap().text
    }

    /// `element` in the middle of a sentence: the sentence's words after it are all kept, and
    /// the element's own words are kept or not as `shown` says.
    fn assert_sentence_kept(element: &str, own_words: &str, shown: bool) {
        let sentence =
            format!("The city council met on a cold evening {element} and voted seven to two to expand the network.");
        let text = text_of(&page(&sentence));
        assert!(text.contains("The city council met on a cold evening"), "{element}: {text}");
        assert!(text.contains("and voted seven to two to expand the network."), "{element}: {text}");
        assert!(text.contains(AFTER), "{element}: {text}");
        if !own_words.is_empty() {
            assert_eq!(text.contains(own_words), shown, "{element}: {text}");
        }
    }

    #[test]
    fn embedded_content_goes_and_the_text_after_it_stays() {
        for (element, own) in [
            (r#"<picture><source srcset="map.webp" type="image/webp"><img src="map.png" alt="map"></picture>"#, ""),
            (r#"<iframe src="https://video.example/embed/1"></iframe>"#, ""),
            (r#"<video src="v.mp4">Your browser cannot play this video.</video>"#, "cannot play"),
            (r#"<audio src="a.mp3">Your browser cannot play this sound.</audio>"#, "cannot play"),
            (r#"<svg viewBox="0 0 9 9"><title>Share icon</title><path d="M0 0h9"/></svg>"#, "Share icon"),
            ("<math><mi>x</mi><mo>=</mo><mn>42</mn></math>", "42"),
            (r#"<object data="chart.swf">Install a plug-in to see the chart.</object>"#, "plug-in"),
            (r#"<embed src="chart.swf">"#, ""),
            ("<canvas>A chart of the routes.</canvas>", "chart of the routes"),
        ] {
            assert_sentence_kept(element, own, false);
        }
    }

    #[test]
    fn form_controls_and_their_captions_go_and_the_text_after_them_stays() {
        for (element, own) in [
            (r#"<button class="share">Share this</button>"#, "Share this"),
            (r#"<input type="text" value="Your email">"#, "Your email"),
            ("<label>Email address</label>", "Email address"),
            ("<select><option>Sort by date</option></select>", "Sort by date"),
            ("<meter value=\"0.6\">sixty percent</meter>", "sixty percent"),
            ("<progress value=\"1\">loading now</progress>", "loading now"),
            ("<output>forty two</output>", "forty two"),
        ] {
            assert_sentence_kept(element, own, false);
        }
    }

    #[test]
    fn what_a_browser_does_not_render_goes_and_the_text_after_it_stays() {
        for (element, own) in [
            ("<script>document.write('Advertisement');</script>", "Advertisement"),
            ("<style>.ad { display: none }</style>", "display"),
            ("<template><p>Hidden teaser</p></template>", "Hidden teaser"),
            ("<noscript>Please enable scripts</noscript>", "enable scripts"),
            ("<wbr>", ""),
        ] {
            assert_sentence_kept(element, own, false);
        }
    }

    #[test]
    fn phrasing_and_unknown_elements_are_read_with_their_text() {
        for (element, own) in [
            (r#"<time datetime="2024-03-05">on Tuesday</time>"#, "on Tuesday"),
            ("<nobr>in the town hall</nobr>", "in the town hall"),
            ("<slot>at six</slot>", "at six"),
            (r#"<glossary-term data-id="7">by the harbour</glossary-term>"#, "by the harbour"),
            ("<st1:place>in Riverton</st1:place>", "in Riverton"),
            ("<marquee>after the storm</marquee>", "after the storm"),
        ] {
            assert_sentence_kept(element, own, true);
        }
    }

    #[test]
    fn ruby_keeps_its_base_text_without_the_reading() {
        let text = text_of(&page(
            "市議会は<ruby>夜間<rp>(</rp><rt>やかん</rt><rp>)</rp></ruby>のバスを<ruby>拡大<rt>かくだい</rt></ruby>することを決めた。",
        ));
        assert!(text.contains("市議会は夜間のバスを拡大することを決めた。"), "{text}");
        assert!(!text.contains("やかん"), "{text}");
    }

    #[test]
    fn the_date_of_a_time_element_still_dates_the_page() {
        let html = page("Published <time datetime=\"2024-03-05T08:00:00Z\">5 March</time> by the desk.").replace(
            "<h1>Night buses</h1>",
            "<h1>Night buses</h1><p class=\"byline\"><time datetime=\"2024-03-05\">March 5, 2024</time></p>",
        );
        assert_eq!(html::extract(&html).unwrap().published.as_deref(), Some("2024-03-05"));
    }

    #[test]
    fn a_page_without_such_elements_is_left_as_it_was() {
        let html = page(
            "The council voted <em>seven to two</em>, with <a href=\"/vote\">the record</a> online, \
            <abbr title=\"et cetera\">etc.</abbr><br>and <code>night=1</code> in the data.",
        );
        let mut doc = Document::parse(&html);
        let before = doc.outer_html(doc.root());
        assert_eq!(prepare(&mut doc), Prepared::default());
        assert_eq!(doc.outer_html(doc.root()), before);
        assert_eq!(
            text_of(&html),
            format!("{BEFORE}\n\nThe council voted seven to two, with the record online, etc.\nand night=1 in the data.\n\n{AFTER}")
        );
    }

    #[test]
    fn known_elements_are_sorted_and_none_is_also_given_another_fate() {
        assert!(KNOWN.windows(2).all(|w| w[0] < w[1]), "KNOWN must be sorted for the binary search");
        for tag in KNOWN.iter().filter(|t| **t != "script") {
            let doc = Document::parse(&format!("<body><{tag}>x</{tag}></body>"));
            if let Some(&id) = doc.get_elements_by_tag_name(doc.root(), tag).first() {
                assert_eq!(fate(&doc, id), Fate::Keep, "{tag}");
            }
        }
    }

    #[test]
    fn scripts_that_run_go_and_data_blocks_stay() {
        let doc = Document::parse(
            r#"<body><script>a()</script><script type="text/javascript">b()</script><script type=module>c()</script>
<script type="application/ld+json">{"@type":"NewsArticle"}</script><script type="application/json">{}</script></body>"#,
        );
        let fates: Vec<Fate> =
            doc.get_elements_by_tag_name(doc.root(), "script").into_iter().map(|id| fate(&doc, id)).collect();
        assert_eq!(fates, [Fate::Remove, Fate::Remove, Fate::Remove, Fate::Keep, Fate::Keep]);
    }
}
