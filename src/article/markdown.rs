//! Markdown to plain text: the markup goes, the structure stays. Headings, paragraphs, list
//! items and code blocks become their own lines or paragraphs; links keep their text; images
//! are dropped. Used for Markdown articles and for the Markdown the HTML extractor produces.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// A Markdown document as plain text, with the text of its first top-level `# ` heading.
pub struct Plain {
    pub text: String,
    pub first_h1: Option<String>,
}

/// Renders Markdown as plain text: blocks separated by blank lines, list items and table rows
/// on lines of their own, soft line breaks as spaces.
pub fn to_plain(markdown: &str) -> Plain {
    let mut out = String::new();
    let mut first_h1: Option<String> = None;
    let mut heading: Option<(bool, String)> = None;
    let mut image_depth = 0usize;
    let mut in_code = false;
    let block_break = |out: &mut String| {
        let trimmed = out.trim_end_matches([' ', '\n']).len();
        out.truncate(trimmed);
        if !out.is_empty() {
            out.push_str("\n\n");
        }
    };
    let line_break = |out: &mut String| {
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    };
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Image { .. }) => image_depth += 1,
            Event::End(TagEnd::Image) => image_depth = image_depth.saturating_sub(1),
            _ if image_depth > 0 => {}
            Event::Start(Tag::Heading { level, .. }) => {
                block_break(&mut out);
                heading = Some((level == pulldown_cmark::HeadingLevel::H1, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((true, text)) = heading.take() {
                    if first_h1.is_none() && !text.trim().is_empty() {
                        first_h1 = Some(text.split_whitespace().collect::<Vec<_>>().join(" "));
                    }
                }
                block_break(&mut out);
            }
            Event::Start(Tag::CodeBlock(_)) => {
                block_break(&mut out);
                in_code = true;
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                block_break(&mut out);
            }
            Event::Start(Tag::Paragraph | Tag::BlockQuote(_) | Tag::List(_) | Tag::Table(_))
            | Event::End(TagEnd::Paragraph | TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Table) => {
                // A paragraph inside a list item stays on the item's line.
                if out.ends_with('\n') || !matches!(event, Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph))
                {
                    block_break(&mut out);
                } else {
                    line_break(&mut out);
                }
            }
            Event::Start(Tag::Item | Tag::TableRow | Tag::TableHead)
            | Event::End(TagEnd::TableRow | TagEnd::TableHead) => line_break(&mut out),
            Event::End(TagEnd::TableCell) => out.push(' '),
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&t);
                }
                out.push_str(&t);
            }
            Event::SoftBreak => out.push(if in_code { '\n' } else { ' ' }),
            Event::HardBreak => out.push('\n'),
            Event::Rule => block_break(&mut out),
            _ => {}
        }
    }
    out.truncate(out.trim_end().len());
    Plain { text: out, first_h1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_goes_structure_stays() {
        let md = "# The Title\n\nSome *emphasis* and a [link](http://x.y) and ![pic](a.png).\n\n\
                  ## Part two\n\n- one\n- two\n\n```\nlet x = 1;\nlet y = 2;\n```\n\nEscaped \\* star.";
        let p = to_plain(md);
        assert_eq!(p.first_h1.as_deref(), Some("The Title"));
        assert_eq!(
            p.text,
            "The Title\n\nSome emphasis and a link and .\n\nPart two\n\none\ntwo\n\nlet x = 1;\nlet y = 2;\n\nEscaped * star."
        );
    }
}
