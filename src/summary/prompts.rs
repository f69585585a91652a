//! The prompts: the chat messages that ask the generator for a summary of a whole text (a
//! section of a long article, or an article given whole), or of an article's key sentences
//! shown among their neighbours (the excerpt), with the exact answer format the parser reads;
//! the language the answer is asked in (by name, and more firmly when the first answer came in
//! another language); and the request to translate key points.

use super::options::{Length, SummaryType};
use super::sentences::Sentence;
use crate::language::Language;
use crate::llm::template::Message;

const SYSTEM_PROMPT: &str = "You are Precis, a careful assistant that summarizes articles. \
You use only facts stated in the article and never add names, places, numbers or events it does not mention.";

fn count_word(n: usize) -> &'static str {
    ["zero", "one", "two", "three", "four", "five", "six", "seven"].get(n).copied().unwrap_or("several")
}

/// The language an answer is asked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    /// The language to write in.
    pub language: Language,
    /// The article's language.
    pub article: Language,
    /// Ask firmly: the first answer came in another language.
    pub insist: bool,
    /// The language the first answer came in, which the firm request names.
    pub avoid: Language,
}

impl Ask {
    /// The request for an answer in `language` about an article in `article`: none when both
    /// are English or nothing is known (the prompt is then exactly as it always was), or when
    /// the language to write in is not known.
    pub fn new(language: Language, article: Language) -> Option<Ask> {
        if !language.is_known() || (language.is_english() && (article.is_english() || !article.is_known())) {
            return None;
        }
        Some(Ask { language, article, insist: false, avoid: Language::UNKNOWN })
    }

    /// The same request, made firmly: the first answer came in `avoid` (unknown when it could not
    /// be told).
    pub fn insisting(self, avoid: Language) -> Ask {
        Ask { insist: true, avoid, ..self }
    }

    /// The sentences that end the user's message: which language to write `what` in, and when
    /// insisting, which not, in English and in the language itself.
    fn instruction(self, what: &str) -> String {
        let name = self.language.prompt_name();
        let mut out = if self.article.is_known() && self.article != self.language {
            format!("\n\nWrite the {what} in {name}, although the article is in {}.", self.article.english_name())
        } else if self.article == self.language {
            format!("\n\nWrite the {what} in {name}, the language of the article.")
        } else {
            format!("\n\nWrite the {what} in {name}.")
        };
        if self.insist {
            let not = if self.language.is_english() { self.article } else { Language::ENGLISH };
            out.push_str(&format!(
                " Every word of the answer must be {}; do not write in {}.",
                self.language.english_name(),
                not.english_name()
            ));
            if let Some(own) = in_own_words(self.language) {
                out.push(' ');
                out.push_str(own);
            }
        }
        out
    }
}

/// "Answer in X", in X: said in the language itself, it pulls a small model's answer there.
fn in_own_words(language: Language) -> Option<&'static str> {
    Some(match language.code() {
        "de" => "Antworte auf Deutsch.",
        "fr" => "Réponds en français.",
        "es" => "Responde en español.",
        "pt" => "Responde em português.",
        "it" => "Rispondi in italiano.",
        "nl" => "Antwoord in het Nederlands.",
        "pl" => "Odpowiedz po polsku.",
        "cs" => "Odpověz česky.",
        "sv" => "Svara på svenska.",
        "da" => "Svar på dansk.",
        "nb" => "Svar på norsk.",
        "fi" => "Vastaa suomeksi.",
        "tr" => "Türkçe cevap ver.",
        "ru" => "Отвечай на русском языке.",
        "uk" => "Відповідай українською мовою.",
        "zh" => "请用中文回答。",
        "ja" => "日本語で答えてください。",
        "ko" => "한국어로 답하세요.",
        "vi" => "Hãy trả lời bằng tiếng Việt.",
        "th" => "กรุณาตอบเป็นภาษาไทย",
        "id" => "Jawablah dalam bahasa Indonesia.",
        "ar" => "أجب باللغة العربية.",
        "he" => "ענה בעברית.",
        "el" => "Απάντησε στα ελληνικά.",
        "ro" => "Răspunde în limba română.",
        "hu" => "Válaszolj magyarul.",
        _ => return None,
    })
}

/// The chat messages that ask for a summary of an article (whose text may have been cut).
pub fn messages(title: Option<&str>, text: &str, kind: SummaryType, length: Length) -> Vec<Message> {
    messages_in(title, text, kind, length, None)
}

/// `messages`, asking for the answer in a language when `ask` says so.
pub fn messages_in(
    title: Option<&str>,
    text: &str,
    kind: SummaryType,
    length: Length,
    ask: Option<Ask>,
) -> Vec<Message> {
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
    if let Some(ask) = ask {
        user.push_str(&ask.instruction(match kind {
            SummaryType::KeyPoints => "summary and the key points",
            SummaryType::Tldr => "summary",
            SummaryType::Headline => "headline",
        }));
    }
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
    grounded_messages_in(title, source, marked, kind, length, condense, None)
}

/// `grounded_messages`, asking for the answer in a language when `ask` says so.
pub fn grounded_messages_in(
    title: Option<&str>,
    source: &str,
    marked: usize,
    kind: SummaryType,
    length: Length,
    condense: bool,
    ask: Option<Ask>,
) -> Vec<Message> {
    if kind != SummaryType::KeyPoints || (condense && marked == 0) {
        return messages_in(title, source, kind, length, ask);
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
        if let Some(ask) = ask {
            user.push_str(&ask.instruction("summary"));
        }
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
    if let Some(ask) = ask {
        user.push_str(&ask.instruction("summary and the key points"));
    }
    vec![Message::system(SYSTEM_PROMPT), Message::user(user)]
}

/// The chat messages that ask for a translation of `points` (key sentences of an article in
/// `from`) into `to`, one numbered line each.
pub fn translation_messages(points: &[&str], from: Language, to: Language) -> Vec<Message> {
    let mut user = format!(
        "Translate each numbered sentence below from {} into {}. Keep every name and number. \
Write only the translations, each on its own line, numbered as below.\n\n",
        from.english_name(),
        to.prompt_name()
    );
    for (i, p) in points.iter().enumerate() {
        user.push_str(&format!("{}. {}\n", i + 1, p.trim()));
    }
    user.push_str(&format!("\nWrite the translations in {}.", to.prompt_name()));
    if let Some(own) = in_own_words(to) {
        user.push(' ');
        user.push_str(own);
    }
    vec![Message::system(TRANSLATOR_PROMPT), Message::user(user)]
}

const TRANSLATOR_PROMPT: &str = "You are Precis, a careful translator. \
You translate exactly what each sentence says and add nothing.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_is_asked_for_by_name_unless_all_is_english() {
        let de = Language::parse("de").unwrap();
        assert_eq!(Ask::new(Language::ENGLISH, Language::ENGLISH), None);
        assert_eq!(Ask::new(Language::ENGLISH, Language::UNKNOWN), None);
        assert_eq!(Ask::new(Language::UNKNOWN, de), None);
        let user = |ask| {
            grounded_messages_in(None, "[1] Der Rat.", 1, SummaryType::KeyPoints, Length::Short, false, ask)[1]
                .content
                .clone()
        };
        assert!(user(Ask::new(de, de)).ends_with(
            "Summary: <the summary>\n\nWrite the summary in German (Deutsch), the language of the article."
        ));
        assert!(user(Ask::new(Language::ENGLISH, de))
            .ends_with("Write the summary in English, although the article is in German."));
        let firm = user(Ask::new(de, de).map(|a| a.insisting(Language::ENGLISH)));
        assert!(
            firm.ends_with("Every word of the answer must be German; do not write in English. Antworte auf Deutsch."),
            "{firm}"
        );
        let headline = messages_in(None, "Text.", SummaryType::Headline, Length::Short, Ask::new(de, de));
        assert!(headline[1].content.ends_with("Write the headline in German (Deutsch), the language of the article."));
        let t = translation_messages(&["Der Rat stimmte zu.", "Es kostet 3 Euro."], de, Language::ENGLISH);
        assert!(
            t[1].content.contains("from German into English.")
                && t[1].content.contains("1. Der Rat stimmte zu.\n2. Es kostet 3 Euro.\n")
        );
    }

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
