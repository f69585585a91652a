//! Precis's llama/qwen2/qwen3 decoder (`precis::llm`) against candle's models: the same logits
//! on tiny random models and on real ones, the same logits on one thread as on two and on
//! every kernel path the CPU runs, generation that reuses a cached prompt prefix (in the same
//! process, or from the prompt prefix file of an earlier one) giving exactly the tokens of a
//! fresh run, and guessed tokens checked in one pass giving exactly the logits
//! and tokens of single steps, and tiles mapped from the tile cache giving exactly the logits
//! of tiles built at load.

use precis::llm::generate::prefill;
use precis::llm::generator::KEPT_PREFIX_TOKENS;
use precis::llm::gguf::Architecture;
use precis::llm::test_models::{GgmlDType, TinySpec, TILED_CASES};
use precis::llm::WeightLayout;
use precis::llm::{generate, CancelToken, GenerateOptions};
use precis::llm::{Backend, Generator, KernelPath, LoadOptions, TileSource};
use precis::summary::prompts::messages;
use precis::summary::{Length, SummaryType};

use crate::common::*;

fn load(path: &std::path::Path, backend: Backend, layout: WeightLayout) -> Generator {
    Generator::load_with(path, LoadOptions { backend, layout, ..LoadOptions::default() }).unwrap()
}

/// Loads `path` on Precis's decoder with its tiled matrices on `kernels`.
fn load_on(path: &std::path::Path, kernels: KernelPath) -> Generator {
    let options = LoadOptions { kernels: Some(kernels), ..LoadOptions::default() };
    let g = Generator::load_with(path, options).unwrap();
    assert_eq!(g.kernel_path(), Some(kernels));
    g
}

/// The largest difference between two logit vectors, relative to the largest logit.
fn relative_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(1f32, |m, v| m.max(v.abs()));
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max) / scale
}

/// How far apart the two implementations' logits were.
struct Comparison {
    /// Worst relative difference after each of the two prompt chunks.
    prefill: f32,
    /// Worst relative difference over three single-token steps.
    decode: f32,
    /// Whether the top token agreed at every step.
    same_top: bool,
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

/// Runs a prompt in two chunks, then three single tokens, on both implementations.
fn compare(path: &std::path::Path, prompt: &[u32], layout: WeightLayout) -> Comparison {
    let mut ours = load(path, Backend::Precis, layout);
    assert!(ours.on_precis_decoder());
    let mut reference = load(path, Backend::Candle, WeightLayout::AsStored);
    assert!(!reference.on_precis_decoder());
    let split = prompt.len() / 2;
    let mut result = Comparison { prefill: 0.0, decode: 0.0, same_top: true };
    let mut steps: Vec<(Vec<u32>, usize)> = vec![(prompt[..split].to_vec(), 0), (prompt[split..].to_vec(), split)];
    for (i, t) in [11u32, 42, 7].into_iter().enumerate() {
        steps.push((vec![t], prompt.len() + i));
    }
    for (tokens, pos) in steps {
        let a = ours.forward(&tokens, pos).unwrap();
        let b = reference.forward(&tokens, pos).unwrap();
        let diff = relative_diff(&a, &b);
        if tokens.len() > 1 {
            result.prefill = result.prefill.max(diff);
        } else {
            result.decode = result.decode.max(diff);
        }
        result.same_top &= argmax(&a) == argmax(&b);
    }
    result
}

impl Comparison {
    fn worst(&self) -> f32 {
        self.prefill.max(self.decode)
    }
}

fn tiny_prompt(g: &Generator) -> Vec<u32> {
    let text = g.template.render(&messages(Some("Night buses"), ARTICLE, SummaryType::Tldr, Length::Short)).unwrap();
    g.tokenizer.encode(&text, true, true).unwrap()
}

#[test]
fn own_decoder_matches_candle_on_tiny_models() {
    let dir = tempfile::tempdir().unwrap();
    for arch in [Architecture::Llama, Architecture::Qwen2, Architecture::Qwen3] {
        for dtype in [GgmlDType::F32, GgmlDType::Q8_0, GgmlDType::Q4K] {
            let spec = TinySpec {
                dtype,
                embedding: if dtype == GgmlDType::Q4K { 256 } else { 64 },
                feed_forward: if dtype == GgmlDType::Q4K { 256 } else { 128 },
                ..TinySpec::new(arch)
            };
            let path = tiny_model_with(dir.path(), spec);
            let ids = tiny_prompt(&Generator::load(&path).unwrap());
            let c = compare(&path, &ids, WeightLayout::AsStored);
            eprintln!("{arch:?} {dtype:?}: prefill {} decode {}", c.prefill, c.decode);
            // Only the order of float operations differs (the attention scale is applied to
            // the queries, grouped heads share keys instead of copying them). The tiny files
            // ask candle's qwen3 for f32 rotation tables (`general.dtype`), as Precis's decoder
            // and llama.cpp compute them. candle's qwen3 runs a prompt's attention on a kernel
            // of its own whose prompt logits move by 0.7% on the Q8_0 tiny model;
            // the single-token steps after it, which read the keys and values the prompt left
            // in the cache, still agree to 1e-6, so the cache (norms, rotation) is the same.
            let prompt_tolerance = if arch == Architecture::Qwen3 { 0.01 } else { 1e-4 };
            assert!(c.decode < 1e-4 && c.same_top, "{arch:?} {dtype:?}: decode logits differ by {}", c.decode);
            assert!(c.prefill < prompt_tolerance, "{arch:?} {dtype:?}: prompt logits differ by {}", c.prefill);
        }
    }
}

#[test]
fn repacked_weights_stay_close_to_candle() {
    let dir = tempfile::tempdir().unwrap();
    // Q4_1 runs on the tiled kernels with the same integer products, scales and activation sums
    // as candle's, so only the float summation order differs. Q5_0 also runs on the tiled kernels,
    // but candle quantizes its activations differently; Q5_1 is rewritten as Q8_0, its values
    // rounded to the 8-bit grid. Both move the logits of these random models by well under
    // one percent.
    for (dtype, tolerance) in [(GgmlDType::Q4_1, 1e-4), (GgmlDType::Q5_0, 0.02), (GgmlDType::Q5_1, 0.05)] {
        let spec = TinySpec { dtype, ..TinySpec::new(Architecture::Llama) };
        let path = tiny_model_with(dir.path(), spec);
        let ids = tiny_prompt(&Generator::load(&path).unwrap());
        let diff = compare(&path, &ids, WeightLayout::Tiled).worst();
        eprintln!("{dtype:?} on the fast layout: relative logit difference {diff}");
        assert!(diff < tolerance, "{dtype:?}: relative logit difference {diff}");
    }
}

#[test]
fn own_k_quant_kernels_stay_close_to_candle() {
    let dir = tempfile::tempdir().unwrap();
    // The tiled kernels and candle's kernels both quantize the activations to ±127 of the
    // largest magnitude per 256 values and use the weights' integers and scales as stored;
    // the order of the float sums differs.
    for arch in [Architecture::Llama, Architecture::Qwen2] {
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let spec = TinySpec::wide(arch, dtype);
            let path = tiny_model_with(dir.path(), spec);
            let ids = tiny_prompt(&Generator::load(&path).unwrap());
            let c = compare(&path, &ids, WeightLayout::Tiled);
            eprintln!("{arch:?} {dtype:?} on the tiled kernels: relative logit difference {}", c.worst());
            assert!(c.worst() < 0.05 && c.same_top, "{arch:?} {dtype:?}: relative logit difference {}", c.worst());
        }
    }
}

#[test]
fn the_own_decoder_gives_the_same_logits_on_one_thread_as_on_two() {
    // A step's products and attention heads are shared with helper threads (`team`), but
    // each output is computed whole by one thread, so the thread count changes no bit.
    let dir = tempfile::tempdir().unwrap();
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q4K] {
        let spec = TinySpec::wide(Architecture::Qwen2, dtype);
        let path = tiny_model_with(dir.path(), spec);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut g = load(&path, Backend::Precis, WeightLayout::Tiled);
                let ids = tiny_prompt(&g);
                let mut logits = vec![g.forward(&ids, 0).unwrap()];
                for (i, t) in [11u32, 42, 7].into_iter().enumerate() {
                    logits.push(g.forward(&[t], ids.len() + i).unwrap());
                }
                logits
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one.len(), 4);
        assert!(one.iter().all(|l| l.iter().all(|v| v.is_finite()) && l.iter().any(|&v| v != 0.0)), "{dtype:?}");
        assert_eq!(one, two, "{dtype:?}");
    }
}

#[test]
fn checking_guesses_gives_the_logits_of_single_steps() {
    // Each row of a product gets the same bits as alone, and the guessed rows attend one at a
    // time as single steps do, so the rows of one pass are the single steps' logits exactly.
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (Architecture::Llama, GgmlDType::Q4_1),
        (Architecture::Qwen2, GgmlDType::Q4K),
        (Architecture::Qwen3, GgmlDType::Q8_0),
    ];
    for (arch, dtype) in cases {
        let spec = TinySpec::wide(arch, dtype);
        let path = tiny_model_with(dir.path(), spec);
        let mut g = load(&path, Backend::Precis, WeightLayout::Tiled);
        assert!(g.checks_guesses(), "{arch:?} {dtype:?}");
        let ids = tiny_prompt(&g);
        g.forward(&ids, 0).unwrap();
        let run = [11u32, 42, 7, 99];
        let single: Vec<Vec<f32>> = (0..run.len()).map(|i| g.forward(&[run[i]], ids.len() + i).unwrap()).collect();
        let each = g.forward_each(&run, ids.len()).unwrap();
        assert_eq!(each, single, "{arch:?} {dtype:?}");
        assert_eq!(g.cached_tokens().len(), ids.len() + run.len());
        // A wrong guess: the positions after the first are run again with another token.
        let other = g.forward(&[5], ids.len() + 1).unwrap();
        let mut fresh = load(&path, Backend::Precis, WeightLayout::Tiled);
        fresh.forward(&ids, 0).unwrap();
        fresh.forward(&[run[0]], ids.len()).unwrap();
        assert_eq!(other, fresh.forward(&[5], ids.len() + 1).unwrap(), "{arch:?} {dtype:?}");
    }
}

#[test]
fn guessing_ahead_gives_the_same_tokens() {
    let dir = tempfile::tempdir().unwrap();
    for arch in [Architecture::Llama, Architecture::Qwen2] {
        let spec = TinySpec::wide(arch, GgmlDType::Q8_0);
        let path = tiny_model_with(dir.path(), spec);
        let mut g = Generator::load(&path).unwrap();
        let ids = tiny_prompt(&g);
        let run = |g: &mut Generator, lookahead| {
            let opts = GenerateOptions { lookahead, no_repeat_ngram: 0, ..greedy(40, false) };
            generate(g, &ids, &opts, &CancelToken::new(), &mut |_| {}).unwrap()
        };
        let plain = run(&mut g, 0);
        let guessed = run(&mut g, 4);
        assert_eq!(plain.guessed_tokens, 0);
        assert_eq!(guessed.tokens, plain.tokens, "{arch:?}");
        assert_eq!(guessed.text, plain.text, "{arch:?}");
        eprintln!(
            "{arch:?}: {} tokens, {} guessed, {} accepted",
            guessed.tokens.len(),
            guessed.guessed_tokens,
            guessed.accepted_tokens
        );
        assert!(guessed.accepted_tokens > 0 && guessed.accepted_tokens <= guessed.guessed_tokens);
    }
    // Where products run on candle's kernels, rows of one pass could differ from single steps
    // in their last bits, so nothing is guessed.
    let path = tiny_model(dir.path(), Architecture::Llama);
    let mut g = load(&path, Backend::Precis, WeightLayout::AsStored);
    assert!(g.on_precis_decoder() && !g.checks_guesses());
    let ids = tiny_prompt(&g);
    let opts = GenerateOptions { lookahead: 4, ..greedy(8, false) };
    assert_eq!(generate(&mut g, &ids, &opts, &CancelToken::new(), &mut |_| {}).unwrap().guessed_tokens, 0);
}

#[test]
fn every_kernel_path_gives_the_same_logits_and_tokens() {
    // Every path this CPU runs (`KernelPath::available`: on a Sapphire Rapids all four) computes
    // the same integers and the same float operations in the same order (no fused
    // multiply-adds, the same summation order in the attention loops), so the logits agree bit
    // for bit with the portable path's, over a prompt, single steps and guessed tokens checked
    // in one pass, and so do the tokens of an answer.
    let paths = KernelPath::available();
    eprintln!("kernel paths on this CPU: {paths:?}");
    let dir = tempfile::tempdir().unwrap();
    for (arch, dtype) in TILED_CASES {
        let spec = TinySpec::wide(arch, dtype);
        let path = tiny_model_with(dir.path(), spec);
        let run = |kernels: KernelPath| {
            let mut g = load_on(&path, kernels);
            assert!(g.checks_guesses(), "{arch:?} {dtype:?}: every product on the tiled kernels");
            let ids = tiny_prompt(&g);
            let mut logits = vec![g.forward(&ids, 0).unwrap()];
            for (i, t) in [11u32, 42, 7].into_iter().enumerate() {
                logits.push(g.forward(&[t], ids.len() + i).unwrap());
            }
            logits.extend(g.forward_each(&[3, 99, 5, 64], ids.len() + 3).unwrap());
            let opts = GenerateOptions { no_repeat_ngram: 0, ..greedy(24, false) };
            let answer = generate(&mut g, &ids, &opts, &CancelToken::new(), &mut |_| {}).unwrap();
            (logits, answer.tokens)
        };
        let (portable, tokens) = run(KernelPath::Portable);
        assert!(portable.iter().all(|l| l.iter().all(|v| v.is_finite())), "{arch:?} {dtype:?}");
        for kernels in paths.iter().copied().filter(|&p| p != KernelPath::Portable) {
            let (logits, answer) = run(kernels);
            let worst = logits.iter().zip(&portable).map(|(a, b)| relative_diff(a, b)).fold(0f32, f32::max);
            assert!(
                logits == portable,
                "{kernels} {arch:?} {dtype:?}: logits differ from the portable path's by {worst}"
            );
            assert_eq!(answer, tokens, "{kernels} {arch:?} {dtype:?}");
        }
    }
}

#[test]
fn tiles_mapped_from_the_cache_give_the_same_logits_and_tokens() {
    // A first load builds the tiles and keeps them in the cache directory; later loads map them
    // and give exactly the logits of built tiles, on every kernel path this CPU runs. A
    // cache file cut short, or one for the model file as it was before it changed, is not
    // used: the tiles are built again.
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tiles");
    let run = |path: &std::path::Path, kernels: KernelPath, tile_cache: Option<&std::path::Path>| {
        let options =
            LoadOptions { kernels: Some(kernels), tile_cache: tile_cache.map(Into::into), ..LoadOptions::default() };
        let mut g = Generator::load_with(path, options).unwrap();
        precis::llm::finish_tile_cache_writes();
        // A short prompt (of characters' tokens): what matters is every matrix.
        let ids = g.tokenizer.encode("Night buses run again.", true, true).unwrap();
        let mut logits = vec![g.forward(&ids, 0).unwrap()];
        logits.push(g.forward(&[11], ids.len()).unwrap());
        (g.tile_source, logits)
    };
    let cache_files = || std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>();
    for (arch, dtype) in TILED_CASES {
        let spec = TinySpec::wide(arch, dtype);
        let path = tiny_model_with(dir.path(), spec);
        // The tiles do not depend on the kernel path: built once, mapped on every path.
        let (source, first) = run(&path, KernelPath::Portable, Some(&cache));
        assert_eq!(source, TileSource::BuiltAndCached, "{arch:?} {dtype:?}");
        assert!(first == run(&path, KernelPath::Portable, None).1, "{arch:?} {dtype:?}: building for the cache");
        for kernels in KernelPath::available() {
            let what = format!("{kernels} {arch:?} {dtype:?}");
            let (source, built) = run(&path, kernels, None);
            assert_eq!(source, TileSource::Built, "{what}");
            let (source, mapped) = run(&path, kernels, Some(&cache));
            assert_eq!(source, TileSource::Mapped, "{what}");
            assert!(mapped == built, "{what}: mapped tiles give other logits");
        }
        // Cut short: ignored, removed, built and kept again.
        let [file] = cache_files().try_into().unwrap();
        let len = std::fs::metadata(&file).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(len / 2).unwrap();
        let (source, logits) = run(&path, KernelPath::Portable, Some(&cache));
        assert_eq!(source, TileSource::BuiltAndCached, "{arch:?} {dtype:?}: a file cut short");
        assert_eq!(run(&path, KernelPath::Portable, Some(&cache)).0, TileSource::Mapped);
        assert!(logits == run(&path, KernelPath::Portable, None).1);
        std::fs::remove_file(&path).unwrap();
    }
    // The models are gone: the next file written removes their cache files.
    let other = tiny_model_with(dir.path(), TinySpec { dtype: GgmlDType::Q8_0, ..TinySpec::new(Architecture::Llama) });
    assert_eq!(run(&other, KernelPath::Portable, Some(&cache)).0, TileSource::BuiltAndCached);
    assert_eq!(cache_files().len(), 1, "{:?}", cache_files());
    // The model file changes in place (a new modification time): its old tiles are not used.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let changed =
        tiny_model_with(dir.path(), TinySpec { dtype: GgmlDType::Q4_1, ..TinySpec::new(Architecture::Llama) });
    assert_eq!(changed, other);
    let (source, logits) = run(&changed, KernelPath::Portable, Some(&cache));
    assert_eq!(source, TileSource::BuiltAndCached, "a changed model file");
    assert!(logits == run(&changed, KernelPath::Portable, None).1);
}

fn greedy(max_tokens: usize, reuse_prefix: bool) -> GenerateOptions {
    GenerateOptions { max_tokens, reuse_prefix, prefill_chunk: 64, ..GenerateOptions::default() }
}

/// Generates for `first`, then for `second` reusing the shared prefix, and checks the second
/// answer equals a run of a fresh model. Returns the reused token count.
fn prefix_reuse_is_exact(path: &std::path::Path, first: &[u32], second: &[u32], max_tokens: usize) -> usize {
    let mut g = Generator::load(path).unwrap();
    generate(&mut g, first, &greedy(max_tokens, true), &CancelToken::new(), &mut |_| {}).unwrap();
    let reused = generate(&mut g, second, &greedy(max_tokens, true), &CancelToken::new(), &mut |_| {}).unwrap();
    let mut fresh = Generator::load(path).unwrap();
    let expected = generate(&mut fresh, second, &greedy(max_tokens, false), &CancelToken::new(), &mut |_| {}).unwrap();
    assert_eq!(expected.reused_tokens, 0);
    assert_eq!(reused.tokens, expected.tokens, "reusing {} cached tokens changed the answer", reused.reused_tokens);
    reused.reused_tokens
}

#[test]
fn prefix_reuse_gives_the_same_tokens_as_a_fresh_run() {
    let dir = tempfile::tempdir().unwrap();
    for arch in [Architecture::Llama, Architecture::Qwen2, Architecture::Qwen3] {
        let path = tiny_model(dir.path(), arch);
        let g = Generator::load(&path).unwrap();
        let render = |kind| {
            let text = g.template.render(&messages(None, ARTICLE, kind, Length::Short)).unwrap();
            g.tokenizer.encode(&text, true, true).unwrap()
        };
        let (first, second) = (render(SummaryType::KeyPoints), render(SummaryType::Tldr));
        let shared = first.iter().zip(&second).take_while(|(a, b)| a == b).count();
        let reused = prefix_reuse_is_exact(&path, &first, &second, 12);
        assert_eq!(reused, shared, "{arch:?}: the whole shared prefix is reused");
        // The same prompt again runs only its last two tokens.
        let reused = prefix_reuse_is_exact(&path, &second, &second, 12);
        assert_eq!(reused, second.len() - 2);
    }
}

#[test]
fn a_prompt_prefix_is_shared_by_builds_of_the_same_engine_only() {
    // The `precis` command keeps a prompt prefix beside a model's tiles; this process, another
    // executable built from the same engine (as the window is), reuses it. The same file marked
    // as kept by another build of the engine (whose arithmetic may differ under the same
    // version) is not used.
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tiles");
    let model = tiny_model_with(dir.path(), TinySpec::wide(Architecture::Qwen2, GgmlDType::Q4K));
    let article = write(dir.path(), "article.md", ARTICLE);
    precis(dir.path())
        .env("PRECIS_TILE_CACHE", &cache)
        .args(["summarize", "--no-history", "--model"])
        .arg(&model)
        .arg(&article)
        .assert()
        .success();
    let files: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "prefix"))
        .collect();
    let [file] = files.try_into().unwrap();
    // The file's header, the JSON after its magic and lengths: what it was computed with, and
    // the tokens it keeps.
    let bytes = std::fs::read(&file).unwrap();
    let at = bytes.iter().position(|&b| b == b'{').unwrap();
    let header: serde_json::Value =
        serde_json::Deserializer::from_slice(&bytes[at..]).into_iter().next().unwrap().unwrap();
    let kept: Vec<u32> = serde_json::from_value(header["tokens"].clone()).unwrap();
    let chunk = header["chunk"].as_u64().unwrap() as usize;
    assert!(kept.len() >= 4, "{header}");
    // Those tokens and a few more, run in passes of the same size on the same kernel path.
    let prompt: Vec<u32> = kept.iter().chain(&kept[..3]).copied().collect();
    let reused = || {
        let options = LoadOptions {
            kernels: Some(KernelPath::best()),
            tile_cache: Some(cache.clone()),
            ..LoadOptions::default()
        };
        let mut g = Generator::load_with(&model, options).unwrap();
        let opts = GenerateOptions { max_tokens: 2, prefill_chunk: chunk, ..GenerateOptions::default() };
        let run = generate(&mut g, &prompt, &opts, &CancelToken::new(), &mut |_| {}).unwrap();
        precis::llm::finish_tile_cache_writes();
        run.reused_tokens
    };
    assert!(reused() > 0, "kept by the command line, built from the same engine");
    // Another engine's fingerprint, of the same length, in the header.
    let identity = header["identity"].as_str().unwrap();
    let engine = identity.rsplit("engine ").next().unwrap();
    let other: String = engine.chars().map(|c| if c == '0' { '1' } else { '0' }).collect();
    let (from, to) = (format!("engine {engine}"), format!("engine {other}"));
    let mut marked = bytes.clone();
    let start = marked.windows(from.len()).position(|w| w == from.as_bytes()).unwrap();
    marked[start..start + to.len()].copy_from_slice(to.as_bytes());
    std::fs::write(&file, marked).unwrap();
    assert_eq!(reused(), 0, "kept by another build of the engine");
}

#[test]
fn a_prompt_prefix_kept_by_one_process_is_reused_by_the_next_with_the_same_answer() {
    // Each load below stands for a new process. It finds the keys and values of the last
    // prompt's first tokens in the prompt prefix file beside the tile cache, runs only the rest
    // of its prompt, and answers exactly as a run from scratch does, whatever the pass size
    // (so whatever the reused length is within a pass). A damaged file, or one computed on
    // another kernel path or in passes of another size, is not used. (The bits of reused keys
    // and values are checked on real models, `*_reused_prefixes_give_the_same_logits`; a tiny
    // model's answers barely depend on them.)
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tiles");
    let spec = TinySpec::wide(Architecture::Qwen2, GgmlDType::Q4K);
    let path = tiny_model_with(dir.path(), spec);
    let load = |kernels: KernelPath, tile_cache: Option<&std::path::Path>| {
        let options =
            LoadOptions { kernels: Some(kernels), tile_cache: tile_cache.map(Into::into), ..LoadOptions::default() };
        Generator::load_with(&path, options).unwrap()
    };
    let answer = |g: &mut Generator, prompt: &[u32], chunk: usize, reuse_prefix: bool| {
        let opts = GenerateOptions { max_tokens: 12, reuse_prefix, prefill_chunk: chunk, ..GenerateOptions::default() };
        let run = generate(g, prompt, &opts, &CancelToken::new(), &mut |_| {}).unwrap();
        precis::llm::finish_tile_cache_writes();
        run
    };
    let g = load(KernelPath::Portable, None);
    let render = |kind| {
        let text = g.template.render(&messages(None, ARTICLE, kind, Length::Short)).unwrap();
        g.tokenizer.encode(&text, true, true).unwrap()
    };
    let (first, second) = (render(SummaryType::KeyPoints), render(SummaryType::Tldr));
    let shared = first.iter().zip(&second).take_while(|(a, b)| a == b).count();
    assert!(shared > 8, "the prompts share {shared} tokens");
    let prefix_file = || {
        let files = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path());
        files.filter(|p| p.extension().is_some_and(|e| e == "prefix")).collect::<Vec<_>>()
    };
    for chunk in 2..=12 {
        let expected = answer(&mut load(KernelPath::Portable, None), &second, chunk, false);
        answer(&mut load(KernelPath::Portable, Some(&cache)), &first, chunk, true);
        assert_eq!(prefix_file().len(), 1);
        let next = answer(&mut load(KernelPath::Portable, Some(&cache)), &second, chunk, true);
        // Only positions that both prompts' passes run in full, as far as the file keeps them.
        let want = shared.min(first.len() / chunk * chunk).min(second.len() / chunk * chunk).min(KEPT_PREFIX_TOKENS);
        // A token less when the first pass would otherwise hold one token alone.
        assert!(next.reused_tokens + 1 >= want && next.reused_tokens <= want, "chunk {chunk}: {}", next.reused_tokens);
        assert_eq!(next.tokens, expected.tokens, "chunk {chunk}: reusing {} tokens", next.reused_tokens);
        // The same prompt in a third process: its first tokens, as many as were kept.
        let again = answer(&mut load(KernelPath::Portable, Some(&cache)), &second, chunk, true);
        let want = (second.len() / chunk * chunk).min(KEPT_PREFIX_TOKENS).min(second.len() - 2);
        assert!(
            again.reused_tokens + 1 >= want && again.reused_tokens <= want,
            "chunk {chunk}: {}",
            again.reused_tokens
        );
        assert_eq!(again.tokens, expected.tokens, "chunk {chunk}: the same prompt again");
    }
    // Kept from passes of 12 tokens: not used for passes of 8.
    let other_passes = answer(&mut load(KernelPath::Portable, Some(&cache)), &second, 8, true);
    assert_eq!(other_passes.reused_tokens, 0, "kept from passes of another size");
    let expected = answer(&mut load(KernelPath::Portable, None), &second, 8, false);
    // One byte changed in the file: not used.
    let [file] = prefix_file().try_into().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&file, bytes).unwrap();
    let damaged = answer(&mut load(KernelPath::Portable, Some(&cache)), &second, 8, true);
    assert_eq!(damaged.reused_tokens, 0, "a damaged prefix file");
    assert_eq!(damaged.tokens, expected.tokens);
    // Kept on another kernel path: not used.
    for kernels in KernelPath::available().into_iter().filter(|k| *k != KernelPath::Portable) {
        answer(&mut load(kernels, Some(&cache)), &second, 8, true);
        let other = answer(&mut load(KernelPath::Portable, Some(&cache)), &second, 8, true);
        assert_eq!(other.reused_tokens, 0, "kept on {kernels}");
        assert_eq!(other.tokens, expected.tokens);
    }
    // The model is gone: the next tile file written removes its tiles and its prefix.
    std::fs::remove_file(&path).unwrap();
    let spec = TinySpec { dtype: GgmlDType::Q8_0, ..TinySpec::new(Architecture::Llama) };
    let other = tiny_model_with(dir.path(), spec);
    let options = LoadOptions { tile_cache: Some(cache.clone()), ..LoadOptions::default() };
    assert_eq!(Generator::load_with(&other, options).unwrap().tile_source, TileSource::BuiltAndCached);
    precis::llm::finish_tile_cache_writes();
    assert!(prefix_file().is_empty(), "{:?}", prefix_file());
}

#[test]
fn candle_models_never_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path(), Architecture::Gemma3);
    let mut g = Generator::load(&path).unwrap();
    assert!(!g.on_precis_decoder());
    let ids = tiny_prompt(&g);
    generate(&mut g, &ids, &greedy(4, true), &CancelToken::new(), &mut |_| {}).unwrap();
    let again = generate(&mut g, &ids, &greedy(4, true), &CancelToken::new(), &mut |_| {}).unwrap();
    assert_eq!(again.reused_tokens, 0);
}

/// The catalog model's file in the models directory, or a panic saying how to fetch it.
fn real_model(name: &str) -> std::path::PathBuf {
    let entry = precis::store::catalog::Catalog::builtin().entry(name).unwrap();
    let dir = real_models_dir();
    assert!(entry.is_present(&dir), "{name} is not in {}; run `precis models fetch {name}`", dir.display());
    entry.location(&dir)
}

fn real_prompt(g: &Generator, kind: SummaryType) -> Vec<u32> {
    let text = g.template.render(&messages(Some("Night buses"), ARTICLE, kind, Length::Medium)).unwrap();
    g.tokenizer.encode(&text, true, true).unwrap()
}

/// On real models the prompt's logits agree exactly (difference 0 on both). Single-token steps
/// agree less closely: candle multiplies each head's query separately where Precis's decoder
/// multiplies the query heads of a group together, a different float summation order whose
/// tiny differences flip the rounding of a few 8-bit quantized activations in later layers
/// (with candle's per-head order instead, smollm2's decode logits were checked to match
/// exactly). That noise is of the size candle shows against itself when the same prompt is fed
/// in one chunk instead of two (1.4% on qwen2.5-coder-0.5b), so the decode steps are held to
/// the same top token and a 10% bound.
fn check_real(name: &str) {
    let path = real_model(name);
    let ids = real_prompt(&Generator::load(&path).unwrap(), SummaryType::KeyPoints);
    let c = compare(&path, &ids, WeightLayout::AsStored);
    eprintln!("{name}: prefill {} decode {} same top {}", c.prefill, c.decode, c.same_top);
    assert!(c.prefill < 1e-4, "prompt logits differ by {}", c.prefill);
    assert!(c.decode < 0.1 && c.same_top, "decode logits differ by {}", c.decode);
    // The tiled kernels (8-bit activations per 32 values for Q8_0/Q5_0/Q4_1, per 256 for
    // Q4_K/Q6_K) move the logits a little.
    let c = compare(&path, &ids, WeightLayout::Tiled);
    eprintln!("{name} on the tiled kernels: prefill {} decode {} same top {}", c.prefill, c.decode, c.same_top);
    assert!(c.worst() < 0.1 && c.same_top, "logits on the tiled kernels differ by {}", c.worst());
}

#[test]
#[ignore = "needs smollm2-135m-instruct-q4_1 (scripts/test fetches it)"]
fn smollm2_own_decoder_matches_candle() {
    check_real("smollm2-135m-instruct-q4_1");
}

#[test]
#[ignore = "needs qwen2.5-coder-0.5b-instruct-q4_k_m (scripts/test fetches it)"]
fn qwen2_own_decoder_matches_candle() {
    check_real("qwen2.5-coder-0.5b-instruct-q4_k_m");
}

/// A summary of the test article with and without guessing ahead: the same tokens, and some
/// of them taken from checked guesses. Both runs start from an empty cache, so that only the
/// guessing differs.
fn guessing_ahead_on_a_real_model(name: &str) {
    let path = real_model(name);
    let mut g = Generator::load(&path).unwrap();
    let ids = real_prompt(&g, SummaryType::KeyPoints);
    let mut run = |lookahead| {
        let opts = GenerateOptions { max_tokens: 120, lookahead, reuse_prefix: false, ..GenerateOptions::default() };
        generate(&mut g, &ids, &opts, &CancelToken::new(), &mut |_| {}).unwrap()
    };
    let plain = run(0);
    let guessed = run(4);
    eprintln!(
        "{name}: {} tokens, {} guessed, {} accepted",
        guessed.tokens.len(),
        guessed.guessed_tokens,
        guessed.accepted_tokens
    );
    assert_eq!(guessed.tokens, plain.tokens);
    assert!(guessed.accepted_tokens > 0, "no guess was taken");
}

#[test]
#[ignore = "needs smollm2-135m-instruct-q4_1 (scripts/test fetches it)"]
fn smollm2_guessing_ahead_gives_the_same_tokens() {
    guessing_ahead_on_a_real_model("smollm2-135m-instruct-q4_1");
}

#[test]
#[ignore = "needs the default model (scripts/test fetches it)"]
fn qwen2_guessing_ahead_gives_the_same_tokens() {
    guessing_ahead_on_a_real_model("qwen2.5-coder-1.5b-instruct-q4_k_m");
}

#[test]
#[ignore = "needs smollm2-135m-instruct-q4_1 (scripts/test fetches it)"]
fn smollm2_the_same_prompt_again_gives_the_same_answer() {
    // Asked again, all but the last two prompt tokens come from the cache. (When only the last
    // token ran, alone, this answer changed from the 33rd token on.)
    let path = real_model("smollm2-135m-instruct-q4_1");
    let mut g = Generator::load(&path).unwrap();
    let ids = real_prompt(&g, SummaryType::KeyPoints);
    let opts = GenerateOptions { max_tokens: 120, ..GenerateOptions::default() };
    let first = generate(&mut g, &ids, &opts, &CancelToken::new(), &mut |_| {}).unwrap();
    let again = generate(&mut g, &ids, &opts, &CancelToken::new(), &mut |_| {}).unwrap();
    assert_eq!(again.reused_tokens, ids.len() - 2);
    assert_eq!(again.tokens, first.tokens);
}

/// The prompt's logits to the bit, whatever came from the cache: after an earlier prompt that
/// shares its first tokens (up to inside a pass, or past it, or all of them) in the same
/// process, or from the prompt prefix file an earlier process kept. (When the passes after
/// reused tokens started right after them, or reused positions had been computed in a pass
/// that ended elsewhere than this prompt's, the last bits changed, and so did one dev-set
/// summary in five.)
fn reused_prefixes_give_the_same_logits(name: &str) {
    let path = real_model(name);
    let dir = tempfile::tempdir().unwrap();
    let load = |kept: bool| {
        let options = LoadOptions { tile_cache: kept.then(|| dir.path().to_path_buf()), ..LoadOptions::default() };
        Generator::load_with(&path, options).unwrap()
    };
    let mut g = load(false);
    let prompt = real_prompt(&g, SummaryType::KeyPoints);
    let chunk = GenerateOptions::default().prefill_chunk;
    assert!(prompt.len() > chunk + 40, "a prompt of {} tokens", prompt.len());
    let cancel = CancelToken::new();
    let fresh = prefill(&mut g, &prompt, 0, chunk, &cancel).unwrap().unwrap();
    let detour = g.tokenizer.encode(" Zebra crossings, however, were not mentioned.", false, false).unwrap();
    let two_tokens = GenerateOptions { max_tokens: 2, ..GenerateOptions::default() };
    let earlier = |m: usize| [&prompt[..m], &detour[..]].concat();
    for m in [46, chunk - 1, chunk, chunk + 37, prompt.len() - 10, prompt.len()] {
        for before in [earlier(m), prompt[..m].to_vec()] {
            generate(&mut g, &before, &two_tokens, &cancel, &mut |_| {}).unwrap();
            let reused = g.reusable_prefix(&prompt, chunk);
            let logits = prefill(&mut g, &prompt, reused, chunk, &cancel).unwrap().unwrap();
            assert!(logits == fresh, "{name}: {reused} tokens reused after a prompt of {}", before.len());
        }
    }
    // Kept by one process, reused by the next.
    let mut first = load(true);
    generate(&mut first, &earlier(prompt.len() - 10), &two_tokens, &cancel, &mut |_| {}).unwrap();
    precis::llm::finish_tile_cache_writes();
    let mut next = load(true);
    let reused = next.reusable_prefix(&prompt, chunk);
    assert_eq!(reused, chunk.min(KEPT_PREFIX_TOKENS), "{name}: reused from the prefix file");
    let logits = prefill(&mut next, &prompt, reused, chunk, &cancel).unwrap().unwrap();
    assert!(logits == fresh, "{name}: {reused} tokens reused from the prefix file");
}

#[test]
#[ignore = "needs smollm2-135m-instruct-q4_1 (scripts/test fetches it)"]
fn smollm2_reused_prefixes_give_the_same_logits() {
    reused_prefixes_give_the_same_logits("smollm2-135m-instruct-q4_1");
}

#[test]
#[ignore = "needs the default model (scripts/test fetches it)"]
fn qwen2_reused_prefixes_give_the_same_logits() {
    reused_prefixes_give_the_same_logits("qwen2.5-coder-1.5b-instruct-q4_k_m");
}

#[test]
#[ignore = "needs smollm2-135m-instruct-q4_1 (scripts/test fetches it)"]
fn smollm2_prefix_reuse_gives_the_same_tokens() {
    let path = real_model("smollm2-135m-instruct-q4_1");
    let g = Generator::load(&path).unwrap();
    let first = real_prompt(&g, SummaryType::KeyPoints);
    let second = real_prompt(&g, SummaryType::Tldr);
    let reused = prefix_reuse_is_exact(&path, &first, &second, 40);
    assert!(reused > 100, "only {reused} tokens reused");
}
