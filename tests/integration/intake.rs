//! Article intake end to end: fixtures written here (saved web pages, text in several
//! encodings, broken inputs) read through `article::from_path` and the `precis extract` command.

use predicates::prelude::*;
use precis::article::{self, Kind};
use precis::error::{Error, InputProblem};

use crate::common::*;

/// A page as a browser saves it: inline script and style, navigation, a cookie banner, a
/// newsletter box, related links and a footer around one article.
fn saved_page() -> String {
    let paragraphs: String = ARTICLE
        .split("\n\n")
        .skip(1)
        .map(|p| format!("<p>{}</p>\n", p.trim()))
        .collect();
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
    for junk in ["cookies", "Weather", "newsletter", "Bridge closes", "Copyright", "tracking", "dataLayer"] {
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
    let page = saved_page()
        .replace("utf-8", "iso-8859-1")
        .replace("Maria Okafor", "María Okafor");
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&page);
    let a = article::from_bytes("p.html", &bytes, None).unwrap();
    assert!(a.text.contains("María Okafor"), "{}", a.text);
}

#[test]
fn hostile_nesting_is_refused_quickly() {
    let page = format!("<!doctype html><html><body>{}<p>{ARTICLE}</p></body></html>", "<div>".repeat(100_000));
    let start = std::time::Instant::now();
    match article::from_bytes("deep.html", page.as_bytes(), None).unwrap_err() {
        Error::Input { reason: InputProblem::TooDeep { .. }, name } => assert_eq!(name, "deep.html"),
        other => panic!("unexpected {other}"),
    }
    assert!(start.elapsed().as_secs() < 5);
}

#[test]
fn page_without_an_article_is_a_clear_error() {
    let err = article::from_bytes("empty.html", b"<!doctype html><html><head><title>x</title></head><body><nav><a href=/>Home</a></nav></body></html>", None)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("empty.html: "), "{err}");
    assert!(err.contains("no article text") || err.contains("too short"), "{err}");
}

#[test]
fn extract_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let page = write(dir.path(), "night-buses.html", saved_page());
    let out = precis(dir.path())
        .args(["extract", "--format", "json"])
        .arg(&page)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["kind"], "html");
    assert_eq!(v["title"], "City Council Approves Night Buses");
    assert_eq!(v["byline"], "Jamie Ortega");
    assert_eq!(v["site"], "Riverton Post");
    assert_eq!(v["published"], "2024-02-20");
    let paragraphs = v["paragraphs"].as_array().unwrap();
    assert_eq!(paragraphs.len(), 3);
    assert_eq!(v["text"].as_str().unwrap(), paragraphs.iter().map(|p| p.as_str().unwrap()).collect::<Vec<_>>().join("\n\n"));
}

#[test]
fn extract_text_and_nulls_for_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "a.txt", ARTICLE);
    let out = precis(dir.path())
        .args(["extract", "--format", "json"])
        .arg(&file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
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
