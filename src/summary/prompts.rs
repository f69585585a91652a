//! The prompts: the chat messages that ask the generator for a summary of a whole text (a
//! section of a long article, or an article given whole), or of an article's key sentences
//! shown among their neighbours (the excerpt), with the exact answer format the parser reads.

use super::options::{Length, SummaryType};
use super::sentences::Sentence;
use crate::llm::template::Message;

const SYSTEM_PROMPT: &str = "You are Precis, a careful assistant that summarizes articles. \
You use only facts stated in the article and never add names, places, numbers or events it does not mention.";

fn count_word(n: usize) -> &'static str {
    ["zero", "one", "two", "three", "four", "five", "six", "seven"].get(n).copied().unwrap_or("several")
}

/// The chat messages that ask for a summary of an article (whose text may have been cut).
pub fn messages(title: Option<&str>, text: &str, kind: SummaryType, length: Length) -> Vec<Message> {
    let mut user = String::new();
    if let Some(title) = title {
        user.push_str(&format!("Title: {title}\n\n"));
    }
    user.push_str("Article:\n\"\"\"\n");
    user.push_str(text.trim());
    user.push_str("\n\"\"\"\n\n");
    let task = match kind {
        SummaryType::KeyPoints => format!(
            "Summarize the article above. First write a summary in {s}. \
Then write at most {n} key points, each a short sentence with one fact from the article, \
each on its own line starting with \"- \". Use exactly this format:\n\n\
Summary: <the summary>\n\nKey points:\n- <first key point>\n- <second key point>\n- <third key point>",
            n = count_word(length.max_bullets()),
            s = length.key_points_summary()
        ),
        SummaryType::Tldr => format!(
            "Summarize the article above in {}. Use exactly this format:\n\nSummary: <the summary>",
            length.tldr()
        ),
        SummaryType::Headline => format!(
            "Write one headline for the article above, at most {} words, stating its main fact. \
Use exactly this format:\n\nSummary: <the headline>",
            length.headline_words()
        ),
    };
    user.push_str(&task);
    vec![Message::system(SYSTEM_PROMPT), Message::user(user)]
}

/// The chosen sentences with their neighbours, in article order, the chosen ones marked
/// `[1]`, `[2]`, …; gaps in the article are shown as `…`.
pub fn excerpt(text: &str, sentences: &[Sentence], chosen: &[usize]) -> String {
    excerpt_with(text, sentences, chosen, &[])
}

/// `excerpt`, with the `extra` sentences and their neighbours shown too, unmarked.
pub fn excerpt_with(text: &str, sentences: &[Sentence], chosen: &[usize], extra: &[usize]) -> String {
    let mut keep = vec![false; sentences.len()];
    for &i in chosen.iter().chain(extra) {
        for j in i.saturating_sub(1)..=(i + 1).min(sentences.len().saturating_sub(1)) {
            keep[j] = true;
        }
    }
    let mut out = String::new();
    let mut last: Option<usize> = None;
    for (i, s) in sentences.iter().enumerate().filter(|(i, _)| keep[*i]) {
        if last.is_some_and(|l| l + 1 != i) {
            out.push_str("\n…\n");
        } else if last.is_some() {
            out.push(if sentences[i - 1].paragraph == s.paragraph { ' ' } else { '\n' });
        }
        if let Some(n) = chosen.iter().position(|&c| c == i) {
            out.push_str(&format!("[{}] ", n + 1));
        }
        out.push_str(s.span.of(text));
        last = Some(i);
    }
    out
}

/// The chat messages of the grounded pipeline: the title, the source text (an excerpt with the
/// key sentences marked, the whole article, or section summaries) and the task. For key points
/// the generator writes the summary, and shortens the marked sentences only when `condense`.
pub fn grounded_messages(
    title: Option<&str>,
    source: &str,
    marked: usize,
    kind: SummaryType,
    length: Length,
    condense: bool,
) -> Vec<Message> {
    if kind != SummaryType::KeyPoints || (condense && marked == 0) {
        return messages(title, source, kind, length);
    }
    let mut user = String::new();
    if let Some(title) = title {
        user.push_str(&format!("Title: {title}\n\n"));
    }
    if marked > 0 {
        user.push_str("Key sentences of the article, marked [1] to [");
        user.push_str(&marked.to_string());
        user.push_str("], with the sentences around them:\n\"\"\"\n");
    } else {
        user.push_str("Article:\n\"\"\"\n");
    }
    user.push_str(source.trim());
    user.push_str("\n\"\"\"\n\n");
    if !condense {
        user.push_str(&format!(
            "Write a summary of the article in {}. Use exactly this format:\n\nSummary: <the summary>",
            length.key_points_summary()
        ));
        return vec![Message::system(SYSTEM_PROMPT), Message::user(user)];
    }
    user.push_str(&format!(
        "First write a summary of the article in {summary}. Then shorten each marked \
sentence into a key point of at most {words} words, in the same order. Keep its most important facts \
(who did what, key names and numbers) in the sentence's own words; leave out attributions such as \
\"police said\", ages and minor details, and add nothing that is not in the text: {n} key points, \
each on its own line starting with \"- \". Use exactly this format:\n\n\
Summary: <the summary>\n\nKey points:\n- <key point for [1]>\n- <key point for [2]>",
        summary = length.key_points_summary(),
        words = length.key_point_words(),
        n = marked
    ));
    vec![Message::system(SYSTEM_PROMPT), Message::user(user)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_points_prompt_asks_for_the_summary_and_shortenings_only_when_condensing() {
        let user = |condense| {
            let m = grounded_messages(
                Some("Buses"),
                "[1] The council voted.",
                1,
                SummaryType::KeyPoints,
                Length::Medium,
                condense,
            );
            assert_eq!(m.len(), 2);
            m[1].content.clone()
        };
        let plain = user(false);
        assert!(plain.starts_with("Title: Buses\n\nKey sentences of the article, marked [1] to [1]"), "{plain}");
        assert!(plain.ends_with("Write a summary of the article in two or three sentences. Use exactly this format:\n\nSummary: <the summary>"), "{plain}");
        let condensed = user(true);
        assert!(condensed.contains("shorten each marked sentence into a key point of at most 15 words"), "{condensed}");
        assert!(condensed.ends_with("Key points:\n- <key point for [1]>\n- <key point for [2]>"), "{condensed}");
        let short = grounded_messages(None, "[1] The council voted.", 1, SummaryType::KeyPoints, Length::Short, false);
        assert!(short[1].content.ends_with(
            "Write a summary of the article in one sentence. Use exactly this format:\n\nSummary: <the summary>"
        ));
    }
}
