//! Hostile inputs, one test for each kind the robustness issue lists, each made on the spot:
//! every one ends by itself, with an article, a summary or a specific error, never a panic, a
//! crash or a hang. (No test here times anything; the release-build figures are in
//! docs/robustness.md.)

use std::io::Write;

use precis::article::{self, Kind, MAX_INPUT_BYTES};
use precis::error::{Error, InputProblem};
use precis::llm::{CancelToken, Generator};
use precis::summary::{summarize, Models, SummarizeOptions};

use crate::common::*;

fn refusal(result: precis::Result<article::Article>) -> InputProblem {
    match result {
        Err(Error::Input { reason, .. }) => reason,
        Ok(a) => panic!("accepted {} bytes of {:?}", a.text.len(), a.kind),
        Err(other) => panic!("unexpected {other}"),
    }
}

/// `n` short sentences of three or four words, on one line.
fn short_sentences(n: usize) -> String {
    let words = ["council", "bus", "route", "plan", "night", "station", "harbor", "grant", "vote", "tide"];
    (0..n)
        .map(|i| format!("The {} {} {}.", words[i % 10], words[(i / 10) % 10], words[(i / 100) % 10]))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn two_hundred_thousand_short_sentences_are_ranked_extractively() {
    let text = short_sentences(200_000);
    let a = article::from_bytes("many.txt", text.as_bytes(), Some("txt")).unwrap();
    let s =
        summarize(Models::extractive("x"), &a, &SummarizeOptions::default(), &CancelToken::new(), &mut |_| {}).unwrap();
    assert!(!s.bullets.is_empty());
    for b in &s.bullets {
        assert_eq!(b.sources[0].of(&s.text), b.text);
    }
}

#[test]
fn ranking_looks_at_the_cancel_token() {
    let a = article::from_bytes("a.txt", short_sentences(2_000).as_bytes(), None).unwrap();
    let cancel = CancelToken::new();
    cancel.cancel();
    let got = summarize(Models::extractive("x"), &a, &SummarizeOptions::default(), &cancel, &mut |_| {});
    assert!(matches!(got, Err(Error::Cancelled)), "{got:?}");
}

#[test]
fn self_closing_divs_count_as_the_divs_a_browser_opens() {
    let page = format!("<!doctype html><html><body>{}<p>{ARTICLE}</p></body></html>", "<div/>".repeat(200_000));
    match refusal(article::from_bytes("divs.html", page.as_bytes(), None)) {
        InputProblem::TooDeep { depth, limit } => assert!(depth >= 200_000 && limit == 1_000, "{depth}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_elements_nested_deep_are_refused_not_a_stack_overflow() {
    let page = format!("<html><body>{}<p>{ARTICLE}</p></body></html>", "<p.x>".repeat(200_000));
    assert!(matches!(refusal(article::from_bytes("px.html", page.as_bytes(), None)), InputProblem::TooDeep { .. }));
}

#[test]
fn a_page_nested_up_to_the_limit_is_read() {
    let page =
        format!("<html><body>{}<p>{}</p></body></html>", "<div>".repeat(990), ARTICLE.replace("\n\n", "</p><p>"));
    let a = article::from_bytes("deep-ok.html", page.as_bytes(), None).unwrap();
    assert!(a.text.contains("Riverton City Council"), "{}", a.text);
}

/// A Word document whose `word/document.xml` is `xml` (with `core` as its properties when given).
#[test]
fn links_nested_inside_links_are_read_in_one_pass() {
    // SVG links nest (an HTML5 parser keeps them open inside one another): 500 of them, each
    // adding 100 KB of text, 50 MB in all. Taking the text of every link whole, as the
    // related-links check once did, copied 12 GB; links that hold other links are not read.
    let body = "The council said the plan would go ahead next year after a long debate. ".repeat(5);
    let page = format!(
        "<html><body><p>{body}</p><svg>{}{}</svg></body></html>",
        format!("<a href=\"#\">{}", "word ".repeat(20_000)).repeat(500),
        "</a>".repeat(500)
    );
    assert!(page.len() as u64 <= MAX_INPUT_BYTES);
    let a = article::from_bytes("nested-links.html", page.as_bytes(), Some("html")).unwrap();
    assert!(a.text.contains("The council said the plan would go ahead"), "{}", &a.text[..a.text.len().min(300)]);
}

fn raw_docx(xml: &[u8], styles: Option<&str>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(xml.len() > u32::MAX as usize / 2);
    zip.start_file("word/document.xml", opts).unwrap();
    for chunk in xml.chunks(1 << 20) {
        zip.write_all(chunk).unwrap();
    }
    if let Some(styles) = styles {
        zip.start_file("word/styles.xml", opts).unwrap();
        zip.write_all(styles.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn paragraphs_xml(body: &str) -> String {
    let paragraphs: String =
        ARTICLE.split("\n\n").map(|p| format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", p.trim())).collect();
    format!("<w:document><w:body>{body}{paragraphs}</w:body></w:document>")
}

#[test]
fn docx_style_with_a_stray_value_before_a_multibyte_character_is_read() {
    let style =
        r#"<w:p><w:pPr><w:pStyle w:x="aw:val=é" w:val="Heading1"/></w:pPr><w:r><w:t>Night buses</w:t></w:r></w:p>"#;
    let odd = r#"<w:p><w:pPr><w:pStyle w:x="w:val=ü"/></w:pPr><w:r><w:t>Über</w:t></w:r></w:p>"#;
    let doc = raw_docx(paragraphs_xml(&format!("{style}{odd}")).as_bytes(), None);
    let a = article::from_bytes("style.docx", &doc, None).unwrap();
    assert_eq!(a.kind, Kind::Docx);
    assert_eq!(a.title.as_deref(), Some("Night buses"));
}

#[test]
fn docx_run_of_ampersands_is_read_in_one_pass() {
    let run = format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", "&".repeat(4 << 20));
    let doc = raw_docx(paragraphs_xml(&run).as_bytes(), None);
    let a = article::from_bytes("amp.docx", &doc, None).unwrap();
    assert!(a.text.starts_with(&"&".repeat(1000)));
}

#[test]
fn docx_whose_text_inflates_past_the_input_limit_is_refused() {
    // 60 MB of text in a document.xml that deflates to well under a megabyte.
    let line = format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", "word ".repeat(200_000));
    let xml = paragraphs_xml(&line.repeat(60));
    let doc = raw_docx(xml.as_bytes(), None);
    assert!(doc.len() < (MAX_INPUT_BYTES / 10) as usize);
    match refusal(article::from_bytes("big.docx", &doc, None)) {
        InputProblem::TextTooLarge { size, limit } => assert!(size > limit && limit == MAX_INPUT_BYTES),
        other => panic!("{other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.txt");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a plain mkfifo(3) call on a NUL-terminated path.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0);
    // No writer: reading it would block forever.
    assert_eq!(refusal(article::from_path(&fifo)), InputProblem::NotAFile { what: "a named pipe (FIFO)" });
    assert_eq!(
        refusal(article::from_path(std::path::Path::new("/dev/zero"))),
        InputProblem::NotAFile { what: "a device" }
    );
    assert_eq!(refusal(article::from_path(dir.path())), InputProblem::NotAFile { what: "a folder" });
    let err = precis(dir.path()).arg("extract").arg(&fifo).assert().failure().get_output().stderr.clone();
    assert!(
        String::from_utf8_lossy(&err).contains("named pipe (FIFO), not a file"),
        "{}",
        String::from_utf8_lossy(&err)
    );
}

#[cfg(unix)]
extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

#[test]
fn a_file_uri_naming_another_machine_is_refused() {
    match article::from_dropped_text("file://fileserver/share/article.txt\n") {
        Err(Error::Input { reason: InputProblem::OtherMachine { host }, .. }) => assert_eq!(host, "fileserver"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(article::from_dropped_text("file://localhost/tmp/a.txt"), Ok(article::Dropped::Files(_))));
}

/// The bytes of a tiny qwen2 model with `patch` applied to tensor `name`'s dimensions and offset.
fn patched_model(dir: &std::path::Path, name: &str, patch: impl FnOnce(&mut [u64], &mut u64)) -> std::path::PathBuf {
    let path = tiny_model(dir, precis::llm::gguf::Architecture::Qwen2);
    let mut bytes = std::fs::read(&path).unwrap();
    let mut key = (name.len() as u64).to_le_bytes().to_vec();
    key.extend_from_slice(name.as_bytes());
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len();
    let dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let mut values: Vec<u64> =
        (0..dims).map(|i| u64::from_le_bytes(bytes[at + 4 + 8 * i..at + 12 + 8 * i].try_into().unwrap())).collect();
    let offset_at = at + 4 + 8 * dims + 4;
    let mut offset = u64::from_le_bytes(bytes[offset_at..offset_at + 8].try_into().unwrap());
    patch(&mut values, &mut offset);
    for (i, v) in values.iter().enumerate() {
        bytes[at + 4 + 8 * i..at + 12 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    bytes[offset_at..offset_at + 8].copy_from_slice(&offset.to_le_bytes());
    write(dir, "patched.gguf", bytes)
}

fn assert_corrupt(path: &std::path::Path, says: &str) {
    match Generator::load(path) {
        Err(precis::llm::Error::ModelCorrupt { reason, .. }) => assert!(reason.contains(says), "{reason}"),
        Err(other) => panic!("unexpected {other}"),
        Ok(_) => panic!("loaded"),
    }
}

#[test]
fn gguf_alignment_of_zero_is_a_damaged_model() {
    use precis::llm::test_models::{write_gguf_header, Value};
    let dir = tempfile::tempdir().unwrap();
    for alignment in [0u32, 24] {
        let path = dir.path().join("aligned.gguf");
        let arch = Value::String("qwen2".into());
        write_gguf_header(&path, &[("general.architecture", &arch), ("general.alignment", &Value::U32(alignment))])
            .unwrap();
        assert_corrupt(&path, &format!("alignment ({alignment}) is not a power of two"));
    }
}

#[test]
fn gguf_offsets_and_sizes_that_overflow_are_a_damaged_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = patched_model(dir.path(), "output_norm.weight", |_, offset| *offset = u64::MAX - 16);
    assert_corrupt(&path, "lies past any file size");
    let path = patched_model(dir.path(), "blk.0.attn_q.weight", |dims, _| dims[0] = 1 << 62);
    assert_corrupt(&path, "more elements than can be counted");
    let path = patched_model(dir.path(), "blk.0.attn_q.weight", |dims, _| dims[1] = 32);
    assert_corrupt(&path, "is 32×64, but the model's settings need 64×64");
}

/// A PDF of `n` pages that all draw one short text.
fn pdf_of_pages(n: usize) -> Vec<u8> {
    let text = "BT /F1 11 Tf 72 720 Td (The council met on Tuesday and agreed the plan after a long debate.) Tj ET";
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            (0..n).map(|i| format!("{} 0 R", i + 5)).collect::<Vec<_>>().join(" ")
        ),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>";
    objects.extend(std::iter::repeat_n(page.to_string(), n));
    pdf_file(&objects, "")
}

#[test]
fn a_pdf_longer_than_the_reader_reads_is_turned_away_at_once_with_its_page_count() {
    let limit = article::pdf::MAX_PAGES;
    match refusal(article::from_bytes("manual.pdf", &pdf_of_pages(limit + 1), None)) {
        InputProblem::TooManyPages { pages, limit: l } => assert_eq!((pages, l), (limit + 1, limit)),
        other => panic!("{other:?}"),
    }
    // A long document within the limit is read.
    let a = article::from_bytes("report.pdf", &pdf_of_pages(300), None).unwrap();
    assert!(a.text.contains("The council met on Tuesday"), "{}", &a.text[..a.text.len().min(200)]);
}

/// Four GB of zeros in a few kilobytes: deflated twice (made once per run, it takes seconds).
fn double_deflated_zeros() -> Vec<u8> {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        let mut inner = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![0u8; 1 << 20];
        for _ in 0..4096 {
            inner.write_all(&block).unwrap();
        }
        let mut outer = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        outer.write_all(&inner.finish().unwrap()).unwrap();
        outer.finish().unwrap()
    })
    .clone()
}

/// A PDF encrypted with an empty user password (as many are, to set permissions) whose page
/// tree sits in an object stream that inflates to 4 GB: lopdf decrypts and inflates it while
/// loading, and its data is encrypted in the file, so nothing can measure it before.
fn encrypted_object_stream_bomb() -> Vec<u8> {
    use lopdf::encryption::{encrypt_object, EncryptionState, EncryptionVersion, Permissions};
    let id = "00112233445566778899aabbccddeeff";
    let mut doc = lopdf::Document::with_version("1.5");
    let id_bytes = (0..16).map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap()).collect::<Vec<_>>();
    let id_string = || lopdf::Object::String(id_bytes.clone(), lopdf::StringFormat::Hexadecimal);
    doc.trailer.set("ID", lopdf::Object::Array(vec![id_string(), id_string()]));
    let version = EncryptionVersion::V1 {
        document: &doc,
        owner_password: "owner",
        user_password: "",
        permissions: Permissions::all(),
    };
    let state = EncryptionState::try_from(version).unwrap();
    let bomb = double_deflated_zeros();
    let mut dict = lopdf::Dictionary::new();
    dict.set("Type", lopdf::Object::Name(b"ObjStm".to_vec()));
    dict.set("N", 1);
    dict.set("First", 4);
    dict.set("Filter", lopdf::Object::Array(vec!["FlateDecode".into(), "FlateDecode".into()]));
    let mut container = lopdf::Object::Stream(lopdf::Stream::new(dict, bomb));
    encrypt_object(&state, (4, 0), &mut container).unwrap();
    let sealed = container.as_stream().unwrap().content.clone();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut pdf = b"%PDF-1.5\n".to_vec();
    let mut offsets = [0usize; 7];
    let mut object = |pdf: &mut Vec<u8>, n: usize, body: &[u8]| {
        offsets[n] = pdf.len();
        pdf.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    };
    object(&mut pdf, 1, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(&mut pdf, 2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    let mut stream = format!(
        "<< /Type /ObjStm /N 1 /First 4 /Length {} /Filter [/FlateDecode /FlateDecode] >>\nstream\n",
        sealed.len()
    )
    .into_bytes();
    stream.extend_from_slice(&sealed);
    stream.extend_from_slice(b"\nendstream");
    object(&mut pdf, 4, &stream);
    let encrypt = format!(
        "<< /Filter /Standard /V 1 /R 2 /O <{}> /U <{}> /P {} >>",
        hex(state.owner_value()),
        hex(state.user_value()),
        state.permissions().bits() as i32
    );
    object(&mut pdf, 5, encrypt.as_bytes());
    // The cross-reference stream: object 3 (the page) lives in object stream 4.
    let xref_at = pdf.len();
    let mut entries = Vec::new();
    for n in 0..7usize {
        let (kind, field, index) = match n {
            0 => (0u8, 0u32, 0xffffu16),
            3 => (2, 4, 0),
            6 => (1, xref_at as u32, 0),
            _ => (1, offsets[n] as u32, 0),
        };
        entries.push(kind);
        entries.extend_from_slice(&field.to_be_bytes());
        entries.extend_from_slice(&index.to_be_bytes());
    }
    let mut xref = format!(
        "6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Encrypt 5 0 R /ID [<{id}> <{id}>] /Length {} >>\nstream\n",
        entries.len()
    )
    .into_bytes();
    xref.extend_from_slice(&entries);
    xref.extend_from_slice(b"\nendstream\nendobj\n");
    pdf.extend_from_slice(&xref);
    pdf.extend_from_slice(format!("startxref\n{xref_at}\n%%EOF\n").as_bytes());
    pdf
}

#[test]
fn an_encrypted_object_stream_bomb_is_refused_by_the_pdf_worker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sealed.pdf");
    std::fs::write(&path, encrypted_object_stream_bomb()).unwrap();
    // The command reads PDFs in a worker limited to 1.5 GB of address space, where inflating the
    // stream fails: either lopdf gives up on the stream (whose objects, the page among them, are
    // then missing) or the allocator stops the worker. Either way the command says so in one
    // line naming the file (the allocator's last words are for the debug log).
    let out = precis(dir.path()).env("RUST_BACKTRACE", "1").args(["extract", path.to_str().unwrap()]).assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let said = |what: &str| stderr.starts_with(&format!("error: {}: {what}", path.display()));
    assert!(
        said("the PDF file is damaged or incomplete (its page tree holds no pages)")
            || said("reading it would take more than 1.5 GB of memory"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn pdf_streams_that_inflate_past_the_budget_are_refused_before_inflating() {
    let bomb = double_deflated_zeros();
    let content = |data: &[u8]| {
        let mut s = format!("<< /Length {} /Filter [/FlateDecode /FlateDecode] >>\nstream\n", data.len()).into_bytes();
        s.extend_from_slice(data);
        s.extend_from_slice(b"\nendstream");
        s
    };
    let objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>".to_vec(),
        content(&bomb),
    ];
    let pdf = pdf_file(&objects, "");
    match refusal(article::from_bytes("bomb.pdf", &pdf, None)) {
        InputProblem::Broken { format: "PDF", detail } => {
            assert!(detail.contains("would inflate to over 64 MB"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    // The same in an object stream, which lopdf inflates while loading.
    let objstm = {
        let mut s = format!(
            "<< /Type /ObjStm /N 1 /First 4 /Length {} /Filter [/FlateDecode /FlateDecode] >>\nstream\n",
            bomb.len()
        )
        .into_bytes();
        s.extend_from_slice(&bomb);
        s.extend_from_slice(b"\nendstream");
        s
    };
    let mut pdf2 = b"%PDF-1.5\n1 0 obj\n".to_vec();
    pdf2.extend_from_slice(&objstm);
    pdf2.extend_from_slice(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    match refusal(article::from_bytes("objstm.pdf", &pdf2, None)) {
        InputProblem::Broken { format: "PDF", detail } => {
            assert!(detail.contains("would inflate to over 64 MB"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

/// A PDF of pages that each draw one line of text in font `/F1`: `fonts[i]` is what page `i`
/// names as its `/F1` (an object reference, or an inline font dictionary).
fn pdf_of_lines(lines: &[&str], fonts: &[&str]) -> Vec<u8> {
    let n = lines.len();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            (0..n).map(|i| format!("{} 0 R", 2 * i + 4)).collect::<Vec<_>>().join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    for (line, font) in lines.iter().zip(fonts) {
        let content = format!("BT /F1 11 Tf 72 720 Td ({line}) Tj ET");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {} 0 R /Resources << /Font << /F1 {font} >> >> >>",
            objects.len() + 2
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()));
    }
    pdf_file(&objects, "")
}

const PAGE_ONE: &str = "The council met on Tuesday and agreed the plan for night buses after a long debate.";
const PAGE_THREE: &str = "Twelve new routes will run until two in the morning, paid for by parking fees.";

/// Three pages, the second of which names a font object the file does not have (pdf-extract
/// panics on it).
fn pdf_with_a_damaged_page() -> Vec<u8> {
    pdf_of_lines(
        &[PAGE_ONE, "The middle page names a font that is not there.", PAGE_THREE],
        &["3 0 R", "999 0 R", "3 0 R"],
    )
}

#[test]
fn a_pdf_page_the_reader_panics_on_is_left_out_and_the_others_are_read() {
    let a = article::from_bytes("minutes.pdf", &pdf_with_a_damaged_page(), None).unwrap();
    assert_eq!(a.text, format!("{PAGE_ONE}\n\n{PAGE_THREE}"));
    // The window shows the reader what was left out.
    assert_eq!(a.notes, ["1 of its 3 pages could not be read (it is damaged) and was left out."]);
    // A document whose only page fails is damaged, and says so.
    let one = pdf_of_lines(&[PAGE_ONE], &["999 0 R"]);
    match refusal(article::from_bytes("one.pdf", &one, None)) {
        InputProblem::Broken { format: "PDF", detail } => assert_eq!(detail, "its only page could not be read"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_pdf_worker_shows_one_clear_line_for_a_damaged_page_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mixed = write(dir.path(), "minutes.pdf", pdf_with_a_damaged_page());
    let out =
        precis(dir.path()).env("RUST_BACKTRACE", "1").args(["extract", mixed.to_str().unwrap()]).assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("minutes.pdf: 1 of its 3 pages could not be read"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains(PAGE_THREE));
    let broken = write(dir.path(), "broken.pdf", pdf_of_lines(&[PAGE_ONE], &["999 0 R"]));
    let out =
        precis(dir.path()).env("RUST_BACKTRACE", "1").args(["extract", broken.to_str().unwrap()]).assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(
        stderr.trim(),
        format!(
            "error: {}: the PDF file is damaged or incomplete (its only page could not be read); open it in the \
             program that made it and save it again, or save the article as plain text",
            broken.display()
        )
    );
}

#[test]
fn a_pdf_page_tree_that_lists_itself_is_read_once_and_one_without_pages_is_damaged() {
    let content = format!("BT /F1 11 Tf 72 720 Td ({PAGE_ONE} {PAGE_THREE}) Tj ET");
    let page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R /Resources << /Font << /F1 3 0 R >> >> >>";
    let objects = |kids: &str| {
        pdf_file(
            &[
                "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
                format!("<< /Type /Pages /Kids [{kids}] /Count 1 >>"),
                "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
                page.to_string(),
                format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
                "<< /Type /Pages /Kids [6 0 R 2 0 R] /Count 0 >>".to_string(),
            ],
            "",
        )
    };
    // The root lists itself before its page; a node lists itself and the root.
    for kids in ["2 0 R 4 0 R", "6 0 R 4 0 R"] {
        let a = article::from_bytes("loop.pdf", &objects(kids), None).unwrap();
        assert_eq!(a.text, format!("{PAGE_ONE} {PAGE_THREE}"), "{kids}");
    }
    for (kids, says) in [("2 0 R", "loops back on itself"), ("6 0 R", "loops back on itself"), ("", "holds no pages")] {
        match refusal(article::from_bytes("loop.pdf", &objects(kids), None)) {
            InputProblem::Broken { format: "PDF", detail } => assert!(detail.contains(says), "{kids}: {detail}"),
            other => panic!("{kids}: {other:?}"),
        }
    }
}

#[test]
fn only_a_trailer_makes_a_pdf_encrypted() {
    // A damaged file that holds the bytes `/Encrypt` elsewhere is damaged, not encrypted.
    let mut damaged = b"%PDF-1.4\n1 0 obj << /Producer (/Encrypt test) >> endobj\n".to_vec();
    damaged.extend((0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    assert!(matches!(
        refusal(article::from_bytes("noise.pdf", &damaged, None)),
        InputProblem::Broken { format: "PDF", .. }
    ));
    // A file that cannot be loaded but whose trailer names an encryption dictionary is encrypted.
    let mut sealed = b"%PDF-1.4\n1 0 obj garbage endobj\n".to_vec();
    sealed.extend_from_slice(b"trailer\n<< /Size 7 /Root 1 0 R /Encrypt 6 0 R >>\nstartxref\n99999\n%%EOF\n");
    assert_eq!(refusal(article::from_bytes("sealed.pdf", &sealed, None)), InputProblem::Encrypted);
}

#[test]
fn a_font_whose_character_map_would_expand_past_reason_is_refused_before_it_is_parsed() {
    // 1,000 ranges of 65,536 codes each, in 30 KB: the CMap parser would make 65 million entries.
    let ranges = "<0000> <FFFF> <0041>\n".repeat(1000);
    let cmap = format!(
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n1 begincodespacerange <0000> <FFFF> \
         endcodespacerange\n1000 beginbfrange\n{ranges}endbfrange\nendcmap end end"
    );
    let font = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 5 0 R >>";
    let content = format!("BT /F1 11 Tf 72 720 Td ({PAGE_ONE}) Tj ET");
    let doc = pdf_file(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 {font} >> >> >>"),
            format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
            format!("<< /Length {} >>\nstream\n{cmap}\nendstream", cmap.len()),
        ],
        "",
    );
    match refusal(article::from_bytes("fonts.pdf", &doc, None)) {
        InputProblem::Broken { format: "PDF", detail } => {
            assert!(detail.contains("character map (ToUnicode) covers over"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_page_too_crowded_for_the_article_extractor_has_its_whole_text_read() {
    // Three elements a paragraph, past the extractor's element limit: read in one pass, no tree.
    let n = article::html::MAX_TREE_ELEMENTS / 3 + 1_000;
    let paragraphs: String =
        (0..n).map(|i| format!("<p>Item {i} of the minutes, in <b>bold</b> and <i>slanted</i> words.</p>\n")).collect();
    let page = format!(
        "<html><head><title>Council minutes</title><script>var p = '<p>not text</p>';</script></head><body>\
         <nav><a href=\"/\">Home</a></nav>{paragraphs}</body></html>"
    );
    assert!(page.len() < article::html::MAX_TREE_BYTES);
    let a = article::from_bytes("minutes.html", page.as_bytes(), None).unwrap();
    assert_eq!(a.kind, Kind::Html);
    assert_eq!(a.title.as_deref(), Some("Council minutes"));
    assert_eq!(a.paragraphs().count(), n);
    assert!(a.text.starts_with("Item 0 of the minutes, in bold and slanted words.\n\nItem 1 of"), "{}", &a.text[..200]);
    assert!(!a.text.contains("not text") && !a.text.contains("Home"));
    assert_eq!(a.notes.len(), 1);
    assert!(a.notes[0].starts_with("The page is too large for the article finder"), "{:?}", a.notes);
}

#[test]
fn a_page_over_the_extractors_size_is_read_whole_without_a_tree() {
    let words = "night bus ".repeat(article::html::MAX_TREE_BYTES / 10 + 1_000);
    let page = format!("<!DOCTYPE html><html><head><title>Long</title></head><body><p>{words}</p><p>The end.</p>");
    let a = article::from_bytes("long.html", page.as_bytes(), None).unwrap();
    assert_eq!(a.title.as_deref(), Some("Long"));
    assert_eq!(a.paragraphs().collect::<Vec<_>>(), [words.trim_end(), "The end."]);
    assert_eq!(a.notes.len(), 1, "{:?}", a.notes);
}

#[test]
fn a_pdf_too_large_for_the_workers_memory_is_refused_as_such_in_one_line() {
    // 60 MB of text operators deflated into one page's content (within the 64 MB a stream may
    // inflate to): pdf-extract's working set passes the worker's 1.5 GB and its allocator fails.
    let mut content = b"BT /F1 11 Tf 50 700 Td\n".to_vec();
    content.extend(b"(word word word) Tj T*\n".repeat(60_000_000 / 22));
    content.extend_from_slice(b"ET");
    let mut deflater = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    deflater.write_all(&content).unwrap();
    let deflated = deflater.finish().unwrap();
    let mut stream = format!("<< /Length {} /Filter /FlateDecode >>\nstream\n", deflated.len()).into_bytes();
    stream.extend_from_slice(&deflated);
    stream.extend_from_slice(b"\nendstream");
    let objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_vec(),
        stream,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "huge.pdf", pdf_file(&objects, ""));
    let out = precis(dir.path()).env("RUST_BACKTRACE", "1").args(["extract", path.to_str().unwrap()]).assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(
        stderr.trim(),
        format!(
            "error: {}: reading it would take more than 1.5 GB of memory, far more than an ordinary article \
             needs: the PDF file is too large or too complex for Precis. Save only the article's own pages, or \
             its text as a .txt file, and use that",
            path.display()
        )
    );
}

#[test]
fn docx_text_boxes_are_read_once_and_hidden_or_moved_text_and_ruby_readings_not_at_all() {
    let text_box = |body: &str| {
        format!(
            "<w:p><w:r><w:t xml:space=\"preserve\">Before the box, </w:t></w:r><w:r><mc:AlternateContent>\
<mc:Choice Requires=\"wps\"><w:drawing><wps:txbx><w:txbxContent><w:p><w:r><w:t>{body}</w:t></w:r></w:p>\
</w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><v:textbox><w:txbxContent><w:p><w:r>\
<w:t>{body}</w:t></w:r></w:p></w:txbxContent></v:textbox></w:pict></mc:Fallback></mc:AlternateContent></w:r>\
<w:r><w:t>after the box.</w:t></w:r></w:p>"
        )
    };
    let hidden = "<w:p><w:r><w:t xml:space=\"preserve\">Shown </w:t></w:r><w:r><w:rPr><w:vanish/></w:rPr>\
<w:t>HIDDEN</w:t></w:r><w:r><w:rPr><w:vanish w:val=\"0\"/></w:rPr><w:t>and shown</w:t></w:r>\
<w:moveFrom><w:r><w:t>MOVED-AWAY</w:t></w:r></w:moveFrom><w:r><w:t xml:space=\"preserve\"> well</w:t>\
<w:noBreakHyphen/><w:t>known.</w:t></w:r></w:p><w:p><w:r><w:ruby><w:rubyPr/><w:rt><w:r><w:t>しぎかい</w:t></w:r>\
</w:rt><w:rubyBase><w:r><w:t>市議会</w:t></w:r></w:rubyBase></w:ruby></w:r><w:r><w:t>は火曜日に決めた。</w:t></w:r></w:p>";
    let body = format!("{}{hidden}", text_box("SIDEBAR: the route map is on page two."));
    let a = article::from_bytes("box.docx", &raw_docx(paragraphs_xml(&body).as_bytes(), None), None).unwrap();
    let paragraphs: Vec<&str> = a.paragraphs().take(4).collect();
    assert_eq!(
        paragraphs,
        [
            "SIDEBAR: the route map is on page two.",
            "Before the box, after the box.",
            "Shown and shown well-known.",
            "市議会は火曜日に決めた。"
        ]
    );
    assert_eq!(a.text.matches("SIDEBAR").count(), 1, "{}", a.text);
}
