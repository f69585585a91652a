//! Web pages saved as a single file by a browser (MHTML, `.mht`/`.mhtml`: Chrome's and Edge's
//! "Webpage, Single File"): a MIME message whose first HTML part is the page. The message is
//! parsed by `mail-parser`, which undoes the quoted-printable or base64 transfer encoding and the
//! part's character set; the page then goes through the same extraction as a saved `.html`.

use mail_parser::{MessageParser, MimeHeaders};

/// How far into a file its MIME headers are looked for.
const HEADER_BYTES: usize = 4096;

/// Whether `bytes` is a saved web archive: it opens with MIME headers (lines of `Name: value`,
/// and their indented continuations, up to the first blank line), among them `MIME-Version` and
/// a `Content-Type` of `multipart/related`.
pub fn sniff(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(HEADER_BYTES)]).to_ascii_lowercase();
    let (mut version, mut related, mut in_type) = (false, false, false);
    for line in head.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            related |= in_type && line.contains("multipart/related");
            continue;
        }
        let Some((name, value)) = line.split_once(':') else { return false };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return false;
        }
        version |= name == "mime-version";
        in_type = name == "content-type";
        related |= in_type && value.contains("multipart/related");
    }
    version && related
}

/// The archive's web page as UTF-8 HTML, or `None` when it holds none.
pub fn page(bytes: &[u8]) -> Option<String> {
    let message = MessageParser::default().parse(bytes)?;
    message.parts.iter().find_map(|part| {
        let kind = part.content_type()?;
        let html = kind.ctype().eq_ignore_ascii_case("text")
            && kind.subtype().is_some_and(|s| s.eq_ignore_ascii_case("html") || s.eq_ignore_ascii_case("xhtml+xml"));
        html.then(|| part.text_contents()).flatten().map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCHIVE: &str = "From: <Saved by Blink>\r\nSubject: Night buses\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/related;\r\n\ttype=\"text/html\";\r\n\tboundary=\"----Boundary\"\r\n\r\n\
------Boundary\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
<p lang=3D\"de\">Z=C3=BCrich, M=C3=BCnchen und Stra=C3=9Fe</p>\r\n------Boundary\r\n\
Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n------Boundary--\r\n";

    #[test]
    fn the_page_of_an_archive_is_decoded() {
        assert!(sniff(ARCHIVE.as_bytes()));
        assert_eq!(
            page(ARCHIVE.as_bytes()).as_deref().map(str::trim),
            Some("<p lang=\"de\">Zürich, München und Straße</p>")
        );
    }

    #[test]
    fn mail_like_text_is_no_archive() {
        assert!(!sniff(b"MIME-Version: 1.0\nContent-Type: text/plain\n\nmultipart/related is mentioned only here"));
        assert!(!sniff(b"<html><body>MIME-Version: 1.0 multipart/related</body></html>"));
        let no_page = ARCHIVE.replace("text/html", "text/css");
        assert_eq!(page(no_page.as_bytes()), None);
    }
}
