//! Languages: which language a text is written in, and what that means for reading it. An
//! article's language is detected once (`detect`): the script decides Chinese, Japanese, Korean,
//! Thai and the other scripts of one language, and `whatlang`'s trigram profiles decide among the
//! languages that share an alphabet. A text too short to tell, or one whose parts disagree (an
//! article half in one language, half in another), is `Language::UNKNOWN` rather than a guess.
//! `judge` checks that a model's answer is in the language it was asked for, and `words`
//! counts a text's length in English-word equivalents, so one word budget serves every language
//! (each Chinese, Japanese or Korean character counts as a word, as intake counts them, and
//! there are more of them to an English word).

use serde::{Deserialize, Serialize};
use whatlang::Lang;

/// A language, or none known (`UNKNOWN`). On the wire it is its ISO 639-1 code (`"de"`; the
/// ISO 639-3 code for the few without one) or `"unknown"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Language(Option<Lang>);

/// whatlang's languages with their ISO 639-1 code, English name and own name.
const LANGUAGES: &[(Lang, &str, &str, &str)] = &[
    (Lang::Eng, "en", "English", "English"),
    (Lang::Deu, "de", "German", "Deutsch"),
    (Lang::Fra, "fr", "French", "français"),
    (Lang::Spa, "es", "Spanish", "español"),
    (Lang::Por, "pt", "Portuguese", "português"),
    (Lang::Ita, "it", "Italian", "italiano"),
    (Lang::Nld, "nl", "Dutch", "Nederlands"),
    (Lang::Rus, "ru", "Russian", "русский"),
    (Lang::Ukr, "uk", "Ukrainian", "українська"),
    (Lang::Pol, "pl", "Polish", "polski"),
    (Lang::Ces, "cs", "Czech", "čeština"),
    (Lang::Slk, "sk", "Slovak", "slovenčina"),
    (Lang::Cmn, "zh", "Chinese", "中文"),
    (Lang::Jpn, "ja", "Japanese", "日本語"),
    (Lang::Kor, "ko", "Korean", "한국어"),
    (Lang::Vie, "vi", "Vietnamese", "Tiếng Việt"),
    (Lang::Tha, "th", "Thai", "ภาษาไทย"),
    (Lang::Ara, "ar", "Arabic", "العربية"),
    (Lang::Heb, "he", "Hebrew", "עברית"),
    (Lang::Tur, "tr", "Turkish", "Türkçe"),
    (Lang::Ind, "id", "Indonesian", "Bahasa Indonesia"),
    (Lang::Swe, "sv", "Swedish", "svenska"),
    (Lang::Dan, "da", "Danish", "dansk"),
    (Lang::Nob, "nb", "Norwegian", "norsk"),
    (Lang::Fin, "fi", "Finnish", "suomi"),
    (Lang::Hun, "hu", "Hungarian", "magyar"),
    (Lang::Ron, "ro", "Romanian", "română"),
    (Lang::Ell, "el", "Greek", "Ελληνικά"),
    (Lang::Bul, "bg", "Bulgarian", "български"),
    (Lang::Cat, "ca", "Catalan", "català"),
    (Lang::Hrv, "hr", "Croatian", "hrvatski"),
    (Lang::Srp, "sr", "Serbian", "српски"),
    (Lang::Slv, "sl", "Slovenian", "slovenščina"),
    (Lang::Mkd, "mk", "Macedonian", "македонски"),
    (Lang::Bel, "be", "Belarusian", "беларуская"),
    (Lang::Lit, "lt", "Lithuanian", "lietuvių"),
    (Lang::Lav, "lv", "Latvian", "latviešu"),
    (Lang::Est, "et", "Estonian", "eesti"),
    (Lang::Hin, "hi", "Hindi", "हिन्दी"),
    (Lang::Ben, "bn", "Bengali", "বাংলা"),
    (Lang::Mar, "mr", "Marathi", "मराठी"),
    (Lang::Nep, "ne", "Nepali", "नेपाली"),
    (Lang::Tam, "ta", "Tamil", "தமிழ்"),
    (Lang::Tel, "te", "Telugu", "తెలుగు"),
    (Lang::Kan, "kn", "Kannada", "ಕನ್ನಡ"),
    (Lang::Mal, "ml", "Malayalam", "മലയാളം"),
    (Lang::Guj, "gu", "Gujarati", "ગુજરાતી"),
    (Lang::Pan, "pa", "Punjabi", "ਪੰਜਾਬੀ"),
    (Lang::Ori, "or", "Odia", "ଓଡ଼ିଆ"),
    (Lang::Sin, "si", "Sinhala", "සිංහල"),
    (Lang::Urd, "ur", "Urdu", "اردو"),
    (Lang::Pes, "fa", "Persian", "فارسی"),
    (Lang::Kat, "ka", "Georgian", "ქართული"),
    (Lang::Hye, "hy", "Armenian", "Հայերեն"),
    (Lang::Amh, "am", "Amharic", "አማርኛ"),
    (Lang::Mya, "my", "Burmese", "မြန်မာစာ"),
    (Lang::Khm, "km", "Khmer", "ភាសាខ្មែរ"),
    (Lang::Yid, "yi", "Yiddish", "ייִדיש"),
    (Lang::Aze, "az", "Azerbaijani", "Azərbaycanca"),
    (Lang::Uzb, "uz", "Uzbek", "Oʻzbekcha"),
    (Lang::Tuk, "tk", "Turkmen", "Türkmençe"),
    (Lang::Tgl, "tl", "Tagalog", "Tagalog"),
    (Lang::Jav, "jv", "Javanese", "Basa Jawa"),
    (Lang::Afr, "af", "Afrikaans", "Afrikaans"),
    (Lang::Cym, "cy", "Welsh", "Cymraeg"),
    (Lang::Lat, "la", "Latin", "Latina"),
    (Lang::Epo, "eo", "Esperanto", "Esperanto"),
    (Lang::Zul, "zu", "Zulu", "isiZulu"),
    (Lang::Sna, "sn", "Shona", "chiShona"),
    (Lang::Aka, "ak", "Akan", "Akan"),
];

fn entry(lang: Lang) -> &'static (Lang, &'static str, &'static str, &'static str) {
    LANGUAGES.iter().find(|e| e.0 == lang).expect("every whatlang language is in the table")
}

impl Language {
    pub const UNKNOWN: Language = Language(None);
    pub const ENGLISH: Language = Language(Some(Lang::Eng));

    /// Every language Precis can detect, English first.
    pub fn all() -> impl Iterator<Item = Language> {
        LANGUAGES.iter().map(|e| Language(Some(e.0)))
    }

    /// The language a code or name stands for: an ISO 639-1 or 639-3 code (`de`, `deu`), or its
    /// English or own name (`German`, `Deutsch`), in any case. `unknown` is `UNKNOWN`.
    pub fn parse(s: &str) -> Option<Language> {
        let s = s.trim().to_lowercase();
        if s == "unknown" {
            return Some(Language::UNKNOWN);
        }
        LANGUAGES
            .iter()
            .find(|(lang, code, english, own)| {
                *code == s || lang.code() == s || english.to_lowercase() == s || own.to_lowercase() == s
            })
            .map(|e| Language(Some(e.0)))
    }

    pub fn is_known(self) -> bool {
        self.0.is_some()
    }

    pub fn is_english(self) -> bool {
        self.0 == Some(Lang::Eng)
    }

    /// The ISO 639-1 code (`"de"`), or `"unknown"`.
    pub fn code(self) -> &'static str {
        self.0.map_or("unknown", |l| entry(l).1)
    }

    /// The English name (`"German"`), or `"unknown"`.
    pub fn english_name(self) -> &'static str {
        self.0.map_or("unknown", |l| entry(l).2)
    }

    /// The language's name for itself (`"Deutsch"`), or `"unknown"`.
    pub fn native_name(self) -> &'static str {
        self.0.map_or("unknown", |l| entry(l).3)
    }

    /// How a prompt names the language: `German (Deutsch)`, or `English`.
    pub fn prompt_name(self) -> String {
        let (english, own) = (self.english_name(), self.native_name());
        if english == own {
            english.to_string()
        } else {
            format!("{english} ({own})")
        }
    }

    /// The writing system it is written in (for a known language).
    pub fn script(self) -> Option<Script> {
        Some(match self.0? {
            Lang::Cmn => Script::Han,
            Lang::Jpn => Script::Japanese,
            Lang::Kor => Script::Hangul,
            Lang::Tha => Script::Thai,
            Lang::Khm => Script::Khmer,
            Lang::Mya => Script::Myanmar,
            Lang::Rus | Lang::Ukr | Lang::Bul | Lang::Bel | Lang::Mkd | Lang::Srp => Script::Cyrillic,
            Lang::Ell => Script::Greek,
            Lang::Ara | Lang::Pes | Lang::Urd => Script::Arabic,
            Lang::Heb | Lang::Yid => Script::Hebrew,
            Lang::Hin | Lang::Mar | Lang::Nep => Script::Devanagari,
            Lang::Ben
            | Lang::Tam
            | Lang::Tel
            | Lang::Kan
            | Lang::Mal
            | Lang::Guj
            | Lang::Pan
            | Lang::Ori
            | Lang::Sin
            | Lang::Kat
            | Lang::Hye
            | Lang::Amh => Script::Other,
            _ => Script::Latin,
        })
    }

    /// Whether words are written without spaces between them (Chinese, Japanese, Thai, Khmer,
    /// Burmese): such text is cut into words by character, not by white space.
    pub fn without_spaces(self) -> bool {
        matches!(self.script(), Some(Script::Han | Script::Japanese | Script::Thai | Script::Khmer | Script::Myanmar))
    }

    /// Characters (as `article::count_words` counts them) to one English word of the same
    /// content, for languages counted by character; 1 for the others. Measured on the parallel
    /// articles of `tests/data/lang/` (the same article in each language).
    fn units_per_word(self) -> f32 {
        match self.0 {
            Some(Lang::Cmn) => 1.6,
            Some(Lang::Jpn) => 2.1,
            Some(Lang::Kor) => 1.9,
            // Thai, Khmer and Burmese letters are already counted by the word (`LETTERS_PER_WORD`).
            _ => 1.0,
        }
    }

    /// The code of the `sentencex` rules for this language (its own, else a fallback).
    pub fn sentence_rules(self) -> &'static str {
        match self.0 {
            None => "en",
            Some(l) => entry(l).1,
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Language {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // A code this version does not know reads as unknown rather than failing the whole value.
        Ok(Language::parse(&s).unwrap_or_default())
    }
}

impl ts_rs::TS for Language {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn name(_: &ts_rs::Config) -> String {
        "string".into()
    }

    fn inline(_: &ts_rs::Config) -> String {
        "string".into()
    }
}

/// The writing systems detection tells apart before it looks at words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    Latin,
    Cyrillic,
    Greek,
    Arabic,
    Hebrew,
    Devanagari,
    /// Chinese characters without kana: Chinese.
    Han,
    /// Chinese characters with hiragana or katakana: Japanese.
    Japanese,
    Hangul,
    Thai,
    Khmer,
    Myanmar,
    /// Any other letters (Bengali, Tamil, Georgian, ...): whatlang tells them apart.
    Other,
}

/// How a character of a script that puts no spaces between words counts in a text's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unspaced {
    /// A Chinese character, kana or Korean syllable: a word each (Korean puts spaces between its
    /// words, but joins particles to them; `units_per_word` has the measured ratios).
    Character,
    /// A character of an alphabet written without spaces between words (Thai, Lao, Khmer,
    /// Burmese, Tibetan, Tai Le, New Tai Lue, Tai Tham, Tai Viet, Buginese, Balinese, Javanese):
    /// its letters count a word for every `LETTERS_PER_WORD`.
    Letter,
}

/// Letters of a script written without spaces to a word: a rough figure for Thai, Khmer and
/// Burmese (tone marks are not letters; most vowel signs are), the one the summary's word
/// budgets have used for them. An article of `article::MIN_WORDS` words needs about 125 letters.
pub const LETTERS_PER_WORD: usize = 5;

/// Whether `c` belongs to a script that puts no spaces between words, and how it counts.
pub fn unspaced(c: char) -> Option<Unspaced> {
    Some(match c as u32 {
        0x3040..=0x30FF
        | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF
        | 0xFF66..=0xFF9F
        | 0x20000..=0x3FFFF => Unspaced::Character,
        0x0E00..=0x0FFF // Thai, Lao, Tibetan
        | 0x1000..=0x109F // Myanmar
        | 0x1780..=0x17FF // Khmer
        | 0x1950..=0x1AAF // Tai Le, New Tai Lue, Khmer symbols, Buginese, Tai Tham
        | 0x1B00..=0x1B7F // Balinese
        | 0xA980..=0xA9FF // Javanese, Myanmar extended B
        | 0xAA60..=0xAADF // Myanmar extended A, Tai Viet
            => Unspaced::Letter,
        _ => return None,
    })
}

/// What kind of letter `c` is, for counting scripts: `None` for what is not a letter.
fn script_of(c: char) -> Option<Script> {
    let u = c as u32;
    Some(match u {
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Japanese,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF => Script::Han,
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F => Script::Hangul,
        0x0E00..=0x0E7F => Script::Thai,
        0x1780..=0x17FF => Script::Khmer,
        0x1000..=0x109F => Script::Myanmar,
        _ if !c.is_alphabetic() => return None,
        0x0400..=0x052F => Script::Cyrillic,
        0x0370..=0x03FF | 0x1F00..=0x1FFF => Script::Greek,
        0x0600..=0x06FF | 0x0750..=0x077F | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Script::Arabic,
        0x0590..=0x05FF => Script::Hebrew,
        0x0900..=0x097F => Script::Devanagari,
        _ if u < 0x0250 || (0x1E00..=0x1EFF).contains(&u) => Script::Latin,
        _ => Script::Other,
    })
}

/// How much of a text is in each script, in word units: a word of an alphabet counts 1 for its
/// script, each Chinese, Japanese or Korean character 1 and each letter of Thai, Khmer, Burmese
/// or another alphabet without spaces `1 / LETTERS_PER_WORD`, as `article::count_words` counts
/// them.
#[derive(Debug, Default, Clone)]
struct Scripts {
    units: Vec<(Script, f32)>,
    /// Kana among the Chinese characters and kana (`Script::Japanese` counts both).
    kana: f32,
    han: f32,
}

impl Scripts {
    fn of(text: &str) -> Scripts {
        let mut s = Scripts::default();
        let mut in_word: Option<Script> = None;
        for c in text.chars() {
            let Some(script) = script_of(c) else {
                in_word = None;
                continue;
            };
            match script {
                Script::Japanese => {
                    s.kana += 1.0;
                    s.add(Script::Japanese, 1.0);
                    in_word = None;
                }
                Script::Han => {
                    s.han += 1.0;
                    s.add(Script::Japanese, 1.0);
                    in_word = None;
                }
                Script::Hangul => {
                    s.add(Script::Hangul, 1.0);
                    in_word = None;
                }
                // Letters of the other alphabets without spaces (Lao, Tibetan, ...) count as
                // Thai's do, for their script's share; whatlang tells their languages apart.
                _ if unspaced(c) == Some(Unspaced::Letter) => {
                    if c.is_alphanumeric() {
                        s.add(script, 1.0 / LETTERS_PER_WORD as f32);
                    }
                    in_word = None;
                }
                _ => {
                    if in_word != Some(script) {
                        s.add(script, 1.0);
                    }
                    in_word = Some(script);
                }
            }
        }
        // Chinese characters with hardly any kana are Chinese.
        if s.han > 0.0 && s.kana < KANA_SHARE * (s.han + s.kana) {
            for (script, _) in s.units.iter_mut().filter(|(x, _)| *x == Script::Japanese) {
                *script = Script::Han;
            }
        }
        s
    }

    fn add(&mut self, script: Script, n: f32) {
        match self.units.iter_mut().find(|(s, _)| *s == script) {
            Some((_, u)) => *u += n,
            None => self.units.push((script, n)),
        }
    }

    fn total(&self) -> f32 {
        self.units.iter().map(|(_, u)| u).sum()
    }

    /// The script with the most units and its share of all of them.
    fn main(&self) -> Option<(Script, f32)> {
        let total = self.total();
        self.units.iter().max_by(|a, b| a.1.total_cmp(&b.1)).filter(|_| total > 0.0).map(|&(s, u)| (s, u / total))
    }
}

/// Japanese text is a third to a half kana; Chinese has none. Chinese characters with at least
/// this share of kana are Japanese.
const KANA_SHARE: f32 = 0.1;

/// A text with fewer word units than this is too short to tell its language.
pub const MIN_UNITS: f32 = 12.0;
/// An article is of one language when the parts that agree with it carry at least this share of
/// its words; below, it is mixed and its language unknown.
const MIN_AGREEMENT: f32 = 0.7;
/// The script with the most words must carry at least this share of a text's words.
const MIN_SCRIPT_SHARE: f32 = 0.6;
/// Parts of about this many bytes are detected one by one to see whether they agree.
const PART_BYTES: usize = 600;
/// At most this many parts are looked at, spread over the text.
const MAX_PARTS: usize = 24;
/// At most this much of the text is read, from its start (the rest is seen through its parts).
const MAX_WHOLE_BYTES: usize = 64 * 1024;
/// The least weight a part has in the agreement (`prose_weight`), so that a text of names alone
/// still has parts that count.
const MIN_PROSE_WEIGHT: f32 = 0.1;

/// The language of a text and how sure detection is, in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detected {
    pub language: Language,
    pub confidence: f32,
}

impl Detected {
    const UNKNOWN: Detected = Detected { language: Language::UNKNOWN, confidence: 0.0 };
}

/// The language of one stretch of text with its confidence, without the check for mixed parts.
fn detect_one(text: &str) -> Detected {
    let scripts = Scripts::of(text);
    let Some((script, share)) = scripts.main() else { return Detected::UNKNOWN };
    if scripts.total() < MIN_UNITS || share < MIN_SCRIPT_SHARE {
        return Detected::UNKNOWN;
    }
    let lang = match script {
        Script::Han => Lang::Cmn,
        Script::Japanese => Lang::Jpn,
        Script::Hangul => Lang::Kor,
        Script::Thai => Lang::Tha,
        Script::Khmer => Lang::Khm,
        Script::Myanmar => Lang::Mya,
        _ => {
            // Only the main script's letters go to the trigram model: English names in a
            // Russian article must not turn it into an English one.
            let kept: String =
                text.chars().map(|c| if script_of(c).is_none_or(|s| s == script) { c } else { ' ' }).collect();
            let Some(info) = whatlang::detect(&kept) else { return Detected::UNKNOWN };
            return Detected { language: Language(Some(info.lang())), confidence: info.confidence() as f32 * share };
        }
    };
    Detected { language: Language(Some(lang)), confidence: share }
}

/// Detects the language of an article. Too short a text, one without a main script, or one whose
/// parts disagree is `UNKNOWN`; the confidence is whatlang's (or the main script's share)
/// times the share of the text that agrees. Each part counts by its words and by how much it
/// reads as prose (`prose_weight`): a table of names and figures says little about a language,
/// and must not make the article around it mixed.
pub fn detect(text: &str) -> Detected {
    let whole = detect_one(truncate(text, MAX_WHOLE_BYTES));
    if !whole.language.is_known() {
        return Detected { language: Language::UNKNOWN, confidence: whole.confidence };
    }
    let parts = parts(text);
    if parts.len() < 2 {
        return whole;
    }
    let (mut agree, mut total) = (0.0, 0.0);
    for part in parts {
        let units = Scripts::of(part).total();
        let d = detect_one(part);
        // A part too short to tell counts for nothing either way.
        if !d.language.is_known() && units < MIN_UNITS {
            continue;
        }
        let weight = units * prose_weight(part);
        total += weight;
        if d.language == whole.language || related(d.language, whole.language) {
            agree += weight;
        }
    }
    let agreement = if total > 0.0 { agree / total } else { 1.0 };
    if agreement < MIN_AGREEMENT {
        return Detected { language: Language::UNKNOWN, confidence: agreement };
    }
    Detected { language: whole.language, confidence: (whole.confidence.max(0.5) * agreement).min(1.0) }
}

/// The share of `text`'s words in a script with capitals that begin with a small letter (at
/// least `MIN_PROSE_WEIGHT`), or 1 when it has no such words. Prose is mostly small words
/// (articles, prepositions, verbs; German's capitalized nouns leave about half), while a table
/// of names, a list of titles or a run of headings is nearly all capitals.
fn prose_weight(text: &str) -> f32 {
    let (mut small, mut cased) = (0usize, 0usize);
    for word in text.split_whitespace() {
        match word.chars().find(|c| c.is_alphabetic()) {
            Some(c) if c.is_lowercase() => (small, cased) = (small + 1, cased + 1),
            Some(c) if c.is_uppercase() => cased += 1,
            _ => {}
        }
    }
    if cased == 0 {
        1.0
    } else {
        (small as f32 / cased as f32).max(MIN_PROSE_WEIGHT)
    }
}

/// Languages so close that whatlang confuses them on a paragraph: a part detected as one of
/// them does not make an article in the other mixed.
fn related(a: Language, b: Language) -> bool {
    const PAIRS: &[(Lang, Lang)] = &[
        (Lang::Dan, Lang::Nob),
        (Lang::Swe, Lang::Nob),
        (Lang::Dan, Lang::Swe),
        (Lang::Spa, Lang::Por),
        (Lang::Spa, Lang::Cat),
        (Lang::Ces, Lang::Slk),
        (Lang::Rus, Lang::Ukr),
        (Lang::Rus, Lang::Bul),
        (Lang::Hrv, Lang::Srp),
        (Lang::Hrv, Lang::Slv),
        (Lang::Nld, Lang::Afr),
        (Lang::Fin, Lang::Est),
        (Lang::Tur, Lang::Aze),
        (Lang::Ind, Lang::Jav),
        (Lang::Hin, Lang::Mar),
        (Lang::Hin, Lang::Nep),
        (Lang::Pes, Lang::Urd),
        (Lang::Ara, Lang::Pes),
    ];
    match (a.0, b.0) {
        (Some(x), Some(y)) => PAIRS.iter().any(|&(p, q)| (p, q) == (x, y) || (q, p) == (x, y)),
        _ => false,
    }
}

/// Up to `MAX_PARTS` stretches of about `PART_BYTES` each, spread evenly over the text and cut
/// at white space.
fn parts(text: &str) -> Vec<&str> {
    let n = text.len() / PART_BYTES;
    if n < 2 {
        return Vec::new();
    }
    let step = n.div_ceil(MAX_PARTS);
    (0..n)
        .step_by(step)
        .filter_map(|i| {
            let start = boundary_after(text, i * PART_BYTES);
            let end = boundary_after(text, (i + 1) * PART_BYTES);
            (start < end).then(|| &text[start..end])
        })
        .collect()
}

/// The first white space (or the end) at or after byte `at`.
fn boundary_after(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    let mut i = at;
    while !text.is_char_boundary(i) {
        i += 1;
    }
    text[i..].find(char::is_whitespace).map_or(text.len(), |j| i + j)
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What the check of an answer's language found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Written in the language asked for.
    Matches,
    /// Written in another language (the one named, when it is known).
    Differs(Language),
    /// Too little text to tell yet.
    TooShort,
}

/// An answer with fewer word units than this cannot be judged.
const MIN_JUDGED_UNITS: f32 = 4.0;
/// From this many word units on, a language close to the one asked for (Spanish for
/// Portuguese) is told apart from it too; below, whatlang confuses them too often.
const RELATIVES_FROM_UNITS: f32 = 15.0;

/// Close languages that whatlang tells apart in an answer of a few sentences (measured: at most
/// 1 in 100 answers taken for the other). Danish, Norwegian and Swedish, Dutch and Afrikaans
/// are confused far more often and are not checked against each other.
const TOLD_APART: &[(Lang, Lang)] = &[
    (Lang::Spa, Lang::Por),
    (Lang::Spa, Lang::Cat),
    (Lang::Ces, Lang::Slk),
    (Lang::Rus, Lang::Ukr),
    (Lang::Rus, Lang::Bul),
];

/// Whether `text` (a model's answer) is written in `expected`. The script decides first (a
/// Korean answer to a German request differs, and Chinese characters without kana are not
/// Japanese); within one alphabet, whatlang chooses between `expected`, English (where small
/// models drift), `source` (the article's language, which the answer may copy) and, for longer
/// answers, the languages closest to `expected`. An unknown `expected` always matches. Code and
/// addresses (`without_code`) are left out of the judgement: they read the same in any language.
pub fn judge(text: &str, expected: Language, source: Language) -> Verdict {
    let Some(want) = expected.0 else { return Verdict::Matches };
    let text = &without_code(text);
    let scripts = Scripts::of(text);
    let units = scripts.total();
    if units < MIN_JUDGED_UNITS {
        return Verdict::TooShort;
    }
    let Some((script, share)) = scripts.main() else { return Verdict::TooShort };
    let want_script = expected.script().unwrap_or(Script::Latin);
    if script != want_script {
        // A few words of another script (names, terms) do not make the answer foreign.
        let own = scripts.units.iter().find(|(s, _)| *s == want_script).map_or(0.0, |(_, u)| *u);
        if own / units >= 0.5 {
            return Verdict::Matches;
        }
        let guess = detect_one(text).language;
        return Verdict::Differs(if guess.is_known() { guess } else { Language::UNKNOWN });
    }
    if matches!(
        script,
        Script::Han | Script::Japanese | Script::Hangul | Script::Thai | Script::Khmer | Script::Myanmar
    ) || share < MIN_SCRIPT_SHARE
    {
        return Verdict::Matches;
    }
    let mut rivals = vec![want, Lang::Eng];
    if let Some(s) = source.0 {
        rivals.push(s);
    }
    if units >= RELATIVES_FROM_UNITS {
        rivals.extend(TOLD_APART.iter().filter_map(|&(a, b)| match () {
            _ if a == want => Some(b),
            _ if b == want => Some(a),
            _ => None,
        }));
    }
    rivals.retain(|&l| Language(Some(l)).script() == Some(script));
    rivals.dedup();
    if rivals.len() < 2 {
        return Verdict::Matches;
    }
    let kept: String = text.chars().map(|c| if script_of(c).is_none_or(|s| s == script) { c } else { ' ' }).collect();
    match whatlang::Detector::with_allowlist(rivals).detect_lang(&kept) {
        Some(l) if l != want => Verdict::Differs(Language(Some(l))),
        _ => Verdict::Matches,
    }
}

/// `text` with its code-like words blanked: words of a script with spaces between words that
/// hold a dot, underscore, slash, backslash, equals sign, at sign, colon, asterisk or bracket
/// inside them, or letters run together with digits (`player.setav`, `max_tokens`,
/// `C:\Games`, `x100`, `user@host`). An answer about a game's console commands or a program's
/// options quotes them as they are, in whatever language it is written. A word with Chinese,
/// Japanese or Korean characters, or letters of a script without spaces, is kept whole (a
/// "word" there may be a whole clause).
fn without_code(text: &str) -> std::borrow::Cow<'_, str> {
    fn code_like(word: &str) -> bool {
        if word.chars().any(|c| unspaced(c).is_some()) {
            return false;
        }
        let inner = word.trim_matches(|c: char| !c.is_alphanumeric());
        let joined =
            inner.chars().any(|c| matches!(c, '.' | '_' | '/' | '\\' | '=' | '@' | ':' | '*' | '(' | '[' | '{' | '<'));
        let digits = inner.chars().any(|c| c.is_ascii_digit());
        let letters = inner.chars().any(char::is_alphabetic);
        letters && (joined || digits)
    }
    if !text.split_whitespace().any(code_like) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        out.push_str(&rest[..start]);
        let word_end = rest[start..].find(char::is_whitespace).map_or(rest.len(), |e| start + e);
        let word = &rest[start..word_end];
        if code_like(word) {
            out.extend(std::iter::repeat_n(' ', word.chars().count()));
        } else {
            out.push_str(word);
        }
        rest = &rest[word_end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The length of `text` in English-word equivalents for a text in `language`: the words
/// `article::count_words` counts (white-space words, Chinese, Japanese and Korean characters,
/// and letters of Thai and the other scripts without spaces by `LETTERS_PER_WORD`), divided for
/// Chinese, Japanese and Korean by how many characters make an English word. Text in a script
/// without spaces is counted so whatever the detected language (Lao, Tibetan and Javanese are
/// not detected at all).
pub fn words(text: &str, language: Language) -> usize {
    let units = crate::article::count_words(text);
    let per_word = language.units_per_word();
    if per_word == 1.0 {
        return units;
    }
    (units as f32 / per_word).round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const DE: &str = "Die Stadtwerke haben am Montag ein neues Gezeitenkraftwerk am alten Fähranleger in Betrieb \
genommen. Die Anlage soll künftig rund dreitausend Haushalte mit Strom versorgen, sagte der Bürgermeister. \
Der Umbau hat etwa sechs Millionen Euro gekostet und wurde zum Teil vom Land bezahlt.";
    const EN: &str = "The town switched on a tidal power station at the old ferry pier on Monday. The plant \
should supply about three thousand homes with electricity, the mayor said. The rebuilding cost about six \
million euros and was partly paid for by the state.";

    #[test]
    fn code_in_an_answer_says_nothing_of_its_language() {
        let ru = Language::parse("ru").unwrap();
        // A summary of a Russian page about a game's console commands (the default model's).
        let answer = "В статье описывается метод увеличения скорости бега в игре Skyrim, используя коды \
player.setav speedmult *х100, player.setav health * .player.setav magicka * player.setav stamina *.";
        assert_eq!(judge(answer, ru, ru), Verdict::Matches);
        let english = "The article describes a way to run faster in the game Skyrim with the codes \
player.setav speedmult *x100, player.setav health * .player.setav magicka * player.setav stamina *.";
        assert_eq!(judge(english, ru, ru), Verdict::Differs(Language::ENGLISH));
        let code = "use max_tokens=5, see C:\\Games or a@b.org (x100).";
        let blanked = without_code(code);
        assert_eq!(blanked.split_whitespace().collect::<Vec<_>>(), ["use", "see", "or"]);
        assert_eq!(blanked.chars().count(), code.chars().count());
        // Words of the scripts without spaces stay whole, whatever they hold.
        let clause = without_code("市政府player.setav周一 x1");
        assert_eq!(clause.split_whitespace().collect::<Vec<_>>(), ["市政府player.setav周一"]);
        assert_eq!(without_code(EN), EN);
    }

    #[test]
    fn a_table_of_names_does_not_make_an_article_mixed() {
        let first = ["Kyle", "Martin", "Kevin", "Denny", "Joey", "Ryan", "Brad", "Clint", "Chase", "William"];
        let last = ["Busch", "Truex", "Harvick", "Hamlin", "Logano", "Blaney", "Larson", "Bowyer", "Elliott", "Byron"];
        let mut text = String::from(
            "Nesta página você terá sempre a classificação atualizada do campeonato até a última corrida! \
Coloque nos seus favoritos e venha sempre conferir a classificação.\n\nClassificação final após 36 etapas:\n\n\
Pos. Piloto Pontos Vitórias Poles\n",
        );
        for i in 0..40 {
            let points = 5040 - i * 120;
            text.push_str(&format!(
                "{} {} {} {points} {} {}\n",
                i + 1,
                first[i % 10],
                last[(i * 3 + 1) % 10],
                i % 7,
                i % 3
            ));
        }
        text.push_str(
            "\n* Clique no link para ver o calendário completo das corridas da temporada.\n\
* Somente os doze primeiros disputam o título nas dez últimas corridas.\n\
* O calendário é composto por trinta e seis corridas.\n",
        );
        assert_eq!(detect(&text).language.code(), "pt", "{:?}", detect(&text));
        // Names alone still say nothing.
        let names: String = (0..40).map(|i| format!("{} {}\n", first[i % 10], last[(i * 7 + 3) % 10])).collect();
        assert!(!detect(&names).language.is_known() || detect(&names).confidence < 0.5, "{:?}", detect(&names));
    }

    #[test]
    fn codes_and_names() {
        let de = Language::parse("de").unwrap();
        assert_eq!(Language::parse("deu"), Some(de));
        assert_eq!(Language::parse("German"), Some(de));
        assert_eq!(Language::parse("deutsch"), Some(de));
        assert_eq!(de.code(), "de");
        assert_eq!(de.prompt_name(), "German (Deutsch)");
        assert_eq!(Language::ENGLISH.prompt_name(), "English");
        assert_eq!(Language::parse("zh").unwrap().prompt_name(), "Chinese (中文)");
        assert_eq!(Language::parse("xx"), None);
        assert_eq!(serde_json::to_string(&de).unwrap(), "\"de\"");
        assert_eq!(serde_json::from_str::<Language>("\"unknown\"").unwrap(), Language::UNKNOWN);
        assert_eq!(serde_json::from_str::<Language>("\"qq\"").unwrap(), Language::UNKNOWN);
        assert_eq!(Language::all().count(), LANGUAGES.len());
        assert!(Language::all().all(|l| Language::parse(l.code()) == Some(l)));
    }

    #[test]
    fn detects_articles_by_script_and_words() {
        assert_eq!(detect(DE).language.code(), "de");
        assert_eq!(detect(EN).language.code(), "en");
        let ja = "先日、不正に改造したiPhoneを販売したとして、商標法違反の疑いで20代の男性が逮捕されたというニュースを耳にしました。\
Appleの商標が付いた部品を使っていたことが問題になったようです。";
        assert_eq!(detect(ja).language.code(), "ja");
        let zh = "市政府周一宣布，旧渡轮码头将改建为潮汐发电站，预计每年可为三千户家庭供电。这项工程耗资六百万欧元，部分资金由州政府承担。";
        assert_eq!(detect(zh).language.code(), "zh");
        let ko = "시는 월요일 옛 여객선 부두를 조력 발전소로 바꾸었다고 밝혔다. 이 발전소는 약 삼천 가구에 전기를 공급할 예정이다.";
        assert_eq!(detect(ko).language.code(), "ko");
        let ru = "Городские власти в понедельник открыли приливную электростанцию на старом паромном причале. \
Она будет снабжать электричеством около трёх тысяч домов, сообщил мэр города Harbor Point.";
        assert_eq!(detect(ru).language.code(), "ru");
    }

    #[test]
    fn short_and_mixed_texts_are_unknown() {
        assert_eq!(detect("Guten Tag!").language, Language::UNKNOWN);
        assert_eq!(detect("").language, Language::UNKNOWN);
        let mixed = format!("{}\n\n{}\n\n{}\n\n{}", DE.repeat(2), EN.repeat(2), DE.repeat(2), EN.repeat(2));
        let d = detect(&mixed);
        assert_eq!(d.language, Language::UNKNOWN, "{d:?}");
        // An article with a short quotation in another language is still of one language.
        let quoted = format!("{}\n\n{}\n\n{}", DE.repeat(4), EN, DE.repeat(4));
        assert_eq!(detect(&quoted).language.code(), "de");
    }

    #[test]
    fn answers_are_judged_against_the_language_asked_for() {
        let de = Language::parse("de").unwrap();
        let ja = Language::parse("ja").unwrap();
        let ko = Language::parse("ko").unwrap();
        assert_eq!(judge(DE, de, de), Verdict::Matches);
        assert_eq!(judge(EN, de, de), Verdict::Differs(Language::ENGLISH));
        assert_eq!(judge("Kurz.", de, de), Verdict::TooShort);
        assert_eq!(
            judge("市政府周一宣布，旧渡轮码头将改建为潮汐发电站。", ja, ja),
            Verdict::Differs(Language::parse("zh").unwrap())
        );
        assert_eq!(
            judge("市は月曜日、古いフェリー乗り場を潮力発電所に改装したと発表しました。", ja, ja),
            Verdict::Matches
        );
        assert!(matches!(judge(EN, ko, ko), Verdict::Differs(_)));
        assert_eq!(judge(EN, Language::UNKNOWN, de), Verdict::Matches);
        // A name in Latin letters does not make a Korean answer foreign.
        assert_eq!(
            judge("Harbor Point 시는 월요일 옛 여객선 부두를 조력 발전소로 바꾸었다.", ko, ko),
            Verdict::Matches
        );
    }

    #[test]
    fn words_in_english_word_equivalents() {
        assert_eq!(words("The council voted on Monday.", Language::ENGLISH), 5);
        assert_eq!(words("The council voted on Monday.", Language::UNKNOWN), 5);
        // 34 Chinese characters are about 21 English words.
        let zh = "市政府周一宣布旧渡轮码头将改建为潮汐发电站预计每年可为三千户家庭供电";
        assert_eq!(crate::article::count_words(zh), 34);
        assert_eq!(words(zh, Language::parse("zh").unwrap()), 21);
        // Letters of Thai and Lao count a word for every five, whatever the language detected
        // (Lao is never detected): 16 letters are 3 words.
        let th = "สภาเมืองลงมติเมื่อวันอังคาร";
        assert_eq!(words(th, Language::parse("th").unwrap()), words(th, Language::UNKNOWN));
        assert_eq!(words("ສະພາເມືອງລົງມະຕິ", Language::UNKNOWN), 3);
    }
}
