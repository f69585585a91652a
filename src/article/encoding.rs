//! Text encodings: which encoding the bytes of a text file (or of a web page) are in, and the
//! text they hold. A byte-order mark decides first (UTF-32's before UTF-16's, which it begins
//! with). Without one, UTF-32 and UTF-16 are recognised by decoding them (`wide`), and only when
//! the bytes hold zero bytes that are not stray; then comes UTF-8, also when a few bytes in it
//! are not UTF-8 (`mostly_utf8`); whatever is left goes to `chardetng`, which guesses the legacy
//! encoding (Windows-1252, Latin-1, Windows-1251, KOI8-R, Shift-JIS, EUC-JP, GB18030, Big5,
//! EUC-KR, TIS-620, ...). A page's declared charset is weighed against its bytes
//! (`decode_declared`). Whether the decoded text is text at all is `looks_binary`.

use encoding_rs::Encoding;

/// Decodes the bytes of a text file in whatever encoding they are in; `None` when they are not
/// text. NUL padding after the text (left by some editors and by files preallocated and never
/// filled) is not part of it.
pub(crate) fn decode_text(bytes: &[u8]) -> Option<String> {
    let mut text = match decode_bom(bytes) {
        Some(text) => text,
        None => decode_unlabelled(bytes),
    };
    text.truncate(text.trim_end_matches('\0').len());
    (!looks_binary(&text)).then_some(text)
}

/// The text after a byte-order mark, if the bytes open with one.
pub(crate) fn decode_bom(bytes: &[u8]) -> Option<String> {
    // UTF-32LE's mark begins with UTF-16LE's: a UTF-16 text cannot begin with U+0000, so the
    // longer mark wins.
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE, 0, 0]) {
        return Some(utf32(rest, false));
    }
    if let Some(rest) = bytes.strip_prefix(&[0, 0, 0xFE, 0xFF]) {
        return Some(utf32(rest, true));
    }
    let (enc, bom) = Encoding::for_bom(bytes)?;
    Some(enc.decode_without_bom_handling(&bytes[bom..]).0.into_owned())
}

/// Decodes bytes that carry no byte-order mark and no declaration: UTF-32 or UTF-16 when the
/// bytes decode as one of them (see `wide`), else UTF-8 when they are UTF-8 or nearly so (see
/// `mostly_utf8`), else the legacy encoding `chardetng` finds likeliest.
pub(crate) fn decode_unlabelled(bytes: &[u8]) -> String {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let narrow = &bytes[..end];
    // Text in a one-byte or multi-byte encoding has no zero bytes (but for padding at its end,
    // cut off above); UTF-16 and UTF-32 text has them in the high bytes of every ASCII
    // character: a space, a line break, a digit. So the wide encodings are tried only when zero
    // bytes are there and are not a few strays in an otherwise ordinary text.
    if narrow.contains(&0) && !stray_nuls(narrow) {
        if let Some(mut text) = wide(bytes) {
            text.truncate(text.trim_end_matches('\0').len());
            return text;
        }
    }
    match std::str::from_utf8(narrow) {
        Ok(text) => text.to_string(),
        Err(_) => mostly_utf8(narrow).unwrap_or_else(|| guess(narrow)),
    }
}

/// Decodes a web page that declares its charset (`declared`, from a `<meta>` tag), weighing the
/// declaration against the bytes: bytes that are UTF-8 (or nearly, see `mostly_utf8`) with
/// characters beyond ASCII are UTF-8 whatever the page says (a page converted to UTF-8 may keep
/// its old declaration, while text in a legacy encoding is almost never valid UTF-8 by accident),
/// and a declared UTF-8 that the bytes do not bear out is decoded as if undeclared.
pub(crate) fn decode_declared(bytes: &[u8], declared: &'static Encoding) -> String {
    if declared == encoding_rs::UTF_8 {
        return decode_unlabelled(bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.is_ascii() => return text.to_string(),
        Ok(_) => {}
        Err(_) => {
            if let Some(text) = mostly_utf8(bytes) {
                return text;
            }
        }
    }
    declared.decode_without_bom_handling(bytes).0.into_owned()
}

/// Text with NUL characters or many control characters is taken to be binary.
pub(crate) fn looks_binary(text: &str) -> bool {
    let sample: Vec<char> = text.chars().take(8192).collect();
    // Escape, which colours text in logs and terminal captures, is text's (`controls` takes the
    // sequences off).
    let control =
        sample.iter().filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}' | '\u{1b}')).count();
    sample.contains(&'\0') || control * 100 > sample.len().max(1)
}

/// At most one zero byte in this many is taken for a stray in a one-byte text. UTF-16 text has
/// far more: the high byte of each space, line break and digit, even in Chinese (a line break
/// every hundred characters is one zero byte in two hundred), and half of all bytes in Latin text.
const STRAY_NUL_BYTES: usize = 50;

/// Whether the zero bytes in `bytes` are strays in a one-byte text rather than the high bytes of
/// UTF-16: there are few of them, and hardly any other control bytes (tab, line breaks, form feed
/// and escape, which colours text in logs, are not counted). UTF-16 text in any script but Latin
/// has control bytes all through it: the high byte of Greek is 0x03, of Cyrillic 0x04, of Thai
/// 0x0E, and a Chinese, Japanese or Korean character has one in its low byte once in ten (so 3
/// to 5 bytes in 100 of such text, even with kana among it).
fn stray_nuls(bytes: &[u8]) -> bool {
    let nuls = bytes.iter().filter(|&&b| b == 0).count();
    let controls = bytes.iter().filter(|&&b| b != 0 && b < 0x20 && !b"\t\n\r\x0c\x1b".contains(&b)).count();
    nuls * STRAY_NUL_BYTES < bytes.len() && controls * STRAY_CONTROL_BYTES < bytes.len()
}

/// At most one control byte in this many is taken for a stray in a one-byte text (see
/// `stray_nuls`).
const STRAY_CONTROL_BYTES: usize = 100;

/// The first bytes looked at to recognise UTF-16 or UTF-32 (a multiple of 4).
const WIDE_SAMPLE: usize = 64 * 1024;
/// At most one character in this many of a UTF-16 or UTF-32 reading may be one that text does
/// not hold (a control character, a private-use or non-character, an unpaired surrogate, a NUL
/// before the end). The wrong reading of real text, or any reading of binary data, has far
/// more: a sixteenth of all 16-bit values are surrogates and a tenth private-use.
const MAX_ODD_SHARE: usize = 200;

/// The text of bytes in UTF-32 or UTF-16 without a byte-order mark, when one of the four readings
/// (either width, either byte order) looks like text: almost nothing in it that text does not
/// hold (see `MAX_ODD_SHARE`) and at least one ASCII space or line break (the zero bytes being
/// high bytes, as they are in UTF-16 text of any script, and the ASCII a text of any script has
/// being above all its spaces and line breaks). Of the readings that pass, the one with the most
/// ASCII characters wins: reading real text in the wrong byte order turns its spaces and line
/// breaks into other characters.
fn wide(bytes: &[u8]) -> Option<String> {
    let sample = &bytes[..bytes.len().min(WIDE_SAMPLE)];
    let readings = [(4, false), (4, true), (2, false), (2, true)];
    let (width, big_endian) = readings
        .into_iter()
        .filter_map(|(width, big)| {
            let reading =
                if width == 4 { Reading::of(utf32_chars(sample, big)) } else { Reading::of(utf16_chars(sample, big)) };
            reading.is_text().then_some(((width, big), reading.ascii))
        })
        .max_by_key(|&(_, ascii)| ascii)?
        .0;
    Some(match (width, big_endian) {
        (4, big) => utf32(bytes, big),
        (_, false) => encoding_rs::UTF_16LE.decode_without_bom_handling(bytes).0.into_owned(),
        (_, true) => encoding_rs::UTF_16BE.decode_without_bom_handling(bytes).0.into_owned(),
    })
}

/// What one reading of bytes as UTF-16 or UTF-32 holds.
struct Reading {
    chars: usize,
    ascii: usize,
    /// ASCII spaces, tabs and line breaks.
    spaces: usize,
    /// Characters text does not hold (see `MAX_ODD_SHARE`).
    odd: usize,
}

impl Reading {
    /// Tallies a reading, `None` standing for a unit that is no character. NULs at the end are
    /// padding and not counted.
    fn of(chars: impl Iterator<Item = Option<char>>) -> Reading {
        let (mut r, mut nuls) = (Reading { chars: 0, ascii: 0, spaces: 0, odd: 0 }, 0);
        for c in chars {
            if c == Some('\0') {
                nuls += 1;
                continue;
            }
            // NULs followed by more text were not padding.
            r.odd += std::mem::take(&mut nuls);
            r.chars += 1;
            match c {
                Some(c) if c.is_ascii() => {
                    r.ascii += 1;
                    r.spaces += usize::from(c.is_ascii_whitespace());
                    r.odd += usize::from(c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'));
                }
                Some(c) => r.odd += usize::from(odd(c)),
                None => r.odd += 1,
            }
        }
        r
    }

    fn is_text(&self) -> bool {
        self.chars >= 4 && self.spaces > 0 && self.odd * MAX_ODD_SHARE <= self.chars
    }
}

/// A character no article holds: a C1 control, a private-use character or a non-character.
fn odd(c: char) -> bool {
    let u = c as u32;
    c.is_control() || (0xE000..=0xF8FF).contains(&u) || (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE
}

/// The characters of UTF-16 bytes, `None` for an unpaired surrogate. An odd last byte, or a
/// high surrogate cut off from its pair at the end, is where the sample ends, not an error.
fn utf16_chars(bytes: &[u8], big_endian: bool) -> impl Iterator<Item = Option<char>> + '_ {
    let mut units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| if big_endian { u16::from_be_bytes([p[0], p[1]]) } else { u16::from_le_bytes([p[0], p[1]]) })
        .collect();
    if units.last().is_some_and(|u| (0xD800..=0xDBFF).contains(u)) {
        units.pop();
    }
    char::decode_utf16(units).map(Result::ok)
}

/// The characters of UTF-32 bytes, `None` for a value that is no character.
fn utf32_chars(bytes: &[u8], big_endian: bool) -> impl Iterator<Item = Option<char>> + '_ {
    bytes.chunks_exact(4).map(move |q| {
        let q = [q[0], q[1], q[2], q[3]];
        char::from_u32(if big_endian { u32::from_be_bytes(q) } else { u32::from_le_bytes(q) })
    })
}

/// Decodes UTF-32 (`encoding_rs` has no decoder for it, as the web has no use for it); a value
/// that is no character, and a cut-off last one, become U+FFFD.
fn utf32(bytes: &[u8], big_endian: bool) -> String {
    let mut text: String = utf32_chars(bytes, big_endian).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
    if !bytes.len().is_multiple_of(4) {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    text
}

/// A text is taken for UTF-8 despite bytes that are not when it holds at least this many valid
/// characters beyond ASCII for each invalid sequence. Text in a legacy multi-byte encoding forms
/// a valid UTF-8 sequence now and then by accident, but far less often than an invalid one
/// (measured: 0 in Latin-1, Windows-1251 and KOI8-R; 0.12 to 0.41 per invalid sequence in Big5,
/// EUC-KR, Shift-JIS, GB18030, EUC-JP and TIS-620), so this keeps ten times that margin, while a
/// UTF-8 text with a stray byte or a cut-off last character has hundreds.
const VALID_PER_INVALID: usize = 4;

/// Decodes bytes that are UTF-8 but for a few invalid sequences (a stray byte, a character cut
/// off at the end, a few bytes of Windows-1252 pasted in), or `None` when they are not
/// overwhelmingly UTF-8 (see `VALID_PER_INVALID`). Only the invalid bytes are lost: each
/// sequence becomes U+FFFD, and one cut off at the very end is dropped. In a text whose letters
/// beyond ASCII are Latin, the invalid bytes are read as Windows-1252 instead: that is where
/// they come from when Latin text in UTF-8 meets a Windows editor or a Windows file.
fn mostly_utf8(bytes: &[u8]) -> Option<String> {
    let (mut valid, mut invalid, mut latin, mut letters) = (0usize, 0usize, 0usize, 0usize);
    let mut last: &[u8] = &[];
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars().filter(|c| !c.is_ascii()) {
            valid += 1;
            if c.is_alphabetic() {
                letters += 1;
                latin += usize::from(is_latin(c));
            }
        }
        invalid += usize::from(!chunk.invalid().is_empty());
        last = chunk.invalid();
    }
    // A character cut off at the very end is what a truncated UTF-8 file looks like, not a sign
    // of another encoding: it does not count against the text once it has one valid character
    // beyond ASCII.
    let counted = invalid - usize::from(cut_off(last));
    if invalid == 0 || valid == 0 || valid < counted * VALID_PER_INVALID {
        return None;
    }
    let repair = latin * 10 >= letters * 9;
    let mut text = String::with_capacity(bytes.len() + 2 * invalid);
    let mut chunks = bytes.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        text.push_str(chunk.valid());
        let bad = chunk.invalid();
        if bad.is_empty() || chunks.peek().is_none() && cut_off(bad) {
            continue;
        }
        if repair {
            text.extend(bad.iter().map(|&b| windows_1252(b)));
        } else {
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    Some(text)
}

/// Whether `bad`, an invalid sequence at the end of the bytes, is the start of a character cut
/// off there rather than bytes that could never be UTF-8 (`false` for no bytes).
fn cut_off(bad: &[u8]) -> bool {
    std::str::from_utf8(bad).is_err_and(|e| e.error_len().is_none())
}

fn is_latin(c: char) -> bool {
    (c as u32) < 0x0250 || ('\u{1E00}'..='\u{1EFF}').contains(&c)
}

/// The Windows-1252 character of a byte beyond ASCII; the five bytes it leaves undefined are
/// U+FFFD.
fn windows_1252(b: u8) -> char {
    let byte = [b];
    let text = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte).0;
    // encoding_rs maps the undefined bytes to C1 control characters, as the WHATWG standard does.
    text.chars().next().filter(|c| !c.is_control()).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The text in the legacy encoding `chardetng` finds likeliest.
fn guess(bytes: &[u8]) -> String {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    detector.guess(None, false).decode_without_bom_handling(bytes).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RU: &str = "Городской совет во вторник проголосовал за расширение автобусной сети, добавив двенадцать \
маршрутов и продлив вечернее движение до полуночи. Чиновники заявили, что план будет стоить четыре миллиона \
долларов в год. Жители приветствовали решение на многолюдном собрании в центре города.";
    const JA: &str = "市議会は火曜日、バス路線網を拡大することを決定し、十二の新しい路線を追加して夜間の運行を深夜まで\
延長した。当局によると、この計画には年間四百万ドルの費用がかかり、駐車料金で賄われるという。住民は市の中心部で開かれた\
集会でこの決定を歓迎した。";
    const ZH: &str =
        "市议会周二投票决定扩大公交网络，新增十二条线路，并将夜间服务延长至午夜。官员表示，该计划每年将花费\
四百万美元，由停车费支付。居民们在市中心举行的拥挤的公开会议上对这一决定表示欢迎。";
    const ZH_TRADITIONAL: &str = "市議會週二投票決定擴大公車網絡，新增十二條路線，並將夜間服務延長至午夜。官員表示，\
該計劃每年將花費四百萬美元，由停車費支付。居民們在市中心舉行的擁擠的公開會議上對這一決定表示歡迎。";
    const KO: &str = "시의회는 화요일 버스 노선망을 확대하기로 의결하고 열두 개의 새로운 노선을 추가하며 저녁 운행을 \
자정까지 연장했다. 관계자들은 이 계획에 연간 사백만 달러가 들며 주차 요금으로 충당될 것이라고 밝혔다.";
    const FR: &str = "Le conseil municipal a voté mardi l'extension du réseau de bus : douze lignes ajoutées, service \
prolongé jusqu'à minuit. « C'est une décision très attendue », a déclaré Zoë Brandt, propriétaire d'une \
boulangerie à Málaga.";
    const EL: &str =
        "Το δημοτικό συμβούλιο ψήφισε την Τρίτη την επέκταση του δικτύου λεωφορείων με δώδεκα νέες γραμμές.";
    const TH: &str = "สภาเมืองลงมติเมื่อวันอังคารให้ขยายเครือข่ายรถประจำทาง เพิ่มเส้นทางใหม่สิบสองเส้นทาง \
และขยายเวลาให้บริการช่วงค่ำจนถึงเที่ยงคืน เจ้าหน้าที่กล่าวว่าแผนนี้จะมีค่าใช้จ่ายสี่ล้านดอลลาร์ต่อปี";

    /// A title, then the text twice, as a saved article has it.
    fn article(text: &str) -> String {
        format!("Night buses\n\n{text}\n\n{text}\n")
    }

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        text.encode_utf16().flat_map(|u| if big_endian { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
    }

    fn utf32(text: &str, big_endian: bool) -> Vec<u8> {
        text.chars()
            .flat_map(|c| if big_endian { (c as u32).to_be_bytes() } else { (c as u32).to_le_bytes() })
            .collect()
    }

    #[test]
    fn utf16_without_a_mark_in_any_script() {
        for text in [RU, JA, ZH, KO, FR, EL, TH, "The council voted on Tuesday to expand the bus network."] {
            let text = article(text);
            for big_endian in [false, true] {
                assert_eq!(decode_text(&utf16(&text, big_endian)).as_deref(), Some(text.as_str()), "{big_endian}");
            }
        }
        // Chinese written on one line with no ASCII at all but its last line break.
        let zh = format!("{ZH}\n");
        assert_eq!(decode_text(&utf16(&zh, false)).as_deref(), Some(zh.as_str()));
    }

    #[test]
    fn utf32_with_or_without_a_mark() {
        let text = article(RU);
        for big_endian in [false, true] {
            let bare = utf32(&text, big_endian);
            assert_eq!(decode_text(&bare).as_deref(), Some(text.as_str()));
            let marked = utf32(&format!("\u{feff}{text}"), big_endian);
            assert_eq!(decode_text(&marked).as_deref(), Some(text.as_str()));
        }
    }

    #[test]
    fn a_stray_byte_in_utf8_costs_only_that_byte() {
        let ru = article(RU);
        let mut bytes = ru.as_bytes().to_vec();
        let at = ru.find("двенадцать").unwrap() + "двенадцать".len();
        bytes.insert(at, 0xE9);
        let want = format!("{}\u{fffd}{}", &ru[..at], &ru[at..]);
        assert_eq!(decode_text(&bytes).as_deref(), Some(want.as_str()));

        let ja = article(JA);
        let bytes = [ja.as_bytes(), b"\xff\n"].concat();
        assert_eq!(decode_text(&bytes), Some(format!("{ja}\u{fffd}\n")));
    }

    #[test]
    fn a_character_cut_off_at_the_end_is_dropped() {
        let zh = article(ZH);
        let cut = &zh.as_bytes()[..zh.len() - 3];
        // The line break and the last character's last byte are gone: the rest of it is dropped.
        let want = &zh[..zh.len() - 1 - '。'.len_utf8()];
        assert_eq!(decode_text(cut).as_deref(), Some(want));
        // Also in a text with a single character beyond ASCII before the cut one.
        let fr = "Le café ferme à";
        let cut = &fr.as_bytes()[..fr.len() - 1];
        assert_eq!(decode_text(cut).as_deref(), Some("Le café ferme "));
    }

    #[test]
    fn windows_1252_bytes_in_latin_utf8_text_are_repaired() {
        let fr = article(FR);
        let bytes = [fr.as_bytes(), b"Caf\xe9 cr\xe8me \x93chaud\x94, \x81.\n"].concat();
        assert_eq!(decode_text(&bytes), Some(format!("{fr}Café crème “chaud”, \u{fffd}.\n")));
    }

    #[test]
    fn legacy_encodings_still_go_to_the_guesser() {
        let cases: [(&str, &'static Encoding); 10] = [
            (FR, encoding_rs::WINDOWS_1252),
            (RU, encoding_rs::WINDOWS_1251),
            (RU, encoding_rs::KOI8_R),
            (JA, encoding_rs::SHIFT_JIS),
            (JA, encoding_rs::EUC_JP),
            (ZH, encoding_rs::GB18030),
            (ZH, encoding_rs::GBK),
            (ZH_TRADITIONAL, encoding_rs::BIG5),
            (KO, encoding_rs::EUC_KR),
            (TH, encoding_rs::WINDOWS_874),
        ];
        for (text, enc) in cases {
            let text = article(text);
            let (bytes, _, unmappable) = enc.encode(&text);
            assert!(!unmappable, "{}", enc.name());
            assert!(std::str::from_utf8(&bytes).is_err(), "{}", enc.name());
            assert_eq!(decode_text(&bytes).as_deref(), Some(text.as_str()), "{}", enc.name());
        }
    }

    #[test]
    fn nul_padding_is_cut_off_and_stray_nuls_are_binary() {
        let text = article("The council voted on Tuesday to expand the bus network.");
        let padded = [text.as_bytes(), &[0; 4]].concat();
        assert_eq!(decode_text(&padded).as_deref(), Some(text.as_str()));
        let padded = [utf16(&text, false), vec![0; 6]].concat();
        assert_eq!(decode_text(&padded).as_deref(), Some(text.as_str()));
        let inside = format!("{text}\0{text}");
        assert_eq!(decode_text(inside.as_bytes()), None);
        // Nor is a log coloured with escape sequences, or a text with a stray control character
        // besides, taken for UTF-16 because of a stray NUL.
        let coloured = format!("\x1b[1mNight buses\x1b[0m\n\n{text}\0{text}\x08");
        assert_eq!(decode_text(coloured.as_bytes()), None);
        // Nor a list of file names, each ended by a NUL (`find -print0`).
        let names: String = (0..40).map(|i| format!("/home/ana/notes/bus-route-{i}.txt\0")).collect();
        assert_eq!(decode_text(names.as_bytes()), None);
    }

    #[test]
    fn binary_data_is_not_text() {
        // A fixed pseudo-random sequence (xorshift), with and without zero bytes in it.
        let mut x: u32 = 0x9E37_79B9;
        let random: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(decode_text(&random), None);
        let no_zeros: Vec<u8> = random.iter().map(|&b| b.max(1)).collect();
        assert_eq!(decode_text(&no_zeros), None);
        assert_eq!(decode_text(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0"), None);
        let png = [&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], &random[..5000]].concat();
        assert_eq!(decode_text(&png), None);
    }

    #[test]
    fn a_declared_charset_is_weighed_against_the_bytes() {
        let fr = article(FR);
        // Declared Latin-1, written in UTF-8.
        assert_eq!(decode_declared(fr.as_bytes(), encoding_rs::WINDOWS_1252), fr);
        // Declared UTF-8, written in Windows-1251.
        let ru = article(RU);
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(&ru);
        assert_eq!(decode_declared(&cp1251, encoding_rs::UTF_8), ru);
        // Declared Shift-JIS, written in UTF-8.
        assert_eq!(decode_declared(ru.as_bytes(), encoding_rs::SHIFT_JIS), ru);
        // A true declaration is followed.
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(&fr);
        assert_eq!(decode_declared(&latin1, encoding_rs::WINDOWS_1252), fr);
        let (koi8, _, _) = encoding_rs::KOI8_R.encode(&ru);
        assert_eq!(decode_declared(&koi8, encoding_rs::KOI8_R), ru);
    }
}
