//! The shell's commands through Tauri's mock runtime: the JSON each returns or rejects with,
//! settings that persist, and summary jobs streaming over a channel, replacing and cancelling
//! each other.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use precis::llm::gguf::Architecture;
use precis::llm::test_models::{write_tiny_gguf, TinySpec};
use precis_app::commands::article::ArticleView;
use precis_app::state::{AppState, Settings};
use serde_json::{json, Value};
use tauri::ipc::{Channel, InvokeBody, InvokeResponseBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

const ARTICLE: &str = "Harbor Point opened a tidal power station on Saturday in its old ferry pier. \
The four turbines should make enough electricity for about 450 homes. Residents bought shares in a \
cooperative that owns the station, and the town plans four more turbines by 2028.";

struct Fixture {
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let config = dir.path().join("config");
    let (engine, _worker) = precis::engine::Engine::start();
    let app = precis_app::builder(mock_builder())
        .manage(AppState::new(engine, models, &config, dir.path().join("history.sqlite3")))
        // The real context: its capability file decides what the window may call.
        .build(tauri::generate_context!("tauri.conf.json", test = true))
        .unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Fixture { app, window, dir }
}

fn call(f: &Fixture, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        &f.window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            // The app's own origin on Linux; the capability grants commands to local pages only.
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

fn tiny_model(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("tiny-qwen2.gguf");
    write_tiny_gguf(&path, &TinySpec::new(Architecture::Qwen2)).unwrap();
    path
}

#[test]
fn settings_default_save_and_persist() {
    let f = fixture();
    assert_eq!(
        call(&f, "get_settings", json!({})).unwrap(),
        json!({"type": "key-points", "length": "medium", "model": null, "thorough": false})
    );
    let chosen = json!({"type": "headline", "length": "long", "model": "smollm2-135m-instruct-q4_1", "thorough": true});
    call(&f, "save_settings", json!({ "settings": chosen })).unwrap();
    assert_eq!(call(&f, "get_settings", json!({})).unwrap(), chosen);
    // A new start reads them back.
    let (engine, _w) = precis::engine::Engine::start();
    let again = AppState::new(
        engine,
        f.dir.path().join("models"),
        &f.dir.path().join("config"),
        f.dir.path().join("h.sqlite3"),
    );
    assert_eq!(serde_json::to_value(again.stored().settings).unwrap(), chosen);
}

#[test]
fn the_capability_grants_only_what_the_ui_uses() {
    let f = fixture();
    for (cmd, args) in [
        ("plugin:dialog|message", json!({"message": "hi"})),
        ("plugin:clipboard-manager|read_text", json!({})),
        ("plugin:event|emit", json!({"event": "x"})),
    ] {
        let err = call(&f, cmd, args).unwrap_err();
        assert!(err.as_str().unwrap_or_default().contains("not allowed"), "{cmd}: {err}");
    }
}

#[test]
fn list_models_shows_the_catalog() {
    let f = fixture();
    let v = call(&f, "list_models", json!({})).unwrap();
    assert_eq!(v["defaultModel"], "qwen2.5-coder-1.5b-instruct-q4_k_m");
    let first = &v["models"][0];
    assert_eq!(first["name"], "qwen2.5-coder-1.5b-instruct-q4_k_m");
    assert_eq!(first["present"], false);
    assert_eq!(first["size"], 1_117_320_768u64);
    assert_eq!(first["role"], "generator");
}

#[test]
fn articles_from_files_and_text() {
    let f = fixture();
    let path = f.dir.path().join("story.txt");
    std::fs::write(&path, format!("Tide Power Comes Home\n\n{ARTICLE}")).unwrap();
    f.app.state::<AppState>().choose_to_read([path.clone(), "/nonexistent/a.txt".into()]);
    let v = call(&f, "open_article", json!({ "path": path })).unwrap();
    assert_eq!(v["source"], "story.txt");
    assert_eq!(v["title"], "Tide Power Comes Home");
    assert_eq!(v["text"], ARTICLE);
    assert_eq!(v["wordCount"], 44);
    assert_eq!(v["readingMinutes"], 1);
    assert_eq!(v["byline"], Value::Null);

    let err = call(&f, "open_article", json!({ "path": "/nonexistent/a.txt" })).unwrap_err();
    assert_eq!(err["code"], "input");
    assert!(err["message"].as_str().unwrap().starts_with("/nonexistent/a.txt: no such file"), "{err}");

    let v = call(&f, "article_from_text", json!({ "text": ARTICLE })).unwrap();
    assert_eq!(v["article"]["source"], "pasted text");
    let v = call(&f, "article_from_text", json!({ "text": "file:///tmp/a%20b.html\n" })).unwrap();
    assert_eq!(v, json!({"files": ["/tmp/a b.html"]}));
    let err = call(&f, "article_from_text", json!({ "text": "https://example.com/x" })).unwrap_err();
    assert_eq!(err["code"], "link");
    let err = call(&f, "article_from_text", json!({ "text": "too short" })).unwrap_err();
    assert_eq!(err["code"], "input");
}

#[test]
fn format_and_save() {
    let f = fixture();
    let summary = json!({
        "title": "T", "summary": "S.", "bullets": [{"text": "A <b>"}], "model": "m",
        "stop_reason": "end_of_turn", "truncated": false,
        "timings": {"load_ms": 0, "prompt_tokens": 0, "prefill_ms": 0, "generated_tokens": 0, "decode_ms": 0, "total_ms": 0}
    });
    assert_eq!(
        call(&f, "format_summary", json!({"summary": summary, "format": "markdown"})).unwrap(),
        "# T\n\nS.\n\n- A <b>\n"
    );
    assert_eq!(
        call(&f, "format_summary", json!({"summary": summary, "format": "html"})).unwrap(),
        "<h1>T</h1><p>S.</p><ul><li>A &lt;b&gt;</li></ul>"
    );
    assert_eq!(call(&f, "format_bullet", json!({"bullet": {"text": "x"}, "format": "plain"})).unwrap(), "x");
    let out = f.dir.path().join("out.md");
    let state = f.app.state::<AppState>();
    state.choose_to_write(&out);
    call(&f, "save_text", json!({"path": out, "contents": "# hi\n"})).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "# hi\n");
    state.choose_to_write(Path::new("/nonexistent/dir/x.md"));
    let err = call(&f, "save_text", json!({"path": "/nonexistent/dir/x.md", "contents": ""})).unwrap_err();
    assert_eq!(err["code"], "io");
}

#[test]
fn models_are_added_and_bad_files_refused() {
    let f = fixture();
    let junk = f.dir.path().join("junk.gguf");
    std::fs::write(&junk, b"not a model").unwrap();
    let model = tiny_model(f.dir.path());
    f.app.state::<AppState>().choose_to_read([junk.clone(), model.clone()]);
    let err = call(&f, "add_model", json!({ "path": junk })).unwrap_err();
    assert_eq!(err["code"], "model_invalid");
    let v = call(&f, "add_model", json!({ "path": model })).unwrap();
    assert_eq!(v["name"], "tiny-qwen2");
    assert_eq!(v["architecture"], "qwen2");
    assert_eq!(v["custom"], true);
    let list = call(&f, "list_models", json!({})).unwrap();
    assert!(list["models"].as_array().unwrap().iter().any(|m| m["name"] == "tiny-qwen2"));
    let err = call(&f, "fetch_model", json!({ "name": "nope", "onProgress": "__CHANNEL__:1" })).unwrap_err();
    assert_eq!(err["code"], "unknown_model");
}

type Events = Arc<Mutex<Vec<Value>>>;

/// A channel of any event type whose messages are collected as JSON.
fn channel<T: tauri::ipc::IpcResponse>() -> (Channel<T>, Events) {
    held_channel(Arc::new(AtomicBool::new(true)))
}

/// A channel like `channel`'s whose first `partial` event waits (up to ten seconds) until
/// `go` is set: the job that sends it is still writing until then, however fast its model, so
/// a test can replace or cancel a running job without racing it. `channel` is one whose `go`
/// is set from the start.
fn held_channel<T: tauri::ipc::IpcResponse>(go: Arc<AtomicBool>) -> (Channel<T>, Events) {
    let events: Events = Arc::default();
    let sink = events.clone();
    let ch = Channel::new(move |body| {
        if let InvokeResponseBody::Json(s) = body {
            let event: Value = serde_json::from_str(&s).unwrap();
            let mut seen = sink.lock().unwrap();
            let first_partial = event["event"] == "partial" && !seen.iter().any(|e| e["event"] == "partial");
            seen.push(event);
            drop(seen);
            if first_partial {
                for _ in 0..1000 {
                    if go.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        Ok(())
    });
    (ch, events)
}

fn wait_for_end(events: &Events) -> Value {
    for _ in 0..600 {
        if let Some(last) = events.lock().unwrap().last() {
            if matches!(last["event"].as_str(), Some("done" | "cancelled" | "failed" | "remembered")) {
                return last.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the job did not end: {:?}", events.lock().unwrap());
}

fn article_view() -> ArticleView {
    ArticleView::new("test".into(), precis::article::from_bytes("test", ARTICLE.as_bytes(), None).unwrap())
}

#[test]
fn summarize_streams_and_a_new_job_replaces_the_running_one() {
    let f = fixture();
    let model = tiny_model(f.dir.path());
    f.app.state::<AppState>().choose_to_read([model.clone()]);
    // The window keeps the added model's `id` as the `model` setting, and so does this test.
    let added = call(&f, "add_model", json!({ "path": model })).unwrap();
    let settings = Settings { model: Some(added["id"].as_str().unwrap().to_string()), ..Settings::default() };
    let state = f.app.state::<AppState>();

    // Job 1 waits at its first piece of text until job 2 has started, so job 2 replaces a
    // running job (the tiny model would otherwise finish in a few milliseconds).
    let job2_started = Arc::new(AtomicBool::new(false));
    let (ch1, events1) = held_channel(job2_started.clone());
    tauri::async_runtime::block_on(precis_app::commands::summary::summarize(
        f.app.handle().clone(),
        state.clone(),
        1,
        article_view(),
        settings.clone(),
        None,
        ch1,
    ))
    .unwrap();
    // Wait until job 1 is writing, then start job 2.
    for _ in 0..600 {
        if events1.lock().unwrap().iter().any(|e| e["event"] == "partial") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (ch2, events2) = channel();
    tauri::async_runtime::block_on(precis_app::commands::summary::summarize(
        f.app.handle().clone(),
        state.clone(),
        2,
        article_view(),
        settings.clone(),
        None,
        ch2,
    ))
    .unwrap();
    job2_started.store(true, Ordering::SeqCst);
    let end1 = wait_for_end(&events1);
    assert_eq!(end1["event"], "cancelled", "{end1}");
    let end2 = wait_for_end(&events2);
    assert_eq!(end2["event"], "done", "{end2}");
    assert_eq!(end2["data"]["summary"]["model"], "tiny-qwen2");
    let stages: Vec<String> = events2
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "stage")
        .map(|e| e["data"]["stage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stages, ["ranking", "reading", "writing"], "no loading stage: the model stayed loaded");
    let kinds: Vec<String> = events2.lock().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    let extractive = kinds.iter().position(|k| k == "extractive").expect("extractive key points");
    let first_partial = kinds.iter().position(|k| k == "partial").expect("generated text");
    assert!(extractive < first_partial, "extractive points come before the generator writes: {kinds:?}");

    // The finished summary is in the history, and the same article with the same settings is
    // answered from there at once, without running the model.
    let done = end2["data"]["summary"].clone();
    let list = call(&f, "history_list", json!({ "before": null, "limit": 10 })).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["source"], "test");
    assert_eq!(list[0]["model"], "tiny-qwen2");
    let (ch_cached, events_cached) = channel();
    tauri::async_runtime::block_on(precis_app::commands::summary::summarize(
        f.app.handle().clone(),
        state.clone(),
        4,
        article_view(),
        settings.clone(),
        None,
        ch_cached,
    ))
    .unwrap();
    // The lookup runs on the job's thread; once the job is gone from the state it sends nothing more.
    wait_for_end(&events_cached);
    for _ in 0..200 {
        if !precis_app::state::lock(&state.jobs).contains_key(&4) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let cached = events_cached.lock().unwrap().clone();
    assert_eq!(cached.len(), 1, "one event, no stages: {cached:?}");
    assert_eq!(cached[0]["event"], "remembered");
    assert_eq!(cached[0]["data"]["summary"], done);
    assert_eq!(cached[0]["data"]["entry"]["id"], list[0]["id"]);
    let opened = call(&f, "history_open", json!({ "id": list[0]["id"] })).unwrap();
    assert_eq!(opened["article"]["text"], article_view().article.text);
    assert_eq!(opened["article"]["source"], "test");
    assert_eq!(opened["summary"], done);
    assert_eq!(opened["settings"]["type"], "key-points");

    // "Summarize again" (and cancel by id, while the job is still writing).
    let cancel_sent = Arc::new(AtomicBool::new(false));
    let (ch3, events3) = held_channel(cancel_sent.clone());
    tauri::async_runtime::block_on(precis_app::commands::summary::summarize(
        f.app.handle().clone(),
        state.clone(),
        3,
        article_view(),
        settings,
        Some(true),
        ch3,
    ))
    .unwrap();
    call(&f, "cancel_job", json!({ "jobId": 3 })).unwrap();
    cancel_sent.store(true, Ordering::SeqCst);
    assert_eq!(wait_for_end(&events3)["event"], "cancelled");
    // Cancelling a finished job is harmless.
    call(&f, "cancel_job", json!({ "jobId": 2 })).unwrap();
}

#[test]
fn summarize_without_the_model_says_how_to_get_it() {
    let f = fixture();
    let (ch, _events) = channel();
    let err = tauri::async_runtime::block_on(precis_app::commands::summary::summarize(
        f.app.handle().clone(),
        f.app.state::<AppState>(),
        1,
        article_view(),
        Settings::default(),
        None,
        ch,
    ))
    .unwrap_err();
    assert_eq!(err.code, "model_missing");
    assert!(err.message.contains("precis models fetch qwen2.5-coder-1.5b-instruct-q4_k_m"), "{}", err.message);
}

#[cfg(unix)]
#[test]
fn a_running_fetch_can_be_cancelled_and_leaves_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    // A stand-in for Python whose `pip download` never finishes: it notes its id and waits.
    let pid_file = f.dir.path().join("pid");
    let python = f.dir.path().join("python");
    std::fs::write(&python, format!("#!/bin/sh\necho $$ > {}\nexec sleep 600\n", pid_file.display())).unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Only this test starts a real fetch, so setting the variable here affects no other test.
    std::env::set_var(precis::store::fetch::PYTHON_ENV, &python);

    let (ch, events) = channel();
    let name = "smollm2-135m-instruct-q4_1".to_string();
    let handle = f.app.handle().clone();
    let stopper = {
        let (handle, name, pid_file) = (handle.clone(), name.clone(), pid_file.clone());
        std::thread::spawn(move || {
            while !pid_file.exists() {
                std::thread::sleep(Duration::from_millis(20));
            }
            let state = handle.state::<AppState>();
            // A second fetch of the same model is refused while the first runs.
            let second = tauri::async_runtime::block_on(precis_app::commands::models::fetch_model(
                state.clone(),
                name.clone(),
                Channel::new(|_| Ok(())),
            ));
            precis_app::commands::models::cancel_fetch(state, name);
            second
        })
    };
    let result = tauri::async_runtime::block_on(precis_app::commands::models::fetch_model(
        handle.state::<AppState>(),
        name.clone(),
        ch,
    ));
    std::env::remove_var(precis::store::fetch::PYTHON_ENV);
    let second = stopper.join().unwrap();
    assert_eq!(second.unwrap_err().code, "busy");
    let err = result.unwrap_err();
    assert_eq!(err.code, "cancelled", "{}", err.message);
    let first = events.lock().unwrap().first().cloned().unwrap();
    assert_eq!(first["event"], "started");
    assert_eq!(first["data"]["total"], 98362432);
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "pip (pid {pid}) still runs");
    let models = f.dir.path().join("models");
    assert_eq!(std::fs::read_dir(&models).unwrap().count(), 0, "no staging or partial file is left");
    // It can be started again afterwards.
    assert!(handle.state::<AppState>().fetching.lock().unwrap().is_empty());
}

#[test]
fn history_commands_list_search_delete_and_clear() {
    let f = fixture();
    let path = f.dir.path().join("history.sqlite3");
    // Two entries, written as the summarize command writes them.
    {
        let mut h = precis::store::history::History::open(&path).unwrap();
        for (i, text) in
            ["Tidal turbines opened in Harbor Point. ", "A café in Zürich serves crème brûlée. "].iter().enumerate()
        {
            let article = precis::article::from_bytes("t.txt", text.repeat(8).as_bytes(), None).unwrap();
            let summary = precis::summary::Summary {
                summary: format!("entry {i}"),
                ..precis::summary::Summary::new("tiny", None, article.text.clone())
            };
            h.record(&precis::store::history::NewEntry {
                source: "t.txt",
                article: &article,
                options: &precis::summary::SummarizeOptions::default(),
                cache_key: &format!("k{i}"),
                summary: &summary,
            })
            .unwrap();
        }
    }
    let stats = call(&f, "history_stats", json!({})).unwrap();
    assert_eq!(stats["count"], 2);
    assert!(stats["bytes"].as_u64().unwrap() > 0);
    let list = call(&f, "history_list", json!({ "before": null, "limit": 50 })).unwrap();
    assert_eq!(list[0]["preview"], "entry 1", "newest first: {list}");
    let hits = call(&f, "history_search", json!({ "query": "creme brulee", "limit": 10 })).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("crème"));
    let hits = call(&f, "history_search", json!({ "query": "\"unbalanced AND (", "limit": 10 })).unwrap();
    assert_eq!(hits, json!([]));
    let missing = call(&f, "history_open", json!({ "id": 999 })).unwrap_err();
    assert_eq!(missing["code"], "not_found");
    let stats = call(&f, "history_delete", json!({ "id": list[0]["id"] })).unwrap();
    assert_eq!(stats["count"], 1);
    let stats = call(&f, "history_clear", json!({})).unwrap();
    assert_eq!(stats["count"], 0);
    assert_eq!(call(&f, "history_list", json!({ "before": null, "limit": 50 })).unwrap(), json!([]));
}

#[test]
fn a_damaged_history_is_reported_and_summaries_still_run() {
    let f = fixture();
    let path = f.dir.path().join("history.sqlite3");
    std::fs::write(&path, b"this is not a database, and must not be overwritten").unwrap();
    let err = call(&f, "history_list", json!({ "before": null, "limit": 50 })).unwrap_err();
    assert_eq!(err["code"], "history_corrupt", "{err}");
    let model = tiny_model(f.dir.path());
    f.app.state::<AppState>().choose_to_read([model.clone()]);
    call(&f, "add_model", json!({ "path": model })).unwrap();
    let settings =
        Settings { model: Some(std::fs::canonicalize(&model).unwrap().display().to_string()), ..Settings::default() };
    let (ch, events) = channel();
    tauri::async_runtime::block_on(precis_app::commands::summary::summarize(
        f.app.handle().clone(),
        f.app.state::<AppState>(),
        1,
        article_view(),
        settings,
        None,
        ch,
    ))
    .unwrap();
    assert_eq!(wait_for_end(&events)["event"], "done");
    assert_eq!(std::fs::read(&path).unwrap(), b"this is not a database, and must not be overwritten");
}

#[test]
fn the_shell_touches_no_file_the_person_did_not_choose() {
    let f = fixture();
    let secret = f.dir.path().join("secret.txt");
    std::fs::write(&secret, format!("Private Notes\n\n{ARTICLE}")).unwrap();
    let model = tiny_model(f.dir.path());
    let target = f.dir.path().join("bashrc");
    std::fs::write(&target, "untouched").unwrap();
    // The page names files nobody dropped or picked: every command refuses, and nothing is read
    // or written.
    for (cmd, args) in [
        ("open_article", json!({ "path": secret })),
        ("add_model", json!({ "path": model })),
        ("save_text", json!({ "path": target, "contents": "rm -rf ~" })),
    ] {
        let err = call(&f, cmd, args).unwrap_err();
        assert_eq!(err["code"], "not_chosen", "{cmd}: {err}");
        assert!(err["message"].as_str().unwrap().contains("drop the file on the window"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    let list = call(&f, "list_models", json!({})).unwrap();
    assert!(!list["models"].as_array().unwrap().iter().any(|m| m["custom"] == true), "{list}");
    // A path dressed up to reach a chosen file's folder from elsewhere does not pass either.
    let state = f.app.state::<AppState>();
    state.choose_to_read([f.dir.path().join("inbox")]);
    std::fs::create_dir(f.dir.path().join("inbox")).unwrap();
    let sneaky = f.dir.path().join("inbox").join("..").join("secret.txt");
    assert_eq!(call(&f, "open_article", json!({ "path": sneaky })).unwrap_err()["code"], "not_chosen");
    // Chosen, the same calls work: a dropped file, a file in a dropped folder, a picked save path.
    std::fs::copy(&secret, f.dir.path().join("inbox").join("notes.txt")).unwrap();
    let v = call(&f, "open_article", json!({ "path": f.dir.path().join("inbox").join("notes.txt") })).unwrap();
    assert_eq!(v["title"], "Private Notes");
    state.choose_to_read([secret.clone()]);
    assert_eq!(call(&f, "open_article", json!({ "path": secret })).unwrap()["source"], "secret.txt");
    state.choose_to_write(&target);
    call(&f, "save_text", json!({ "path": target, "contents": "# ok" })).unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "# ok");
}

#[test]
fn an_added_model_is_chosen_by_its_id_and_older_settings_by_its_name() {
    let f = fixture();
    let model = tiny_model(f.dir.path());
    f.app.state::<AppState>().choose_to_read([model.clone()]);
    let added = call(&f, "add_model", json!({ "path": model })).unwrap();
    let list = call(&f, "list_models", json!({})).unwrap();
    let listed = list["models"].as_array().unwrap().iter().find(|m| m["custom"] == true).unwrap().clone();
    assert_eq!(listed["id"], added["id"]);
    assert_eq!(listed["name"], "tiny-qwen2");
    assert_eq!(listed["architecture"], "qwen2");
    // What the window saves when this model is picked (its id), and what earlier versions saved
    // (its name), both run it.
    for choice in [added["id"].as_str().unwrap(), "tiny-qwen2"] {
        let settings = Settings { model: Some(choice.to_string()), ..Settings::default() };
        let (ch, events) = channel();
        tauri::async_runtime::block_on(precis_app::commands::summary::summarize(
            f.app.handle().clone(),
            f.app.state::<AppState>(),
            1,
            article_view(),
            settings,
            Some(true),
            ch,
        ))
        .unwrap();
        let end = wait_for_end(&events);
        assert_eq!(end["event"], "done", "{choice}: {end}");
        assert_eq!(end["data"]["summary"]["model"], "tiny-qwen2");
    }
}

#[test]
fn the_summary_language_is_a_setting_and_key_points_are_translated_by_a_job_of_their_own() {
    let f = fixture();
    let chosen = json!({"type": "key-points", "length": "short", "model": null, "thorough": false, "language": "de"});
    call(&f, "save_settings", json!({ "settings": chosen })).unwrap();
    assert_eq!(call(&f, "get_settings", json!({})).unwrap(), chosen);
    // The article view says which language the article is in.
    assert_eq!(article_view().language.code(), "en");

    let model = tiny_model(f.dir.path());
    f.app.state::<AppState>().choose_to_read([model.clone()]);
    let added = call(&f, "add_model", json!({ "path": model })).unwrap();
    let state = f.app.state::<AppState>();
    let bullets = vec![
        precis::summary::Bullet::new("Der Rat stimmte dem Plan zu."),
        precis::summary::Bullet::new("Er kostet 4 Euro."),
    ];
    let de = precis::language::Language::parse("de").unwrap();
    let (ch, events) = channel();
    tauri::async_runtime::block_on(precis_app::commands::summary::translate_points(
        f.app.handle().clone(),
        state.clone(),
        7,
        bullets.clone(),
        de,
        precis::language::Language::ENGLISH,
        Some(added["id"].as_str().unwrap().to_string()),
        ch,
    ))
    .unwrap();
    let mut last = Value::Null;
    for _ in 0..600 {
        if let Some(e) = events.lock().unwrap().last() {
            if matches!(e["event"].as_str(), Some("translated" | "cancelled" | "failed")) {
                last = e.clone();
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The tiny model writes noise: no translation passes the language check, and the points stay
    // the article's own.
    assert_eq!(last["event"], "translated", "{:?}", events.lock().unwrap());
    let texts: Vec<&str> =
        last["data"]["bullets"].as_array().unwrap().iter().map(|b| b["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Der Rat stimmte dem Plan zu.", "Er kostet 4 Euro."]);
    for _ in 0..200 {
        if !precis_app::state::lock(&state.jobs).contains_key(&7) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!precis_app::state::lock(&state.jobs).contains_key(&7), "the finished job is forgotten");
}

#[test]
fn preferences_default_save_and_persist() {
    let f = fixture();
    assert_eq!(
        call(&f, "get_preferences", json!({})).unwrap(),
        json!({"sidebarOpen": false, "links": "ask", "shortcut": "Ctrl+Alt+S"})
    );
    let chosen = json!({"sidebarOpen": true, "links": "never", "shortcut": null});
    call(&f, "save_preferences", json!({ "preferences": chosen })).unwrap();
    assert_eq!(call(&f, "get_preferences", json!({})).unwrap(), chosen);
    // Beside the settings, which are unchanged.
    assert_eq!(call(&f, "get_settings", json!({})).unwrap()["type"], "key-points");
    let (engine, _w) = precis::engine::Engine::start();
    let again = AppState::new(engine, f.dir.path().join("models"), &f.dir.path().join("config"), "h".into());
    assert!(again.stored().preferences.sidebar_open);
    // A shortcut that is not one is refused, and nothing is saved.
    let err = call(
        &f,
        "save_preferences",
        json!({ "preferences": {"sidebarOpen": true, "links": "never", "shortcut": "Ctrl+Nope"} }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "shortcut");
    assert_eq!(call(&f, "get_preferences", json!({})).unwrap(), chosen);
}

#[test]
fn files_from_the_command_line_are_chosen_and_taken_once() {
    let f = fixture();
    let path = f.dir.path().join("given.txt");
    std::fs::write(&path, format!("Given On The Command Line\n\n{ARTICLE}")).unwrap();
    assert_eq!(call(&f, "take_opened_files", json!({})).unwrap(), json!([]));
    let args = ["precis-app", "given.txt"].map(std::ffi::OsString::from);
    f.app.state::<AppState>().hand_over(precis_app::launch::files_in_args(args, f.dir.path()));
    assert_eq!(call(&f, "take_opened_files", json!({})).unwrap(), json!([path]));
    assert_eq!(call(&f, "take_opened_files", json!({})).unwrap(), json!([]));
    // Handed over means chosen: the window may open it.
    assert_eq!(call(&f, "open_article", json!({ "path": path })).unwrap()["title"], "Given On The Command Line");
}

/// A web server on 127.0.0.1 that answers every request with `page` as HTML, counting requests.
fn one_page_server(page: String) -> (String, Arc<Mutex<usize>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/story.html", listener.local_addr().unwrap());
    let count = Arc::new(Mutex::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            *seen.lock().unwrap() += 1;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                page.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(page.as_bytes()));
        }
    });
    (url, count)
}

#[test]
fn a_link_is_fetched_only_once_given_and_not_when_links_are_refused() {
    let f = fixture();
    let page = format!("<html><head><title>Tide Power Comes Home</title></head><body><article><h1>Tide Power Comes Home</h1><p>{ARTICLE}</p></article></body></html>");
    let (url, requests) = one_page_server(page);
    // The page cannot fetch an address nobody gave.
    let err = call(&f, "fetch_article", json!({ "url": url })).unwrap_err();
    assert_eq!(err["code"], "not_chosen", "{err}");
    assert_eq!(*requests.lock().unwrap(), 0);
    // Pasted, the link is refused as text (code `link`) and may then be fetched.
    let err = call(&f, "article_from_text", json!({ "text": format!("{url}\n") })).unwrap_err();
    assert_eq!(err["code"], "link");
    let v = call(&f, "fetch_article", json!({ "url": url })).unwrap();
    assert_eq!(v["title"], "Tide Power Comes Home");
    assert_eq!(v["source"], url.as_str());
    assert_eq!(*requests.lock().unwrap(), 1);
    // Links set to "never": nothing is fetched, even a link given before.
    call(&f, "save_preferences", json!({ "preferences": {"sidebarOpen": false, "links": "never", "shortcut": null} }))
        .unwrap();
    let err = call(&f, "fetch_article", json!({ "url": url })).unwrap_err();
    assert_eq!(err["code"], "link");
    assert_eq!(*requests.lock().unwrap(), 1);
}
