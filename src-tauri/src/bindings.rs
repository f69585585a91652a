//! The TypeScript side of the bridge, written from the Rust types: every type a command takes
//! or returns, every event a channel carries, the error codes and the support threshold, as
//! `ui/src/bindings.ts`. A test fails when that file differs from what the Rust types say;
//! `PRECIS_WRITE_BINDINGS=1 cargo test -p precis-app bindings` writes it again.

use precis::article::{Article, Kind};
use precis::engine::Event;
use precis::export::Format;
use precis::llm::StopReason;
use precis::store::catalog::Role;
use precis::store::fetch::FetchProgress;
use precis::store::history::{ListItem, SearchHit, Stats};
use precis::summary::ground::SUPPORT_THRESHOLD;
use precis::summary::sentences::Span;
use precis::summary::{Bullet, Length, Progress, Stage, Summary, SummaryType, Timings, Translation};
use ts_rs::{Config, TS};

use crate::commands::article::{ArticleView, DroppedView};
use crate::commands::history::HistoryEntry;
use crate::commands::models::{ModelView, ModelsView};
use crate::error::AppError;
use crate::state::{LinkPolicy, Preferences, Settings};

/// Where the generated file lives, from the shell's folder.
pub const PATH: &str = "../ui/src/bindings.ts";

/// The generated TypeScript.
pub fn typescript() -> String {
    // Sizes, ids and times fit in a JavaScript number.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/bindings.rs; do not edit.\n\
         // `PRECIS_WRITE_BINDINGS=1 cargo test -p precis-app bindings` writes it again.\n",
    );
    let mut add = |decl: String| {
        out.push('\n');
        out.push_str("export ");
        out.push_str(&without_doc_comments(&decl));
        out.push('\n');
    };
    add(AppError::decl(&cfg));
    add(Article::decl(&cfg));
    add(ArticleView::decl(&cfg));
    add(Bullet::decl(&cfg));
    add(DroppedView::decl(&cfg));
    add(Event::decl(&cfg));
    add(FetchProgress::decl(&cfg));
    add(Format::decl(&cfg));
    add(HistoryEntry::decl(&cfg));
    add(Kind::decl(&cfg));
    add(Length::decl(&cfg));
    add(LinkPolicy::decl(&cfg));
    add(ListItem::decl(&cfg));
    add(ModelView::decl(&cfg));
    add(ModelsView::decl(&cfg));
    add(Preferences::decl(&cfg));
    add(Progress::decl(&cfg));
    add(Role::decl(&cfg));
    add(SearchHit::decl(&cfg));
    add(Settings::decl(&cfg));
    add(Span::decl(&cfg));
    add(Stage::decl(&cfg));
    add(Stats::decl(&cfg));
    add(StopReason::decl(&cfg));
    add(Summary::decl(&cfg));
    add(SummaryType::decl(&cfg));
    add(Timings::decl(&cfg));
    add(Translation::decl(&cfg));
    let codes: Vec<String> = AppError::codes().iter().map(|c| format!("'{c}'")).collect();
    out.push_str(&format!(
        "\n/** Every error code a command or a job can report. */\nexport const ERROR_CODES = [{}] as const;\n\nexport type ErrorCode = (typeof ERROR_CODES)[number];\n",
        codes.join(", ")
    ));
    out.push_str(&format!(
        "\n/** A generated point is supported by the article from this support on. */\nexport const SUPPORT_THRESHOLD = {SUPPORT_THRESHOLD};\n"
    ));
    out
}

/// `decl` with the doc comments ts-rs puts inside a type's braces taken out, so each type
/// reads as one line; the Rust types are where the fields are documented.
fn without_doc_comments(decl: &str) -> String {
    let mut out = String::with_capacity(decl.len());
    let mut rest = decl;
    while let Some(start) = rest.find("\n/**") {
        out.push_str(&rest[..start]);
        match rest[start..].find("*/\n") {
            Some(end) => rest = &rest[start + end + 3..],
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_match_the_rust_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
        let want = typescript();
        if std::env::var_os("PRECIS_WRITE_BINDINGS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} does not match the Rust types; run `PRECIS_WRITE_BINDINGS=1 cargo test -p precis-app bindings` \
             and commit the result",
            path.display()
        );
    }
}
