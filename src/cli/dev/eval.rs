//! `precis eval`: summarizes every article of a JSON-lines dev set and prints one prediction per
//! line with its timings, for `scripts/eval.py` to score; hidden flags set the ranking and
//! generation parameters being tuned, and `--replay` regrounds earlier answers without the model.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use precis::article;
use precis::llm::{CancelToken, Generator};
use precis::store::catalog::{self, Catalog};
use precis::summary::keypoints::ground_bullets;
use precis::summary::trim::TrimRules;
use precis::summary::{self, extract, parse_answer, Bullet, Length, Models, SummarizeOptions, Summary, SummaryType};
use precis::Result;

use crate::cli::stdout_error;

#[derive(Args)]
pub struct EvalArgs {
    /// JSON lines with `id` and `article`
    input: PathBuf,

    /// Model: a catalog name or the path of a GGUF file [default: the catalog's default]
    #[arg(long, short, value_name = "NAME|PATH")]
    model: Option<String>,

    /// Only the first N articles
    #[arg(long)]
    limit: Option<usize>,

    /// Key points from ranking alone, without the generator
    #[arg(long)]
    extractive: bool,

    /// Grounding only: take the generator's answers from an earlier `precis eval` output (its
    /// `answer` field) instead of running the model, to compare grounding rules
    #[arg(long, value_name = "FILE", hide = true)]
    replay: Option<PathBuf>,

    /// Baseline: the first N sentences as the key points
    #[arg(long, value_name = "N")]
    lead: Option<usize>,

    #[arg(long = "type", value_name = "TYPE", default_value = "key-points")]
    kind: SummaryType,

    #[arg(long, default_value = "medium")]
    length: Length,

    /// Key points: let the model shorten the key sentences (see `summarize --condense`)
    #[arg(long)]
    condense: bool,

    /// Ranking: weight of the position prior (for tuning on the dev set)
    #[arg(long, hide = true)]
    position_weight: Option<f32>,
    #[arg(long, hide = true)]
    position_scale: Option<f32>,
    #[arg(long, hide = true)]
    lambda: Option<f32>,
    #[arg(long, hide = true)]
    budget_scale: Option<f32>,
    /// Key points: which trimming rules run (comma-separated: dateline, connective,
    /// attribution, picture; `none` for none)
    #[arg(long, hide = true, value_name = "RULES")]
    trim: Option<TrimRules>,
    #[arg(long, hide = true)]
    quote_penalty: Option<f32>,
    /// Generation: tokens guessed ahead per step (0 off; for measuring its effect)
    #[arg(long, hide = true, value_name = "N")]
    lookahead: Option<usize>,
}

/// How each article's prediction is made.
enum Method {
    /// The first N sentences.
    Lead(usize),
    /// Earlier answers, by article id, grounded again.
    Replay(HashMap<String, String>),
    /// The pipeline, with a generator or extractively.
    Pipeline { generator: Option<Box<Generator>>, name: String },
}

/// `precis eval`: summarizes every article of a JSON-lines file (`{id, article, ...}`) and
/// writes one prediction per line, with its timing, for `scripts/eval.py` to score.
pub fn run(args: EvalArgs, models_dir: &Path) -> Result<ExitCode> {
    let input = std::fs::read_to_string(&args.input).map_err(|e| precis::Error::io(&args.input, e))?;
    let mut method = match (args.lead, &args.replay) {
        (Some(n), _) => Method::Lead(n),
        (None, Some(path)) => Method::Replay(read_answers(path)?),
        (None, None) if args.extractive => Method::Pipeline { generator: None, name: "extractive".into() },
        (None, None) => {
            let resolved = Catalog::builtin().resolve_generator(args.model.as_deref(), models_dir)?;
            Method::Pipeline {
                generator: Some(Box::new(Generator::load_with(&resolved.path, catalog::load_options())?)),
                name: resolved.name,
            }
        }
    };
    let opts = options(&args);
    let mut out = std::io::stdout().lock();
    for (n, line) in input.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if args.limit.is_some_and(|l| n >= l) {
            break;
        }
        let record: serde_json::Value = serde_json::from_str(line)?;
        let id = record["id"].as_str().unwrap_or_default().to_string();
        let text = record["article"].as_str().unwrap_or_default();
        let article = article::from_bytes(&id, text.as_bytes(), Some("txt"))?;
        let start = std::time::Instant::now();
        let (summary, answer) = predict(&mut method, &id, &article, &opts)?;
        let elapsed = start.elapsed().as_millis() as u64;
        let row = serde_json::json!({
            "id": id,
            "summary": summary.summary,
            "bullets": summary.bullets,
            "unsupported": summary.unsupported,
            "sections": summary.sections,
            "ms": elapsed,
            "first_bullet_ms": summary.timings.first_bullet_ms,
            "prompt_tokens": summary.timings.prompt_tokens,
            "generated_tokens": summary.timings.generated_tokens,
            "prefill_ms": summary.timings.prefill_ms,
            "decode_ms": summary.timings.decode_ms,
            "stop_reason": summary.stop_reason,
            "answer": answer,
        });
        serde_json::to_writer(&mut out, &row)?;
        writeln!(out).map_err(stdout_error)?;
        out.flush().map_err(stdout_error)?;
        eprintln!("{} {} ms", n + 1, elapsed);
    }
    Ok(ExitCode::SUCCESS)
}

/// The summary options, with the ranking and generation settings the hidden flags override.
fn options(args: &EvalArgs) -> SummarizeOptions {
    let mut opts = SummarizeOptions {
        kind: args.kind,
        length: args.length,
        condense: args.condense,
        ..SummarizeOptions::default()
    };
    let r = &mut opts.rank;
    r.position_weight = args.position_weight.unwrap_or(r.position_weight);
    r.position_scale = args.position_scale.unwrap_or(r.position_scale);
    r.lambda = args.lambda.unwrap_or(r.lambda);
    r.budget_scale = args.budget_scale.unwrap_or(r.budget_scale);
    r.trim = args.trim.unwrap_or(r.trim);
    r.quote_penalty = args.quote_penalty.unwrap_or(r.quote_penalty);
    opts.generate.lookahead = args.lookahead.unwrap_or(opts.generate.lookahead);
    opts
}

/// The `answer` of every row of an earlier `precis eval` output, by id.
fn read_answers(path: &Path) -> Result<HashMap<String, String>> {
    let lines = std::fs::read_to_string(path).map_err(|e| precis::Error::io(path, e))?;
    let mut answers = HashMap::new();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line)?;
        if let (Some(id), Some(answer)) = (row["id"].as_str(), row["answer"].as_str()) {
            answers.insert(id.to_string(), answer.to_string());
        }
    }
    Ok(answers)
}

/// One article's prediction, and the generator's answer as written (before grounding, for
/// measuring what grounding changes; empty without a generator).
fn predict(
    method: &mut Method,
    id: &str,
    article: &article::Article,
    opts: &SummarizeOptions,
) -> Result<(Summary, String)> {
    let text = article.text.as_str();
    let mut answer = String::new();
    let summary = match method {
        Method::Lead(lead) => {
            let mut s =
                summary::summarize(Models::extractive("lead"), article, opts, &CancelToken::new(), &mut |_| {})?;
            s.bullets = summary::sentences::split(text)
                .iter()
                .take(*lead)
                .map(|x| Bullet {
                    text: x.span.of(text).to_string(),
                    sources: vec![x.span],
                    support: 1.0,
                    translation: None,
                })
                .collect();
            s
        }
        Method::Replay(answers) => {
            let k = opts.length.max_bullets();
            let extraction = extract(text, article.title.as_deref(), k, opts.length, &opts.rank, &CancelToken::new())?;
            answer = answers.get(id).cloned().unwrap_or_default();
            let parsed = parse_answer(&answer);
            let (bullets, unsupported) = ground_bullets(text, &extraction, parsed.bullets, extraction.points);
            Summary {
                summary: parsed.summary,
                bullets,
                unsupported,
                ..Summary::new("replay", article.title.clone(), text)
            }
        }
        Method::Pipeline { generator, name } => summary::summarize(
            Models { generator: generator.as_deref_mut(), name },
            article,
            opts,
            &CancelToken::new(),
            &mut |step| {
                if let summary::Step::Text(delta) = step {
                    answer.push_str(delta);
                }
            },
        )?,
    };
    Ok((summary, answer))
}
