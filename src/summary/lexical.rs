//! Words for ranking and grounding without a neural model: lower-cased, lightly stemmed content
//! words, the numbers and names of a text (the tokens an invented fact shows up in), and TF-IDF
//! vectors with their cosine (compact, with terms numbered), by which sentences are ranked.
//! English text (and text of unknown language) is read as it always was: English
//! stop words and stems. Other languages lose their own most common words and are not stemmed;
//! scripts written without spaces between words (Chinese, Japanese, Thai) and Korean, whose
//! words carry their particles, are read as overlapping pairs of characters (bigrams), the usual
//! unit for matching such text without a dictionary.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::language::Language;

const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "during",
    "each",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "me",
    "more",
    "most",
    "my",
    "no",
    "not",
    "now",
    "of",
    "on",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "said",
    "says",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "say",
    "told",
    "according",
    "new",
    "cnn",
];

/// Whether a lower-case word is a stop word.
pub fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}

/// The words of `text` as they appear (letters, digits and inner `.,'-` of numbers and names).
pub fn raw_words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | ',' | '\'' | '’' | '-' | '%' | '$')))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect()
}

/// A crude English stem: enough to match "votes"/"voted"/"voting" and "cities"/"city".
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    let w = w.trim_end_matches("'s").trim_end_matches("’s");
    if w.chars().any(|c| c.is_ascii_digit()) {
        return w.replace(',', "");
    }
    for (suffix, keep) in [("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")] {
        if let Some(base) = w.strip_suffix(suffix) {
            if base.chars().count() >= 3 && !(suffix == "s" && base.ends_with('s')) {
                return format!("{base}{keep}");
            }
        }
    }
    w.to_string()
}

/// Stemmed content words of `text`, in order (stop words and one-letter words left out).
pub fn content_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in raw_words(text) {
        if w.chars().any(|c| c.is_ascii_digit()) {
            out.push(normalize_number(w));
            continue;
        }
        for part in w.split(['-', '.']) {
            let lower = part.to_lowercase();
            if lower.chars().count() > 1 && !is_stopword(&lower) {
                out.push(stem(&lower));
            }
        }
    }
    out
}

/// The facts a reader would check: numbers (normalized: "4,200" is "4200") and capitalized words
/// that do not start a sentence (names, places, organizations), lower-cased.
pub fn checkable_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for piece in text.split_whitespace() {
        let word = piece.trim_matches(|c: char| !c.is_alphanumeric());
        if word.is_empty() {
            continue;
        }
        let has_digit = word.chars().any(|c| c.is_ascii_digit());
        if has_digit {
            out.push(normalize_number(word));
        } else if !sentence_start && word.chars().next().is_some_and(char::is_uppercase) {
            let lower = word.to_lowercase();
            if !is_stopword(&lower) {
                out.push(lower.trim_end_matches("'s").trim_end_matches("’s").to_string());
            }
        }
        sentence_start = piece.ends_with(['.', '!', '?', ':', '"', '”']) && !has_digit;
    }
    out
}

fn normalize_number(word: &str) -> String {
    word.to_lowercase().replace(',', "").trim_end_matches("'s").to_string()
}

/// Every token of the article a checkable token may match: lower-case words and their pieces,
/// and numbers with and without thousands separators.
pub fn vocabulary(text: &str) -> HashSet<String> {
    let mut set = HashSet::new();
    for piece in text.split_whitespace() {
        let word = piece.trim_matches(|c: char| !c.is_alphanumeric());
        if word.is_empty() {
            continue;
        }
        set.insert(normalize_number(word));
        let lower = word.to_lowercase();
        set.insert(lower.trim_end_matches("'s").trim_end_matches("’s").to_string());
        for part in lower.split(['-', '/', '’', '\'']) {
            set.insert(part.to_string());
        }
    }
    set
}

/// Whether a word (as split on white space) opens a quotation: it starts with a quotation mark.
/// An apostrophe inside a word ("study's") is not one.
pub fn opens_quote(word: &str) -> bool {
    word.starts_with(['"', '“', '\'', '‘'])
}

/// Whether a word closes a quotation: it ends with a quotation mark, perhaps before punctuation
/// ("gone,'"). A plural possessive ("players'") is not taken for one.
pub fn closes_quote(word: &str) -> bool {
    let w = word.trim_end_matches(['.', ',', ';', ':', '!', '?']);
    w.ends_with(['"', '”']) || (w.ends_with(['\'', '’']) && !w.ends_with("s'") && !w.ends_with("s’"))
}

/// The share of the words of `text` inside quotation marks, in [0, 1].
pub fn quoted_share(text: &str) -> f32 {
    let mut inside = false;
    let (mut quoted, mut total) = (0, 0);
    for w in text.split_whitespace() {
        total += 1;
        if opens_quote(w) {
            inside = true;
        }
        if inside {
            quoted += 1;
        }
        if inside && closes_quote(w) && (w.chars().count() > 1 || !opens_quote(w)) {
            inside = false;
        }
    }
    if total == 0 {
        0.0
    } else {
        quoted as f32 / total as f32
    }
}

/// The most common words of languages other than English, which say nothing about what a
/// sentence is about (articles, pronouns, prepositions, auxiliaries), by language code.
const OTHER_STOPWORDS: &[(&str, &str)] = &[
    (
        "de",
        "der die das den dem des ein eine einer eines einem einen und oder aber doch denn sondern \
        ist sind war waren wird werden wurde wurden worden sein hat haben hatte hatten habe kann können \
        soll sollen muss müssen will wollen ich du er sie es wir ihr man sich mich mir uns euch ihm ihn \
        ihnen ihre ihrer ihren ihrem sein seine seiner seinen seinem in im an am auf aus bei mit nach \
        von vom zu zum zur für über unter vor hinter neben zwischen durch gegen ohne um bis seit als \
        wie wenn dass ob weil auch noch nur schon so sehr nicht kein keine keinen mehr dieser diese \
        dieses diesen diesem jener alle allem allen aller was wer wo wann warum sagte sagt laut",
    ),
    (
        "fr",
        "le la les un une des du de d l et ou mais donc car ni que qui quoi dont où est sont était \
        étaient sera seront été être a ont avait avaient aura avoir fait je tu il elle on nous vous ils \
        elles se sa son ses leur leurs ce cet cette ces dans en au aux sur sous par pour avec sans chez \
        entre vers plus moins très aussi ne pas plus comme si tout tous toute toutes lui y qu c s n \
        selon a-t-il dit déclaré",
    ),
    (
        "es",
        "el la los las un una unos unas de del al y e o u pero sino que quien cual cuyo donde es son \
        era eran fue fueron será ser está están estaba ha han había habían haber se su sus le les lo \
        me te nos os yo tú él ella ellos ellas usted este esta estos estas ese esa esos esas en con \
        por para sin sobre entre hasta desde hacia según más menos muy también no ni como si ya todo \
        todos toda todas dijo",
    ),
    (
        "pt",
        "o a os as um uma uns umas de do da dos das no na nos nas ao aos à às e ou mas que quem \
        qual onde é são era eram foi foram será ser está estão estava tem têm tinha ter há se seu sua \
        seus suas lhe lhes me te nos eu tu ele ela eles elas você este esta estes estas esse essa \
        esses essas isso isto em com por para sem sobre entre até desde segundo mais menos muito também \
        não nem como já todo todos toda todas pelo pela pelos pelas num numa disse",
    ),
    (
        "it",
        "il lo la i gli le un uno una di del dello della dei degli delle a al allo alla ai agli alle \
        da dal dalla dai in nel nello nella nei negli nelle con su sul sulla per tra fra e ed o ma che \
        chi cui dove è sono era erano fu furono sarà essere ha hanno aveva avere si suo sua suoi sue \
        loro mi ti ci vi lui lei noi voi questo questa questi queste quello quella più meno molto anche \
        non né come se già tutto tutti tutta tutte ha detto",
    ),
    (
        "nl",
        "de het een en of maar dat die dit deze wie wat waar is zijn was waren wordt worden werd werden \
        heeft hebben had hadden zal zullen kan kunnen moet ik jij hij zij ze wij we jullie u zich hem \
        haar hun mijn jouw ons onze in op aan bij met naar van voor over onder uit door tegen zonder \
        om tot als ook nog niet geen meer zeer zo er al alle zei",
    ),
    (
        "ru",
        "и в во на с со к ко по о об от до из за для без при над под про через у не ни но а или да \
        же ли бы что чтобы как так это этот эта эти этого этой том тот та те то он она оно они мы вы \
        я ты его её ее их им ему ей нас вас был была было были будет будут быть есть который которая \
        которое которые также уже ещё еще очень все всё весь вся сказал сказала",
    ),
];

fn stopwords(language: Language) -> Option<&'static HashSet<&'static str>> {
    static SETS: OnceLock<HashMap<&'static str, HashSet<&'static str>>> = OnceLock::new();
    SETS.get_or_init(|| {
        OTHER_STOPWORDS.iter().map(|(code, words)| (*code, words.split_whitespace().collect())).collect()
    })
    .get(language.code())
}

/// Whether English stop words and stems apply: English, or a language not known.
fn reads_as_english(language: Language) -> bool {
    language.is_english() || !language.is_known()
}

/// Characters of scripts read in bigrams: Chinese characters, kana, Hangul, and the alphabets
/// written without spaces between words (Thai, Lao, Tibetan, Khmer, Burmese and the others
/// `language::unspaced` knows).
fn in_bigram_script(c: char) -> bool {
    crate::language::unspaced(c).is_some() || matches!(c as u32, 0x1100..=0x11FF | 0x3130..=0x318F)
}

/// Whether most letters of `text` are of scripts read in bigrams: a sentence of a language
/// that is not detected (Lao, Tibetan, and others the detector does not know) is then read in
/// bigrams too, where English rules would take each run between spaces, often a whole clause,
/// for one word that no other sentence shares.
fn mostly_bigram_script(text: &str) -> bool {
    let (mut bigram, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphanumeric()) {
        letters += 1;
        bigram += usize::from(in_bigram_script(c));
    }
    bigram * 2 > letters
}

/// Chinese particles and the most common function characters: a bigram with one of them is
/// not a content word. Bigrams of two hiragana (Japanese endings and particles) are not either.
const CJK_FUNCTION_CHARS: &str = "的了着是在和与及也都而并被把将对这那之其等";

fn is_hiragana(c: char) -> bool {
    ('\u{3040}'..='\u{309F}').contains(&c)
}

/// One token of a text in a language other than English: a number, a run of a bigram script,
/// or a word of an alphabet.
enum Token<'a> {
    Number(String),
    Run(&'a str),
    Word(&'a str),
}

/// The tokens of `text`: digits with their inner separators, runs of bigram scripts, and words
/// of other letters (with inner apostrophes and hyphens).
fn tokens(text: &str) -> Vec<Token<'_>> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Digit,
        Run,
        Letter,
    }
    let class = |c: char| {
        if c.is_ascii_digit() {
            Some(Class::Digit)
        } else if in_bigram_script(c) {
            Some(Class::Run)
        } else if c.is_alphanumeric() {
            Some(Class::Letter)
        } else {
            None
        }
    };
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let Some(k) = class(c) else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < chars.len() {
            let next = chars[j].1;
            let joins = match k {
                Class::Digit => matches!(next, ',' | '.') && chars.get(j + 1).is_some_and(|&(_, d)| d.is_ascii_digit()),
                Class::Letter => {
                    matches!(next, '\'' | '’' | '-')
                        && chars.get(j + 1).is_some_and(|&(_, d)| class(d) == Some(Class::Letter))
                }
                Class::Run => false,
            };
            if class(next) == Some(k) || joins {
                j += 1;
            } else {
                break;
            }
        }
        let end = chars.get(j).map_or(text.len(), |&(b, _)| b);
        let piece = &text[start..end];
        out.push(match k {
            Class::Digit => Token::Number(piece.replace(',', "")),
            Class::Run => Token::Run(piece),
            Class::Letter => Token::Word(piece),
        });
        i = j;
    }
    out
}

/// The bigrams of a run of a bigram script (the run itself when it is one character), leaving
/// out those of function characters.
fn bigrams(run: &str, out: &mut Vec<String>) {
    let chars: Vec<char> = run.chars().collect();
    if chars.len() == 1 {
        if !CJK_FUNCTION_CHARS.contains(chars[0]) && !is_hiragana(chars[0]) {
            out.push(chars[0].to_string());
        }
        return;
    }
    for pair in chars.windows(2) {
        if pair.iter().any(|&c| CJK_FUNCTION_CHARS.contains(c)) || pair.iter().all(|&c| is_hiragana(c)) {
            continue;
        }
        out.push(pair.iter().collect());
    }
}

/// `content_words` for a text in `language`: English's (stemmed, without English stop words)
/// for English or an unknown language (unless most of the text's letters are of a script read
/// in bigrams); for others, lower-cased words without that language's
/// stop words, unstemmed, and bigrams of the scripts written without spaces and of Hangul.
pub fn content_words_in(text: &str, language: Language) -> Vec<String> {
    if reads_as_english(language) && (language.is_known() || !mostly_bigram_script(text)) {
        return content_words(text);
    }
    let stop = stopwords(language);
    let mut out = Vec::new();
    for token in tokens(text) {
        match token {
            Token::Number(n) => out.push(n),
            Token::Run(run) => bigrams(run, &mut out),
            Token::Word(w) => {
                let lower = w.to_lowercase();
                if lower.chars().count() > 1 && !stop.is_some_and(|s| s.contains(lower.as_str())) {
                    out.push(lower);
                }
            }
        }
    }
    out
}

/// `checkable_tokens` for a text in `language`: for English or an unknown language, numbers and
/// names; for others, numbers, and names only where a capital letter marks one (not in German,
/// which capitalizes every noun, nor in scripts without capitals).
pub fn checkable_tokens_in(text: &str, language: Language) -> Vec<String> {
    if reads_as_english(language) {
        return checkable_tokens(text);
    }
    let mut out: Vec<String> = tokens(text)
        .into_iter()
        .filter_map(|t| match t {
            Token::Number(n) => Some(n),
            _ => None,
        })
        .collect();
    if language.code() != "de" && language.script() != Some(crate::language::Script::Han) {
        out.extend(checkable_tokens(text).into_iter().filter(|t| !t.chars().any(|c| c.is_ascii_digit())));
    }
    out
}

/// `vocabulary` for a text in `language`: for other languages than English, the numbers inside
/// words ("240人") too.
pub fn vocabulary_in(text: &str, language: Language) -> HashSet<String> {
    let mut set = vocabulary(text);
    if !reads_as_english(language) {
        set.extend(tokens(text).into_iter().filter_map(|t| match t {
            Token::Number(n) => Some(n),
            _ => None,
        }));
    }
    set
}

/// A sparse vector: `(term, weight)` pairs in increasing term order.
pub type SparseVector = Box<[(u32, f32)]>;

/// TF-IDF vectors of `docs` (sub-linear tf, smoothed idf), L2-normalized, with each term
/// numbered once; `None` as soon as `docs` yields `None` (the caller was cancelled). Memory is a
/// few bytes per word of the documents.
pub fn tfidf(docs: impl Iterator<Item = Option<Vec<String>>>) -> Option<Vec<SparseVector>> {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut df: Vec<f32> = Vec::new();
    let mut counts: Vec<SparseVector> = Vec::new();
    for doc in docs {
        let mut tf: Vec<(u32, f32)> = Vec::with_capacity(doc.as_ref()?.len());
        for w in doc? {
            let next = ids.len() as u32;
            let id = *ids.entry(w).or_insert(next);
            if id as usize == df.len() {
                df.push(0.0);
            }
            tf.push((id, 1.0));
        }
        tf.sort_unstable_by_key(|&(id, _)| id);
        let mut merged: Vec<(u32, f32)> = Vec::with_capacity(tf.len());
        for (id, c) in tf {
            match merged.last_mut() {
                Some(last) if last.0 == id => last.1 += c,
                _ => merged.push((id, c)),
            }
        }
        for &(id, _) in &merged {
            df[id as usize] += 1.0;
        }
        counts.push(merged.into_boxed_slice());
    }
    let n = counts.len() as f32;
    Some(
        counts
            .into_iter()
            .map(|mut v| {
                for (id, x) in v.iter_mut() {
                    let idf = ((1.0 + n) / (1.0 + df[*id as usize])).ln() + 1.0;
                    *x = (1.0 + x.ln()) * idf;
                }
                let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt().max(1e-9);
                v.iter_mut().for_each(|(_, x)| *x /= norm);
                v
            })
            .collect(),
    )
}

/// Cosine of two normalized sparse vectors.
pub fn sparse_dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_content_words() {
        assert_eq!(stem("votes"), stem("voted"));
        assert_eq!(stem("cities"), "city");
        assert_eq!(content_words("The council voted on the new budget."), ["council", "vot", "budget"]);
    }

    #[test]
    fn quoted_share_counts_words_inside_quotation_marks() {
        assert_eq!(quoted_share("The council voted on the budget."), 0.0);
        assert_eq!(quoted_share("'We are no heroes,' he said."), 4.0 / 6.0);
        assert_eq!(quoted_share("\u{201c}It works.\u{201d}"), 1.0);
        // Apostrophes and plural possessives do not open or close a quotation.
        assert_eq!(quoted_share("The study's author met the players' union."), 0.0);
        assert_eq!(quoted_share("She said the plan was 'all evasion' and left."), 2.0 / 9.0);
    }

    #[test]
    fn other_languages_lose_their_stop_words_and_cjk_is_read_in_bigrams() {
        let de = Language::parse("de").unwrap();
        assert_eq!(
            content_words_in("Der Rat stimmte am Dienstag für den Plan.", de),
            ["rat", "stimmte", "dienstag", "plan"]
        );
        let zh = Language::parse("zh").unwrap();
        assert_eq!(content_words_in("图书馆的阅览室", zh), ["图书", "书馆", "阅览", "览室"]);
        assert_eq!(content_words_in("每晚约有240人", zh), ["每晚", "晚约", "约有", "240", "人"]);
        let ja = Language::parse("ja").unwrap();
        assert_eq!(content_words_in("図書館は開いている", ja), ["図書", "書館", "館は", "は開", "開い"]);
        let ko = Language::parse("ko").unwrap();
        assert_eq!(content_words_in("도서관에서 공부", ko), ["도서", "서관", "관에", "에서", "공부"]);
        // English keeps its stems and stop words.
        assert_eq!(content_words_in("The council voted.", Language::ENGLISH), content_words("The council voted."));
        assert_eq!(checkable_tokens_in("Der Rat zahlt 310.000 Euro an Marta Ruiz.", de), ["310.000"]);
        assert_eq!(checkable_tokens_in("约有240人使用", zh), ["240"]);
        assert!(vocabulary_in("约有240人使用", zh).contains("240"));
    }

    #[test]
    fn undetected_languages_in_unspaced_scripts_are_read_in_bigrams() {
        // Lao, which the detector does not know: two clauses about the city council (ສະພາເມືອງ)
        // share its bigrams, where English rules made each clause one word of its own.
        let unknown = Language::UNKNOWN;
        let voted = content_words_in("ສະພາເມືອງໄດ້ລົງມະຕິ", unknown);
        let approved = content_words_in("ສະພາເມືອງອະນຸມັດແຜນ", unknown);
        assert!(voted.len() > 2, "{voted:?}");
        assert!(voted.iter().any(|w| approved.contains(w)), "{voted:?} {approved:?}");
        // Tibetan (its syllables set apart by a tsheg, not a space) too.
        assert!(content_words_in("བོད་ཡིག་གི་ཚིག", unknown).len() > 2);
        // An unknown language in Latin letters keeps English's reading, and so does a Latin
        // sentence with a single Thai word in it.
        for text in ["Zorblat quenched the vorp.", "The stall sold ส้มตำ and grilled chicken to the market's visitors."]
        {
            assert_eq!(content_words_in(text, unknown), content_words(text), "{text}");
        }
    }

    #[test]
    fn checkable_tokens_are_numbers_and_names() {
        assert_eq!(
            checkable_tokens("The plan costs $4,200 and Maria Okafor backs it. Two voted no."),
            ["4200", "maria", "okafor"]
        );
    }
}
