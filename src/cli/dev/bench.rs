//! `precis bench`: loads a generator and times one summary prompt (load, prefill, decode, peak
//! memory, and what prefix reuse saves), printing JSON for `scripts/bench_compare.py`, with the
//! kernel path, the CPU (model name and the features the paths use), the weight bytes a decoded
//! token reads, and how near a decode step comes to the machine's read bandwidth.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use precis::article;
use precis::llm::{
    generate, Backend, CancelToken, CpuInfo, GenerateOptions, Generator, KernelPath, LoadOptions, WeightLayout,
};
use precis::store::catalog::{self, Catalog};
use precis::summary::prompts::messages;
use precis::summary::{Length, SummaryType};
use precis::Result;

#[derive(Args)]
pub struct BenchArgs {
    /// Model: a catalog name or the path of a GGUF file [default: the catalog's default]
    #[arg(long, short, value_name = "NAME|PATH")]
    model: Option<String>,

    /// The article whose summary prompt is the prefill [default: examples/article.md]
    #[arg(long, value_name = "FILE")]
    article: Option<PathBuf>,

    /// Worker threads for the matrix kernels [default: all cores]
    #[arg(long)]
    threads: Option<usize>,

    /// Tokens to decode (the model's end-of-turn token is ignored so every run decodes this many)
    #[arg(long, default_value_t = 128)]
    decode_tokens: usize,

    /// Also write the prompt's token ids here as a JSON array (for comparing with llama.cpp)
    #[arg(long, value_name = "FILE")]
    dump_prompt: Option<PathBuf>,

    /// Run candle's transformer code instead of Precis's decoder (llama, qwen2, qwen3)
    #[arg(long)]
    candle: bool,

    /// Multiply every weight matrix on candle's kernels as stored (no tiled Q8_0/Q5_0/Q4_1/
    /// Q4_K/Q6_K kernels, no Q5_1 rewritten as Q8_0)
    #[arg(long)]
    no_repack: bool,

    /// Tokens guessed ahead per decode step from the prompt (see `summarize`); 0, the default,
    /// decodes one token per pass, as llama.cpp does, for a like-for-like comparison
    #[arg(long, default_value_t = 0)]
    lookahead: usize,

    /// Skip the read-bandwidth test (about a second, and a buffer four times the last-level
    /// cache)
    #[arg(long)]
    no_bandwidth: bool,

    /// Prompt tokens per forward pass of the prefill [default: the generator's]
    #[arg(long)]
    prefill_chunk: Option<usize>,
    /// Skip timing what reusing a cached prompt prefix saves (four more prefills)
    #[arg(long)]
    no_prefix_reuse: bool,
}

/// The sample article `bench` uses when none is given.
const SAMPLE_ARTICLE: &str = include_str!("../../../examples/article.md");

pub fn run(args: BenchArgs, models_dir: &Path) -> Result<ExitCode> {
    if let Some(n) = args.threads {
        // candle sizes its worker pool from this variable; nothing has started a pool yet.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    let article = match &args.article {
        Some(path) => article::from_path(path)?,
        None => article::from_bytes("examples/article.md", SAMPLE_ARTICLE.as_bytes(), Some("md"))?,
    };
    let resolved = Catalog::builtin().resolve_generator(args.model.as_deref(), models_dir)?;
    let load = LoadOptions {
        backend: if args.candle { Backend::Candle } else { Backend::Precis },
        layout: if args.no_repack { WeightLayout::AsStored } else { WeightLayout::Tiled },
        ..catalog::load_options()
    };
    let mut generator = Generator::load_with(&resolved.path, load)?;
    // Tiles built for the cache are written before anything is timed.
    precis::llm::finish_tile_cache_writes();
    let prompt = generator.template.render(&messages(
        article.title.as_deref(),
        &article.text,
        SummaryType::KeyPoints,
        Length::Medium,
    ))?;
    let ids = generator.tokenizer.encode(&prompt, true, true)?;
    if let Some(path) = &args.dump_prompt {
        std::fs::write(path, serde_json::to_vec(&ids)?).map_err(|e| precis::Error::io(path, e))?;
    }
    generator.tokenizer.stop_tokens.clear();
    let opts = GenerateOptions {
        max_tokens: args.decode_tokens,
        no_repeat_ngram: 0,
        lookahead: args.lookahead,
        prefill_chunk: args.prefill_chunk.unwrap_or(GenerateOptions::default().prefill_chunk),
        // The whole prompt is timed: nothing comes from an earlier process's prompt prefix.
        reuse_prefix: false,
        ..Default::default()
    };
    let run = generate(&mut generator, &ids, &opts, &CancelToken::new(), &mut |_| {})?;
    let per_second = |n: usize, d: std::time::Duration| n as f64 / d.as_secs_f64().max(1e-9);
    let decode_tok_s = per_second(run.tokens.len().saturating_sub(1), run.decode_time);
    let peak_rss = peak_rss_mb();
    // candle's models cannot reuse a prefix; timing them again would show nothing.
    let reuse = if generator.on_precis_decoder() && !args.no_prefix_reuse {
        bench_prefix_reuse(&mut generator, &article, &ids)?
    } else {
        serde_json::Value::Null
    };
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let cpu = CpuInfo::detect();
    let memory = decode_memory(&mut generator, &ids, &run.tokens, decode_tok_s, threads, !args.no_bandwidth)?;
    let report = serde_json::json!({
        "model": resolved.name,
        "architecture": generator.props.architecture,
        "kernels": generator.kernel_path().map(|p| p.name()),
        "kernels_available": KernelPath::available().iter().map(|p| p.name()).collect::<Vec<_>>(),
        "cpu": { "model": cpu.model, "features": cpu.present() },
        "threads": threads,
        "load_ms": generator.load_time.as_millis() as u64,
        "tiles": generator.tile_source.name(),
        "prompt_tokens": run.prompt_tokens,
        "prefill_tok_s": per_second(run.prompt_tokens, run.prefill_time),
        "decode_tokens": run.tokens.len(),
        // The first decoded token comes from the prefill's logits; the rest each cost a pass.
        "decode_tok_s": decode_tok_s,
        "decoder": if generator.on_precis_decoder() { "precis" } else { "candle" },
        "lookahead": { "guessed": run.guessed_tokens, "accepted": run.accepted_tokens },
        // Measured after the main run, before the prefix-reuse runs below.
        "peak_rss_mb": peak_rss,
        "prefix_reuse": reuse,
        "decode_memory": memory,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Runs two follow-up prompts after the benchmark prompt `first`, each once reusing the cached
/// prefix and once from an empty cache, and reports the prefill tokens skipped and time saved:
/// the same article asked for a tl;dr (as when a summary is redone in another form), and a
/// different article with the same instructions (as for the next job).
fn bench_prefix_reuse(
    generator: &mut Generator,
    article: &article::Article,
    first: &[u32],
) -> Result<serde_json::Value> {
    let mut cut = article.text.len() / 2;
    while !article.text.is_char_boundary(cut) {
        cut -= 1;
    }
    let half = &article.text[..cut];
    let half = &half[..half.rfind("\n\n").unwrap_or(half.len())];
    let cases = [
        ("same_article_tldr", article.title.as_deref(), article.text.as_str(), SummaryType::Tldr),
        ("other_article_same_task", None, half, SummaryType::KeyPoints),
    ];
    let one_token = GenerateOptions { max_tokens: 1, ..Default::default() };
    let from_scratch = GenerateOptions { reuse_prefix: false, ..one_token.clone() };
    let mut out = serde_json::Map::new();
    for (name, title, text, kind) in cases {
        let prompt = generator.template.render(&messages(title, text, kind, Length::Medium))?;
        let ids = generator.tokenizer.encode(&prompt, true, true)?;
        // Start each case from the benchmark prompt's cache.
        generate(generator, first, &one_token, &CancelToken::new(), &mut |_| {})?;
        let reused = generate(generator, &ids, &one_token, &CancelToken::new(), &mut |_| {})?;
        let fresh = generate(generator, &ids, &from_scratch, &CancelToken::new(), &mut |_| {})?;
        let ms = |d: std::time::Duration| (d.as_secs_f64() * 1000.0).round();
        out.insert(
            name.into(),
            serde_json::json!({
                "prompt_tokens": ids.len(),
                "reused_tokens": reused.reused_tokens,
                "prefill_ms": ms(reused.prefill_time),
                "prefill_ms_without_reuse": ms(fresh.prefill_time),
                "saved_ms": ms(fresh.prefill_time) - ms(reused.prefill_time),
            }),
        );
    }
    Ok(serde_json::Value::Object(out))
}

/// Decode steps timed each beside a pass of the bandwidth test, for `paired` in the report.
const PAIRS: usize = 24;

/// The weight bytes a decoded token reads, the rate the decode read them at, and (when
/// `measure`) the machine's read bandwidth on `threads` threads and the share of it that is:
/// the whole decode's rate against the fastest of a few passes of the bandwidth test, and
/// (`paired`) single decode steps each against a pass made just before or after it.
/// Measured last: the test's buffer would count in the peak memory.
fn decode_memory(
    generator: &mut Generator,
    prompt: &[u32],
    tokens: &[u32],
    decode_tok_s: f64,
    threads: usize,
    measure: bool,
) -> Result<serde_json::Value> {
    let Some(bytes) = generator.step_weight_bytes() else { return Ok(serde_json::Value::Null) };
    let read = bytes as f64 * decode_tok_s;
    let mut out = serde_json::json!({
        "weight_mb_per_token": bytes as f64 / 1e6,
        "weight_gb_s": read / 1e9,
        // Mostly the weights: little else asks for huge pages.
        "huge_page_mb": super::bandwidth::huge_pages_in_use().map(|b| b as f64 / 1e6),
    });
    if measure {
        let stream = super::bandwidth::Stream::new(threads);
        let bandwidth = stream.measure();
        out["read_bandwidth_gb_s"] = (bandwidth.bytes_per_second / 1e9).into();
        out["share_of_bandwidth"] = (read / bandwidth.bytes_per_second).into();
        out["bandwidth_buffer_mb"] = (bandwidth.buffer_bytes as f64 / 1e6).into();
        out["last_level_cache_mb"] = bandwidth.last_level_cache.map(|c| c as f64 / 1e6).into();
        out["bandwidth_threads"] = bandwidth.threads.into();
        out["bandwidth_huge_page_mb"] = bandwidth.huge_page_bytes.map(|b| b as f64 / 1e6).into();
        out["paired"] = paired_steps(generator, prompt, tokens, &stream, bytes)?;
    }
    Ok(out)
}

/// Runs the benchmark's decode steps again, one token a pass at the positions they had,
/// `PAIRS` of them, each beside one pass of the bandwidth test (before it and after it in
/// turn), and compares each step's read rate with its pass's. A shared host's bandwidth
/// changes from second to second; a step and a pass tens of milliseconds apart see the same
/// machine, where the whole decode and the fastest pass, seconds apart, may not.
fn paired_steps(
    generator: &mut Generator,
    prompt: &[u32],
    tokens: &[u32],
    stream: &super::bandwidth::Stream,
    step_bytes: usize,
) -> Result<serde_json::Value> {
    if tokens.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    // The cache back to the benchmark's prompt (and its first token).
    let one_token = GenerateOptions { max_tokens: 1, ..Default::default() };
    generate(generator, prompt, &one_token, &CancelToken::new(), &mut |_| {})?;
    let room = generator.props.context_length.saturating_sub(prompt.len());
    let mut shares = Vec::new();
    let mut steps = Vec::new();
    let mut passes = Vec::new();
    for i in 0..PAIRS.min(room) {
        let step = |generator: &mut Generator| -> Result<std::time::Duration> {
            let began = std::time::Instant::now();
            generator.forward(&tokens[i % tokens.len()..][..1], prompt.len() + i)?;
            Ok(began.elapsed())
        };
        let (pass, step) = if i % 2 == 0 {
            let pass = stream.pass();
            (pass, step(generator)?)
        } else {
            let step = step(generator)?;
            (stream.pass(), step)
        };
        let step_rate = step_bytes as f64 / step.as_secs_f64().max(1e-9);
        let pass_rate = stream.bytes() as f64 / pass.as_secs_f64().max(1e-9);
        shares.push(step_rate / pass_rate);
        steps.push(step_rate);
        passes.push(pass_rate);
    }
    let most = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let share_of_fastest = most(&steps) / most(&passes);
    Ok(serde_json::json!({
        "pairs": shares.len(),
        "share_median": median(&mut shares),
        "step_gb_s_median": median(&mut steps) / 1e9,
        "read_gb_s_median": median(&mut passes) / 1e9,
        "fastest_step_of_fastest_pass": share_of_fastest,
    }))
}

/// The middle value (the mean of the middle two for an even count); 0 for none.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The process's peak resident memory in MB (Linux; `null` elsewhere).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
