//! Lexer: turns the source into tokens (Go's text/template/parse/lex.go, eagerly).
//!
//! Trim markers are applied here, comments are dropped. A lexical error ends the token stream
//! with an `Error` token; the parser reports it when it gets there, so that an earlier parse
//! error wins, as in Go.

use super::PosError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    /// Plain text (already trimmed); the span is the text.
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Ident,
    /// `.Name` (span includes the dot).
    Field,
    /// `$` or `$name` (span includes the dollar).
    Variable,
    Dot,
    Bool,
    Number,
    CharConst,
    Str,
    RawStr,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    /// Any other printable ASCII character, e.g. `,`.
    Char,
    KwIf,
    KwElse,
    KwEnd,
    KwRange,
    KwWith,
    KwBreak,
    KwContinue,
    KwNil,
    KwDefine,
    KwTemplate,
    KwBlock,
    Eof,
    /// The lexical error is in [`Lexed::error`].
    Error,
}

impl Tok {
    pub(super) fn is_keyword(self) -> bool {
        matches!(
            self,
            Tok::KwIf
                | Tok::KwElse
                | Tok::KwEnd
                | Tok::KwRange
                | Tok::KwWith
                | Tok::KwBreak
                | Tok::KwContinue
                | Tok::KwNil
                | Tok::KwDefine
                | Tok::KwTemplate
                | Tok::KwBlock
        )
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

pub(super) struct Lexed {
    pub tokens: Vec<Token>,
    pub error: Option<PosError>,
}

const RIGHT: &[u8] = b"}}";

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn has_left_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && s[0] == b'-' && is_space(s[1])
}

fn has_right_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && is_space(s[0]) && s[1] == b'-'
}

/// Go's `%#U` style description of a character, e.g. `U+007D '}'`.
pub(super) fn describe_char(c: char) -> String {
    if c.is_control() { format!("U+{:04X}", c as u32) } else { format!("U+{:04X} '{c}'", c as u32) }
}

/// Offset of the first `{{` (memchr-based search for `{`, then a check of the next byte).
fn find_left_delim(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = s.get(from..)?.find('{') {
        let at = from + i;
        if b.get(at + 1) == Some(&b'{') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
}

pub(super) fn lex(src: &str) -> Lexed {
    let mut lx = Lexer { src, b: src.as_bytes(), pos: 0, tokens: Vec::with_capacity(src.len() / 16 + 4) };
    let error = lx.run().err();
    if error.is_some() {
        lx.push(Tok::Error, lx.pos, lx.pos);
    } else {
        lx.push(Tok::Eof, src.len(), src.len());
    }
    Lexed { tokens: lx.tokens, error }
}

impl<'a> Lexer<'a> {
    fn push(&mut self, kind: Tok, start: usize, end: usize) {
        self.tokens.push(Token { kind, start, end });
    }

    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn rest(&self, i: usize) -> &'a [u8] {
        self.b.get(i..).unwrap_or(&[])
    }

    /// Right delimiter at `i`: `Some(trim)` with the trim marker ` -}}`, or plain `}}`.
    fn right_delim_at(&self, i: usize) -> Option<bool> {
        let r = self.rest(i);
        if has_right_trim_marker(r) && r[2..].starts_with(RIGHT) {
            Some(true)
        } else if r.starts_with(RIGHT) {
            Some(false)
        } else {
            None
        }
    }

    fn skip_leading_space(&mut self) {
        while self.pos < self.b.len() && is_space(self.b[self.pos]) {
            self.pos += 1;
        }
    }

    fn run(&mut self) -> Result<(), PosError> {
        loop {
            let start = self.pos;
            let Some(off) = self.src.get(start..).and_then(find_left_delim) else {
                if start < self.b.len() {
                    self.push(Tok::Text, start, self.b.len());
                }
                self.pos = self.b.len();
                return Ok(());
            };
            let delim = start + off;
            let trim_left = has_left_trim_marker(self.rest(delim + 2));
            let mut text_end = delim;
            if trim_left {
                while text_end > start && is_space(self.b[text_end - 1]) {
                    text_end -= 1;
                }
            }
            if text_end > start {
                self.push(Tok::Text, start, text_end);
            }
            let mut p = delim + 2;
            if trim_left {
                p += 2;
            }
            if self.rest(p).starts_with(b"/*") {
                self.comment(delim, p)?;
                continue;
            }
            self.push(Tok::LeftDelim, delim, delim + 2);
            self.pos = p;
            self.inside_action(delim)?;
        }
    }

    fn comment(&mut self, delim: usize, p: usize) -> Result<(), PosError> {
        let body = p + 2;
        let Some(close) = self.src.get(body..).and_then(|s| s.find("*/")) else {
            self.pos = delim;
            return Err(PosError::new(delim, "unclosed comment"));
        };
        let after = body + close + 2;
        match self.right_delim_at(after) {
            Some(trim) => {
                self.pos = after + if trim { 4 } else { 2 };
                if trim {
                    self.skip_leading_space();
                }
                Ok(())
            }
            None => {
                self.pos = delim;
                Err(PosError::new(delim, "comment ends before closing delimiter"))
            }
        }
    }

    fn inside_action(&mut self, delim: usize) -> Result<(), PosError> {
        let mut parens: Vec<usize> = Vec::new();
        loop {
            if let Some(trim) = self.right_delim_at(self.pos) {
                if let Some(&open) = parens.last() {
                    return Err(PosError::new(open, "unclosed left paren"));
                }
                let start = self.pos + if trim { 2 } else { 0 };
                self.push(Tok::RightDelim, start, start + 2);
                self.pos = start + 2;
                if trim {
                    self.skip_leading_space();
                }
                return Ok(());
            }
            let start = self.pos;
            let Some(&c) = self.b.get(start) else {
                return Err(PosError::new(delim, "unterminated action (missing \"}}\")"));
            };
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => self.space(),
                b'=' => {
                    self.pos += 1;
                    self.push(Tok::Assign, start, self.pos);
                }
                b':' => {
                    if self.at(start + 1) != b'=' {
                        return Err(PosError::new(start, "expected :="));
                    }
                    self.pos += 2;
                    self.push(Tok::Declare, start, self.pos);
                }
                b'|' => {
                    self.pos += 1;
                    self.push(Tok::Pipe, start, self.pos);
                }
                b'"' => self.quote(start)?,
                b'`' => self.raw_quote(start)?,
                b'\'' => self.char_const(start)?,
                b'$' => self.field_or_variable(start, Tok::Variable)?,
                b'.' if !self.at(start + 1).is_ascii_digit() => self.field_or_variable(start, Tok::Field)?,
                b'.' | b'+' | b'-' | b'0'..=b'9' => self.number(start)?,
                b'(' => {
                    self.pos += 1;
                    parens.push(start);
                    self.push(Tok::LParen, start, self.pos);
                }
                b')' => {
                    self.pos += 1;
                    if parens.pop().is_none() {
                        return Err(PosError::new(start, "unexpected right paren"));
                    }
                    self.push(Tok::RParen, start, self.pos);
                }
                _ if self.alnum_len(start) > 0 => self.identifier(start)?,
                0x21..=0x7e => {
                    self.pos += 1;
                    self.push(Tok::Char, start, self.pos);
                }
                _ => {
                    let ch = self.src.get(start..).and_then(|s| s.chars().next()).unwrap_or('\u{fffd}');
                    return Err(PosError::new(start, format!("unrecognized character in action: {}", describe_char(ch))));
                }
            }
        }
    }

    fn space(&mut self) {
        let start = self.pos;
        while self.pos < self.b.len() && is_space(self.b[self.pos]) {
            self.pos += 1;
        }
        // " -}}": the last space belongs to the trim marker.
        if self.right_delim_at(self.pos - 1) == Some(true) {
            self.pos -= 1;
            if self.pos == start {
                return;
            }
        }
        self.push(Tok::Space, start, self.pos);
    }

    /// Byte length of the alphanumeric character (`_`, letter, digit) at `i`, or 0.
    fn alnum_len(&self, i: usize) -> usize {
        let c = self.at(i);
        if c < 0x80 {
            return usize::from(c == b'_' || c.is_ascii_alphanumeric());
        }
        match self.src.get(i..).and_then(|s| s.chars().next()) {
            Some(ch) if ch.is_alphanumeric() => ch.len_utf8(),
            _ => 0,
        }
    }

    fn scan_alnum(&mut self) {
        loop {
            let n = self.alnum_len(self.pos);
            if n == 0 {
                return;
            }
            self.pos += n;
        }
    }

    /// Go's atTerminator: what may follow an identifier, field or variable.
    fn at_terminator(&self) -> bool {
        let c = self.at(self.pos);
        if self.pos >= self.b.len() || is_space(c) {
            return true;
        }
        matches!(c, b'.' | b',' | b'|' | b':' | b')' | b'(') || self.rest(self.pos).starts_with(RIGHT)
    }

    fn bad_char_here(&self) -> PosError {
        let ch = self.src.get(self.pos..).and_then(|s| s.chars().next()).unwrap_or('\u{fffd}');
        PosError::new(self.pos, format!("bad character {}", describe_char(ch)))
    }

    fn field_or_variable(&mut self, start: usize, kind: Tok) -> Result<(), PosError> {
        self.pos = start + 1;
        if self.at_terminator() {
            let k = if kind == Tok::Variable { Tok::Variable } else { Tok::Dot };
            self.push(k, start, self.pos);
            return Ok(());
        }
        self.scan_alnum();
        if !self.at_terminator() {
            return Err(self.bad_char_here());
        }
        self.push(kind, start, self.pos);
        Ok(())
    }

    fn identifier(&mut self, start: usize) -> Result<(), PosError> {
        self.pos = start;
        self.scan_alnum();
        if !self.at_terminator() {
            return Err(self.bad_char_here());
        }
        let kind = match &self.src[start..self.pos] {
            "if" => Tok::KwIf,
            "else" => Tok::KwElse,
            "end" => Tok::KwEnd,
            "range" => Tok::KwRange,
            "with" => Tok::KwWith,
            "break" => Tok::KwBreak,
            "continue" => Tok::KwContinue,
            "nil" => Tok::KwNil,
            "define" => Tok::KwDefine,
            "template" => Tok::KwTemplate,
            "block" => Tok::KwBlock,
            "true" | "false" => Tok::Bool,
            _ => Tok::Ident,
        };
        self.push(kind, start, self.pos);
        Ok(())
    }

    fn accept(&mut self, set: &[u8]) -> bool {
        if self.pos < self.b.len() && set.contains(&self.b[self.pos]) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn accept_run(&mut self, set: &[u8]) {
        while self.accept(set) {}
    }

    /// Go's scanNumber; the parser validates the text.
    fn number(&mut self, start: usize) -> Result<(), PosError> {
        self.pos = start;
        self.accept(b"+-");
        let mut digits: &[u8] = b"0123456789_";
        if self.accept(b"0") {
            if self.accept(b"xX") {
                digits = b"0123456789abcdefABCDEF_";
            } else if self.accept(b"oO") {
                digits = b"01234567_";
            } else if self.accept(b"bB") {
                digits = b"01_";
            }
        }
        self.accept_run(digits);
        if self.accept(b".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept(b"eE") {
            self.accept(b"+-");
            self.accept_run(b"0123456789_");
        }
        if digits.len() == 23 && self.accept(b"pP") {
            self.accept(b"+-");
            self.accept_run(b"0123456789_");
        }
        self.accept(b"i");
        if self.alnum_len(self.pos) > 0 {
            self.pos += self.alnum_len(self.pos);
            let text = self.src.get(start..self.pos).unwrap_or("");
            return Err(PosError::new(start, format!("bad number syntax: {text:?}")));
        }
        self.push(Tok::Number, start, self.pos);
        Ok(())
    }

    fn quote(&mut self, start: usize) -> Result<(), PosError> {
        let mut i = start + 1;
        loop {
            match self.b.get(i) {
                None | Some(b'\n') => {
                    self.pos = start;
                    return Err(PosError::new(start, "unterminated quoted string"));
                }
                Some(b'\\') => {
                    if matches!(self.b.get(i + 1), None | Some(b'\n')) {
                        self.pos = start;
                        return Err(PosError::new(start, "unterminated quoted string"));
                    }
                    i += 2;
                }
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        self.push(Tok::Str, start, self.pos);
        Ok(())
    }

    fn raw_quote(&mut self, start: usize) -> Result<(), PosError> {
        match self.rest(start + 1).iter().position(|&b| b == b'`') {
            Some(n) => {
                self.pos = start + 1 + n + 1;
                self.push(Tok::RawStr, start, self.pos);
                Ok(())
            }
            None => {
                self.pos = start;
                Err(PosError::new(start, "unterminated raw quoted string"))
            }
        }
    }

    fn char_const(&mut self, start: usize) -> Result<(), PosError> {
        let mut i = start + 1;
        loop {
            match self.b.get(i) {
                None | Some(b'\n') => {
                    self.pos = start;
                    return Err(PosError::new(start, "unterminated character constant"));
                }
                Some(b'\\') => {
                    if matches!(self.b.get(i + 1), None | Some(b'\n')) {
                        self.pos = start;
                        return Err(PosError::new(start, "unterminated character constant"));
                    }
                    i += 2;
                }
                Some(b'\'') => break,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        self.push(Tok::CharConst, start, self.pos);
        Ok(())
    }
}
