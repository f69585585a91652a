//! Chat prompts: renders the model's own chat template (`tokenizer.chat_template`, a Jinja
//! template) with minijinja, or a bundled fallback for the architecture when the file has none.
//!
//! The template comes from the model file, so it is untrusted code: it runs with a fuel limit
//! (minijinja counts the instructions it executes), a recursion limit and a cap on what it may
//! write, so a template that loops without end or recurses is an error within a fraction of a
//! second, never a hang that cannot be cancelled.

use minijinja::{context, Environment, ErrorKind};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::gguf::Architecture;

/// One chat message.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message { role: "system", content: content.into() }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Message { role: "user", content: content.into() }
    }
}

/// ChatML, used by Qwen and SmolLM.
const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
/// Llama 3 headers.
const LLAMA3: &str = "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n' + message.content | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
/// Llama 2 instruction blocks, with the system prompt folded into the first user turn.
const LLAMA2: &str = "{% set ns = namespace(system='') %}{% for message in messages %}{% if message.role == 'system' %}{% set ns.system = '<<SYS>>\n' + message.content + '\n<</SYS>>\n\n' %}{% elif message.role == 'user' %}{{ bos_token + '[INST] ' + ns.system + message.content + ' [/INST]' }}{% set ns.system = '' %}{% else %}{{ ' ' + message.content + ' ' + eos_token }}{% endif %}{% endfor %}";
/// Gemma turns; Gemma has no system role, so the system prompt opens the first user turn.
const GEMMA: &str = "{{ bos_token }}{% set ns = namespace(system='') %}{% for message in messages %}{% if message.role == 'system' %}{% set ns.system = message.content + '\n\n' %}{% else %}{{ '<start_of_turn>' + ('model' if message.role == 'assistant' else message.role) + '\n' + ns.system + message.content | trim + '<end_of_turn>\n' }}{% set ns.system = '' %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";

/// Instructions a render may execute. Real templates (Qwen2.5's with its tool branches,
/// SmolLM2's) need under 1,000 for a conversation of two messages; this is a thousand times more
/// and burns in about 20 ms.
pub const FUEL: u64 = 1_000_000;
/// Deepest recursion (macros calling macros, recursive loops) a render may reach. Chat
/// templates use none; the model thread's stack takes this many levels with room to spare.
pub const RECURSION_LIMIT: usize = 64;

/// A chat template ready to render.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
    /// True when the template came from the model file rather than the bundled fallback.
    pub from_model: bool,
}

impl ChatTemplate {
    /// The model's template when it has one, else the fallback for its architecture and
    /// vocabulary (`has_token` tells which chat markers the vocabulary knows).
    pub fn new(
        model_template: Option<&str>,
        architecture: Architecture,
        has_token: impl Fn(&str) -> bool,
        bos_token: String,
        eos_token: String,
    ) -> ChatTemplate {
        let (source, from_model) = match model_template.filter(|t| !t.trim().is_empty()) {
            Some(t) => (t.to_string(), true),
            None => (Self::fallback(architecture, &has_token).to_string(), false),
        };
        ChatTemplate { source, bos_token, eos_token, from_model }
    }

    /// The bundled template for an architecture.
    pub fn fallback(architecture: Architecture, has_token: &dyn Fn(&str) -> bool) -> &'static str {
        match architecture {
            Architecture::Qwen2 | Architecture::Qwen3 => CHATML,
            Architecture::Gemma3 => GEMMA,
            Architecture::Llama if has_token("<|im_start|>") => CHATML,
            Architecture::Llama if has_token("<|start_header_id|>") => LLAMA3,
            Architecture::Llama => LLAMA2,
        }
    }

    /// Renders the conversation, ending with the opening of the assistant's turn.
    pub fn render(&self, messages: &[Message]) -> Result<String> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(RECURSION_LIMIT);
        env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
        });
        // Templates may call strftime_now for a date line; keep it fixed so prompts are stable.
        env.add_function("strftime_now", |_fmt: String| "1 January 2026".to_string());
        let tmpl = env
            .template_from_str(&self.source)
            .map_err(|e| Error::Template(format!("the template does not parse: {e}")))?;
        // A prompt is the messages and a little markup around them; a template that writes much
        // more than that is not a chat template.
        let limit = 2 * messages.iter().map(|m| m.content.len()).sum::<usize>() + (1 << 20);
        let mut out = Capped { text: Vec::new(), limit };
        let rendered = tmpl.render_captured_to(
            context! {
                messages => messages
                    .iter()
                    .map(|m| context! { role => m.role, content => m.content.as_str() })
                    .collect::<Vec<_>>(),
                add_generation_prompt => true,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
                tools => (),
            },
            &mut out,
        );
        match rendered {
            Ok(_) => String::from_utf8(out.text).map_err(|_| Error::Template("rendering wrote invalid UTF-8".into())),
            Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(Error::Template(format!(
                "rendering ran over {FUEL} steps, far more than a chat template needs; it may loop without end"
            ))),
            Err(_) if out.text.len() >= out.limit => Err(Error::Template(format!(
                "rendering wrote over {} bytes for a conversation of far fewer",
                out.limit
            ))),
            Err(e) => Err(Error::Template(format!("rendering failed: {e}"))),
        }
    }
}

/// A writer that refuses to grow past `limit` bytes.
struct Capped {
    text: Vec<u8>,
    limit: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len() + buf.len() > self.limit {
            self.text.extend_from_slice(&buf[..self.limit - self.text.len()]);
            return Err(std::io::Error::other("the template wrote too much"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs() -> Vec<Message> {
        vec![Message::system("Be brief."), Message::user("Summarize: cats sleep.")]
    }

    #[test]
    fn chatml_fallback_renders_exactly() {
        let t = ChatTemplate::new(None, Architecture::Qwen2, |_| false, String::new(), String::new());
        assert!(!t.from_model);
        assert_eq!(
            t.render(&msgs()).unwrap(),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSummarize: cats sleep.<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn llama3_fallback_renders_exactly() {
        let t = ChatTemplate::new(
            None,
            Architecture::Llama,
            |t| t == "<|start_header_id|>",
            "<|begin_of_text|>".into(),
            "<|eot_id|>".into(),
        );
        assert_eq!(
            t.render(&msgs()).unwrap(),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nSummarize: cats sleep.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }

    #[test]
    fn llama2_fallback_folds_the_system_prompt() {
        let t = ChatTemplate::new(None, Architecture::Llama, |_| false, "<s>".into(), "</s>".into());
        assert_eq!(
            t.render(&msgs()).unwrap(),
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nSummarize: cats sleep. [/INST]"
        );
    }

    #[test]
    fn gemma_fallback_renders_exactly() {
        let t = ChatTemplate::new(None, Architecture::Gemma3, |_| false, "<bos>".into(), "<eos>".into());
        assert_eq!(
            t.render(&msgs()).unwrap(),
            "<bos><start_of_turn>user\nBe brief.\n\nSummarize: cats sleep.<end_of_turn>\n<start_of_turn>model\n"
        );
    }

    #[test]
    fn model_template_with_python_methods_renders() {
        // The shape of SmolLM2's and Qwen2.5's templates: Python string methods, loop.first.
        let src = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nDefault<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'].strip() + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
        let t = ChatTemplate::new(Some(src), Architecture::Llama, |_| false, String::new(), String::new());
        assert!(t.from_model);
        assert_eq!(
            t.render(&[Message::user("  Hi  ")]).unwrap(),
            "<|im_start|>system\nDefault<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_template_that_loops_or_recurses_without_end_is_an_error() {
        let render = |src: &str| {
            ChatTemplate::new(Some(src), Architecture::Qwen2, |_| false, String::new(), String::new())
                .render(&msgs())
                .unwrap_err()
                .to_string()
        };
        // 10^10 iterations.
        let looping = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
        assert!(render(looping).contains("loop without end"), "{}", render(looping));
        let recursive = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}";
        assert!(render(recursive).starts_with("chat template: rendering failed"), "{}", render(recursive));
        let doubling = "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}";
        assert!(render(doubling).starts_with("chat template:"), "{}", render(doubling));
    }

    #[test]
    fn broken_template_is_a_clear_error() {
        let t = ChatTemplate::new(Some("{% for %}"), Architecture::Qwen2, |_| false, String::new(), String::new());
        let err = t.render(&msgs()).unwrap_err().to_string();
        assert!(err.starts_with("chat template: the template does not parse"), "{err}");
    }
}
