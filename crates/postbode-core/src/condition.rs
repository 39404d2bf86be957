//! A webhook's `condition`: a CEL expression (the `cel` crate) over one event that must
//! hold for the event to be sent to that webhook, e.g.
//! `fields.name == 'piet' && fields.age > 30`.
//!
//! The expression is compiled once, when the webhook is saved ([`Condition::compile`]): a
//! bad one is refused there with the position of the fault, so the API can answer 422.
//! It is then evaluated for every event that reaches the webhook
//! ([`Condition::evaluate`]); an evaluation error is an answer too (the caller skips the
//! webhook for that event and counts it), never a panic.
//!
//! # What an expression sees
//!
//! | variable     | CEL type                 | value                                                      |
//! |--------------|--------------------------|------------------------------------------------------------|
//! | `fields`     | `map(string, dyn)`       | every field the database defines; `null` when empty        |
//! | `previous`   | `map(string, dyn)`       | old values of the fields an update changed; `{}` otherwise |
//! | `profile`    | `string` or `null`       | the profile's id                                           |
//! | `subprofile` | `string` or `null`       | the subprofile's id                                        |
//! | `source`     | `string` or `null`       | `api`, `dashboard`, `import`, `unsubscribe`                |
//! | `type`       | `string`                 | the event type: `create`, `update`, `open`, ...            |
//!
//! JSON values become CEL values by their JSON type: a number written as an integer
//! (`31`) is an `int` (a `uint` past `i64::MAX`), one written with a fraction or an
//! exponent (`9.75`, `10.0`) a `double`: so an integer field is always an `int` and a
//! float field always a `double`, whatever the value. Strings, booleans, lists and objects
//! map to `string`, `bool`, `list` and `map`; JSON `null` is CEL `null`, so
//! `fields.city == null` holds for an empty field. CEL compares `int`, `uint` and `double`
//! with each other by value, so `fields.age > 30`, `fields.age > 30.5` and
//! `fields.price > 9` all work; arithmetic does not mix them (`fields.age + 0.5` is an
//! evaluation error: write `double(fields.age) + 0.5`).
//! Dates are the strings `YYYY-MM-DD` of the payloads, so they compare lexically, which
//! for that format is also the chronological order: `fields.born < '2000-01-01'`.
//! `has(fields.x)` tells whether the database defines a field `x`; `'x' in previous`
//! whether an update changed it.
//!
//! The standard CEL library is there (`size`, `contains`, `startsWith`, `endsWith`,
//! `exists`, `all`, `map`, `filter`, `int`, `double`, `string`, ...) but not `matches`,
//! `timestamp` or `duration`: the crate is built without its `regex` and `chrono`
//! features, to keep the build lean. Those three are refused when compiled; any other
//! unknown function is an evaluation error.
//!
//! # Limits
//!
//! The crate's parser and interpreter recurse once per level of the expression tree, and
//! a tree as deep as a 4 KiB source allows (`1+1+1+...`, `a.b.c.d...`) overflows a 2 MiB
//! thread stack, which aborts the process rather than panicking. So [`Condition::compile`]
//! refuses, before parsing:
//! - a source longer than [`MAX_SOURCE_BYTES`] ([`ConditionError::TooLong`]);
//! - brackets (`(`, `[`, `{`) nested more than [`MAX_NESTING`] deep;
//! - a tree that may be deeper than [`MAX_DEPTH`]: a conservative estimate, counted on the
//!   source text, of every bracket and chained operator (`.`, `+`, `==`, indexing, a call,
//!   `?`) on the way down to the deepest operand. `&&`, `||` and `,` do not deepen the
//!   tree (the crate balances `&&` and `||` chains), so a long conjunction is fine.
//!
//! and after parsing, a comprehension (`exists`, `all`, `map`, `filter`, ...) inside
//! another's loop body ([`MAX_LOOP_NESTING`]), which keeps the time of one evaluation
//! small: the worst a 4 KiB expression can then do is a loop over a 1000-element list
//! literal that scans another for each element (about 40 ms in a release build), where
//! two nested loops would take about 0.4 s. Each of those is a
//! [`ConditionError::Syntax`] naming the position of the fault.
//!
//! With these limits the deepest expressions accepted need at most about 450 KiB of stack
//! to compile and evaluate in a debug build (320 KiB in release), against the 2 MiB of a
//! tokio worker thread; a test checks them on a 1 MiB thread.

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::objects::{Key, Map};
use cel::{Context, Env, Program, Value};

/// The longest source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 4096;
/// How deep brackets (`(`, `[`, `{`) may nest.
pub const MAX_NESTING: usize = 32;
/// How deep the expression tree may be, as estimated from the source (see the module's
/// documentation).
pub const MAX_DEPTH: usize = 160;
/// How deep comprehensions (`exists`, `all`, `map`, ...) may nest: 1 lets none run inside
/// another's loop body.
pub const MAX_LOOP_NESTING: usize = 1;
/// The variables an expression may name.
pub const VARIABLES: [&str; 6] = ["fields", "previous", "profile", "subprofile", "source", "type"];
/// Type names CEL lets an expression use as values, as in `type(fields.age) == int`.
const TYPE_NAMES: [&str; 9] = [
    "bool",
    "bytes",
    "double",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "uint",
];
/// Standard CEL functions this build leaves out (no `regex`, no `chrono`): refused when
/// compiled rather than failing every evaluation.
const UNAVAILABLE: [&str; 3] = ["matches", "timestamp", "duration"];
/// JSON nested deeper than this becomes `null` (serde_json refuses deeper input anyway).
const MAX_JSON_DEPTH: usize = 128;

/// Why a condition was refused or could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConditionError {
    /// The expression is not valid CEL, names an unknown variable, calls a function this
    /// build leaves out, or is too complex (see the module's documentation). `position` is the 1-based position, in characters, of
    /// the fault in the source: the column, for an expression on one line (a newline
    /// counts as one character).
    #[error("invalid condition at position {position}: {message}")]
    Syntax { message: String, position: usize },
    /// The source is longer than [`MAX_SOURCE_BYTES`].
    #[error("the condition is longer than {MAX_SOURCE_BYTES} bytes")]
    TooLong,
    /// The expression failed on this event: no such key, a type mismatch, an unknown
    /// function, division by zero, ...
    #[error("the condition failed: {0}")]
    Evaluation(String),
    /// The expression gave something other than `true` or `false`: its type, and its
    /// value when short (`int 32`).
    #[error("the condition gave {0} instead of a bool")]
    NotBoolean(String),
}

/// What a condition is evaluated over: one event.
#[derive(Debug, Clone, Copy)]
pub struct ConditionContext<'a> {
    /// Every field the database defines, `null` when empty.
    pub fields: &'a serde_json::Map<String, serde_json::Value>,
    /// The old values of the fields an update changed; `None` (an empty map to the
    /// expression) for other events.
    pub previous: Option<&'a serde_json::Map<String, serde_json::Value>>,
    pub profile: Option<&'a str>,
    pub subprofile: Option<&'a str>,
    /// Where a profile change came from: `api`, `dashboard`, `import`, `unsubscribe`.
    pub source: Option<&'a str>,
    /// The event type, exposed to the expression as `type`.
    pub event_type: &'a str,
}

/// A webhook's condition, compiled once when the webhook is saved.
///
/// Cheap to clone (the compiled program is shared), and `Send + Sync`, so one compiled
/// condition can serve every worker. Two conditions are equal when their sources are.
#[derive(Clone)]
pub struct Condition {
    source: String,
    program: Arc<Program>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Condition {}

impl Condition {
    /// Compiles `source`. A syntax error, a reference to a variable other than
    /// [`VARIABLES`], or an expression past the limits of the module's documentation is a
    /// [`ConditionError::Syntax`] whose `position` is the 1-based character position of
    /// the fault (the column, for a one-line expression); a source longer than
    /// [`MAX_SOURCE_BYTES`] is [`ConditionError::TooLong`]. Never panics.
    pub fn compile(source: &str) -> Result<Condition, ConditionError> {
        if source.len() > MAX_SOURCE_BYTES {
            return Err(ConditionError::TooLong);
        }
        check_shape(source)?;
        let parsed = catch_unwind(AssertUnwindSafe(|| env().compile(source))).map_err(|_| ConditionError::Syntax {
            message: "the expression could not be parsed".to_owned(),
            position: 1,
        })?;
        let program = parsed.map_err(|errors| parse_error(source, &errors))?;
        check_tree(source, &program)?;
        Ok(Condition {
            source: source.to_owned(),
            program: Arc::new(program),
        })
    }

    /// The source the condition was compiled from, as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the condition over one event: `Ok(true)` to send it, `Ok(false)` not to,
    /// or an error ([`ConditionError::Evaluation`] for no such key, a type mismatch, an
    /// unknown function, ...; [`ConditionError::NotBoolean`] when the result is not a
    /// bool). Never panics.
    pub fn evaluate(&self, context: &ConditionContext) -> Result<bool, ConditionError> {
        let mut cel_context = Context::with_env(Arc::clone(env()));
        cel_context.add_variable_from_value("fields", object_value(context.fields, 0));
        let previous = context
            .previous
            .map_or_else(empty_map, |previous| object_value(previous, 0));
        cel_context.add_variable_from_value("previous", previous);
        cel_context.add_variable_from_value("profile", optional_string(context.profile));
        cel_context.add_variable_from_value("subprofile", optional_string(context.subprofile));
        cel_context.add_variable_from_value("source", optional_string(context.source));
        cel_context.add_variable_from_value("type", Value::String(Arc::new(context.event_type.to_owned())));
        let result = catch_unwind(AssertUnwindSafe(|| self.program.execute(&cel_context)))
            .map_err(|_| ConditionError::Evaluation("the CEL interpreter failed".to_owned()))?;
        match result {
            Ok(Value::Bool(value)) => Ok(value),
            Ok(other) => Err(ConditionError::NotBoolean(describe(&other))),
            Err(error) => Err(ConditionError::Evaluation(error.to_string())),
        }
    }
}

/// The standard CEL environment, built once.
fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(Env::stdlib()))
}

/// The first of the parser's errors, at its position in characters.
fn parse_error(source: &str, errors: &cel::ParseErrors) -> ConditionError {
    let Some(first) = errors.errors.first() else {
        return ConditionError::Syntax {
            message: "the expression could not be parsed".to_owned(),
            position: 1,
        };
    };
    let message = first.msg.strip_prefix("Syntax error: ").unwrap_or(&first.msg);
    let message = if message.contains("Recursion limit") {
        "the expression is nested too deeply".to_owned()
    } else {
        message.to_owned()
    };
    ConditionError::Syntax {
        message,
        position: line_column_position(source, first.pos.0, first.pos.1),
    }
}

/// The 1-based character position of a 1-based (line, column in characters), as the
/// parser reports them, kept within the source (one past its end at most).
fn line_column_position(source: &str, line: isize, column: isize) -> usize {
    let mut before = 0;
    let line = usize::try_from(line).unwrap_or(0);
    for text in source.split('\n').take(line.saturating_sub(1)) {
        before += text.chars().count() + 1;
    }
    let column = usize::try_from(column).unwrap_or(1).max(1);
    (before + column).clamp(1, source.chars().count() + 1)
}

/// The 1-based character position of a byte offset, as the compiled program's source
/// information gives them.
fn byte_position(source: &str, offset: usize) -> usize {
    source.char_indices().take_while(|(start, _)| *start < offset).count() + 1
}

fn syntax(message: impl Into<String>, position: usize) -> ConditionError {
    ConditionError::Syntax {
        message: message.into(),
        position,
    }
}

/// One bracket level of the source, for [`check_shape`].
#[derive(Default)]
struct Level {
    /// Chained operators since the last `&&`, `||`, `,`, `:` or `?` of this level.
    run: usize,
    /// The longest such run of this level so far.
    longest_run: usize,
    /// The `?` of this level: each nests a conditional.
    conditionals: usize,
    /// The deepest estimate of the levels closed inside this one.
    deepest_inner: usize,
}

impl Level {
    fn chain(&mut self) {
        self.run += 1;
        self.longest_run = self.longest_run.max(self.run);
    }

    fn split(&mut self) {
        self.run = 0;
    }

    /// This level's own depth: its bracket, its longest run and its conditionals.
    fn own(&self) -> usize {
        1 + self.longest_run + self.conditionals
    }
}

/// An upper bound of the depth of the tree of the levels open in `levels`.
fn estimate(levels: &[Level]) -> usize {
    levels
        .iter()
        .rev()
        .fold(0, |inner, level| level.own() + level.deepest_inner.max(inner))
}

/// Refuses, before the parser sees it, a source whose tree may be too deep for the
/// parser's and the interpreter's recursion (see the module's documentation).
///
/// First counts every bracket, `?` and chained operator of the whole source, string
/// literals and comments included: no path down the tree can have more, so a source with
/// at most [`MAX_DEPTH`] of them, [`MAX_NESTING`] of which are brackets, is fine. Only
/// another source is scanned again, level by level, skipping literals and comments as
/// the CEL lexer reads them; and then only one that the lexer reads without a fault,
/// since after a fault the lexer's recovery may read as code what the scan would skip as
/// a literal. A source with a fault keeps the first count's refusal (it is not valid CEL
/// anyway).
fn check_shape(source: &str) -> Result<(), ConditionError> {
    let chars: Vec<char> = source.chars().collect();
    let mut brackets = 0;
    let mut operations = 0;
    let mut too_deep_at = None;
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, '(' | '[' | '{') {
            brackets += 1;
        }
        if matches!(
            c,
            '(' | '[' | '{' | '?' | '+' | '-' | '*' | '/' | '%' | '.' | '<' | '>' | '='
        ) {
            operations += 1;
            if operations > MAX_DEPTH && too_deep_at.is_none() {
                too_deep_at = Some(i + 1);
            }
        }
    }
    if brackets <= MAX_NESTING && too_deep_at.is_none() {
        return Ok(());
    }
    match (scan(&chars), too_deep_at) {
        (Ok(()), _) => Ok(()),
        (Err(Some(error)), _) => Err(error),
        (Err(None), Some(position)) => Err(too_deep(position)),
        // Few operations in all, but many brackets, in a source the lexer faults on: the
        // parser reports that fault, and refuses brackets nested deeper than its own limit.
        (Err(None), None) => Ok(()),
    }
}

fn too_deep(position: usize) -> ConditionError {
    syntax(
        format!("the expression is too deep to evaluate safely (over {MAX_DEPTH} nested operations)"),
        position,
    )
}

/// The second pass of [`check_shape`]: `Err(Some(_))` when a limit is passed,
/// `Err(None)` at the first character the lexer would not read without a fault.
fn scan(chars: &[char]) -> Result<(), Option<ConditionError>> {
    let mut levels = vec![Level::default()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let position = i + 1;
        let mut deeper = false;
        match c {
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' | '"' => i = string_end(chars, i, false).ok_or(None)?,
            '0'..='9' => i = number_end(chars, i),
            'a'..='z' | 'A'..='Z' | '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word = &chars[start..i];
                if matches!(chars.get(i), Some('\'' | '"')) && is_string_prefix(word) {
                    let raw = word.iter().any(|c| matches!(c, 'r' | 'R'));
                    i = string_end(chars, i, raw).ok_or(None)?;
                } else if word == ['i', 'n'] {
                    top(&mut levels).chain();
                    deeper = true;
                }
            }
            '(' | '[' | '{' => {
                top(&mut levels).chain();
                levels.push(Level::default());
                if levels.len() - 1 > MAX_NESTING {
                    let message = format!("brackets are nested more than {MAX_NESTING} deep");
                    return Err(Some(syntax(message, position)));
                }
                deeper = true;
                i += 1;
            }
            ')' | ']' | '}' => {
                if levels.len() > 1 {
                    let closed = levels.pop().unwrap_or_default();
                    let depth = estimate(std::slice::from_ref(&closed));
                    let outer = top(&mut levels);
                    outer.deepest_inner = outer.deepest_inner.max(depth);
                }
                i += 1;
            }
            '&' | '|' if next == Some(c) => {
                top(&mut levels).split();
                i += 2;
            }
            ',' | ':' => {
                top(&mut levels).split();
                i += 1;
            }
            '?' => {
                let level = top(&mut levels);
                level.conditionals += 1;
                level.split();
                deeper = true;
                i += 1;
            }
            // A lone `=` is no CEL token.
            '=' if next != Some('=') => return Err(None),
            '+' | '-' | '*' | '/' | '%' | '.' | '<' | '>' | '=' | '!' => {
                // `!` alone negates, which does not deepen the tree; `!=` compares.
                if c != '!' || next == Some('=') {
                    top(&mut levels).chain();
                    deeper = true;
                }
                // A two-character operator (`<=`, `>=`, `==`, `!=`) counts once.
                i += if matches!(c, '<' | '>' | '=' | '!') && next == Some('=') {
                    2
                } else {
                    1
                };
            }
            ' ' | '\t' | '\r' | '\n' | '\x0C' => i += 1,
            // A lone `&` or `|`, a backtick, `\`, `#`, a letter outside ASCII, ...
            _ => return Err(None),
        }
        if deeper && estimate(&levels) > MAX_DEPTH {
            return Err(Some(too_deep(position)));
        }
    }
    Ok(())
}

/// The innermost open level; there is always the outermost one.
fn top(levels: &mut Vec<Level>) -> &mut Level {
    if levels.is_empty() {
        levels.push(Level::default());
    }
    let last = levels.len() - 1;
    &mut levels[last]
}

/// The index just past the number at `start`, as the CEL lexer reads it (`12`, `12u`,
/// `0x1F`, `0x1Fu`, `1.5`, `1e-3`, `1.5E+3`), so that an identifier right after a number
/// starts where the lexer starts it.
fn number_end(chars: &[char], start: usize) -> usize {
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut i = start;
    if at(i) == '0' && at(i + 1) == 'x' && at(i + 2).is_ascii_hexdigit() {
        i += 2;
        while at(i).is_ascii_hexdigit() {
            i += 1;
        }
        return if matches!(at(i), 'u' | 'U') { i + 1 } else { i };
    }
    while at(i).is_ascii_digit() {
        i += 1;
    }
    let mut float = false;
    if at(i) == '.' && at(i + 1).is_ascii_digit() {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
        }
        float = true;
    }
    if matches!(at(i), 'e' | 'E') {
        let digits = if matches!(at(i + 1), '+' | '-') { i + 2 } else { i + 1 };
        if at(digits).is_ascii_digit() {
            i = digits;
            while at(i).is_ascii_digit() {
                i += 1;
            }
            float = true;
        }
    }
    if !float && matches!(at(i), 'u' | 'U') { i + 1 } else { i }
}

/// Whether an identifier just before a quote makes it a raw and/or bytes literal, as the
/// CEL lexer reads it: `r`, `b`, `br` in either case (`rb` is an identifier).
fn is_string_prefix(word: &[char]) -> bool {
    matches!(word, ['r' | 'R'] | ['b' | 'B'] | ['b' | 'B', 'r' | 'R'])
}

/// The index just past the string literal whose opening quote is at `start`, when it is
/// well formed: closed, with valid escapes, and no line break in a one-line literal.
fn string_end(chars: &[char], start: usize, raw: bool) -> Option<usize> {
    let quote = chars[start];
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    let mut i = if triple { start + 3 } else { start + 1 };
    loop {
        let c = *chars.get(i)?;
        if c == quote {
            if !triple {
                return Some(i + 1);
            }
            if chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote) {
                return Some(i + 3);
            }
            i += 1;
        } else if c == '\\' && !raw {
            i += escape_length(&chars[i..])?;
        } else if !triple && (c == '\n' || c == '\r') {
            return None;
        } else {
            i += 1;
        }
    }
}

/// The length of the escape sequence at the start of `chars` (which starts with `\`), if
/// it is one CEL knows.
fn escape_length(chars: &[char]) -> Option<usize> {
    let digits = |count: usize, radix: u32| {
        (chars.len() > count && chars[2..=count].iter().all(|c| c.is_digit(radix))).then_some(count + 1)
    };
    match chars.get(1)? {
        'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '"' | '\'' | '\\' | '?' | '`' => Some(2),
        'x' | 'X' => digits(3, 16),
        'u' => digits(5, 16),
        'U' => digits(9, 16),
        '0'..='3' => (chars.len() > 3 && chars[2..=3].iter().all(|c| c.is_digit(8))).then_some(4),
        _ => None,
    }
}

/// Refuses a compiled program that names a variable other than [`VARIABLES`] (or a
/// comprehension's own), or nests comprehensions more than [`MAX_LOOP_NESTING`] deep.
/// Walks the tree with a stack of its own rather than recursing.
fn check_tree(source: &str, program: &Program) -> Result<(), ConditionError> {
    let info = program.source_info();
    let position = |expr: &IdedExpr| {
        info.offset_for(expr.id).map_or(1, |(start, _)| {
            byte_position(source, usize::try_from(start).unwrap_or(usize::MAX))
        })
    };
    // The leftmost fault found, so the answer names the first one in the source.
    let mut first: Option<(usize, String)> = None;
    let mut fault = |at: usize, message: String| {
        if first.as_ref().is_none_or(|(position, _)| at < *position) {
            first = Some((at, message));
        }
    };
    // Each entry: a node, the comprehension variables in scope there, and how many
    // comprehension bodies it is inside.
    let mut stack: Pending = vec![(program.expression(), Rc::new(Vec::new()), 0)];
    while let Some((expr, bound, loops)) = stack.pop() {
        match &expr.expr {
            Expr::Ident(name) => {
                let known = VARIABLES.contains(&name.as_str())
                    || TYPE_NAMES.contains(&name.as_str())
                    || name.starts_with('@')
                    || bound.contains(&name.as_str());
                if !known {
                    let variables = VARIABLES.join(", ");
                    fault(
                        position(expr),
                        format!("unknown variable `{name}`; a condition can use {variables}"),
                    );
                }
            }
            Expr::Comprehension(comprehension) => {
                if loops >= MAX_LOOP_NESTING {
                    let message = "a comprehension (exists, all, map, filter, ...) inside another one's body";
                    fault(position(expr), message.to_owned());
                }
                let mut inner = bound.as_ref().clone();
                inner.push(&comprehension.iter_var);
                if let Some(second) = &comprehension.iter_var2 {
                    inner.push(second);
                }
                inner.push(&comprehension.accu_var);
                let inner = Rc::new(inner);
                stack.push((&comprehension.iter_range, Rc::clone(&bound), loops));
                stack.push((&comprehension.accu_init, Rc::clone(&bound), loops));
                stack.push((&comprehension.loop_cond, Rc::clone(&inner), loops + 1));
                stack.push((&comprehension.loop_step, Rc::clone(&inner), loops + 1));
                stack.push((&comprehension.result, inner, loops));
            }
            Expr::Call(call) => {
                if UNAVAILABLE.contains(&call.func_name.as_str()) {
                    let name = &call.func_name;
                    fault(position(expr), format!("`{name}` is not available in conditions"));
                }
                if let Some(target) = &call.target {
                    stack.push((target, Rc::clone(&bound), loops));
                }
                for argument in &call.args {
                    stack.push((argument, Rc::clone(&bound), loops));
                }
            }
            Expr::Select(select) => stack.push((&select.operand, bound, loops)),
            Expr::List(list) => {
                for element in &list.elements {
                    stack.push((element, Rc::clone(&bound), loops));
                }
            }
            Expr::Map(map) => push_entries(&mut stack, &map.entries, &bound, loops),
            Expr::Struct(structure) => push_entries(&mut stack, &structure.entries, &bound, loops),
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
    match first {
        Some((position, message)) => Err(syntax(message, position)),
        None => Ok(()),
    }
}

type Pending<'a> = Vec<(&'a IdedExpr, Rc<Vec<&'a str>>, usize)>;

fn push_entries<'a>(
    stack: &mut Pending<'a>,
    entries: &'a [cel::common::ast::IdedEntryExpr],
    bound: &Rc<Vec<&'a str>>,
    loops: usize,
) {
    for entry in entries {
        match &entry.expr {
            EntryExpr::StructField(field) => stack.push((&field.value, Rc::clone(bound), loops)),
            EntryExpr::MapEntry(entry) => {
                stack.push((&entry.key, Rc::clone(bound), loops));
                stack.push((&entry.value, Rc::clone(bound), loops));
            }
        }
    }
}

fn empty_map() -> Value {
    Value::Map(Map {
        map: Arc::new(HashMap::new()),
    })
}

fn optional_string(value: Option<&str>) -> Value {
    value.map_or(Value::Null, |value| Value::String(Arc::new(value.to_owned())))
}

fn object_value(object: &serde_json::Map<String, serde_json::Value>, depth: usize) -> Value {
    let map = object
        .iter()
        .map(|(key, value)| (Key::String(Arc::new(key.clone())), json_value(value, depth + 1)))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// A JSON value as the CEL value the module's documentation describes.
fn json_value(value: &serde_json::Value, depth: usize) -> Value {
    use serde_json::Value as Json;
    if depth > MAX_JSON_DEPTH {
        return Value::Null;
    }
    match value {
        Json::Null => Value::Null,
        Json::Bool(value) => Value::Bool(*value),
        Json::Number(number) => {
            if let Some(int) = number.as_i64() {
                Value::Int(int)
            } else if let Some(uint) = number.as_u64() {
                Value::UInt(uint)
            } else {
                Value::Float(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(text) => Value::String(Arc::new(text.clone())),
        Json::Array(items) => Value::List(Arc::new(items.iter().map(|item| json_value(item, depth + 1)).collect())),
        Json::Object(object) => object_value(object, depth),
    }
}

/// A short description of a non-bool result, for [`ConditionError::NotBoolean`].
fn describe(value: &Value) -> String {
    let shown = match value {
        Value::Int(value) => format!(" {value}"),
        Value::UInt(value) => format!(" {value}u"),
        Value::Float(value) => format!(" {value}"),
        Value::String(value) if value.len() <= 40 => format!(" {value:?}"),
        _ => String::new(),
    };
    format!("{}{shown}", value.type_of())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value as Json, json};

    fn object(value: Json) -> serde_json::Map<String, Json> {
        match value {
            Json::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn fields() -> serde_json::Map<String, Json> {
        object(json!({
            "name": "piet",
            "age": 31,
            "price": 9.75,
            "city": null,
            "born": "1990-04-01",
            "tags": ["gold", "newsletter"],
            "vip": true,
            "big": 18_446_744_073_709_551_615_u64,
            "round": 10.0,
        }))
    }

    /// Evaluates `source` over the fields above for a `create` from the API.
    fn eval(source: &str) -> Result<bool, ConditionError> {
        let fields = fields();
        let context = ConditionContext {
            fields: &fields,
            previous: None,
            profile: Some("prof_1"),
            subprofile: None,
            source: Some("api"),
            event_type: "create",
        };
        Condition::compile(source)?.evaluate(&context)
    }

    fn syntax_position(source: &str) -> usize {
        match Condition::compile(source) {
            Err(ConditionError::Syntax { position, .. }) => position,
            other => panic!("{source:?}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn the_api_example_holds_over_typed_fields() {
        assert_eq!(eval("fields.name == 'piet' && fields.age > 30"), Ok(true));
        assert_eq!(eval("fields.name == 'jan' && fields.age > 30"), Ok(false));
        assert_eq!(eval("fields.name == 'piet' && fields.age > 31"), Ok(false));
        assert_eq!(
            eval("fields.age == 31 && fields.age >= 31 && fields.age != 30"),
            Ok(true)
        );
    }

    #[test]
    fn ints_and_doubles_compare_with_each_other() {
        assert_eq!(eval("fields.price > 9.5"), Ok(true));
        assert_eq!(eval("fields.price > 9"), Ok(true));
        assert_eq!(eval("fields.price < 9.5"), Ok(false));
        assert_eq!(eval("fields.age > 30.5"), Ok(true));
        assert_eq!(eval("fields.age == 31.0"), Ok(true));
        assert_eq!(
            eval("type(fields.age) == int && type(fields.price) == double"),
            Ok(true)
        );
        assert_eq!(eval("fields.big > 0 && type(fields.big) == uint"), Ok(true));
        // A float field stays a double at an integral value.
        assert_eq!(eval("type(fields.round) == double && fields.round == 10"), Ok(true));
        assert!(matches!(
            eval("fields.age + 0.5 > 0"),
            Err(ConditionError::Evaluation(_))
        ));
        assert_eq!(eval("double(fields.age) + 0.5 > 31"), Ok(true));
    }

    #[test]
    fn strings_booleans_null_lists_and_dates() {
        assert_eq!(
            eval("fields.name.startsWith('pi') && fields.name.contains('ie')"),
            Ok(true)
        );
        assert_eq!(eval("fields.vip"), Ok(true));
        assert_eq!(eval("fields.city == null"), Ok(true));
        assert_eq!(eval("fields.name == null"), Ok(false));
        assert_eq!(eval("'gold' in fields.tags"), Ok(true));
        assert_eq!(eval("'silver' in fields.tags"), Ok(false));
        assert_eq!(eval("fields.age in [30, 31]"), Ok(true));
        assert_eq!(eval("fields.tags.exists(t, t.startsWith('news'))"), Ok(true));
        assert_eq!(eval("fields.tags.all(t, size(t) > 4)"), Ok(false));
        assert_eq!(eval("size(fields.tags) == 2"), Ok(true));
        // Dates are `YYYY-MM-DD` strings, whose lexical order is the chronological one.
        assert_eq!(
            eval("fields.born < '2000-01-01' && fields.born >= '1990-04-01'"),
            Ok(true)
        );
        assert_eq!(eval("fields.born > '1990-12-31'"), Ok(false));
    }

    #[test]
    fn has_tells_which_fields_the_database_defines() {
        assert_eq!(eval("has(fields.name)"), Ok(true));
        assert_eq!(eval("has(fields.city)"), Ok(true));
        assert_eq!(eval("has(fields.shoe_size)"), Ok(false));
        assert_eq!(eval("has(fields.shoe_size) && fields.shoe_size > 40"), Ok(false));
    }

    #[test]
    fn profile_subprofile_source_and_type() {
        assert_eq!(eval("profile == 'prof_1' && subprofile == null"), Ok(true));
        assert_eq!(eval("source == 'api' && type == 'create'"), Ok(true));
        assert_eq!(eval("source == 'import'"), Ok(false));
        assert_eq!(eval("type == 'update'"), Ok(false));
        assert_eq!(eval("type(type) == string"), Ok(true));

        let fields = fields();
        let context = ConditionContext {
            fields: &fields,
            previous: None,
            profile: None,
            subprofile: Some("sub_1"),
            source: Some("import"),
            event_type: "delete",
        };
        let holds = |source: &str| Condition::compile(source).unwrap().evaluate(&context);
        assert_eq!(holds("source == 'import' && type == 'delete'"), Ok(true));
        assert_eq!(holds("profile == null && subprofile == 'sub_1'"), Ok(true));
        assert_eq!(holds("source in ['api', 'dashboard']"), Ok(false));
    }

    #[test]
    fn previous_holds_the_old_values_of_an_update_and_is_empty_otherwise() {
        let fields = fields();
        let previous = object(json!({"name": "jan", "age": 30}));
        let update = ConditionContext {
            fields: &fields,
            previous: Some(&previous),
            profile: Some("prof_1"),
            subprofile: None,
            source: Some("dashboard"),
            event_type: "update",
        };
        let on_update = |source: &str| Condition::compile(source).unwrap().evaluate(&update);
        assert_eq!(on_update("type == 'update' && 'name' in previous"), Ok(true));
        assert_eq!(on_update("previous.name == 'jan' && fields.name == 'piet'"), Ok(true));
        assert_eq!(on_update("fields.age > previous.age"), Ok(true));
        assert_eq!(on_update("'city' in previous"), Ok(false));
        assert_eq!(on_update("has(previous.city)"), Ok(false));

        assert_eq!(eval("'name' in previous"), Ok(false));
        assert_eq!(eval("size(previous) == 0"), Ok(true));
    }

    #[test]
    fn a_syntax_error_names_its_position() {
        // One past the end: the expression stops where an operand is due.
        assert_eq!(syntax_position("fields.name == "), 16);
        assert_eq!(syntax_position("fields.name =="), 15);
        assert_eq!(syntax_position("fields.name == 'piet' &&"), 25);
        // In characters, not bytes.
        assert_eq!(syntax_position("fields.name == 'émile' &&"), 26);
        // Over lines, a newline counts as one character.
        assert_eq!(syntax_position("fields.name == 'piet' &&\n  fields.age >"), 40);
        assert_eq!(syntax_position("fields.name == 'piet' )"), 23);
        assert_eq!(syntax_position(""), 1);
        let Err(ConditionError::Syntax { message, .. }) = Condition::compile("fields.name == ") else {
            panic!("expected a syntax error");
        };
        assert!(message.contains("<EOF>"), "{message}");
        // A lone `=` is not CEL.
        assert!(matches!(
            Condition::compile("fields.name = 'piet'"),
            Err(ConditionError::Syntax { .. })
        ));
        assert!(matches!(
            Condition::compile("fields.name == 'piet"),
            Err(ConditionError::Syntax { .. })
        ));
    }

    #[test]
    fn an_unknown_variable_is_refused_where_it_is_named() {
        assert_eq!(syntax_position("name == 'piet'"), 1);
        assert_eq!(syntax_position("fields.age > limit"), 14);
        assert_eq!(syntax_position("'é' == x"), 8);
        assert_eq!(syntax_position("fields.tags.exists(t, t == u)"), 28);
        let Err(ConditionError::Syntax { message, .. }) = Condition::compile("fields.age > limit") else {
            panic!("expected a syntax error");
        };
        assert!(
            message.contains("`limit`") && message.contains("fields, previous"),
            "{message}"
        );
        // A comprehension's own variables are fine, inside it only.
        assert!(Condition::compile("fields.tags.exists(t, t == 'gold')").is_ok());
        assert!(Condition::compile("fields.tags.exists(t, t == 'gold') && t == 'x'").is_err());
        // The standard macros bind one variable: `exists` with three arguments is a plain call.
        assert_eq!(syntax_position("previous.exists(k, v, k == 'name')"), 17);
        // Functions this build leaves out.
        assert_eq!(syntax_position("fields.name.matches('p.*')"), 20);
        assert_eq!(syntax_position("fields.vip && timestamp(fields.born) > 0"), 24);
        // The leftmost of several faults.
        assert_eq!(
            syntax_position("a == b && fields.tags.exists(t, fields.tags.exists(u, c))"),
            1
        );
    }

    #[test]
    fn evaluation_errors_are_errors_not_panics() {
        assert!(matches!(eval("fields.name > 3"), Err(ConditionError::Evaluation(_))));
        assert!(matches!(
            eval("fields.shoe_size == 42"),
            Err(ConditionError::Evaluation(_))
        ));
        assert!(matches!(eval("fields.city > 3"), Err(ConditionError::Evaluation(_))));
        assert!(matches!(
            eval("fields.age / 0 == 1"),
            Err(ConditionError::Evaluation(_))
        ));
        assert!(matches!(
            eval("fields.tags[7] == 'x'"),
            Err(ConditionError::Evaluation(_))
        ));
        assert!(matches!(eval("fields.name.nope()"), Err(ConditionError::Evaluation(_))));
        assert!(matches!(
            eval("9223372036854775807 + fields.age > 0"),
            Err(ConditionError::Evaluation(_))
        ));
        // `&&` and `||` absorb an error when the other side decides.
        assert_eq!(eval("fields.name == 'jan' && fields.shoe_size == 42"), Ok(false));
    }

    #[test]
    fn a_result_other_than_a_bool_is_not_boolean() {
        assert_eq!(
            eval("fields.age + 1"),
            Err(ConditionError::NotBoolean("int 32".to_owned()))
        );
        assert_eq!(
            eval("fields.name"),
            Err(ConditionError::NotBoolean("string \"piet\"".to_owned()))
        );
        assert!(matches!(eval("fields.city"), Err(ConditionError::NotBoolean(_))));
        assert!(matches!(eval("fields.tags"), Err(ConditionError::NotBoolean(_))));
    }

    #[test]
    fn a_source_over_4_kib_is_too_long() {
        let padded = format!("fields.vip{}", " ".repeat(MAX_SOURCE_BYTES - "fields.vip".len()));
        assert_eq!(padded.len(), MAX_SOURCE_BYTES);
        assert_eq!(eval(&padded), Ok(true));
        assert_eq!(Condition::compile(&format!("{padded} ")), Err(ConditionError::TooLong));
        assert_eq!(Condition::compile(&"(".repeat(100_000)), Err(ConditionError::TooLong));
    }

    #[test]
    fn brackets_nested_past_the_limit_are_refused_where_they_pass_it() {
        let nested = |n: usize| format!("{}fields.vip{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(eval(&nested(MAX_NESTING)), Ok(true));
        assert_eq!(syntax_position(&nested(MAX_NESTING + 1)), MAX_NESTING + 1);
        assert_eq!(syntax_position(&nested(2000)), MAX_NESTING + 1);
        let lists = |n: usize| format!("{}1{} != []", "[".repeat(n), "]".repeat(n));
        assert_eq!(eval(&lists(MAX_NESTING - 1)), Ok(true));
        assert!(Condition::compile(&lists(1500)).is_err());
    }

    #[test]
    fn long_operator_chains_are_refused_but_long_conjunctions_and_strings_are_not() {
        for source in [
            format!("fields.age{} > 0", " + 1".repeat(800)),
            format!("fields.age{} > 0", "+1".repeat(2000)),
            format!("fields{} == 1", ".a".repeat(2000)),
            format!("fields.tags{} == 1", "[0]".repeat(1300)),
            format!("fields.age == 31{}", " == true".repeat(450)),
            format!("{}1 == 1", "-".repeat(4000)),
            format!("{}1", "true ? 1 : ".repeat(350)),
        ] {
            assert!(source.len() <= MAX_SOURCE_BYTES, "{}", source.len());
            let Err(ConditionError::Syntax { message, .. }) = Condition::compile(&source) else {
                panic!("{}...: expected a refusal", &source[..40]);
            };
            assert!(message.contains("too deep") || message.contains("nested"), "{message}");
        }
        let conjunction = format!("fields.vip{}", " && fields.age > 30 && fields.name != 'x'".repeat(95));
        assert!(conjunction.len() <= MAX_SOURCE_BYTES);
        assert_eq!(eval(&conjunction), Ok(true));
        let disjunction = format!("{}fields.vip", "fields.name.startsWith('x.y.z.') || ".repeat(110));
        assert_eq!(eval(&disjunction), Ok(true));
        let text = format!("fields.name != '{}'", "a.b-c+d*(e[f{g".repeat(250));
        assert!(text.len() <= MAX_SOURCE_BYTES);
        assert_eq!(eval(&text), Ok(true));
        // `!` does not deepen the tree.
        assert_eq!(eval(&format!("{}fields.vip", "!".repeat(4000))), Ok(true));
    }

    #[test]
    fn a_comprehension_inside_another_is_refused() {
        let nested = "fields.tags.exists(a, fields.tags.exists(b, a != b))";
        // At the inner call's `(`.
        assert_eq!(syntax_position(nested), 41);
        assert!(Condition::compile("fields.tags.all(a, [1].map(x, x).size() == 1)").is_err());
        // Not nested: a comprehension in another's range or result, or one after the other.
        assert_eq!(eval("fields.tags.exists(t, t in previous)"), Ok(false));
        assert_eq!(eval("fields.tags.map(t, size(t)).exists(n, n == 10)"), Ok(true));
        assert_eq!(
            eval("fields.tags.map(t, size(t)).filter(n, n > 4).exists(n, n == 10)"),
            Ok(true)
        );
        assert_eq!(
            eval("fields.tags.exists(a, a == 'gold') && fields.tags.exists(b, b == 'gold') && [1].all(x, x == 1)"),
            Ok(true)
        );
    }

    /// The deepest source `make` gives that compiles: `make(n)` for the largest such `n`
    /// (found by bisection: a shape that compiles at `n` compiles below it).
    fn deepest_accepted(make: impl Fn(usize) -> String) -> String {
        let accepted = |n: usize| {
            let source = make(n);
            source.len() <= MAX_SOURCE_BYTES && Condition::compile(&source).is_ok()
        };
        assert!(accepted(0), "{}", make(0));
        let (mut good, mut bad) = (0, 5000);
        assert!(!accepted(bad));
        while bad - good > 1 {
            let middle = (good + bad) / 2;
            if accepted(middle) {
                good = middle;
            } else {
                bad = middle;
            }
        }
        make(good)
    }

    /// The deepest expressions of many shapes that the limits let through compile,
    /// evaluate and drop on a thread with half the 2 MiB stack of a tokio worker or a test
    /// thread. (Measured: the worst of these needs 448 KiB in a debug build, 320 KiB in a
    /// release one; without the limits, `1+1+...` of 4 KiB overflows 2 MiB in both.)
    #[test]
    fn the_deepest_accepted_expressions_fit_a_small_stack() {
        let shapes: Vec<Box<dyn Fn(usize) -> String>> = vec![
            Box::new(|n| format!("fields.age{} > 0", "+1".repeat(n))),
            Box::new(|n| format!("fields.age{} > 0", "*1".repeat(n))),
            Box::new(|n| format!("fields{} == 1", ".a".repeat(n))),
            Box::new(|n| format!("fields.tags{} == 'g'", "[0]".repeat(n))),
            Box::new(|n| format!("fields.age == 31{}", " == true".repeat(n))),
            Box::new(|n| format!("{}fields.vip", "-".repeat(n))),
            Box::new(|n| format!("{}true", "fields.vip ? true : ".repeat(n))),
            Box::new(|n| format!("{}fields.vip{}", "(".repeat(n), ")".repeat(n))),
            Box::new(|n| format!("{}1{} != []", "[".repeat(n), "]".repeat(n))),
            Box::new(|n| format!("{}1{} != {{}}", "{1: ".repeat(n), "}".repeat(n))),
            Box::new(|n| format!("{}fields.age{} > 0", "int(".repeat(n), ")".repeat(n))),
            Box::new(|n| format!("{}fields.age{} > 0", "(fields.age + ".repeat(n), ")".repeat(n))),
            Box::new(|n| format!("{}fields.age{} > 0", "(1 + 2 * 3 - 4 + ".repeat(n), ")".repeat(n))),
            Box::new(|n| format!("fields.age{}", " + (1".repeat(n) + &" + 1)".repeat(n) + " > 0")),
            Box::new(|n| format!("fields.tags.map(a, 1{}).size() > 0", " + 1".repeat(n))),
            Box::new(|n| format!("{}fields.age{} > 0", "size(string(".repeat(n), "))".repeat(n))),
            Box::new(|n| format!("{}1{} > 0", "(true ? (".repeat(n), ") : 1)".repeat(n))),
            Box::new(|n| {
                format!(
                    "fields.tags{}0{} == 'g'",
                    "[fields.age - 31 + ".repeat(n),
                    "]".repeat(n)
                )
            }),
            Box::new(|n| format!("{}fields.vip{}", "!(".repeat(n), ")".repeat(n))),
            Box::new(|n| format!("fields.tags.exists(t, {}t == 'g'{})", "(".repeat(n), ")".repeat(n))),
            Box::new(|n| format!("{}fields.vip{}", "has(fields.a) || (".repeat(n), ")".repeat(n))),
            Box::new(|n| format!("{}fields{}.vip", "{'a': ".repeat(n), "}.a".repeat(n))),
            Box::new(|n| format!("{}1{} == 1", "[".repeat(n), "][0]".repeat(n))),
            Box::new(|n| format!("{}fields{} == 1", "[".repeat(n), ".a]".repeat(n))),
            Box::new(|n| format!("fields.vip{}", " && fields.age > 30".repeat(n))),
            Box::new(|n| format!("{}fields.vip", "!".repeat(n))),
        ];
        let shape_count = shapes.len();
        let sources: Vec<String> = shapes.into_iter().map(deepest_accepted).collect();
        let fields = fields();
        let worker = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                let context = ConditionContext {
                    fields: &fields,
                    previous: None,
                    profile: None,
                    subprofile: None,
                    source: None,
                    event_type: "create",
                };
                for source in &sources {
                    let condition = Condition::compile(source).expect("accepted before");
                    let _ = condition.evaluate(&context);
                }
                sources.len()
            })
            .unwrap();
        assert_eq!(worker.join().unwrap(), shape_count);
    }

    /// Sources where a long chain hides behind something that looks like a string literal
    /// but that the CEL lexer reads differently: each is refused, without overflowing.
    #[test]
    fn chains_hidden_by_lexer_tricks_are_still_refused() {
        let chain = "+1".repeat(1900);
        let sources = vec![
            // A lone `&` is a lexer fault whose recovery swallows the quote.
            format!("fields.age &'{chain}' > 0"),
            // A lone `=` likewise.
            format!("fields.age ='{chain}' > 0"),
            // `0xb` is a number, so `r'\'` is a raw string and the chain is code.
            format!("0xbr'\\'{chain} + ' ' > 0"),
            // A raw string ends at its first quote, backslash or not.
            format!("r'\\'{chain} + ' ' > 0"),
            // Unclosed, `'''x'` is the empty string `''`, then the string `'x'`.
            format!("'''x' {chain} '' > 0"),
            // An invalid escape is a lexer fault.
            format!("'a\\q' {chain} '' > 0"),
            // A comment ends at the line's end, quote or not.
            format!("// it's\nfields.age {chain} > 0 // '"),
            // A one-line string cannot span lines.
            format!("'a\n{chain}' > 0"),
            // Backticks, and letters outside ASCII, are lexer faults.
            format!("`a'`{chain} > 0 // '"),
            format!("é'{chain}' > 0"),
        ];
        let worker = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                for source in &sources {
                    assert!(source.len() <= MAX_SOURCE_BYTES);
                    let result = Condition::compile(source);
                    let start: String = source.chars().take(20).collect();
                    assert!(
                        matches!(result, Err(ConditionError::Syntax { .. })),
                        "{start:?}: {result:?}"
                    );
                }
            })
            .unwrap();
        worker.join().unwrap();
    }

    /// A tiny deterministic generator (xorshift), so the garbage is the same every run.
    struct Garbage(u64);

    impl Garbage {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn compile_never_panics_on_garbage() {
        const PIECES: [&str; 40] = [
            "(", ")", "[", "]", "{", "}", "'", "\"", "'''", "r'", "b\"", "\\", "\\x", "\\u12", ".", ",", ":", "?",
            "&&", "||", "&", "|", "!", "=", "==", "<", "+", "-", "*", "/", "//", "\n", " ", "fields", "x", "in",
            "1.5e", "0x", "é", "`a`",
        ];
        const VALID: [&str; 6] = [
            "fields.name == 'piet' && fields.age > 30",
            "fields.tags.exists(t, t.startsWith(\"go\")) || previous.size() > 0",
            "has(fields.city) ? fields.city != null : type == 'update'",
            "[1, 2u, 3.5, b'x', r'\\d', '''a\nb'''].size() == {'k': [null]}.size() + 5",
            "!(source in ['api', 'import']) && profile == 'p' // comment",
            "fields.age % 2 == 0 && -fields.price < -1.5e3 && fields.born >= '2000-01-01'",
        ];
        let fields = fields();
        let context = ConditionContext {
            fields: &fields,
            previous: None,
            profile: Some("p"),
            subprofile: None,
            source: Some("api"),
            event_type: "update",
        };
        const ROUNDS: usize = 600;
        let mut garbage = Garbage(0x5eed_cafe_f00d_d00d);
        let mut tried = 0;
        for round in 0..ROUNDS {
            let source = match round % 4 {
                // Random bytes, made text.
                0 => {
                    let bytes: Vec<u8> = (0..garbage.below(200)).map(|_| garbage.next() as u8).collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                // Random pieces of CEL, up to about 4 KiB.
                1 => (0..garbage.below(1500))
                    .map(|_| PIECES[garbage.below(PIECES.len())])
                    .collect(),
                // A valid expression cut short.
                2 => {
                    let valid = VALID[garbage.below(VALID.len())];
                    valid.chars().take(garbage.below(valid.chars().count() + 1)).collect()
                }
                // A valid expression with pieces thrown in.
                _ => {
                    let mut chars: Vec<char> = VALID[garbage.below(VALID.len())].chars().collect();
                    for _ in 0..1 + garbage.below(4) {
                        let at = garbage.below(chars.len() + 1);
                        let piece = PIECES[garbage.below(PIECES.len())];
                        chars.splice(at..at, piece.chars());
                    }
                    chars.into_iter().collect()
                }
            };
            match Condition::compile(&source) {
                Ok(condition) => {
                    let _ = condition.evaluate(&context);
                }
                Err(ConditionError::Syntax { position, .. }) => {
                    assert!(
                        (1..=source.chars().count() + 1).contains(&position),
                        "{source:?}: {position}"
                    );
                }
                Err(ConditionError::TooLong) => assert!(source.len() > MAX_SOURCE_BYTES),
                Err(other) => panic!("{source:?}: {other:?}"),
            }
            tried += 1;
        }
        assert_eq!(tried, ROUNDS);
        for valid in VALID {
            assert!(Condition::compile(valid).is_ok(), "{valid}");
        }
    }

    #[test]
    fn a_condition_is_shared_between_threads_and_compared_by_source() {
        fn shared<T: Send + Sync + Clone>() {}
        shared::<Condition>();
        let condition = Condition::compile("fields.vip").unwrap();
        assert_eq!(condition.source(), "fields.vip");
        assert_eq!(condition.clone(), Condition::compile("fields.vip").unwrap());
        assert_ne!(condition, Condition::compile("fields.vip ").unwrap());
        assert!(format!("{condition:?}").contains("fields.vip"));
    }
}
