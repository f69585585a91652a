//! Links: a page fetched because the person named it, from a web server on 127.0.0.1 that the
//! test runs. Pages, redirects, slow answers, huge bodies (declared and streamed), wrong types,
//! 404s, cookies and a refused connection; each failure names the link and what went wrong, with
//! its code. The server logs every request, so a test sees that nothing else was fetched.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use precis::article::web::{self, FetchLimits};
use precis::article::Kind;
use precis::error::WebProblem;
use precis::Error;
use serde_json::Value;

use crate::common::{precis, precis_with_history, stdout_of, ARTICLE};

/// A page as a browser would save it: navigation around one article, with a picture and a script
/// that must not be fetched.
fn page() -> String {
    let paragraphs: String = ARTICLE.split("\n\n").skip(1).map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>City Council Approves Night Buses</title>\
         <script src=\"/script.js\"></script><link rel=\"stylesheet\" href=\"/style.css\"></head><body>\
         <nav><a href=\"/\">Home</a></nav><article><h1>City Council Approves Night Buses</h1>\
         <img src=\"/tracker.png\">{paragraphs}</article><footer>Riverton Gazette</footer></body></html>"
    )
}

/// A web server on 127.0.0.1 for one test, serving until the test ends.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Server { base, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn requested(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn serve(mut stream: TcpStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut cookie = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        cookie |= header.to_ascii_lowercase().starts_with("cookie:");
    }
    log.lock().unwrap().push(path.clone());
    let html = [("Content-Type", "text/html; charset=utf-8")];
    match path.as_str() {
        "/article.html" => respond(&mut stream, "200 OK", &html, page().as_bytes()),
        "/notes.txt" => respond(&mut stream, "200 OK", &[("Content-Type", "text/plain")], ARTICLE.as_bytes()),
        "/moved" => respond(&mut stream, "301 Moved Permanently", &[("Location", "/article.html")], b""),
        "/set-cookie" => {
            respond(&mut stream, "302 Found", &[("Location", "/cookie-check"), ("Set-Cookie", "id=42; Path=/")], b"")
        }
        // Answers only a request that carries no cookie.
        "/cookie-check" if !cookie => respond(&mut stream, "200 OK", &html, page().as_bytes()),
        "/cookie-check" => respond(&mut stream, "403 Forbidden", &[], b""),
        p if p.starts_with("/loop/") => {
            let n: u32 = p["/loop/".len()..].parse().unwrap_or(0);
            respond(&mut stream, "302 Found", &[("Location", &format!("/loop/{}", n + 1))], b"");
        }
        "/slow" => {
            std::thread::sleep(Duration::from_secs(3));
            respond(&mut stream, "200 OK", &html, page().as_bytes());
        }
        "/trickle" => {
            // Headers at once, then the body a byte a second.
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n");
            for b in page().bytes() {
                if stream.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        "/huge-declared" => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 60000000\r\nConnection: close\r\n\r\n",
            );
        }
        "/huge" => {
            // No length given: 60 MB streamed until the reader hangs up.
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
            let chunk = "The council met again and talked about the buses. ".repeat(20_000);
            for _ in 0..(60_000_000 / chunk.len() + 1) {
                if stream.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
            }
        }
        "/picture.png" => respond(&mut stream, "200 OK", &[("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n"),
        "/untyped" => respond(&mut stream, "200 OK", &[], page().as_bytes()),
        "/broken" => respond(&mut stream, "500 Internal Server Error", &[], b""),
        _ => respond(&mut stream, "404 Not Found", &[("Content-Type", "text/html")], b"<h1>Not found</h1>"),
    }
}

fn problem(url: &str, limits: FetchLimits) -> (WebProblem, String, &'static str) {
    match web::fetch_with(url, limits) {
        Err(e @ Error::Web { .. }) => {
            let (message, code) = (e.to_string(), e.code());
            let Error::Web { problem, .. } = e else { unreachable!() };
            assert!(message.starts_with(&format!("{url}: ")), "{message}");
            (problem, message, code)
        }
        other => panic!("{url}: {other:?}"),
    }
}

fn quick() -> FetchLimits {
    FetchLimits { timeout: Duration::from_secs(1), ..FetchLimits::default() }
}

#[test]
fn a_page_is_read_as_a_saved_page_is_and_nothing_else_is_fetched() {
    let server = Server::start();
    let article = web::fetch(&server.url("/article.html")).unwrap();
    assert_eq!(article.kind, Kind::Html);
    assert_eq!(article.title.as_deref(), Some("City Council Approves Night Buses"));
    assert!(article.text.contains("The plan, proposed by transit director Maria Okafor"), "{}", article.text);
    assert!(!article.text.contains("Riverton Gazette") && !article.text.contains("Home"), "{}", article.text);
    // The same bytes saved as a file give the same article.
    let saved = precis::article::from_bytes("saved.html", page().as_bytes(), Some("html")).unwrap();
    assert_eq!(saved, article);
    // The page alone: not its picture, script or style sheet.
    assert_eq!(server.requested(), vec!["/article.html"]);

    let text = web::fetch(&server.url("/notes.txt")).unwrap();
    assert_eq!(text.kind, Kind::Text);
    assert_eq!(text.title.as_deref(), Some("City Council Approves Night Buses"));
}

#[test]
fn redirects_are_followed_up_to_five_without_cookies() {
    let server = Server::start();
    let article = web::fetch(&server.url("/moved")).unwrap();
    assert_eq!(article.title.as_deref(), Some("City Council Approves Night Buses"));
    // The cookie set on the way is not sent back.
    web::fetch(&server.url("/set-cookie")).unwrap();
    let (p, message, code) = problem(&server.url("/loop/0"), FetchLimits::default());
    assert_eq!(p, WebProblem::TooManyRedirects { limit: 5 });
    assert_eq!(code, "page_failed");
    assert!(message.contains("redirects more than 5 times"), "{message}");
    let loops = server.requested().iter().filter(|r| r.starts_with("/loop/")).count();
    assert_eq!(loops, 6, "the first request and five redirects");
}

#[test]
fn missing_pages_wrong_types_and_server_errors_say_so() {
    let server = Server::start();
    let (p, message, code) = problem(&server.url("/gone"), FetchLimits::default());
    assert_eq!((p, code), (WebProblem::NotFound { status: 404 }, "page_not_found"));
    assert!(message.contains("not found"), "{message}");

    let (p, message, code) = problem(&server.url("/picture.png"), FetchLimits::default());
    assert_eq!((p, code), (WebProblem::NotAnArticle { content_type: "image/png".into() }, "page_not_article"));
    assert!(message.contains("image/png, not an article"), "{message}");
    let (p, _, _) = problem(&server.url("/untyped"), FetchLimits::default());
    assert_eq!(p, WebProblem::NotAnArticle { content_type: String::new() });

    let (p, _, code) = problem(&server.url("/broken"), FetchLimits::default());
    assert_eq!((p, code), (WebProblem::Status { status: 500 }, "page_failed"));
}

#[test]
fn huge_pages_are_refused_declared_or_streamed() {
    let server = Server::start();
    let (p, message, code) = problem(&server.url("/huge-declared"), FetchLimits::default());
    assert_eq!((p, code), (WebProblem::TooLarge { limit: 52_428_800 }, "page_too_large"));
    assert!(message.contains("over the limit of 52428800 bytes"), "{message}");
    // Streamed without a length: cut off at the limit, not read to the end.
    let started = Instant::now();
    let (p, _, _) = problem(&server.url("/huge"), FetchLimits::default());
    assert_eq!(p, WebProblem::TooLarge { limit: 52_428_800 });
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
}

#[test]
fn slow_pages_time_out() {
    let server = Server::start();
    for path in ["/slow", "/trickle"] {
        let started = Instant::now();
        let (p, message, code) = problem(&server.url(path), quick());
        assert_eq!((p, code), (WebProblem::TimedOut { seconds: 1.0 }, "timed_out"), "{path}");
        assert!(message.contains("did not arrive within 1 s"), "{message}");
        assert!(started.elapsed() < Duration::from_millis(2500), "{path}: {:?}", started.elapsed());
    }
    assert_eq!(web::TIMEOUT, Duration::from_secs(20));
}

#[test]
fn no_server_is_no_network() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/article.html");
    let (p, message, code) = problem(&url, FetchLimits::default());
    assert!(matches!(p, WebProblem::Offline { .. }), "{p:?}");
    assert_eq!(code, "offline");
    assert!(message.contains("check the network connection"), "{message}");
}

#[test]
fn the_command_line_summarizes_a_link_and_remembers_it_as_the_source() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.sqlite3");
    let url = server.url("/moved");
    let out = stdout_of(precis_with_history(dir.path(), &history).args([
        "summarize",
        "--extractive",
        "--format",
        "json",
        &url,
    ]));
    let json: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["source"], url.as_str());
    assert!(!json["bullets"].as_array().unwrap().is_empty(), "{json}");
    let list = stdout_of(precis_with_history(dir.path(), &history).args(["history", "list", "--format", "json"]));
    let entry: Value = serde_json::from_slice(list.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(entry["source"], url.as_str());

    let missing = server.url("/gone");
    let out = precis(dir.path()).args(["summarize", "--extractive", &missing]).assert().failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains(&format!("{missing}: the page was not found")), "{stderr}");
}
