//! Control characters taken out of text: terminal escape sequences (colours, cursor moves, window
//! titles, clipboard writes) and the other control characters that are not white space. An
//! article's text goes to the window, the history and standard output; a sequence left in it
//! would recolour, clear or write to the clipboard of the terminal that prints it, and it is
//! never part of what the article says. White space (tab, line breaks, form feed) stays.
//!
//! Written here rather than taken from `strip-ansi-escapes`: that crate also drops tabs and
//! carriage returns, which glues the words of a table's cells together.

use std::borrow::Cow;
use std::iter::Peekable;
use std::str::Chars;

/// `text` without escape sequences and without control characters other than white space; the
/// text itself when it has none.
pub fn strip(text: &str) -> Cow<'_, str> {
    if !text.chars().any(stray) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\u{9b}' => skip_control_sequence(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if stray(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `strip` for an owned string: the same string when it has nothing to take out.
pub fn strip_owned(text: String) -> String {
    match strip(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

/// A control character that is not white space (white space includes tab, the line breaks, form
/// feed and U+0085).
fn stray(c: char) -> bool {
    c.is_control() && !c.is_whitespace()
}

/// What follows an escape character: a control sequence (`ESC [ … m`), a string (`ESC ] … BEL`:
/// titles, clipboard writes, hyperlinks; `ESC P`, `ESC X`, `ESC ^`, `ESC _`), a character set
/// choice (`ESC ( B`), or one character (`ESC 7`, `ESC c`). Anything else after it is text.
fn skip_escape(chars: &mut Peekable<Chars<'_>>) {
    match chars.peek() {
        Some('[') => {
            chars.next();
            skip_control_sequence(chars);
        }
        Some(']' | 'P' | 'X' | '^' | '_') => {
            chars.next();
            skip_string(chars);
        }
        Some('\u{20}'..='\u{2f}') => {
            while chars.next_if(|c| matches!(c, '\u{20}'..='\u{2f}')).is_some() {}
            chars.next_if(|c| matches!(c, '\u{30}'..='\u{7e}'));
        }
        Some('\u{30}'..='\u{7e}') => {
            chars.next();
        }
        _ => {}
    }
}

/// A control sequence's parameters, intermediate characters and final character.
fn skip_control_sequence(chars: &mut Peekable<Chars<'_>>) {
    while chars.next_if(|c| matches!(c, '\u{30}'..='\u{3f}')).is_some() {}
    while chars.next_if(|c| matches!(c, '\u{20}'..='\u{2f}')).is_some() {}
    chars.next_if(|c| matches!(c, '\u{40}'..='\u{7e}'));
}

/// A string up to its terminator (BEL, `ESC \` or U+009C), which goes with it. A string never
/// spans lines in a terminal, so one left open ends at the line break, which stays: a stray
/// `ESC ]` costs the rest of its line, not of the article.
fn skip_string(chars: &mut Peekable<Chars<'_>>) {
    while let Some(&c) = chars.peek() {
        match c {
            '\n' | '\r' => return,
            '\u{07}' | '\u{9c}' => {
                chars.next();
                return;
            }
            '\u{1b}' => {
                chars.next();
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {
                chars.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_stray_controls_go_white_space_stays() {
        let text = "a\u{1b}[31mred\u{1b}[0m b\u{1b}]52;c;ZXZpbA==\u{7} c\u{1b}]0;title\u{1b}\\ d\u{7}e\u{8}f\tg\nh\ri\
\u{9b}2Jj 日本語 \u{1b}Pdcs\u{1b}\\k \u{85}l \u{c}m \u{1b}(Bn\u{1b}7o\u{1b}[2J";
        assert_eq!(strip(text), "ared b c def\tg\nh\rij 日本語 k \u{85}l \u{c}m no");
    }

    #[test]
    fn text_without_controls_is_borrowed_and_an_open_string_ends_at_its_line() {
        let plain = "Der Stadtrat hat am Dienstag beschlossen.\tZwölf neue Linien.\n市議会は火曜日。";
        assert!(matches!(strip(plain), Cow::Borrowed(_)));
        assert_eq!(strip("one \u{1b}]2;never closed\nnext line"), "one \nnext line");
        assert_eq!(strip("ends with escape \u{1b}"), "ends with escape ");
        assert_eq!(strip("\u{1b}\u{1b}[1mbold"), "bold");
    }
}
