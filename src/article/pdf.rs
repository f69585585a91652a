//! PDF documents: the text layer through `pdf-extract`, page by page, then cleaned the way a
//! reader would: running headers, footers and bare page numbers removed, words hyphenated at
//! line ends joined, wrapped lines joined into paragraphs. A PDF without a text layer (a scan)
//! or one that needs a password is a clear error, never an empty article. The extractor is run
//! under `catch_unwind`, so a malformed file it cannot handle is an error, not a crash.

use crate::error::InputProblem;

/// True when the bytes open with the PDF signature (allowing some leading junk, as readers do).
pub fn sniff(bytes: &[u8]) -> bool {
    find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The text of a PDF, paragraphs separated by blank lines.
pub fn extract(bytes: &[u8]) -> Result<String, InputProblem> {
    let encrypted = find(bytes, b"/Encrypt").is_some();
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes));
    let pages = match pages {
        Ok(Ok(pages)) => pages,
        Ok(Err(_)) | Err(_) if encrypted => return Err(InputProblem::Encrypted),
        Ok(Err(e)) => return Err(broken(e)),
        Err(_) => return Err(broken("the PDF reader could not make sense of its structure")),
    };
    let text = clean_pages(&pages);
    if text.split_whitespace().next().is_none() {
        return Err(if encrypted { InputProblem::Encrypted } else { InputProblem::NoTextLayer });
    }
    Ok(text)
}

fn broken(detail: impl std::fmt::Display) -> InputProblem {
    InputProblem::Broken {
        format: "PDF",
        detail: detail.to_string(),
    }
}

/// A line with its digits masked, so "Page 3" and "Page 4" compare equal.
fn shape(line: &str) -> String {
    line.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// A line that is only a page number: "7", "- 7 -", "Page 7", "7 of 12", "vii".
fn is_page_number(line: &str) -> bool {
    let l = line.trim().trim_matches(|c: char| c == '-' || c == '–' || c.is_whitespace()).to_lowercase();
    let l = l.strip_prefix("page").map_or(l.as_str(), str::trim);
    if l.is_empty() {
        return false;
    }
    let mut parts = l.split(|c: char| c == '/' || c.is_whitespace()).filter(|p| !p.is_empty() && *p != "of");
    let roman = |p: &str| p.len() <= 4 && p.chars().all(|c| "ivxl".contains(c));
    parts.all(|p| p.chars().all(|c| c.is_ascii_digit()) || roman(p))
}

/// Joins the pages into paragraphs, without running headers, footers and page numbers.
pub fn clean_pages(pages: &[String]) -> String {
    let pages: Vec<Vec<&str>> = pages
        .iter()
        .map(|p| p.lines().map(str::trim_end).collect::<Vec<_>>())
        .collect();
    // A line (digits masked) among the first or last three lines of more than half of the
    // pages, with at least three pages, is a running header or footer.
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for page in &pages {
        let content: Vec<&str> = page.iter().copied().filter(|l| !l.trim().is_empty()).collect();
        let mut edge: Vec<String> = content.iter().take(3).chain(content.iter().rev().take(3)).map(|l| shape(l)).collect();
        edge.sort();
        edge.dedup();
        for s in edge {
            *counts.entry(s).or_default() += 1;
        }
    }
    let running = |line: &str| {
        pages.len() >= 3
            && line.split_whitespace().count() <= 12
            && counts.get(&shape(line)).is_some_and(|&n| n * 2 > pages.len())
    };

    let words = Vocabulary::of(&pages);
    let mut out = String::new();
    for page in &pages {
        let content: Vec<&str> = page.iter().copied().filter(|l| !l.trim().is_empty()).collect();
        let n = content.len();
        let (mut blank_run, mut kept_on_page, mut index) = (false, false, 0);
        for line in page {
            if line.trim().is_empty() {
                // Blank lines before the page's first kept line (after a header) break nothing.
                blank_run = kept_on_page;
                continue;
            }
            let at_edge = index < 3 || index + 3 >= n;
            index += 1;
            if at_edge && (running(line) || is_page_number(line)) {
                continue;
            }
            let line = line.trim();
            if blank_run && !out.is_empty() {
                out.truncate(out.trim_end().len());
                out.push_str("\n\n");
            }
            join_line(&mut out, line, &words);
            blank_run = false;
            kept_on_page = true;
        }
        // A page break ends a paragraph only where a sentence ends.
        if out.ends_with(['.', '!', '?', '"', '\u{201d}', ':']) {
            out.push_str("\n\n");
        }
    }
    out.trim().to_string()
}

/// The words of the document as written, lowercased, to tell a word broken at a line end
/// ("informa-" + "tion") from a compound that keeps its hyphen ("well-" + "known").
struct Vocabulary {
    words: std::collections::HashSet<String>,
}

impl Vocabulary {
    fn of(pages: &[Vec<&str>]) -> Vocabulary {
        let mut words = std::collections::HashSet::new();
        for line in pages.iter().flatten() {
            // A word cut at this line's end is not a word of the document.
            let line = line.trim_end();
            let whole = if line.ends_with('-') { line.rsplit_once(char::is_whitespace).map_or("", |(head, _)| head) } else { line };
            for word in whole.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
                let word = word.trim_matches('-');
                if !word.is_empty() {
                    words.insert(word.to_lowercase());
                }
            }
        }
        Vocabulary { words }
    }

    /// Whether `left-` at a line end followed by `right` is a hyphenated compound.
    fn keeps_hyphen(&self, left: &str, right: &str) -> bool {
        let (left, right) = (left.to_lowercase(), right.to_lowercase());
        let joined = format!("{left}{right}");
        let compound = format!("{left}-{right}");
        if self.words.contains(&compound) {
            return true;
        }
        if self.words.contains(&joined) {
            return false;
        }
        // Nowhere else in the document: English compounds that are nearly always hyphenated.
        // The lists leave out parts that are also common syllable breaks ("low-er", "so-cial",
        // "Tues-day", "ten-ant").
        const FIRST: &[&str] = &["well", "self", "half", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
        const SECOND: &[&str] = &["known", "based", "term", "related", "driven", "owned", "friendly", "scale", "level", "old"];
        let head = left.rsplit('-').next().unwrap_or(&left);
        FIRST.contains(&head) || SECOND.contains(&right.trim_end_matches(|c: char| !c.is_alphanumeric()))
    }
}

/// Appends a wrapped line: a word broken at the line end ("informa-" + "tion") is joined, a
/// compound broken at its hyphen ("well-" + "known", "Franco-" + "German") keeps it; other
/// lines are joined with a space.
fn join_line(out: &mut String, line: &str, words: &Vocabulary) {
    let hyphen_end = out.ends_with('-') && out[..out.len() - 1].ends_with(|c: char| c.is_alphabetic());
    let broken = hyphen_end && line.starts_with(|c: char| c.is_lowercase());
    if hyphen_end && line.starts_with(|c: char| c.is_uppercase()) {
        // "Franco-" + "German": a compound of names, never a wrapped word.
    } else if broken {
        let left_start = out[..out.len() - 1]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '-'))
            .map_or(0, |i| i + out[i..].chars().next().map_or(1, char::len_utf8));
        let left = &out[left_start..out.len() - 1];
        let right = line.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("");
        if !words.keeps_hyphen(left, right) {
            out.pop();
        }
    } else if !out.is_empty() && !out.ends_with([' ', '\n']) {
        out.push(' ');
    }
    out.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_are_recognised() {
        for l in ["7", " - 7 - ", "Page 7", "page 7 of 12", "7 / 12", "vii"] {
            assert!(is_page_number(l), "{l}");
        }
        for l in ["7 buses", "In 2024 the city", "", "Civic"] {
            assert!(!is_page_number(l), "{l}");
        }
    }

    #[test]
    fn a_broken_word_is_joined_and_a_compound_keeps_its_hyphen() {
        let page = |body: &str| vec![body.to_string()];
        // The document's own words decide, either way.
        assert_eq!(clean_pages(&page("The co-\noperative met. The co-operative grew.")), "The co-operative met. The co-operative grew.");
        assert_eq!(clean_pages(&page("The co-\noperative met. The cooperative grew.")), "The cooperative met. The cooperative grew.");
        assert_eq!(
            clean_pages(&page("A state-\nment on Tues-\nday: a five-\nyear plan for a self-\nrun, city-\nowned and sea-\nson-\nbased network.")),
            "A statement on Tuesday: a five-year plan for a self-run, city-owned and season-based network."
        );
        // A capitalized second part is a compound of names.
        assert_eq!(clean_pages(&page("The Franco-\nGerman border.")), "The Franco-German border.");
    }

    #[test]
    fn headers_footers_and_hyphens_are_cleaned() {
        let bodies = [
            "Alpha has a long infor-\nmation line that wraps\nonto another line.",
            "Bravo keeps its read-\ners busy with lines\nthat run on.",
            "Charlie ends the well-\nknown story here.",
        ];
        let pages: Vec<String> = bodies
            .iter()
            .enumerate()
            .map(|(n, body)| format!("Riverton Transit Report\n\n{body}\n\n{}\n", n + 1))
            .collect();
        assert_eq!(
            clean_pages(&pages),
            "Alpha has a long information line that wraps onto another line.\n\n\
             Bravo keeps its readers busy with lines that run on.\n\n\
             Charlie ends the well-known story here."
        );
    }
}
