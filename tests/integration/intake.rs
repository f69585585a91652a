//! Article intake end to end: fixtures written here (saved web pages, text in several
//! encodings, broken inputs) read through `article::from_path` and the `precis extract` command.

use precis::article::{self, Kind};
use precis::error::{Error, InputProblem};
use predicates::prelude::*;

use crate::common::*;

/// A page as a browser saves it: inline script and style, navigation, a cookie banner, a
/// newsletter box, related links and a footer around one article.
fn saved_page() -> String {
    let paragraphs: String = ARTICLE.split("\n\n").skip(1).map(|p| format!("<p>{}</p>\n", p.trim())).collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>City Council Approves Night Buses - Riverton Post</title>
<meta property="og:title" content="City Council Approves Night Buses">
<meta property="og:site_name" content="Riverton Post">
<meta name="author" content="Jamie Ortega">
<script type="application/ld+json">{{"@type":"NewsArticle","dateModified":"2024-04-02","datePublished":"2024-02-20T07:30:00-05:00"}}</script>
<style>.banner {{ position: fixed }}</style>
<script>window.dataLayer = []; document.write('<p>tracking pixel</p>');</script>
</head><body>
<div class="cookie-banner">We use cookies. <button>Accept all</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/city">City</a></li><li><a href="/weather">Weather</a></li></ul></nav></header>
<main><article><h1>City Council Approves Night Buses</h1>
<p class="byline">By Jamie Ortega</p>
{paragraphs}</article>
<aside class="newsletter">Subscribe to our newsletter for the morning briefing.</aside>
<section class="related"><h2>Related stories</h2><ul><li><a href="/a">Bridge closes for repairs</a></li><li><a href="/b">Library extends hours</a></li></ul></section>
</main><footer><p>Copyright 2024 Riverton Post. All rights reserved.</p></footer></body></html>"#
    )
}

#[test]
fn saved_page_gives_article_text_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let a = article::from_path(&write(dir.path(), "night-buses.html", saved_page())).unwrap();
    assert_eq!(a.kind, Kind::Html);
    assert_eq!(a.title.as_deref(), Some("City Council Approves Night Buses"));
    assert_eq!(a.byline.as_deref(), Some("Jamie Ortega"));
    assert_eq!(a.site.as_deref(), Some("Riverton Post"));
    assert_eq!(a.published.as_deref(), Some("2024-02-20"), "datePublished, not dateModified");
    assert!(a.text.starts_with("The Riverton City Council voted 7 to 2"), "{}", a.text);
    assert_eq!(a.paragraphs().count(), 3, "{}", a.text);
    assert!(a.notes.is_empty(), "an ordinary page needs no note: {:?}", a.notes);
    for junk in ["cookies", "Weather", "newsletter", "Bridge closes", "Copyright", "tracking", "dataLayer"] {
        assert!(!a.text.contains(junk), "{junk:?} left in {}", a.text);
    }
}

#[test]
fn elements_inside_a_paragraph_do_not_cut_it_short() {
    // Pages mark up their sentences: a date, a picture, a name kept on one line, a follow button,
    // a video, a custom element, a line-break opportunity. The extractor dropped the rest of a
    // paragraph after any of them (several at once could hide it, the fallback extraction then
    // winning): the page reads as the same page without them.
    let plain = article::from_bytes("plain.html", saved_page().as_bytes(), None).unwrap();
    for (words, marked) in [
        ("on Tuesday to", r#"on <time datetime="2024-02-20">Tuesday</time> to"#),
        ("twelve new routes", r#"twelve new routes<picture><source srcset="map.webp"><img src="map.png"></picture>"#),
        ("Maria Okafor,", "<nobr>Maria Okafor</nobr>,"),
        ("Maria Okafor,", r#"Maria Okafor<button class="follow">Follow</button>,"#),
        ("a state grant.", r#"a state <iframe src="https://video.example/embed/7"></iframe>grant."#),
        ("did not justify", r#"did not <x-term data-id="4">justify</x-term>"#),
        ("7 to 2", "7<wbr> to 2"),
    ] {
        let page = saved_page().replacen(words, marked, 1);
        let a = article::from_bytes("marked.html", page.as_bytes(), None).unwrap();
        assert_eq!(a.text, plain.text, "{marked}");
        assert_eq!((&a.title, &a.byline, &a.published), (&plain.title, &plain.byline, &plain.published), "{marked}");
    }
}

/// The leftovers trafilatura keeps inside an article's element, as news pages place them: a
/// teaser caption, a newsletter box of headings, "you may also like" links and a list of related
/// headlines with their teasers.
fn page_with_leftovers() -> String {
    let paragraphs: String = ARTICLE.split("\n\n").skip(1).map(|p| format!("<p>{}</p>\n", p.trim())).collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>City Council Approves Night Buses</title></head><body>
<main><article><h1>City Council Approves Night Buses</h1>
{paragraphs}
<div class="signup"><h3>Morning Briefing Newsletter</h3><h4>The day's stories in your inbox every morning.</h4>
<h3>Thanks for signing up!</h3><h4>Keep an eye on your inbox.</h4><h3>Sorry!</h3><h4>There was an error processing your subscription.</h4></div>
<p>You may also like...</p>
<p><a href="/a">Bridge closes for repairs over the winter</a></p>
<p><a href="/b">Library extends its weekend opening hours</a></p>
<ul><li><a href="/c">Mayor names new transit chief</a><h4>The former planner starts in June</h4></li>
<li><a href="/d">Riverside park reopens after floods</a><h4>Crews finished the work early</h4></li>
<li><a href="/e">School board delays the budget vote</a><h4>A decision is now due next month</h4></li></ul>
</article></main></body></html>"#
    )
}

#[test]
fn related_links_and_newsletter_boxes_inside_the_article_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let a = article::from_path(&write(dir.path(), "leftovers.html", page_with_leftovers())).unwrap();
    assert!(a.text.starts_with("The Riverton City Council voted 7 to 2"), "{}", a.text);
    assert_eq!(a.paragraphs().count(), 3, "{}", a.text);
    for junk in [
        "Newsletter",
        "inbox",
        "Sorry",
        "may also like",
        "Bridge closes",
        "Library",
        "Mayor",
        "planner",
        "School board",
    ] {
        assert!(!a.text.contains(junk), "{junk:?} left in {}", a.text);
    }
}

#[test]
fn html_is_detected_by_content_without_an_extension() {
    let dir = tempfile::tempdir().unwrap();
    let a = article::from_path(&write(dir.path(), "download", saved_page())).unwrap();
    assert_eq!(a.kind, Kind::Html);
}

#[test]
fn html_with_a_declared_legacy_charset() {
    let page = saved_page().replace("utf-8", "iso-8859-1").replace("Maria Okafor", "María Okafor");
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&page);
    let a = article::from_bytes("p.html", &bytes, None).unwrap();
    assert!(a.text.contains("María Okafor"), "{}", a.text);
}

/// The first two paragraphs of `ARTICLE` in Russian, for encodings beyond Latin.
const RUSSIAN: &str = "Городской совет во вторник проголосовал за расширение автобусной сети, добавив двенадцать \
маршрутов и продлив вечернее движение до полуночи.\n\nЧиновники заявили, что план будет стоить четыре миллиона \
долларов в год. Жители приветствовали решение на многолюдном собрании в центре города.";

#[test]
fn html_whose_declared_charset_disagrees_with_its_bytes() {
    // Declared Latin-1, saved as UTF-8.
    let page = saved_page().replace("utf-8", "iso-8859-1").replace("Maria Okafor", "María Okafor");
    let a = article::from_bytes("p.html", page.as_bytes(), None).unwrap();
    assert!(a.text.contains("María Okafor"), "{}", a.text);
    // Declared UTF-8, saved as Windows-1251.
    let paragraphs: String = RUSSIAN.split("\n\n").map(|p| format!("<p>{p}</p>\n")).collect();
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Ночные автобусы</title></head>\
         <body><article><h1>Ночные автобусы</h1>{paragraphs}</article></body></html>"
    );
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(&page);
    let a = article::from_bytes("ru.html", &cp1251, None).unwrap();
    assert_eq!(a.text, RUSSIAN);
    // UTF-16 without a byte-order mark, whatever the page declares.
    let utf16: Vec<u8> = page.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let a = article::from_bytes("ru16.html", &utf16, None).unwrap();
    assert_eq!((a.kind, a.text.as_str()), (Kind::Html, RUSSIAN));
    // UTF-32 with its byte-order mark, which begins with UTF-16's.
    let utf32: Vec<u8> = format!("\u{feff}{page}").chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
    let a = article::from_bytes("ru32.html", &utf32, Some("html")).unwrap();
    assert_eq!((a.kind, a.text.as_str()), (Kind::Html, RUSSIAN));
}

#[test]
fn text_in_wide_or_damaged_encodings_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("Ночные автобусы\n\n{RUSSIAN}\n");
    let utf16be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let utf32le: Vec<u8> = format!("\u{feff}{text}").chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
    let cut = &text.as_bytes()[..text.len() - 3];
    let at = text.find("автобусной").unwrap() + "автобусной".len();
    let stray = [&text.as_bytes()[..at], b"\xff", &text.as_bytes()[at..]].concat();
    let padded = [text.as_bytes(), &[0; 16]].concat();
    for (name, bytes, want) in [
        ("utf16be.txt", &utf16be[..], RUSSIAN.to_string()),
        ("utf32le.txt", &utf32le[..], RUSSIAN.to_string()),
        // Cut in the middle of the last letter: the half letter is dropped.
        ("cut.txt", cut, RUSSIAN.strip_suffix("а.").unwrap().to_string()),
        ("stray.txt", &stray, RUSSIAN.replacen("автобусной", "автобусной\u{fffd}", 1)),
        ("padded.txt", &padded, RUSSIAN.to_string()),
    ] {
        let a = article::from_path(&write(dir.path(), name, bytes)).unwrap();
        assert_eq!(a.title.as_deref(), Some("Ночные автобусы"), "{name}");
        assert_eq!(a.text, want, "{name}");
    }
}

#[test]
fn text_mentioning_a_pdf_header_and_empty_files_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let md = write(dir.path(), "pdf.md", format!("# PDF internals\n\nEvery PDF begins with `%PDF-1.4`. {ARTICLE}"));
    precis(dir.path())
        .arg("extract")
        .arg(&md)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("PDF internals\n\nEvery PDF begins with %PDF-1.4."));
    for (name, bytes) in [("bom.txt", &b"\xef\xbb\xbf"[..]), ("bom16.txt", b"\xff\xfe \0\n\0")] {
        precis(dir.path())
            .arg("extract")
            .arg(write(dir.path(), name, bytes))
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!("{name}: the file is empty")));
    }
}

#[test]
fn hostile_nesting_is_refused() {
    let page = format!("<!doctype html><html><body>{}<p>{ARTICLE}</p></body></html>", "<div>".repeat(100_000));
    match article::from_bytes("deep.html", page.as_bytes(), None).unwrap_err() {
        Error::Input { reason: InputProblem::TooDeep { .. }, name } => assert_eq!(name, "deep.html"),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn page_without_an_article_is_a_clear_error() {
    let err = article::from_bytes(
        "empty.html",
        b"<!doctype html><html><head><title>x</title></head><body><nav><a href=/>Home</a></nav></body></html>",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("empty.html: "), "{err}");
    assert!(err.contains("no article text") || err.contains("too short"), "{err}");
}

#[test]
fn extract_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let page = write(dir.path(), "night-buses.html", saved_page());
    let out = stdout_of(precis(dir.path()).args(["extract", "--format", "json"]).arg(&page));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["kind"], "html");
    assert_eq!(v["title"], "City Council Approves Night Buses");
    assert_eq!(v["byline"], "Jamie Ortega");
    assert_eq!(v["site"], "Riverton Post");
    assert_eq!(v["published"], "2024-02-20");
    assert_eq!(v["notes"], serde_json::json!([]));
    let paragraphs = v["paragraphs"].as_array().unwrap();
    assert_eq!(paragraphs.len(), 3);
    assert_eq!(
        v["text"].as_str().unwrap(),
        paragraphs.iter().map(|p| p.as_str().unwrap()).collect::<Vec<_>>().join("\n\n")
    );
}

#[test]
fn extract_text_and_nulls_for_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "a.txt", ARTICLE);
    let out = stdout_of(precis(dir.path()).args(["extract", "--format", "json"]).arg(&file));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["kind"], "text");
    assert!(v["byline"].is_null() && v["site"].is_null() && v["published"].is_null());
    precis(dir.path())
        .arg("extract")
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("City Council Approves Night Buses\n\nThe Riverton City Council"));
}

#[test]
fn extract_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.txt", "");
    precis(dir.path())
        .arg("extract")
        .arg(&empty)
        .assert()
        .failure()
        .stderr(predicate::str::contains("empty.txt").and(predicate::str::contains("empty")));
}

/// A minimal Word document: `paragraphs` as (style, text), and core properties when given.
fn docx(paragraphs: &[(&str, &str)], core: Option<(&str, &str, &str)>) -> Vec<u8> {
    use std::io::Write;
    let body: String = paragraphs
        .iter()
        .map(|(style, text)| {
            let ppr = if style.is_empty() { String::new() } else { format!(r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#) };
            // Split each paragraph into two runs, as Word does, to check they are joined.
            let (a, b) = text.split_at(text.len() / 2);
            let (a, b) = (a.replace('&', "&amp;"), b.replace('&', "&amp;"));
            format!(r#"<w:p>{ppr}<w:r><w:t xml:space="preserve">{a}</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>{b}</w:t></w:r></w:p>"#)
        })
        .collect();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}<w:sectPr/></w:body></w:document>"#
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("[Content_Types].xml", opts).unwrap();
    zip.write_all(
        br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#,
    )
    .unwrap();
    zip.start_file("word/document.xml", opts).unwrap();
    zip.write_all(document.as_bytes()).unwrap();
    if let Some((title, creator, created)) = core {
        zip.start_file("docProps/core.xml", opts).unwrap();
        write!(
            zip,
            r#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"><dc:title>{title}</dc:title><dc:creator>{creator}</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created></cp:coreProperties>"#
        )
        .unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn article_paragraphs() -> Vec<&'static str> {
    ARTICLE.split("\n\n").skip(1).map(str::trim).collect()
}

/// A Word document with a Title paragraph, headings, an empty paragraph and core properties.
fn headings_docx() -> Vec<u8> {
    let p = article_paragraphs();
    docx(
        &[
            ("Title", "City Council Approves Night Buses"),
            ("", p[0]),
            ("Heading1", "Costs & funding"),
            ("", p[1]),
            ("", ""),
            ("Heading2", "Opposition"),
            ("", p[2]),
        ],
        Some(("", "Maria Okafor", "2024-02-19T10:00:00Z")),
    )
}

#[test]
fn docx_paragraphs_in_order_with_headings() {
    let p = article_paragraphs();
    let doc = headings_docx();
    let dir = tempfile::tempdir().unwrap();
    let a = article::from_path(&write(dir.path(), "buses.docx", doc)).unwrap();
    assert_eq!(a.kind, Kind::Docx);
    assert_eq!(a.title.as_deref(), Some("City Council Approves Night Buses"));
    assert_eq!(a.byline.as_deref(), Some("Maria Okafor"));
    assert_eq!(a.published.as_deref(), Some("2024-02-19"));
    assert_eq!(a.paragraphs().collect::<Vec<_>>(), [p[0], "Costs & funding", p[1], "Opposition", p[2]]);
}

#[test]
fn docx_title_from_core_properties_and_detected_without_extension() {
    let p = article_paragraphs();
    let doc = docx(&[("", p[0]), ("", p[1])], Some(("Night &amp; Day Buses", "", "")));
    let a = article::from_bytes("upload", &doc, None).unwrap();
    assert_eq!(a.kind, Kind::Docx);
    assert_eq!(a.title.as_deref(), Some("Night & Day Buses"));
    assert_eq!(a.byline, None);
    assert_eq!(a.paragraphs().count(), 2);
}

#[test]
fn truncated_docx_is_a_clear_error() {
    let p = article_paragraphs();
    let doc = docx(&[("", p[0]), ("", p[1]), ("", p[2])], None);
    for cut in [doc.len() / 2, doc.len() - 10, 30] {
        let err = article::from_bytes("report.docx", &doc[..cut], Some("docx")).unwrap_err();
        assert!(matches!(err, Error::Input { reason: InputProblem::Broken { .. }, .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.starts_with("report.docx: the Word (DOCX) file is damaged or incomplete"), "{msg}");
    }
}

/// A minimal PDF written by hand: each page is a list of text blocks (x, y, lines) in Helvetica
/// 11 pt with 14 pt leading; `extra` is added to the trailer (to mark a file encrypted).
fn pdf(pages: &[Vec<(u32, u32, Vec<&str>)>], drawing: &str, trailer_extra: &str, objects_extra: &[&str]) -> Vec<u8> {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        String::new(), // the page tree, filled in below
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
    ];
    let mut kids = Vec::new();
    for blocks in pages {
        let mut content = String::from(drawing);
        for (x, y, lines) in blocks {
            content.push_str(&format!("BT /F1 11 Tf 14 TL {x} {y} Td\n"));
            for line in lines {
                content.push_str(&format!("({}) Tj T*\n", esc(line)));
            }
            content.push_str("ET\n");
        }
        objects.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len() + 1));
        let content_id = objects.len();
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
        ));
        kids.push(format!("{} 0 R", objects.len()));
    }
    objects[1] = format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), kids.len());
    objects.extend(objects_extra.iter().map(|o| o.to_string()));
    pdf_file(&objects, trailer_extra)
}

/// Three pages of two columns, with a running header, page numbers and words hyphenated at
/// line ends.
fn columns_pdf() -> Vec<u8> {
    let page = |n: u32, left: Vec<&'static str>, right: Vec<&'static str>| {
        vec![
            (72, 750, vec!["Riverton Transit Quarterly"]),
            (72, 700, left),
            (320, 700, right),
            (
                300,
                40,
                vec![if n == 1 {
                    "1"
                } else if n == 2 {
                    "2"
                } else {
                    "3"
                }],
            ),
        ]
    };
    pdf(
        &[
            page(
                1,
                vec![
                    "The city council voted on Tues-",
                    "day to expand the night bus net-",
                    "work with twelve new routes.",
                ],
                vec!["Service on existing lines now", "runs until two in the morning", "on weekdays."],
            ),
            page(
                2,
                vec!["The plan will cost about four", "million dollars a year, paid for", "by higher parking fees."],
                vec!["A state grant covers the rest", "of the cost for the first three", "years of service."],
            ),
            page(
                3,
                vec!["Two members voted against it,", "citing low ridership in the pi-", "lot program last year."],
                vec!["The new routes start on the", "first of March."],
            ),
        ],
        "",
        "",
        &[],
    )
}

/// A one-page article whose first line is its headline, with `info` (the body of a PDF
/// dictionary) as its document information dictionary, or none when `info` is empty.
fn pdf_with_info(info: &str) -> Vec<u8> {
    let lines = article_paragraphs()
        .iter()
        .flat_map(|p| {
            // Lines of about 60 characters, as a page would set them.
            let mut lines = vec![String::new()];
            for word in p.split_whitespace() {
                if lines.last().unwrap().len() + word.len() > 60 {
                    lines.push(String::new());
                }
                let line = lines.last_mut().unwrap();
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
            }
            lines.push(String::new());
            lines
        })
        .collect::<Vec<_>>();
    let body = (72, 680, lines.iter().map(String::as_str).collect::<Vec<_>>());
    let headline = (72, 730, vec!["City Council Approves Night Buses"]);
    // Objects 4 and 5 are the page's content and the page; the dictionary is object 6.
    let (trailer, objects) =
        if info.is_empty() { ("", vec![]) } else { ("/Info 6 0 R", vec![format!("<< {info} >>")]) };
    pdf(&[vec![headline, body]], "", trailer, &objects.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A PDF hex string holding `text` in UTF-16BE with its byte-order mark.
fn utf16_hex(text: &str) -> String {
    format!("<FEFF{}>", text.encode_utf16().map(|u| format!("{u:04X}")).collect::<String>())
}

/// Properties as a PDF writer fills them in: a UTF-16 title, a PDFDocEncoding author (with a
/// Latin-1 letter as an octal escape) and a creation date with its time zone.
fn described_pdf() -> Vec<u8> {
    pdf_with_info(&format!(
        "/Title {} /Author (Zo\\353 Brandt) /Producer (Riverton Press) /CreationDate (D:20240219103000+01'00')",
        utf16_hex("City Council Approves Night Buses — Nachtbusse")
    ))
}

#[test]
fn pdf_properties_give_title_author_and_date() {
    let dir = tempfile::tempdir().unwrap();
    let a = article::from_path(&write(dir.path(), "buses.pdf", described_pdf())).unwrap();
    assert_eq!(a.kind, Kind::Pdf);
    assert_eq!(a.title.as_deref(), Some("City Council Approves Night Buses — Nachtbusse"));
    assert_eq!(a.byline.as_deref(), Some("Zoë Brandt"));
    assert_eq!(a.published.as_deref(), Some("2024-02-19"));
    assert_eq!(a.site, None);
    assert!(a.text.starts_with("City Council Approves Night Buses\n\nThe Riverton City Council voted"), "{}", a.text);
}

#[test]
fn pdf_title_matching_the_first_line_is_taken_off_the_text() {
    let doc =
        pdf_with_info("/Title (City Council Approves Night Buses) /Author (Administrator) /CreationDate (D:2024)");
    let a = article::from_bytes("upload", &doc, None).unwrap();
    assert_eq!(a.title.as_deref(), Some("City Council Approves Night Buses"));
    assert!(a.text.starts_with("The Riverton City Council voted"), "{}", a.text);
    assert_eq!((a.byline, a.published), (None, None), "an account name and a year are not a byline and a date");
}

#[test]
fn pdf_titles_from_file_names_are_cleaned_or_ignored() {
    let title = |t: &str| article::from_bytes("t.pdf", &pdf_with_info(&format!("/Title ({t})")), None).unwrap().title;
    assert_eq!(title("Microsoft Word - x.docx"), None);
    assert_eq!(title("Untitled"), None);
    assert_eq!(title("Microsoft Word - Night Buses Report.docx").as_deref(), Some("Night Buses Report"));
}

#[test]
fn pdf_without_properties_has_none() {
    for info in ["", "/Producer (Riverton Press)"] {
        let a = article::from_bytes("plain.pdf", &pdf_with_info(info), None).unwrap();
        assert_eq!((a.title, a.byline, a.published), (None, None, None), "{info:?}");
        assert!(a.text.starts_with("City Council Approves Night Buses"), "{}", a.text);
    }
}

#[test]
fn extract_json_shows_pdf_properties() {
    let dir = tempfile::tempdir().unwrap();
    for (name, doc, title, byline, published) in [
        (
            "described.pdf",
            described_pdf(),
            "City Council Approves Night Buses — Nachtbusse",
            "Zoë Brandt",
            "2024-02-19",
        ),
        ("word.pdf", pdf_with_info("/Title (Microsoft Word - x.docx) /Author (Maria Okafor)"), "", "Maria Okafor", ""),
        ("bare.pdf", pdf_with_info(""), "", "", ""),
    ] {
        let out = stdout_of(precis(dir.path()).args(["extract", "--format", "json"]).arg(write(dir.path(), name, doc)));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let shown = |s: &str| if s.is_empty() { serde_json::Value::Null } else { s.into() };
        assert_eq!(v["kind"], "pdf", "{name}");
        assert_eq!(v["title"], shown(title), "{name}");
        assert_eq!(v["byline"], shown(byline), "{name}");
        assert_eq!(v["published"], shown(published), "{name}");
        assert!(v["site"].is_null(), "{name}");
        assert!(v["text"].as_str().unwrap().contains("The Riverton City Council voted"), "{name}");
    }
}

#[test]
fn pdf_text_with_columns_hyphens_headers_and_page_numbers() {
    let doc = columns_pdf();
    let dir = tempfile::tempdir().unwrap();
    let a = article::from_path(&write(dir.path(), "report.pdf", doc)).unwrap();
    assert_eq!(a.kind, Kind::Pdf);
    let flat = a.text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.starts_with("The city council voted on Tuesday to expand the night bus network with twelve new routes."),
        "{}",
        a.text
    );
    assert!(flat.contains("citing low ridership in the pilot program last year."), "{}", a.text);
    assert!(flat.find("Service on existing lines").unwrap() < flat.find("The plan will cost").unwrap(), "{}", a.text);
    assert!(!a.text.contains("Riverton Transit Quarterly"), "running header left in {}", a.text);
    for n in ["1", "2", "3"] {
        assert!(!a.text.split_whitespace().any(|w| w == n), "page number {n} left in {}", a.text);
    }
}

#[test]
fn pdf_without_text_layer_is_a_clear_error() {
    let doc = pdf(&[vec![], vec![]], "0.5 g 72 72 468 648 re f\n", "", &[]);
    let err = article::from_bytes("scan.pdf", &doc, None).unwrap_err();
    assert!(matches!(err, Error::Input { reason: InputProblem::NoTextLayer, .. }), "{err}");
    assert!(err.to_string().contains("OCR"), "{err}");
}

/// A PDF marked encrypted with the standard security handler, whose password is not empty.
fn encrypted_pdf() -> Vec<u8> {
    let key = "<".to_string() + &"5a".repeat(32) + ">";
    let encrypt = format!("<< /Filter /Standard /V 1 /R 2 /O {key} /U {key} /P -4 >>");
    let lines = vec!["Secret minutes of the council meeting, with the full list of routes and costs."];
    pdf(
        &[vec![(72, 700, lines)]],
        "",
        "/Encrypt 6 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]",
        &[&encrypt],
    )
}

#[test]
fn encrypted_pdf_is_a_clear_error() {
    let doc = encrypted_pdf();
    let err = article::from_bytes("locked.pdf", &doc, None).unwrap_err();
    assert!(matches!(err, Error::Input { reason: InputProblem::Encrypted, .. }), "{err}");
    assert!(err.to_string().contains("password"), "{err}");
}

#[test]
fn truncated_pdf_is_a_clear_error() {
    let lines = vec!["Minutes of the council meeting, with the full list of routes and costs."];
    let doc = pdf(&[vec![(72, 700, lines)]], "", "", &[]);
    for cut in [12, doc.len() / 3] {
        let err = article::from_bytes("cut.pdf", &doc[..cut], None).unwrap_err();
        assert!(
            matches!(err, Error::Input { reason: InputProblem::Broken { .. } | InputProblem::NoTextLayer, .. }),
            "{err}"
        );
    }
}

/// One page whose content is `content`, with XObject `/X` (object 5) in its resources and
/// `objects` after it: Helvetica is object 3, the page object 4.
fn pdf_drawing(content: &str, objects: &[String]) -> Vec<u8> {
    let mut all = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [4 0 R] /Count 1 >>".into(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> /XObject << /X 5 0 R >> >> /Contents {} 0 R >>",
            objects.len() + 5
        ),
    ];
    all.extend(objects.iter().cloned());
    all.push(stream(content, ""));
    pdf_file(&all, "")
}

/// A stream object holding `content`, with `dict` (more dictionary entries).
fn stream(content: &str, dict: &str) -> String {
    format!("<< /Length {} {dict} >>\nstream\n{content}\nendstream", content.len() + 1)
}

/// A form XObject drawing `content`, with its own `resources` (a dictionary) if given.
fn form(content: &str, resources: &str) -> String {
    let resources = if resources.is_empty() { String::new() } else { format!("/Resources {resources}") };
    stream(content, &format!("/Type /XObject /Subtype /Form /BBox [0 0 612 792] {resources}"))
}

#[test]
fn pdf_text_inside_nested_forms_is_read() {
    let line = |text: &str| format!("BT /F1 11 Tf 72 700 Td ({text}) Tj ET");
    let words = article_paragraphs()[0];
    let doc = pdf_drawing(
        &format!("{}\n/X Do", line("Night buses")),
        &[
            // X draws its text and then Y, named in its own resources.
            form(&format!("{}\n/Y Do", line(words)), "<< /Font << /F1 3 0 R >> /XObject << /Y 6 0 R >> >>"),
            form(&line("The end of the story."), "<< /Font << /F1 3 0 R >> >>"),
        ],
    );
    let a = article::from_bytes("forms.pdf", &doc, None).unwrap();
    let flat = a.text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(words), "{}", a.text);
    assert!(flat.contains("The end of the story."), "{}", a.text);
}

/// Asserts that reading `doc` is refused as a damaged PDF whose detail mentions `detail` (how
/// quickly is measured in docs/robustness.md, not asserted here).
fn assert_damaged_pdf(doc: &[u8], detail: &str) {
    match article::from_bytes("hostile.pdf", doc, None).unwrap_err() {
        Error::Input { reason: InputProblem::Broken { format: "PDF", detail: shown }, .. } => {
            assert!(shown.contains(detail), "{shown}")
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn pdf_form_that_draws_itself_is_refused_not_a_stack_overflow() {
    // X has no resources of its own, so its `/X Do` finds X again in the page's.
    let doc = pdf_drawing("/X Do", &[form("/X Do", "")]);
    assert_damaged_pdf(&doc, "draw themselves or nest over 32 levels");
}

#[test]
fn pdf_forms_that_multiply_are_refused_not_a_hang() {
    // X draws Y 40 times, Y draws Z 40 times, ... nine levels: 40^9 draws.
    let mut objects = Vec::new();
    for level in 0..9 {
        let next = format!("<< /XObject << /X {} 0 R >> >>", 6 + level);
        objects.push(form(&"/X Do\n".repeat(40), &next));
    }
    objects.push(form("BT ET", ""));
    let doc = pdf_drawing("/X Do", &objects);
    assert_damaged_pdf(&doc, "would take over 64 MB");
}

#[test]
fn pdf_page_tree_that_loops_is_refused_not_a_stack_overflow() {
    // The page inherits its resources and media box from a parent whose parent is the page.
    let doc = pdf_file(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 4 0 R /Contents 5 0 R >>".into(),
            "<< /Type /Pages /Parent 3 0 R /Kids [] /Count 0 >>".into(),
            stream("BT /F1 11 Tf 72 700 Td (Night buses) Tj ET", ""),
        ],
        "",
    );
    assert_damaged_pdf(&doc, "its own ancestor");
}

/// The reason an input was refused, for a file with these bytes.
fn refusal(name: &str, bytes: &[u8]) -> InputProblem {
    let dir = tempfile::tempdir().unwrap();
    match article::from_path(&write(dir.path(), name, bytes)).unwrap_err() {
        Error::Input { reason, name: shown } => {
            assert!(shown.ends_with(name), "{shown}");
            reason
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn each_bad_input_has_its_own_error() {
    assert_eq!(refusal("empty.html", b""), InputProblem::Empty);
    assert_eq!(refusal("empty.pdf", b" \n"), InputProblem::Empty);
    assert_eq!(
        refusal("picture.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0"),
        InputProblem::Binary
    );
    assert_eq!(
        refusal("archive.zip", b"PK\x03\x04\x14\0\0\0\x08\0\0\0!\0\x01\x02\x03\x04\0\0\0\0"),
        InputProblem::Binary
    );
    assert!(matches!(
        refusal("short.html", b"<html><body><article><p>Only a few words here.</p></article></body></html>"),
        InputProblem::TooShort { .. } | InputProblem::NoArticle
    ));
    assert!(matches!(refusal("short.md", b"# Title\n\nJust a line."), InputProblem::TooShort { words: 3, .. }));
    let big = vec![b'a'; article::MAX_INPUT_BYTES as usize + 1];
    assert!(matches!(
        article::from_bytes("big.txt", &big, None).unwrap_err(),
        Error::Input { reason: InputProblem::TooLarge { .. }, .. }
    ));
    let messages = [
        InputProblem::Empty,
        InputProblem::Binary,
        InputProblem::NoTextLayer,
        InputProblem::Encrypted,
        InputProblem::NoArticle,
    ];
    for m in messages {
        let text = m.to_string();
        assert!(text.len() > 40 && (text.contains("; ") || text.contains(". ")), "says what to do: {text}");
    }
}

#[test]
fn markdown_file_with_links_and_code() {
    let md = format!(
        "# Night buses\n\nThe [council](https://example.com/council) voted for the plan. {}\n\n```\nroutes = 12\n```\n\n![map](map.png)\n",
        article_paragraphs()[0]
    );
    let dir = tempfile::tempdir().unwrap();
    let a = article::from_path(&write(dir.path(), "buses.md", md)).unwrap();
    assert_eq!(a.kind, Kind::Markdown);
    assert_eq!(a.title.as_deref(), Some("Night buses"));
    assert!(a.text.starts_with("The council voted for the plan."), "{}", a.text);
    assert!(a.text.ends_with("\n\nroutes = 12"), "{}", a.text);
    assert!(!a.text.contains("https://") && !a.text.contains("map.png"), "{}", a.text);
}

/// A fixture above as the input of one fuzz target, and what reading it gives.
struct Seed {
    target: &'static str,
    name: &'static str,
    bytes: Vec<u8>,
    expected: Result<Kind, InputProblem>,
}

fn fuzz_seeds() -> Vec<Seed> {
    let p = article_paragraphs();
    let md = format!(
        "# Night buses\n\nThe [council](https://example.com/c) voted. {}\n\n* one\n* two\n\n```\nroutes = 12\n```\n",
        p[0]
    );
    vec![
        Seed { target: "docx", name: "headings.docx", bytes: headings_docx(), expected: Ok(Kind::Docx) },
        Seed {
            target: "docx",
            name: "no-properties.docx",
            bytes: docx(&[("", p[0]), ("", p[1]), ("", p[2])], None),
            expected: Ok(Kind::Docx),
        },
        Seed { target: "pdf", name: "columns.pdf", bytes: columns_pdf(), expected: Ok(Kind::Pdf) },
        Seed { target: "pdf", name: "described.pdf", bytes: described_pdf(), expected: Ok(Kind::Pdf) },
        Seed {
            target: "pdf",
            name: "word-title.pdf",
            bytes: pdf_with_info("/Title (Microsoft Word - x.docx) /CreationDate (D:20240219)"),
            expected: Ok(Kind::Pdf),
        },
        Seed { target: "pdf", name: "bare.pdf", bytes: pdf_with_info(""), expected: Ok(Kind::Pdf) },
        Seed { target: "pdf", name: "encrypted.pdf", bytes: encrypted_pdf(), expected: Err(InputProblem::Encrypted) },
        Seed { target: "html", name: "saved-page.html", bytes: saved_page().into_bytes(), expected: Ok(Kind::Html) },
        Seed { target: "markdown", name: "buses.md", bytes: md.into_bytes(), expected: Ok(Kind::Markdown) },
        Seed { target: "text", name: "buses.txt", bytes: ARTICLE.as_bytes().to_vec(), expected: Ok(Kind::Text) },
    ]
}

/// Every fuzz seed reads as its fixture test expects. With `PRECIS_FUZZ_SEEDS` set to a folder
/// (`fuzz/seed.sh` sets it to `fuzz/corpus`), the seeds are also written there, one subfolder
/// per fuzz target.
#[test]
fn fuzz_seeds_read_as_expected() {
    let out = std::env::var_os("PRECIS_FUZZ_SEEDS").map(std::path::PathBuf::from);
    for Seed { target, name, bytes, expected } in fuzz_seeds() {
        let extension = std::path::Path::new(name).extension().and_then(|e| e.to_str());
        let read = article::from_bytes(name, &bytes, extension).map(|a| a.kind).map_err(|e| match e {
            Error::Input { reason, .. } => reason,
            other => panic!("{name}: unexpected {other}"),
        });
        assert_eq!(read, expected, "{name}");
        if let Some(out) = &out {
            std::fs::create_dir_all(out.join(target)).unwrap();
            std::fs::write(out.join(target).join(format!("seed-{name}")), &bytes).unwrap();
        }
    }
}

/// A zip package of these parts, deflated.
fn zip_of(parts: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in parts {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn office_files_that_are_not_word_documents_say_what_they_are() {
    let not_word = |what: &'static str| InputProblem::NotWord { what };
    let xlsx = zip_of(&[("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>")]);
    assert_eq!(refusal("budget.docx", &xlsx), not_word("an Excel spreadsheet (.xlsx)"));
    let pptx = zip_of(&[("[Content_Types].xml", "<Types/>"), ("ppt/presentation.xml", "<presentation/>")]);
    assert_eq!(refusal("slides.docx", &pptx), not_word("a PowerPoint presentation (.pptx)"));
    let odt = zip_of(&[("mimetype", "application/vnd.oasis.opendocument.text"), ("content.xml", "<office/>")]);
    assert_eq!(refusal("minutes.docx", &odt), not_word("an OpenDocument text (.odt)"));
    assert_eq!(refusal("minutes.odt", &odt), not_word("an OpenDocument text (.odt)"));
    let other = zip_of(&[("readme.txt", "hello")]);
    assert!(matches!(refusal("other.docx", &other), InputProblem::Broken { .. }));
    let err = article::from_bytes("budget.docx", &xlsx, Some("docx")).unwrap_err().to_string();
    assert!(
        err.starts_with("budget.docx: this is an Excel spreadsheet (.xlsx), not a Word document (.docx); "),
        "{err}"
    );
    assert!(err.contains("save the article as a Word document (.docx) or a PDF"), "{err}");
}

/// An OLE compound file (as Office writes them) with streams of these names in its directory.
fn compound_file(streams: &[&str]) -> Vec<u8> {
    let mut bytes = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    bytes.resize(512, 0);
    for name in streams {
        let mut entry: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        entry.resize(128, 0);
        bytes.extend_from_slice(&entry);
    }
    bytes
}

#[test]
fn a_word_document_saved_with_a_password_says_so() {
    // Word saves a document with a password as an encrypted package inside a compound file.
    let sealed = compound_file(&["Root Entry", "EncryptionInfo", "EncryptedPackage"]);
    assert_eq!(refusal("locked.docx", &sealed), InputProblem::PasswordProtected);
    let err = article::from_bytes("locked.docx", &sealed, Some("docx")).unwrap_err().to_string();
    assert!(err.contains("protected with a password") && err.contains("remove the password"), "{err}");
    // Older Word documents are compound files too.
    assert_eq!(
        refusal("old.doc", &compound_file(&["Root Entry", "WordDocument", "1Table"])),
        InputProblem::NotWord { what: "an older Word document (.doc)" }
    );
    // A zip whose entries are encrypted (the flag of general purpose bit 0 set on each).
    let mut zipped = docx(&[("", article_paragraphs()[0])], None);
    for (signature, flags_at) in [(b"PK\x03\x04", 6), (b"PK\x01\x02", 8)] {
        let starts: Vec<usize> =
            zipped.windows(4).enumerate().filter(|(_, w)| w == signature).map(|(i, _)| i).collect();
        for at in starts {
            zipped[at + flags_at] |= 1;
        }
    }
    assert_eq!(refusal("zipcrypto.docx", &zipped), InputProblem::PasswordProtected);
}

#[test]
fn a_word_document_without_text_is_not_called_a_web_page() {
    let empty = docx(&[("", ""), ("Title", " ")], None);
    let problem = refusal("blank.docx", &empty);
    assert_eq!(problem, InputProblem::NoText { format: "Word (DOCX)" });
    let text = problem.to_string();
    assert!(text.starts_with("the Word (DOCX) file holds no text") && !text.contains("web page"), "{text}");
}

#[test]
fn a_huge_title_in_the_document_properties_is_cut_to_a_title() {
    let p = article_paragraphs();
    let title = "Night buses for Riverton ".repeat(40_000);
    let doc = docx(&[("", p[0]), ("", p[1])], Some((&title, "Maria Okafor", "")));
    let a = article::from_bytes("report.docx", &doc, None).unwrap();
    let shown = a.title.clone().unwrap();
    assert!(shown.chars().count() <= article::MAX_TITLE_CHARS, "{}", shown.chars().count());
    assert!(shown.starts_with("Night buses for Riverton Night buses") && shown.ends_with('…'), "{shown}");
    assert_eq!(a.paragraphs().count(), 2);
}
