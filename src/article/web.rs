//! Web pages fetched because the person asked: a link dropped or pasted in the window, or given
//! to `precis summarize URL`. One GET of that address (and the redirects it answers with, at most
//! five), over rustls, with no cookies, nothing run and nothing else fetched; the answer must be
//! an article type (HTML, XHTML, plain text, PDF or DOCX), arrive within the time limit and stay
//! under the 50 MB input limit while it streams. It is then read exactly as a saved file of that
//! type is (`article::from_bytes`). Nothing else in Precis opens a connection, apart from a model
//! download the person asks for.

use std::io::Read;
use std::time::Duration;

use crate::article::{from_bytes, Article, MAX_INPUT_BYTES};
use crate::error::{Error, Result, WebProblem};

/// How long a page may take, from connecting to its last byte.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: u32 = 5;

/// The content types Precis reads, with the extension a saved file of that type would have.
const ARTICLE_TYPES: &[(&str, Option<&str>)] = &[
    ("text/html", Some("html")),
    ("application/xhtml+xml", Some("xhtml")),
    ("text/plain", None),
    ("application/pdf", Some("pdf")),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", Some("docx")),
];

/// What `Accept` asks for: the article types, HTML first.
const ACCEPT: &str = "text/html, application/xhtml+xml, text/plain;q=0.9, application/pdf;q=0.8, \
                      application/vnd.openxmlformats-officedocument.wordprocessingml.document;q=0.8";

/// The limits of one fetch; `Default` is what Precis uses (tests shorten the time).
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    pub timeout: Duration,
    pub max_redirects: u32,
    pub max_bytes: u64,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits { timeout: TIMEOUT, max_redirects: MAX_REDIRECTS, max_bytes: MAX_INPUT_BYTES }
    }
}

/// The link in `text`, when the text is one `http(s)` address and nothing else.
pub fn link_in(text: &str) -> Option<&str> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    let only = lines.next()?;
    if lines.next().is_some() || only.contains(char::is_whitespace) {
        return None;
    }
    let lower = only.get(..8).unwrap_or(only).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then_some(only)
}

/// Fetches the page at `url` and reads its article, with Precis's limits.
pub fn fetch(url: &str) -> Result<Article> {
    fetch_with(url, FetchLimits::default())
}

/// Fetches the page at `url` within `limits` and reads its article as a saved file is read.
pub fn fetch_with(url: &str, limits: FetchLimits) -> Result<Article> {
    let problem = |problem| Error::Web { url: url.to_string(), problem };
    if link_in(url) != Some(url) {
        return Err(problem(WebProblem::BadLink));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(limits.timeout))
        .max_redirects(limits.max_redirects)
        .http_status_as_error(false)
        .user_agent(concat!("Precis/", env!("CARGO_PKG_VERSION"), " (reads one page a person asked for)"))
        .build()
        .into();
    let response = agent.get(url).header("Accept", ACCEPT).call().map_err(|e| problem(failure(e, &limits)))?;
    let status = response.status().as_u16();
    if status == 404 || status == 410 {
        return Err(problem(WebProblem::NotFound { status }));
    }
    if !response.status().is_success() {
        return Err(problem(WebProblem::Status { status }));
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let Some(&(_, extension)) = ARTICLE_TYPES.iter().find(|(t, _)| *t == content_type) else {
        return Err(problem(WebProblem::NotAnArticle { content_type }));
    };
    let declared = response.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes) {
        return Err(problem(WebProblem::TooLarge { limit: limits.max_bytes }));
    }
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(limits.max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| problem(read_failure(e, &limits)))?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(problem(WebProblem::TooLarge { limit: limits.max_bytes }));
    }
    from_bytes(url, &bytes, extension)
}

/// What went wrong before an answer came.
fn failure(e: ureq::Error, limits: &FetchLimits) -> WebProblem {
    match e {
        ureq::Error::Timeout(_) => WebProblem::TimedOut { seconds: limits.timeout.as_secs_f32() },
        ureq::Error::TooManyRedirects => WebProblem::TooManyRedirects { limit: limits.max_redirects },
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => WebProblem::BadLink,
        ureq::Error::HostNotFound => WebProblem::Offline { detail: "the name of its server was not found".into() },
        ureq::Error::Io(e) => read_failure(e, limits),
        ureq::Error::ConnectionFailed => WebProblem::Offline { detail: "no connection could be made".into() },
        other => WebProblem::Offline { detail: other.to_string() },
    }
}

/// What went wrong while the answer arrived (ureq reports its own errors inside I/O errors).
fn read_failure(e: std::io::Error, limits: &FetchLimits) -> WebProblem {
    use std::io::ErrorKind;
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>()) {
        if matches!(inner, ureq::Error::Timeout(_)) {
            return WebProblem::TimedOut { seconds: limits.timeout.as_secs_f32() };
        }
    }
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => WebProblem::TimedOut { seconds: limits.timeout.as_secs_f32() },
        ErrorKind::ConnectionRefused => WebProblem::Offline { detail: "the server refused the connection".into() },
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof => {
            WebProblem::Offline { detail: "the connection broke off".into() }
        }
        _ => WebProblem::Offline { detail: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_one_address_alone() {
        assert_eq!(link_in(" https://example.com/news/story \n"), Some("https://example.com/news/story"));
        assert_eq!(link_in("HTTP://EXAMPLE.COM"), Some("HTTP://EXAMPLE.COM"));
        assert_eq!(link_in("see https://example.com"), None);
        assert_eq!(link_in("https://a.example\nhttps://b.example"), None);
        assert_eq!(link_in("ftp://example.com/a"), None);
        assert_eq!(link_in("file:///tmp/a.txt"), None);
    }

    #[test]
    fn only_web_addresses_are_fetched() {
        for url in ["file:///etc/passwd", "ftp://example.com/", "javascript:alert(1)", "https://a b"] {
            match fetch(url) {
                Err(Error::Web { problem: WebProblem::BadLink, .. }) => {}
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
