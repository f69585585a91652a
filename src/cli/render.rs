//! Streaming display of a model's answer on stdout: each line is classified (summary label,
//! key-points label, list item, text) as soon as its start is known, then printed in the chosen
//! format while the rest of the line keeps arriving. Key points can be held back instead, to be
//! printed once they have passed the grounding check.

use std::io::Write;

use precis::summary::answer::{classify, Line};
use precis::summary::Summary;

/// Output formats that stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Markdown,
    Text,
}

/// Characters of a line needed before its kind is decided (enough for "Key points:" and for
/// most labels in other languages, such as "Zusammenfassung:").
const DECIDE_AFTER: usize = 22;

pub struct StreamRenderer<W: Write> {
    out: W,
    style: Style,
    /// The current line so far.
    line: String,
    /// How much of the current line has been printed (once its kind is decided).
    printed: Option<usize>,
    /// Whether any body text has been printed, for blank-line handling.
    started: bool,
    in_points: bool,
    summary_heading_done: bool,
    /// Key points in the answer are not printed; the caller prints the checked ones.
    hold_points: bool,
}

impl<W: Write> StreamRenderer<W> {
    pub fn new(out: W, style: Style, title: Option<&str>) -> std::io::Result<Self> {
        let mut r = StreamRenderer {
            out,
            style,
            line: String::new(),
            printed: None,
            started: false,
            in_points: false,
            summary_heading_done: false,
            hold_points: false,
        };
        if let Some(title) = title {
            match style {
                Style::Markdown => writeln!(r.out, "# {title}\n")?,
                Style::Text => writeln!(r.out, "{title}\n")?,
            }
        }
        Ok(r)
    }

    /// Holds back the answer's key points; `finish_with_points` prints the final ones.
    pub fn hold_points(mut self) -> Self {
        self.hold_points = true;
        self
    }

    /// Prints `points` under a Key points heading now, before the answer.
    pub fn points(&mut self, points: &[String]) -> std::io::Result<()> {
        if !points.is_empty() {
            self.heading("Key points")?;
            for p in points {
                writeln!(self.out, "- {p}")?;
            }
        }
        self.out.flush()
    }

    /// Ends the answer and prints `points` under a Key points heading.
    pub fn finish_with_points(mut self, points: &[String]) -> std::io::Result<W> {
        if !self.line.is_empty() {
            self.end_line()?;
        }
        self.points(points)?;
        Ok(self.out)
    }

    /// Feeds a piece of the answer.
    pub fn push(&mut self, delta: &str) -> std::io::Result<()> {
        // The model's words are text: no control character of theirs reaches the terminal.
        let delta = precis::article::controls::strip(delta);
        for (i, part) in delta.split('\n').enumerate() {
            if i > 0 {
                self.end_line()?;
            }
            self.line.push_str(part);
            if self.printed.is_none() && self.line.chars().count() >= DECIDE_AFTER {
                self.start_line()?;
            }
            if let Some(done) = self.printed.filter(|&d| d != usize::MAX) {
                // Only text past the classified prefix is printed from here on.
                let from = done.min(self.line.len());
                let rest = self.line[from..].to_string();
                self.out.write_all(rest.as_bytes())?;
                self.printed = Some(self.line.len());
            }
        }
        self.out.flush()
    }

    /// Ends the answer, printing any unfinished line.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn finish(mut self) -> std::io::Result<W> {
        if !self.line.is_empty() {
            self.end_line()?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn heading(&mut self, name: &str) -> std::io::Result<()> {
        if self.started {
            writeln!(self.out)?;
        }
        match self.style {
            Style::Markdown => writeln!(self.out, "## {name}\n")?,
            Style::Text => writeln!(self.out, "{name}:")?,
        }
        self.started = true;
        Ok(())
    }

    /// Decides the kind of the current line and prints its start; records how much of the raw
    /// line that start stands for.
    fn start_line(&mut self) -> std::io::Result<()> {
        let line = self.line.clone();
        let lead = line.len() - line.trim_start().len();
        let kind = classify(&line);
        if self.hold_points {
            match kind {
                Line::KeyPointsLabel | Line::Bullet(_) => self.in_points = true,
                Line::SummaryLabel(_) => self.in_points = false,
                Line::Text(_) => {}
            }
            if self.in_points {
                self.printed = Some(usize::MAX);
                return Ok(());
            }
        }
        let consumed = match kind {
            Line::SummaryLabel(rest) => {
                self.in_points = false;
                self.summary_heading_done = true;
                self.heading("Summary")?;
                line.len() - rest.len() - (line.len() - line.trim_end().len())
            }
            Line::KeyPointsLabel => {
                self.in_points = true;
                self.heading("Key points")?;
                usize::MAX
            }
            Line::Bullet(item) => {
                if !self.in_points {
                    self.in_points = true;
                    self.heading("Key points")?;
                }
                self.out.write_all(b"- ")?;
                line.find(item).unwrap_or(lead)
            }
            Line::Text(_) if line.trim().is_empty() => usize::MAX,
            Line::Text(_) => {
                if !self.summary_heading_done && !self.in_points {
                    self.summary_heading_done = true;
                    self.heading("Summary")?;
                } else if self.in_points {
                    self.out.write_all(b"- ")?;
                }
                lead
            }
        };
        self.printed = Some(consumed);
        Ok(())
    }

    fn end_line(&mut self) -> std::io::Result<()> {
        if self.printed.is_none() {
            self.start_line()?;
            if let Some(done) = self.printed {
                let from = done.min(self.line.len());
                let rest = self.line[from..].to_string();
                self.out.write_all(rest.as_bytes())?;
            }
        }
        if self.printed != Some(usize::MAX) {
            writeln!(self.out)?;
        }
        self.line.clear();
        self.printed = None;
        Ok(())
    }
}

/// The key points of a summary as printed: each point, and under it its translation when there
/// is one, marked as the model's translation.
pub fn point_lines(style: Style, s: &Summary) -> Vec<String> {
    s.bullets
        .iter()
        .map(|b| match &b.translation {
            None => b.text.clone(),
            Some(t) => match style {
                Style::Markdown => format!("{}\n  *Translation ({}):* {}", b.text, t.language, t.text),
                Style::Text => format!("{}\n  Translation ({}): {}", b.text, t.language, t.text),
            },
        })
        .collect()
}

/// A stored summary on a writer: the title, the summary and the key points.
pub fn render_summary(out: &mut impl Write, style: Style, s: &Summary) -> std::io::Result<()> {
    let mut renderer = StreamRenderer::new(&mut *out, style, s.title.as_deref())?.hold_points();
    if !s.summary.is_empty() {
        renderer.push(&format!("Summary: {}\n", s.summary))?;
    }
    renderer.finish_with_points(&point_lines(style, s))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(style: Style, pieces: &[&str]) -> String {
        let mut r = StreamRenderer::new(Vec::new(), style, Some("Buses")).unwrap();
        for p in pieces {
            r.push(p).unwrap();
        }
        String::from_utf8(r.finish().unwrap()).unwrap()
    }

    #[test]
    fn markdown_from_token_sized_pieces() {
        let answer =
            "Summary: The city adds bus routes.\n\nKey points:\n- Twelve new routes.\n- Service until midnight.";
        let pieces: Vec<String> = answer.chars().collect::<Vec<_>>().chunks(3).map(|c| c.iter().collect()).collect();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        assert_eq!(
            render(Style::Markdown, &refs),
            "# Buses\n\n## Summary\n\nThe city adds bus routes.\n\n## Key points\n\n- Twelve new routes.\n- Service until midnight.\n"
        );
    }

    #[test]
    fn translations_are_printed_under_their_point() {
        let mut s = Summary::new("m", None, "Der Rat stimmte zu.");
        s.bullets = vec![precis::summary::Bullet {
            translation: Some(precis::summary::Translation {
                text: "The council agreed.".into(),
                language: precis::language::Language::ENGLISH,
            }),
            ..precis::summary::Bullet::new("Der Rat stimmte zu.")
        }];
        let mut out = Vec::new();
        render_summary(&mut out, Style::Markdown, &s).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "## Key points\n\n- Der Rat stimmte zu.\n  *Translation (en):* The council agreed.\n"
        );
    }

    #[test]
    fn held_points_are_replaced_by_the_checked_ones() {
        let mut r = StreamRenderer::new(Vec::new(), Style::Markdown, None).unwrap().hold_points();
        r.push("Summary: Buses run later.\n\nKey points:\n- Invented point.\n").unwrap();
        let out = r.finish_with_points(&["Checked point.".to_string()]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "## Summary\n\nBuses run later.\n\n## Key points\n\n- Checked point.\n"
        );
    }

    #[test]
    fn text_style_and_unlabelled_answer() {
        assert_eq!(
            render(Style::Text, &["It rained.\n* Wet roads\n"]),
            "Buses\n\nSummary:\nIt rained.\n\nKey points:\n- Wet roads\n"
        );
    }
}
