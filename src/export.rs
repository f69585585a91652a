//! Summaries as text to copy or save: Markdown (`- ` items under the title as a heading),
//! plain text, and an HTML fragment with every piece of model output escaped.

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
    let bullets: Vec<&str> = summary.bullets.iter().map(|b| b.text.as_str()).collect();
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
            for b in &bullets {
                out.push_str(&format!("- {}\n", one_line(b)));
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
                parts.push(bullets.iter().map(|b| format!("• {}", one_line(b))).collect::<Vec<_>>().join("\n"));
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
                for b in &bullets {
                    out.push_str(&format!("<li>{}</li>", escape(b)));
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
        Format::Markdown => format!("- {}", one_line(&bullet.text)),
        Format::Plain => one_line(&bullet.text),
        Format::Html => format!("<ul><li>{}</li></ul>", escape(&bullet.text)),
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
