//! Parser: tokens to a tree (Go's text/template/parse/parse.go).

use super::lexer::{self, Tok, Token};
use super::value::Value;
use super::{FuncMap, MAX_NESTING_DEPTH, PosError};

/// A node of the template tree. Positions are byte offsets into the source.
#[derive(Debug)]
pub(super) enum Node {
    /// Text to copy: byte range of the source.
    Text(usize, usize),
    /// `{{pipeline}}`; `pos` is the `{{`.
    Action {
        pos: usize,
        pipe: Pipe,
    },
    /// `if` / `else if` chain, or `with` / `else with` chain.
    Cond(Box<Cond>),
    Range(Box<RangeNode>),
    Break,
    Continue,
}

#[derive(Debug)]
pub(super) struct Cond {
    pub is_with: bool,
    pub branches: Vec<Branch>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(super) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
}

#[derive(Debug)]
pub(super) struct RangeNode {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(super) struct Pipe {
    pub is_assign: bool,
    /// Declared or assigned variables (`$x`, with the dollar).
    pub decl: Vec<Box<str>>,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug)]
pub(super) struct Cmd {
    pub args: Vec<Operand>,
}

#[derive(Debug)]
pub(super) struct Operand {
    pub pos: usize,
    pub end: usize,
    pub kind: OpKind,
}

#[derive(Debug)]
pub(super) enum OpKind {
    /// A function name.
    Func(Box<str>),
    Dot,
    Nil,
    /// Bool, number, character or string literal.
    Const(Value),
    /// `.A.B` on dot.
    Field(Vec<Box<str>>),
    /// `$x.A.B`.
    Variable(Box<str>, Vec<Box<str>>),
    /// `(pipeline)`.
    Pipe(Box<Pipe>),
    /// `(pipeline).A.B` or `f.A`.
    Chain(Box<Operand>, Vec<Box<str>>),
}

impl OpKind {
    /// Literals and dot cannot start a pipeline stage after the first.
    fn is_non_executable(&self) -> bool {
        matches!(self, OpKind::Dot | OpKind::Nil | OpKind::Const(_))
    }
}

pub(super) fn parse(src: &str, funcs: &FuncMap) -> Result<Vec<Node>, PosError> {
    if !src.contains("{{") {
        return Ok(if src.is_empty() { Vec::new() } else { vec![Node::Text(0, src.len())] });
    }
    let lexed = lexer::lex(src);
    let mut p = Parser { src, toks: lexed.tokens, lex_error: lexed.error, i: 0, funcs, vars: vec!["$"], range_depth: 0, depth: 0 };
    p.parse_root()
}

/// How a list of nodes ended.
enum ListEnd {
    End,
    /// `{{else}}`; `chained` is `Some(keyword token)` for `{{else if …}}` / `{{else with …}}`.
    Else {
        pos: usize,
        chained: Option<Token>,
    },
}

/// What an action turned out to be.
enum Item {
    Node(Node),
    End(usize),
    Else { pos: usize, chained: Option<Token> },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Command,
    If,
    With,
    Range,
    Paren,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Command => "command",
            Context::If => "if",
            Context::With => "with",
            Context::Range => "range",
            Context::Paren => "parenthesized pipeline",
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    lex_error: Option<PosError>,
    i: usize,
    funcs: &'a FuncMap,
    vars: Vec<&'a str>,
    range_depth: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    // ---- token helpers -------------------------------------------------------------------

    fn tok_at(&self, i: usize) -> Token {
        // The stream always ends with Eof or Error; never read past it.
        let last = self.toks.len().saturating_sub(1);
        self.toks.get(i.min(last)).copied().unwrap_or(Token { kind: Tok::Eof, start: self.src.len(), end: self.src.len() })
    }

    fn peek(&self) -> Token {
        self.tok_at(self.i)
    }

    fn next(&mut self) -> Token {
        let t = self.peek();
        if !matches!(t.kind, Tok::Eof | Tok::Error) {
            self.i += 1;
        }
        t
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.kind != Tok::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        while self.peek().kind == Tok::Space {
            self.i += 1;
        }
        self.peek()
    }

    fn text(&self, t: Token) -> &'a str {
        self.src.get(t.start..t.end).unwrap_or("")
    }

    /// The error for an unexpected token (or the pending lexical error).
    fn unexpected(&self, t: Token, context: &str) -> PosError {
        match t.kind {
            Tok::Error => self.lex_err(),
            Tok::Eof => PosError::new(t.start, format!("unexpected EOF in {context}")),
            _ => PosError::new(t.start, format!("unexpected {} in {context}", self.describe(t))),
        }
    }

    fn lex_err(&self) -> PosError {
        self.lex_error.clone().unwrap_or_else(|| PosError::new(self.src.len(), "unexpected error"))
    }

    fn describe(&self, t: Token) -> String {
        let text = self.text(t);
        if t.kind.is_keyword() {
            return format!("<{text}>");
        }
        if text.chars().count() > 10 {
            let short: String = text.chars().take(10).collect();
            return format!("{short:?}...");
        }
        format!("{text:?}")
    }

    fn enter(&mut self, pos: usize) -> Result<(), PosError> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(PosError::new(pos, format!("template nesting too deep (more than {MAX_NESTING_DEPTH} levels)")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ---- structure -----------------------------------------------------------------------

    fn parse_root(&mut self) -> Result<Vec<Node>, PosError> {
        let mut list = Vec::new();
        loop {
            let t = self.peek();
            match t.kind {
                Tok::Eof => return Ok(list),
                _ => match self.text_or_action()? {
                    Item::Node(n) => list.push(n),
                    Item::End(pos) => {
                        return Err(PosError::new(pos, "{{end}} without matching {{if}}, {{with}} or {{range}}"));
                    }
                    Item::Else { pos, .. } => return Err(PosError::new(pos, "else without if")),
                },
            }
        }
    }

    /// Nodes up to the `{{end}}` or `{{else}}` closing the structure opened by `opener`.
    fn item_list(&mut self, keyword: &str, opener: usize) -> Result<(Vec<Node>, ListEnd), PosError> {
        let mut list = Vec::new();
        loop {
            let t = self.peek();
            if t.kind == Tok::Eof {
                let (line, _) = super::line_col(self.src, opener);
                return Err(PosError::new(self.src.len(), format!("missing {{{{end}}}} for {{{{{keyword}}}}} opened at line {line}")));
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                Item::End(_) => return Ok((list, ListEnd::End)),
                Item::Else { pos, chained } => return Ok((list, ListEnd::Else { pos, chained })),
            }
        }
    }

    fn text_or_action(&mut self) -> Result<Item, PosError> {
        let t = self.next();
        match t.kind {
            Tok::Text => Ok(Item::Node(Node::Text(t.start, t.end))),
            Tok::LeftDelim => self.action(t.start),
            _ => Err(self.unexpected(t, "input")),
        }
    }

    fn action(&mut self, open: usize) -> Result<Item, PosError> {
        let save = self.i;
        let t = self.next_non_space();
        match t.kind {
            Tok::KwDefine | Tok::KwTemplate | Tok::KwBlock => {
                Err(PosError::new(t.start, format!("{{{{{}}}}} is not supported (define, template and block are not available)", self.text(t))))
            }
            Tok::KwBreak | Tok::KwContinue => {
                let word = self.text(t);
                let close = self.next_non_space();
                if close.kind != Tok::RightDelim {
                    return Err(self.unexpected(close, &format!("{{{{{word}}}}}")));
                }
                if self.range_depth == 0 {
                    return Err(PosError::new(t.start, format!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                Ok(Item::Node(if t.kind == Tok::KwBreak { Node::Break } else { Node::Continue }))
            }
            Tok::KwElse => {
                let peek = self.peek_non_space();
                if matches!(peek.kind, Tok::KwIf | Tok::KwWith) {
                    self.next();
                    return Ok(Item::Else { pos: open, chained: Some(peek) });
                }
                let close = self.next_non_space();
                if close.kind != Tok::RightDelim {
                    return Err(self.unexpected(close, "else"));
                }
                Ok(Item::Else { pos: open, chained: None })
            }
            Tok::KwEnd => {
                let close = self.next_non_space();
                if close.kind != Tok::RightDelim {
                    return Err(self.unexpected(close, "end"));
                }
                Ok(Item::End(open))
            }
            Tok::KwIf | Tok::KwWith => {
                self.enter(open)?;
                let node = self.cond(open, t.kind == Tok::KwWith)?;
                self.leave();
                Ok(Item::Node(node))
            }
            Tok::KwRange => {
                self.enter(open)?;
                let node = self.range(open)?;
                self.leave();
                Ok(Item::Node(node))
            }
            Tok::Error => Err(self.lex_err()),
            _ => {
                self.i = save;
                let pipe = self.pipeline(Context::Command, Tok::RightDelim)?;
                Ok(Item::Node(Node::Action { pos: open, pipe }))
            }
        }
    }

    /// `if`/`with` with its `else if`/`else with` chain; the keyword is consumed.
    fn cond(&mut self, open: usize, is_with: bool) -> Result<Node, PosError> {
        let keyword = if is_with { "with" } else { "if" };
        let context = if is_with { Context::With } else { Context::If };
        let mark = self.vars.len();
        let mut branches = Vec::new();
        let else_list = loop {
            let pipe = self.pipeline(context, Tok::RightDelim)?;
            let (list, end) = self.item_list(keyword, open)?;
            branches.push(Branch { pipe, list });
            match end {
                ListEnd::End => break None,
                ListEnd::Else { chained: None, .. } => {
                    let (list, end) = self.item_list(keyword, open)?;
                    if let ListEnd::Else { pos, .. } = end {
                        return Err(PosError::new(pos, format!("expected {{{{end}}}}, found {{{{else}}}} (a {{{{{keyword}}}}} has one {{{{else}}}})")));
                    }
                    break Some(list);
                }
                ListEnd::Else { chained: Some(kw), .. } => {
                    let chained_with = kw.kind == Tok::KwWith;
                    if chained_with != is_with {
                        return Err(PosError::new(kw.start, format!("{{{{else {}}}}} is not allowed in {{{{{keyword}}}}}", self.text(kw))));
                    }
                }
            }
        };
        self.vars.truncate(mark);
        Ok(Node::Cond(Box::new(Cond { is_with, branches, else_list })))
    }

    fn range(&mut self, open: usize) -> Result<Node, PosError> {
        let mark = self.vars.len();
        let pipe = self.pipeline(Context::Range, Tok::RightDelim)?;
        self.range_depth += 1;
        let body = self.item_list("range", open);
        self.range_depth -= 1;
        let (list, end) = body?;
        let else_list = match end {
            ListEnd::End => None,
            ListEnd::Else { chained: Some(kw), .. } => {
                return Err(PosError::new(kw.start, format!("{{{{else {}}}}} is not allowed in {{{{range}}}}", self.text(kw))));
            }
            ListEnd::Else { chained: None, .. } => {
                let (list, end) = self.item_list("range", open)?;
                if let ListEnd::Else { pos, .. } = end {
                    return Err(PosError::new(pos, "expected {{end}}, found {{else}} (a {{range}} has one {{else}})"));
                }
                Some(list)
            }
        };
        self.vars.truncate(mark);
        Ok(Node::Range(Box::new(RangeNode { pos: open, pipe, list, else_list })))
    }

    // ---- pipelines -----------------------------------------------------------------------

    fn pipeline(&mut self, context: Context, end: Tok) -> Result<Pipe, PosError> {
        let mut pipe = Pipe { is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        // Declarations: `$x :=`, `$x =`, `$i, $v :=` (range only).
        loop {
            let v = self.peek_non_space();
            if v.kind != Tok::Variable {
                break;
            }
            let save = self.i;
            self.next();
            let next = self.peek_non_space();
            match next.kind {
                Tok::Assign | Tok::Declare => {
                    pipe.is_assign = next.kind == Tok::Assign;
                    self.next();
                    let name = self.text(v);
                    pipe.decl.push(name.into());
                    self.vars.push(name);
                    break;
                }
                Tok::Char if self.text(next) == "," => {
                    self.next();
                    let name = self.text(v);
                    pipe.decl.push(name.into());
                    self.vars.push(name);
                    if context == Context::Range && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Tok::Variable | Tok::RightDelim | Tok::RParen => continue,
                            _ => {
                                return Err(PosError::new(next.start, "range can only initialize variables"));
                            }
                        }
                    }
                    return Err(PosError::new(next.start, format!("too many declarations in {}", context.name())));
                }
                _ => {
                    // Not a declaration: the variable is an operand.
                    self.i = save;
                    break;
                }
            }
        }
        loop {
            let save = self.i;
            let t = self.next_non_space();
            if t.kind == end {
                if pipe.cmds.is_empty() {
                    return Err(PosError::new(t.start, format!("missing value for {}", context.name())));
                }
                for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                    if let Some(first) = c.args.first()
                        && first.kind.is_non_executable()
                    {
                        return Err(PosError::new(first.pos, format!("non executable command in pipeline stage {}", i + 1)));
                    }
                }
                return Ok(pipe);
            }
            match t.kind {
                Tok::Bool
                | Tok::CharConst
                | Tok::Dot
                | Tok::Field
                | Tok::Ident
                | Tok::Number
                | Tok::KwNil
                | Tok::RawStr
                | Tok::Str
                | Tok::Variable
                | Tok::LParen => {
                    self.i = save;
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(t, context.name())),
            }
        }
    }

    fn command(&mut self) -> Result<Cmd, PosError> {
        let first = self.peek_non_space();
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let save = self.i;
            let t = self.next();
            match t.kind {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RParen => {
                    self.i = save;
                    break;
                }
                Tok::Pipe => break,
                _ => return Err(self.unexpected(t, "operand")),
            }
        }
        if args.is_empty() {
            return Err(PosError::new(first.start, "empty command"));
        }
        Ok(Cmd { args })
    }

    fn operand(&mut self) -> Result<Option<Operand>, PosError> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Tok::Field {
            return Ok(Some(term));
        }
        let mut fields: Vec<Box<str>> = Vec::new();
        let mut end = term.end;
        while self.peek().kind == Tok::Field {
            let f = self.next();
            fields.push(self.text(f)[1..].into());
            end = f.end;
        }
        let pos = term.pos;
        let kind = match term.kind {
            OpKind::Field(mut names) => {
                names.extend(fields);
                OpKind::Field(names)
            }
            OpKind::Variable(name, mut names) => {
                names.extend(fields);
                OpKind::Variable(name, names)
            }
            OpKind::Dot | OpKind::Nil | OpKind::Const(_) => {
                let text = self.src.get(term.pos..term.end).unwrap_or("");
                return Err(PosError::new(term.end, format!("unexpected . after term {text:?}")));
            }
            other => OpKind::Chain(Box::new(Operand { pos, end: term.end, kind: other }), fields),
        };
        Ok(Some(Operand { pos, end, kind }))
    }

    fn term(&mut self) -> Result<Option<Operand>, PosError> {
        self.peek_non_space();
        let save = self.i;
        let t = self.next();
        let text = self.text(t);
        let kind = match t.kind {
            Tok::Ident => {
                if !self.funcs.contains(text) {
                    return Err(PosError::new(t.start, format!("function {text:?} not defined")));
                }
                OpKind::Func(text.into())
            }
            Tok::Dot => OpKind::Dot,
            Tok::KwNil => OpKind::Nil,
            Tok::Variable => {
                if !self.vars.contains(&text) {
                    return Err(PosError::new(t.start, format!("undefined variable {text:?}")));
                }
                OpKind::Variable(text.into(), Vec::new())
            }
            Tok::Field => OpKind::Field(vec![text[1..].into()]),
            Tok::Bool => OpKind::Const(Value::Bool(text == "true")),
            Tok::Number => OpKind::Const(parse_number(text).map_err(|m| PosError::new(t.start, m))?),
            Tok::CharConst => OpKind::Const(parse_char(text).map_err(|m| PosError::new(t.start, m))?),
            Tok::Str => OpKind::Const(Value::String(unquote(text).map_err(|m| PosError::new(t.start, m))?)),
            Tok::RawStr => {
                let inner = &text[1..text.len() - 1];
                OpKind::Const(Value::String(if inner.contains('\r') { inner.replace('\r', "") } else { inner.to_owned() }))
            }
            Tok::LParen => {
                self.enter(t.start)?;
                let pipe = self.pipeline(Context::Paren, Tok::RParen)?;
                self.leave();
                let close = self.tok_at(self.i.saturating_sub(1));
                return Ok(Some(Operand { pos: t.start, end: close.end, kind: OpKind::Pipe(Box::new(pipe)) }));
            }
            Tok::Error => return Err(self.lex_err()),
            _ => {
                self.i = save;
                return Ok(None);
            }
        };
        Ok(Some(Operand { pos: t.start, end: t.end, kind }))
    }
}

// ---- literals ------------------------------------------------------------------------------

/// Digits with Go's underscore rules: `_` only between digits (or right after a base prefix).
fn strip_underscores(digits: &str, after_prefix: bool) -> Option<String> {
    if !digits.contains('_') {
        return Some(digits.to_owned());
    }
    let b = digits.as_bytes();
    let mut prev_digit = after_prefix;
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            if !prev_digit || i + 1 == b.len() || b[i + 1] == b'_' {
                return None;
            }
            prev_digit = false;
        } else {
            prev_digit = true;
        }
    }
    Some(digits.replace('_', ""))
}

/// A number literal as Go's text/template types it: Int unless it has `.`, `e` or `E`.
pub(super) fn parse_number(text: &str) -> Result<Value, String> {
    let bad = || format!("bad number syntax: {text:?}");
    if text.ends_with('i') {
        return Err(format!("complex number {text} is not supported"));
    }
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() {
        return Err(bad());
    }
    let lower = body.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits, prefixed) = match lower.as_deref() {
        Some("0x") => (16, &body[2..], true),
        Some("0o") => (8, &body[2..], true),
        Some("0b") => (2, &body[2..], true),
        _ => (10, body, false),
    };
    if radix == 16 && digits.contains(['.', 'p', 'P']) {
        return Err(format!("hexadecimal floating-point constant {text} is not supported"));
    }
    if radix == 10 && body.contains(['.', 'e', 'E']) {
        let clean = strip_underscores(body, false).ok_or_else(bad)?;
        let f: f64 = clean.parse().map_err(|_| bad())?;
        if !f.is_finite() {
            return Err(format!("number {text} is out of range"));
        }
        return Ok(Value::Float(if neg { -f } else { f }));
    }
    let clean = strip_underscores(digits, prefixed).ok_or_else(bad)?;
    if clean.is_empty() {
        return Err(bad());
    }
    // Legacy octal: a leading 0 followed by octal digits (Go's ParseInt base 0); "08" is 8.
    let (radix, clean) = if radix == 10 && clean.len() > 1 && clean.starts_with('0') && clean.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
        (8, clean[1..].to_owned())
    } else {
        (radix, clean)
    };
    let magnitude = u128::from_str_radix(&clean, radix)
        .map_err(|e| if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) { format!("number {text} overflows int") } else { bad() })?;
    let value = if neg { -(magnitude as i128) } else { magnitude as i128 };
    i64::try_from(value).map(Value::Int).map_err(|_| format!("number {text} overflows int"))
}

/// A character constant `'x'` as an Int.
pub(super) fn parse_char(text: &str) -> Result<Value, String> {
    let inner = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
    let malformed = || format!("malformed character constant: {text}");
    let mut chars = inner.chars();
    let c = match chars.next() {
        None | Some('\'') => return Err(malformed()),
        Some('\\') => {
            let rest = chars.as_str();
            let (bytes, used) = unescape(rest, b'\'').map_err(|_| malformed())?;
            if used != rest.len() {
                return Err(malformed());
            }
            match bytes {
                Escaped::Char(c) => c as i64,
                Escaped::Byte(b) => i64::from(b),
            }
        }
        Some(c) => {
            if !chars.as_str().is_empty() {
                return Err(malformed());
            }
            c as i64
        }
    };
    Ok(Value::Int(c))
}

enum Escaped {
    Char(char),
    Byte(u8),
}

/// Decodes the escape after a backslash; returns it and the number of bytes consumed.
fn unescape(s: &str, quote: u8) -> Result<(Escaped, usize), String> {
    let b = s.as_bytes();
    let Some(&c) = b.first() else {
        return Err("invalid escape".into());
    };
    let simple = |ch: char| Ok((Escaped::Char(ch), 1));
    match c {
        b'a' => simple('\u{7}'),
        b'b' => simple('\u{8}'),
        b'f' => simple('\u{c}'),
        b'n' => simple('\n'),
        b'r' => simple('\r'),
        b't' => simple('\t'),
        b'v' => simple('\u{b}'),
        b'\\' => simple('\\'),
        b'\'' | b'"' if c == quote => simple(c as char),
        b'0'..=b'7' => {
            let digits = s.get(..3).ok_or("invalid octal escape")?;
            let v = u32::from_str_radix(digits, 8).map_err(|_| "invalid octal escape")?;
            let v = u8::try_from(v).map_err(|_| "octal escape value > 255")?;
            Ok((Escaped::Byte(v), 3))
        }
        b'x' | b'u' | b'U' => {
            let n = match c {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = s.get(1..1 + n).ok_or("invalid hex escape")?;
            if !digits.bytes().all(|d| d.is_ascii_hexdigit()) {
                return Err("invalid hex escape".into());
            }
            let v = u32::from_str_radix(digits, 16).map_err(|_| "invalid hex escape")?;
            if c == b'x' {
                return Ok((Escaped::Byte(v as u8), 1 + n));
            }
            let ch = char::from_u32(v).ok_or("escape is not a valid Unicode code point")?;
            Ok((Escaped::Char(ch), 1 + n))
        }
        _ => Err(format!("unknown escape sequence \\{}", s.chars().next().unwrap_or('?'))),
    }
}

/// Unquotes a double-quoted Go string literal (with its quotes).
pub(super) fn unquote(text: &str) -> Result<String, String> {
    let inner = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
    if !inner.contains('\\') {
        return Ok(inner.to_owned());
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(i) = rest.find('\\') {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let after = &rest[i + 1..];
        let (esc, used) = unescape(after, b'"').map_err(|m| format!("invalid string literal {text}: {m}"))?;
        match esc {
            Escaped::Char(c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            Escaped::Byte(b) => out.push(b),
        }
        rest = after.get(used..).unwrap_or("");
    }
    out.extend_from_slice(rest.as_bytes());
    Ok(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}
