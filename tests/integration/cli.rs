//! The `precis` command as a process: output shapes and every input or model error path.

use precis::llm::gguf::Architecture;
use precis::llm::{CpuInfo, KernelPath};
use predicates::prelude::*;

use crate::common::*;

#[test]
fn summarize_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), Architecture::Qwen2);
    let article = write(dir.path(), "a.txt", ARTICLE);
    let out = stdout_of(
        precis(dir.path())
            .args(["summarize", "--format", "json", "--max-tokens", "16", "--article-tokens", "100", "--thorough"])
            .arg("--model")
            .arg(&model)
            .arg(&article),
    );
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["title"], "City Council Approves Night Buses");
    assert!(v["summary"].is_string());
    let text = v["text"].as_str().expect("the extracted text");
    assert!(text.contains("The Riverton City Council voted 7 to 2"));
    let bullets = v["bullets"].as_array().unwrap();
    assert!(!bullets.is_empty(), "unsupported model output falls back to key sentences: {v}");
    for b in bullets {
        let sources = b["sources"].as_array().unwrap();
        assert!(!sources.is_empty(), "{b}");
        for s in sources {
            let (start, end) = (s["start"].as_u64().unwrap() as usize, s["end"].as_u64().unwrap() as usize);
            assert!(start < end && end <= text.len(), "{s}");
        }
        let support = b["support"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&support), "{b}");
        assert!(support >= 0.6, "only grounded bullets are shown: {b}");
    }
    assert_eq!(v["model"], "tiny-qwen2");
    assert_eq!(v["stop_reason"], "max_tokens");
    // --article-tokens 100 is less than the article and --thorough asks for all of it: it is
    // summarized by sections, never cut (so there is no `truncated` field).
    assert!(v.get("truncated").is_none(), "{v}");
    assert!(v["sections"].as_u64().unwrap() >= 2, "{v}");
    let t = &v["timings"];
    for key in
        ["load_ms", "first_bullet_ms", "prompt_tokens", "prefill_ms", "generated_tokens", "decode_ms", "total_ms"]
    {
        assert!(t[key].is_u64(), "timings.{key} in {t}");
    }
    assert!(t["generated_tokens"].as_u64().unwrap() >= 16);
    assert!(t["prompt_tokens"].as_u64().unwrap() > 50);
}

#[test]
fn summarize_streams_markdown_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), Architecture::Llama);
    precis(dir.path())
        .args(["summarize", "-", "--max-tokens", "8", "--model"])
        .arg(&model)
        .write_stdin(ARTICLE)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("# City Council Approves Night Buses\n\n"))
        .stderr(predicate::str::is_empty());
}

#[test]
fn missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    precis(dir.path())
        .args(["summarize", "/nonexistent/article.txt"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent/article.txt: no such file"));
}

/// Linux allows any bytes but `/` and NUL in a file name; one that is not UTF-8 is read all the
/// same, named on its own and inside a folder, and an unreadable one is named with its stray
/// bytes replaced.
#[cfg(target_os = "linux")]
#[test]
fn a_file_name_that_is_not_utf8_is_read() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9 notes.txt");
    let folder = dir.path().join("articles");
    std::fs::create_dir(&folder).unwrap();
    let article = "The council met on Tuesday evening in the old town hall. It voted to extend the night buses \
                   until two in the morning. The new timetable starts in March, and the fares stay as they are.";
    std::fs::write(folder.join(name), article).unwrap();
    precis(dir.path())
        .arg("extract")
        .arg(folder.join(name))
        .assert()
        .success()
        .stdout(predicate::str::contains("It voted to extend the night buses"));
    precis(dir.path())
        .args(["summarize", "--extractive", "--no-history"])
        .arg(&folder)
        .assert()
        .success()
        .stdout(predicate::str::contains("caf\u{fffd} notes.txt").and(predicate::str::contains("night buses")));
    let missing = std::ffi::OsStr::from_bytes(b"gon\xe9.txt");
    precis(dir.path())
        .arg("extract")
        .arg(folder.join(missing))
        .assert()
        .failure()
        .stderr(predicate::str::contains("gon\u{fffd}.txt: no such file"));
}

#[test]
fn empty_and_binary_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.txt", "");
    precis(dir.path())
        .arg("summarize")
        .arg(&empty)
        .assert()
        .failure()
        .stderr(predicate::str::contains("empty.txt: the file is empty"));
    precis(dir.path())
        .args(["summarize", "-"])
        .write_stdin("   \n")
        .assert()
        .failure()
        .stderr(predicate::str::contains("standard input: the file is empty"));
    let binary = write(dir.path(), "blob.bin", [0u8, 159, 146, 150, 0, 1, 2, 3, 255, 0, 0, 7]);
    precis(dir.path())
        .arg("summarize")
        .arg(&binary)
        .assert()
        .failure()
        .stderr(predicate::str::contains("blob.bin: this looks like a binary file"));
    let short = write(dir.path(), "short.txt", "Just a few words here.");
    precis(dir.path())
        .arg("summarize")
        .arg(&short)
        .assert()
        .failure()
        .stderr(predicate::str::contains("too short to summarize"));
}

#[test]
fn unknown_model_lists_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let article = write(dir.path(), "a.txt", ARTICLE);
    precis(dir.path()).args(["summarize", "--model", "gpt-17"]).arg(&article).assert().failure().stderr(
        predicate::str::contains("unknown model `gpt-17`")
            .and(predicate::str::contains("qwen2.5-coder-1.5b-instruct-q4_k_m")),
    );
}

#[test]
fn missing_model_says_how_to_fetch_it() {
    let dir = tempfile::tempdir().unwrap();
    let article = write(dir.path(), "a.txt", ARTICLE);
    precis(dir.path())
        .args(["summarize", "--model", "smollm2-135m-instruct-q4_1"])
        .arg(&article)
        .assert()
        .failure()
        .stderr(predicate::str::contains("precis models fetch smollm2-135m-instruct-q4_1"));
}

#[test]
fn a_damaged_catalog_model_is_reported_and_models_verify_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let article = write(dir.path(), "a.txt", ARTICLE);
    // The catalog's size, other bytes.
    let file = std::fs::File::create(dir.path().join("smollm2-135m-instruct-q4_1.gguf")).unwrap();
    file.set_len(98_362_432).unwrap();
    precis(dir.path())
        .args(["summarize", "--model", "smollm2-135m-instruct-q4_1"])
        .arg(&article)
        .assert()
        .failure()
        .stderr(predicate::str::contains("does not match its catalog sha256"))
        .stderr(predicate::str::contains("precis models fetch smollm2-135m-instruct-q4_1"));
    precis(dir.path())
        .args(["models", "verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("smollm2-135m-instruct-q4_1").and(predicate::str::contains("DAMAGED")));
    precis(dir.path()).args(["models", "list"]).assert().success().stdout(predicate::str::contains("not downloaded"));
}

#[test]
fn corrupt_model_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), Architecture::Qwen2);
    let bytes = std::fs::read(&model).unwrap();
    let cut = write(dir.path(), "cut.gguf", &bytes[..bytes.len() / 2]);
    let article = write(dir.path(), "a.txt", ARTICLE);
    precis(dir.path())
        .args(["summarize", "--model"])
        .arg(&cut)
        .arg(&article)
        .assert()
        .failure()
        .stderr(predicate::str::contains("cut.gguf is not usable: it is truncated"));
}

#[test]
fn models_list_shows_the_catalog_and_what_is_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    precis(dir.path()).args(["models", "list"]).assert().success().stdout(
        predicate::str::contains("qwen2.5-coder-1.5b-instruct-q4_k_m")
            .and(predicate::str::contains("smollm2-135m-instruct-q4_1"))
            .and(predicate::str::contains("not downloaded")),
    );
}

#[test]
fn every_kernel_path_writes_the_same_summary() {
    // `PRECIS_KERNELS` forces each path this CPU runs; every one gives the same tokens, so the
    // same summary and key points.
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), Architecture::Qwen2);
    let article = write(dir.path(), "a.txt", ARTICLE);
    let summary = |kernels: &str| {
        let out = stdout_of(
            precis(dir.path())
                .env("PRECIS_KERNELS", kernels)
                .args(["summarize", "--format", "json", "--max-tokens", "24", "--model"])
                .arg(&model)
                .arg(&article),
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        (v["summary"].clone(), v["bullets"].clone())
    };
    let portable = summary("portable");
    assert!(portable.0.is_string(), "{portable:?}");
    for path in KernelPath::available() {
        assert_eq!(summary(path.name()), portable, "PRECIS_KERNELS={path}");
    }
}

#[test]
fn an_unknown_or_unavailable_kernel_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), Architecture::Llama);
    let article = write(dir.path(), "a.txt", ARTICLE);
    let refused = |kernels: &str| {
        let out = precis(dir.path())
            .env("PRECIS_KERNELS", kernels)
            .args(["summarize", "--model"])
            .arg(&model)
            .arg(&article)
            .assert()
            .failure()
            .get_output()
            .clone();
        assert!(out.stdout.is_empty());
        String::from_utf8(out.stderr).unwrap()
    };
    let stderr = refused("sse9");
    assert!(
        stderr.contains(
            "PRECIS_KERNELS=sse9 is not a kernel path; use one of avx512vnni, avxvnni, avx2, portable, or unset \
             it to use the fastest this CPU runs"
        ),
        "{stderr}"
    );
    // Where this CPU lacks a path (a unit test in kernels/cpu.rs covers CPUs this one is not).
    for path in KernelPath::ALL.into_iter().filter(|p| !p.supported()) {
        let stderr = refused(path.name());
        let runs = KernelPath::available().iter().map(|p| p.name()).collect::<Vec<_>>().join(", ");
        assert!(stderr.contains(&format!("PRECIS_KERNELS={path} cannot run on this CPU")), "{stderr}");
        assert!(stderr.contains(&format!("This CPU runs: {runs}")), "{stderr}");
    }
}

#[test]
fn bench_reports_the_kernel_path_the_cpu_and_the_weights_a_token_reads() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), Architecture::Llama);
    for path in [KernelPath::best(), KernelPath::Portable] {
        let out = stdout_of(
            precis(dir.path())
                .env("PRECIS_KERNELS", path.name())
                .args(["bench", "--decode-tokens", "4", "--threads", "1", "--no-bandwidth", "--no-prefix-reuse"])
                .arg("--model")
                .arg(&model),
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["kernels"], path.name(), "{v}");
        let available: Vec<&str> = KernelPath::available().iter().map(|p| p.name()).collect();
        assert_eq!(v["kernels_available"], serde_json::json!(available), "{v}");
        let cpu = CpuInfo::detect();
        assert_eq!(v["cpu"]["model"], cpu.model.as_str(), "{v}");
        assert_eq!(v["cpu"]["features"], cpu.present().as_str(), "{v}");
        let memory = &v["decode_memory"];
        assert!(memory["weight_mb_per_token"].as_f64().unwrap() > 0.0, "{v}");
        assert!(memory.get("read_bandwidth_gb_s").is_none(), "--no-bandwidth: {v}");
    }
    // With the bandwidth test: the whole decode against its fastest pass, and single steps
    // each beside a pass (more pairs than the four decoded tokens: the steps run them again).
    let out = stdout_of(
        precis(dir.path())
            .args(["bench", "--decode-tokens", "4", "--threads", "2", "--no-prefix-reuse", "--model"])
            .arg(&model),
    );
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let memory = &v["decode_memory"];
    for key in ["read_bandwidth_gb_s", "share_of_bandwidth", "bandwidth_buffer_mb"] {
        assert!(memory[key].as_f64().unwrap() > 0.0, "{key}: {v}");
    }
    let paired = &memory["paired"];
    assert_eq!(paired["pairs"], 24, "{v}");
    for key in ["share_median", "step_gb_s_median", "read_gb_s_median", "fastest_step_of_fastest_pass"] {
        assert!(paired[key].as_f64().unwrap() > 0.0, "{key}: {v}");
    }
}

/// Runs `precis` with `args` on a terminal (a pseudo-terminal from `script`), as a person at a
/// terminal would; returns what it showed on standard output and whether it succeeded.
fn on_a_terminal(models_dir: &std::path::Path, args: &[&str]) -> (String, bool) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let precis = assert_cmd::cargo::cargo_bin("precis");
    let line = std::iter::once(precis.to_str().unwrap()).chain(args.iter().copied()).map(quote).collect::<Vec<_>>();
    let out = std::process::Command::new("script")
        // Standard error (the spinner, the error) is kept off the terminal's output.
        .args(["-qec", &format!("{} 2>/dev/null", line.join(" ")), "/dev/null"])
        .env("PRECIS_MODELS_DIR", models_dir)
        .env("PRECIS_NO_HISTORY", "1")
        .env_remove("PRECIS_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    (String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"), out.status.success())
}

#[test]
fn on_a_terminal_the_key_points_come_before_the_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let article = write(dir.path(), "buses.txt", ARTICLE);
    // A model file that cannot be loaded: the key points are on the screen before that is found.
    let damaged = write(dir.path(), "damaged.gguf", b"GGUF and then nothing a model has");
    let (shown, ok) =
        on_a_terminal(dir.path(), &["summarize", article.to_str().unwrap(), "--model", damaged.to_str().unwrap()]);
    assert!(!ok, "{shown}");
    let points = shown.find("## Key points").unwrap_or_else(|| panic!("no key points before the error: {shown}"));
    assert!(shown[points..].contains("\n- "), "{shown}");
    // A model that loads: the points are shown once, first, and the summary after them.
    let model = tiny_model(dir.path(), Architecture::Llama);
    let (shown, ok) = on_a_terminal(
        dir.path(),
        &["summarize", article.to_str().unwrap(), "--max-tokens", "8", "--model", model.to_str().unwrap()],
    );
    assert!(ok, "{shown}");
    assert_eq!(shown.matches("## Key points").count(), 1, "{shown}");
    assert!(shown.starts_with("# City Council Approves Night Buses\n\n## Key points\n\n- "), "{shown}");
}

#[test]
fn a_reader_that_stops_early_is_no_error() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    // Far more than a pipe holds, so the command is still writing when the reader goes.
    let long = format!("{ARTICLE}\n\n").repeat(400);
    let article = write(dir.path(), "long.txt", &long);
    let bin = assert_cmd::cargo::cargo_bin("precis");
    let mut child = std::process::Command::new(bin)
        .env("PRECIS_MODELS_DIR", dir.path())
        .env("PRECIS_NO_HISTORY", "1")
        .args(["extract", article.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // Standard output's reader is gone: the command's next writes meet a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn control_characters_reach_the_terminal_neither_from_a_file_nor_from_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let colored = format!("\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[31m{ARTICLE}\u{1b}[0m\u{1b}[2J\n");
    let article = write(dir.path(), "colored.txt", &colored);
    let out = stdout_of(precis(dir.path()).args(["extract", article.to_str().unwrap()]));
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
    let plain = write(dir.path(), "plain.txt", ARTICLE);
    let plain = stdout_of(precis(dir.path()).args(["extract", plain.to_str().unwrap()]));
    assert_eq!(text, String::from_utf8(plain).unwrap(), "the article itself is kept");
    let named = write(dir.path(), "empty\u{1b}[2J.txt", "");
    precis(dir.path())
        .args(["extract", named.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("empty\\u{1b}[2J.txt").and(predicate::str::contains('\u{1b}').not()));
}
