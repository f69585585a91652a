//! Summaries as text to copy or save: Markdown (`- ` items under the title as a heading),
//! plain text, and an HTML fragment with every piece of model output escaped. A key point with
//! a translation has it under it, marked as the model's translation.

use crate::summary::{Bullet, Summary};

/// The formats a summary can be copied or exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Markdown,
    Plain,
    Html,
}

/// The whole summary: title, the summary text, then the key points.
pub fn format_summary(summary: &Summary, format: Format) -> String {
    let bullets = &summary.bullets;
    let title = summary.title.as_deref().filter(|t| !t.trim().is_empty());
    let text = summary.summary.trim();
    match format {
        Format::Markdown => {
            let mut out = String::new();
            if let Some(t) = title {
                out.push_str(&format!("# {}\n\n", one_line(t)));
            }
            if !text.is_empty() {
                out.push_str(&format!("{text}\n\n"));
            }
            for b in bullets {
                out.push_str(&format!("- {}\n", one_line(&b.text)));
                if let Some(t) = &b.translation {
                    out.push_str(&format!("  - *Translation ({}):* {}\n", t.language, one_line(&t.text)));
                }
            }
            out.trim_end().to_string() + "\n"
        }
        Format::Plain => {
            let mut parts: Vec<String> = Vec::new();
            if let Some(t) = title {
                parts.push(one_line(t));
            }
            if !text.is_empty() {
                parts.push(text.to_string());
            }
            if !bullets.is_empty() {
                parts.push(bullets.iter().map(|b| format!("• {}", plain_point(b))).collect::<Vec<_>>().join("\n"));
            }
            parts.join("\n\n") + "\n"
        }
        Format::Html => {
            let mut out = String::new();
            if let Some(t) = title {
                out.push_str(&format!("<h1>{}</h1>", escape(t)));
            }
            if !text.is_empty() {
                out.push_str(&format!("<p>{}</p>", escape(text)));
            }
            if !bullets.is_empty() {
                out.push_str("<ul>");
                for b in bullets {
                    out.push_str(&format!("<li>{}</li>", html_point(b)));
                }
                out.push_str("</ul>");
            }
            out
        }
    }
}

/// One key point on its own.
pub fn format_bullet(bullet: &Bullet, format: Format) -> String {
    match format {
        Format::Markdown => match &bullet.translation {
            None => format!("- {}", one_line(&bullet.text)),
            Some(t) => {
                format!("- {}\n  - *Translation ({}):* {}", one_line(&bullet.text), t.language, one_line(&t.text))
            }
        },
        Format::Plain => plain_point(bullet),
        Format::Html => format!("<ul><li>{}</li></ul>", html_point(bullet)),
    }
}

/// A key point as plain text, its translation on the next line.
fn plain_point(b: &Bullet) -> String {
    match &b.translation {
        None => one_line(&b.text),
        Some(t) => format!("{}\n  Translation ({}): {}", one_line(&b.text), t.language, one_line(&t.text)),
    }
}

/// A key point as escaped HTML, its translation after a line break.
fn html_point(b: &Bullet) -> String {
    match &b.translation {
        None => escape(&b.text),
        Some(t) => format!(
            "{}<br><i>Translation ({}):</i> <span lang=\"{}\">{}</span>",
            escape(&b.text),
            escape(t.language.code()),
            escape(t.language.code()),
            escape(&t.text)
        ),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            summary: "The council agreed.".into(),
            bullets: vec![Bullet::new("Twelve new routes & more."), Bullet::new("Starts\nMarch 1.")],
            ..Summary::new("m", Some("Night <buses>".into()), "")
        }
    }

    #[test]
    fn translations_follow_their_point() {
        let mut s = summary();
        s.bullets[0].translation = Some(crate::summary::Translation {
            text: "Zwölf neue <Linien>.".into(),
            language: crate::language::Language::parse("de").unwrap(),
        });
        let md = format_summary(&s, Format::Markdown);
        assert!(
            md.contains("- Twelve new routes & more.\n  - *Translation (de):* Zwölf neue <Linien>.\n- Starts"),
            "{md}"
        );
        assert!(format_summary(&s, Format::Plain).contains("• Twelve new routes & more.\n  Translation (de): Zwölf"));
        assert!(format_summary(&s, Format::Html)
            .contains("<li>Twelve new routes &amp; more.<br><i>Translation (de):</i> <span lang=\"de\">Zwölf neue &lt;Linien&gt;.</span></li>"));
    }

    #[test]
    fn markdown_plain_and_html() {
        let s = summary();
        assert_eq!(
            format_summary(&s, Format::Markdown),
            "# Night <buses>\n\nThe council agreed.\n\n- Twelve new routes & more.\n- Starts March 1.\n"
        );
        assert_eq!(
            format_summary(&s, Format::Plain),
            "Night <buses>\n\nThe council agreed.\n\n• Twelve new routes & more.\n• Starts March 1.\n"
        );
        assert_eq!(
            format_summary(&s, Format::Html),
            "<h1>Night &lt;buses&gt;</h1><p>The council agreed.</p><ul><li>Twelve new routes &amp; more.</li><li>Starts\nMarch 1.</li></ul>"
        );
    }

    #[test]
    fn single_bullets() {
        let b = Bullet::new("<script>x</script>");
        assert_eq!(format_bullet(&b, Format::Markdown), "- <script>x</script>");
        assert_eq!(format_bullet(&b, Format::Html), "<ul><li>&lt;script&gt;x&lt;/script&gt;</li></ul>");
    }
}
