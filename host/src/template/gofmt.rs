//! Go's `fmt` printing (`Sprint`, `Sprintln`, `Sprintf`) and `strconv` float/quote formatting,
//! for the value types templates have.

use super::value::Value;

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

#[derive(Clone, Copy, Default)]
struct Flags {
    wid: Option<usize>,
    prec: Option<usize>,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
}

struct Printer {
    buf: String,
    f: Flags,
}

/// Go's `%v` of `v` (nil prints `<nil>`).
pub(super) fn write_v(out: &mut String, v: &Value) {
    let mut p = Printer { buf: std::mem::take(out), f: Flags::default() };
    p.print_arg(v, 'v');
    *out = p.buf;
}

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value]) -> String {
    let mut p = Printer { buf: String::new(), f: Flags::default() };
    let mut prev_string = false;
    for (n, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if n > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.f = Flags::default();
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// Go's `fmt.Sprintln`: spaces between all operands and a final newline.
pub(super) fn sprintln(args: &[Value]) -> String {
    let mut p = Printer { buf: String::new(), f: Flags::default() };
    for (n, arg) in args.iter().enumerate() {
        if n > 0 {
            p.buf.push(' ');
        }
        p.f = Flags::default();
        p.print_arg(arg, 'v');
    }
    p.buf.push('\n');
    p.buf
}

fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// Go's parsenum: (number, present, next index). Absurd numbers consume the rest of the format.
fn parsenum(b: &[u8], start: usize, end: usize) -> (i64, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num: i64 = 0;
    let mut isnum = false;
    let mut i = start;
    while i < end && b[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(b[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    if arg_num >= args.len() {
        return (0, false, arg_num);
    }
    match args[arg_num] {
        Value::Int(n) if !too_large(n) => (n, true, arg_num + 1),
        _ => (0, false, arg_num + 1),
    }
}

/// Go's parseArgNumber for `[n]`: (zero-based index, bytes consumed, ok).
fn parse_arg_number(b: &[u8]) -> (i64, usize, bool) {
    if b.len() < 3 {
        return (0, 1, false);
    }
    for j in 1..b.len() {
        if b[j] == b']' {
            let (width, ok, newi) = parsenum(b, 1, j);
            if !ok || newi != j {
                return (0, j + 1, false);
            }
            return (width - 1, j + 1, true);
        }
    }
    (0, 1, false)
}

/// Go's `fmt.Sprintf`, including its in-band errors (`%!d(string=x)`, `%!v(MISSING)`…).
pub(super) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer { buf: String::with_capacity(format.len() + 16), f: Flags::default() };
    let b = format.as_bytes();
    let end = b.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    'format: while i < end {
        let mut good_arg_num = true;
        let lasti = i;
        while i < end && b[i] != b'%' {
            i += 1;
        }
        if i > lasti {
            p.buf.push_str(&format[lasti..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            let c = b[i];
            match c {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = !p.f.minus,
                b'+' => p.f.plus = true,
                b'-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                b' ' => p.f.space = true,
                _ => {
                    if c.is_ascii_lowercase() && arg_num < args.len() && c != b'w' {
                        if c == b'v' {
                            p.f.sharp_v = p.f.sharp;
                            p.f.sharp = false;
                            p.f.plus_v = p.f.plus;
                            p.f.plus = false;
                        }
                        p.print_arg(&args[arg_num], c as char);
                        arg_num += 1;
                        i += 1;
                        continue 'format;
                    }
                    break;
                }
            }
            i += 1;
        }

        let mut after_index;
        (arg_num, i, after_index) = arg_number(arg_num, b, i, args.len(), &mut reordered, &mut good_arg_num);

        if i < end && b[i] == b'*' {
            i += 1;
            let (w, ok, n) = int_from_arg(args, arg_num);
            arg_num = n;
            if !ok {
                p.buf.push_str("%!(BADWIDTH)");
            }
            let mut w = w;
            if w < 0 {
                w = -w;
                p.f.minus = true;
                p.f.zero = false;
            }
            p.f.wid = if ok { Some(w as usize) } else { None };
            after_index = false;
        } else {
            let (w, present, ni) = parsenum(b, i, end);
            i = ni;
            p.f.wid = present.then_some(w as usize);
            if after_index && present {
                good_arg_num = false;
            }
        }

        if i + 1 < end && b[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) = arg_number(arg_num, b, i, args.len(), &mut reordered, &mut good_arg_num);
            if i < end && b[i] == b'*' {
                i += 1;
                let (pr, ok, n) = int_from_arg(args, arg_num);
                arg_num = n;
                let (pr, ok) = if pr < 0 { (0, false) } else { (pr, ok) };
                p.f.prec = ok.then_some(pr as usize);
                if !ok {
                    p.buf.push_str("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (pr, present, ni) = parsenum(b, i, end);
                i = ni;
                p.f.prec = Some(if present { pr as usize } else { 0 });
            }
        }

        if !after_index {
            (arg_num, i, _) = arg_number(arg_num, b, i, args.len(), &mut reordered, &mut good_arg_num);
        }

        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();

        if verb == '%' {
            p.buf.push('%');
        } else if !good_arg_num {
            p.buf.push_str("%!");
            p.buf.push(verb);
            p.buf.push_str("(BADINDEX)");
        } else if arg_num >= args.len() {
            p.buf.push_str("%!");
            p.buf.push(verb);
            p.buf.push_str("(MISSING)");
        } else {
            if verb == 'v' {
                p.f.sharp_v = p.f.sharp;
                p.f.sharp = false;
                p.f.plus_v = p.f.plus;
                p.f.plus = false;
            }
            p.print_arg(&args[arg_num], verb);
            arg_num += 1;
        }
    }

    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (k, arg) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.buf.push_str(", ");
            }
            if matches!(arg, Value::Nil) {
                p.buf.push_str("<nil>");
            } else {
                p.buf.push_str(arg.type_name());
                p.buf.push('=');
                p.print_arg(arg, 'v');
            }
        }
        p.buf.push(')');
    }
    p.buf
}

fn arg_number(arg_num: usize, b: &[u8], i: usize, num_args: usize, reordered: &mut bool, good_arg_num: &mut bool) -> (usize, usize, bool) {
    if i >= b.len() || b[i] != b'[' {
        return (arg_num, i, false);
    }
    *reordered = true;
    let (index, wid, ok) = parse_arg_number(&b[i..]);
    if ok && index >= 0 && (index as usize) < num_args {
        return (index as usize, i + wid, true);
    }
    *good_arg_num = false;
    (arg_num, i + wid, ok)
}

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    fn pad(&mut self, s: &str) {
        let Some(wid) = self.f.wid.filter(|&w| w > 0) else {
            self.buf.push_str(s);
            return;
        };
        let width = wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.buf.push_str(s);
        }
    }

    fn bad_verb(&mut self, verb: char, v: &Value) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if matches!(v, Value::Nil) {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(v.type_name());
            self.buf.push('=');
            self.print_arg(v, 'v');
        }
        self.buf.push(')');
    }

    fn print_arg(&mut self, v: &Value, verb: char) {
        if matches!(v, Value::Nil) {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, v),
            }
            return;
        }
        match verb {
            'T' => self.fmt_s(v.type_name()),
            'p' => self.bad_verb(verb, v),
            _ => self.print_value(v, verb, 0),
        }
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        match v {
            Value::Nil => {
                if depth == 0 {
                    self.print_arg(v, verb);
                } else if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) => self.fmt_int(*i, verb),
            Value::Float(x) => self.fmt_float(*x, verb),
            Value::String(s) => self.fmt_string(s, verb),
            Value::List(items) => {
                if self.f.sharp_v {
                    self.buf.push_str("[]interface {}{");
                    for (k, item) in items.iter().enumerate() {
                        if k > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_value(item, verb, depth + 1);
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (k, item) in items.iter().enumerate() {
                        if k > 0 {
                            self.buf.push(' ');
                        }
                        self.print_value(item, verb, depth + 1);
                    }
                    self.buf.push(']');
                }
            }
            Value::Map(m) => {
                if self.f.sharp_v {
                    self.buf.push_str("map[string]interface {}{");
                } else {
                    self.buf.push_str("map[");
                }
                for (k, (key, val)) in m.iter().enumerate() {
                    if k > 0 {
                        if self.f.sharp_v {
                            self.buf.push_str(", ");
                        } else {
                            self.buf.push(' ');
                        }
                    }
                    self.fmt_string(key, verb);
                    self.buf.push(':');
                    self.print_value(val, verb, depth + 1);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
        }
    }

    // ---- integers ----------------------------------------------------------------------

    fn fmt_int(&mut self, i: i64, verb: char) {
        match verb {
            'v' | 'd' => self.fmt_integer(i, 10, verb, LDIGITS),
            'b' => self.fmt_integer(i, 2, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(i, 8, verb, LDIGITS),
            'x' => self.fmt_integer(i, 16, verb, LDIGITS),
            'X' => self.fmt_integer(i, 16, verb, UDIGITS),
            'c' => {
                let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
                let mut tmp = [0u8; 4];
                self.pad(c.encode_utf8(&mut tmp));
            }
            'q' => {
                // Go's fmtQc: anything that is not a valid rune (negative, too large, a surrogate)
                // quotes as U+FFFD (the differential test found `%q` of -1).
                let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
                let q = quote_with(c.encode_utf8(&mut [0u8; 4]), '\'', self.f.plus);
                self.pad(&q);
            }
            'U' => self.fmt_unicode(i as u64),
            _ => self.bad_verb(verb, &Value::Int(i)),
        }
    }

    fn fmt_integer(&mut self, i: i64, base: u64, verb: char, digits: &[u8; 17]) {
        let negative = i < 0;
        let mut u = i.unsigned_abs();
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid.is_some() {
            prec = self.f.wid.unwrap_or(0);
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut rev: Vec<u8> = Vec::with_capacity(24 + prec);
        loop {
            rev.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(digits[16]);
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let s = String::from_utf8(rev).unwrap_or_default();
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut prec = 4usize;
        if let Some(p) = self.f.prec
            && p > 4
        {
            prec = p;
        }
        let mut s = String::from("U+");
        let hex = format!("{u:X}");
        for _ in hex.len()..prec {
            s.push('0');
        }
        s.push_str(&hex);
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(c)
        {
            s.push_str(" '");
            s.push(c);
            s.push('\'');
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    // ---- floats ------------------------------------------------------------------------

    fn fmt_float(&mut self, x: f64, verb: char) {
        match verb {
            'v' => self.float(x, 'g', -1),
            'b' | 'g' | 'G' => self.float(x, verb, -1),
            'f' | 'e' | 'E' => self.float(x, verb, 6),
            'F' => self.float(x, 'f', 6),
            _ => self.bad_verb(verb, &Value::Float(x)),
        }
    }

    /// Go's fmt.fmtFloat: sign, `#`, zero padding.
    fn float(&mut self, x: f64, verb: char, prec: i64) {
        let prec = self.f.prec.map_or(prec, |p| p as i64);
        let formatted = format_float(x, verb as u8, prec);
        let mut num: Vec<u8> = Vec::with_capacity(formatted.len() + 8);
        if !formatted.starts_with(['-', '+']) {
            num.push(b'+');
        }
        num.extend_from_slice(formatted.as_bytes());
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num.get(1).is_some_and(|&c| c == b'I' || c == b'N') {
            let old = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&String::from_utf8_lossy(&num));
            self.f.zero = old;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = 0;
            if matches!(verb, 'v' | 'g' | 'G') {
                digits = if prec == -1 { 6 } else { prec };
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut k = 1;
            while k < num.len() {
                match num[k] {
                    b'.' => has_point = true,
                    b'e' | b'E' => {
                        tail.extend_from_slice(&num[k..]);
                        num.truncate(k);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                k += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let s = String::from_utf8_lossy(&num).into_owned();
        if self.f.plus || num[0] != b'+' {
            if self.f.zero
                && let Some(wid) = self.f.wid
                && wid > num.len()
            {
                self.buf.push(num[0] as char);
                self.write_padding(wid - num.len());
                self.buf.push_str(&s[1..]);
                return;
            }
            self.pad(&s);
            return;
        }
        self.pad(&s[1..]);
    }

    // ---- strings -----------------------------------------------------------------------

    fn fmt_string(&mut self, s: &str, verb: char) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s);
                } else {
                    self.fmt_s(s);
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, &Value::String(s.to_owned())),
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if let Some(p) = self.f.prec
            && let Some((idx, _)) = s.char_indices().nth(p)
        {
            return &s[..idx];
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8; 17]) {
        let bytes = s.as_bytes();
        let mut length = bytes.len();
        if let Some(p) = self.f.prec
            && p < length
        {
            length = p;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(digits[16] as char);
        }
        for (k, &c) in bytes[..length].iter().enumerate() {
            if self.f.space && k > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(digits[16] as char);
                }
            }
            self.buf.push(digits[(c >> 4) as usize] as char);
            self.buf.push(digits[(c & 0xf) as usize] as char);
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let q = format!("`{s}`");
            self.pad(&q);
            return;
        }
        let q = quote_with(s, '"', self.f.plus);
        self.pad(&q);
    }
}

// ---- strconv -------------------------------------------------------------------------------

/// Go's `unicode.IsPrint`, approximated without Unicode tables: controls, separators other than
/// U+0020, format characters, private-use characters and noncharacters are not printable
/// (unassigned code points are treated as printable).
pub(super) fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let format_or_private = matches!(u,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff
        | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd | 0xfdd0..=0xfdef);
    !(format_or_private || (u & 0xfffe) == 0xfffe)
}

/// Go's `strconv.Quote` (`ascii_only`: `QuoteToASCII`) with the given quote character.
pub(super) fn quote_with(s: &str, quote: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
            out.push(c);
            continue;
        }
        if ascii_only {
            if c.is_ascii() && is_print(c) {
                out.push(c);
                continue;
            }
        } else if is_print(c) {
            out.push(c);
            continue;
        }
        match c {
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            _ => {
                let u = c as u32;
                if u < 0x20 || u == 0x7f {
                    out.push_str(&format!("\\x{u:02x}"));
                } else if u < 0x10000 {
                    out.push_str(&format!("\\u{u:04x}"));
                } else {
                    out.push_str(&format!("\\U{u:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| c != '`' && c != '\u{7f}' && c != '\u{feff}' && (c >= ' ' || c == '\t'))
}

/// Decimal digits of a non-negative finite float: digits without trailing zeros, and the
/// position of the decimal point (Go's decimalSlice). Zero has no digits.
struct Digits {
    d: Vec<u8>,
    dp: i64,
}

/// Parses Rust's `{:e}` output (`1.2345e-7`).
fn digits_from_exp(s: &str) -> Digits {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits { d, dp: exp + 1 }
}

fn shortest_digits(a: f64) -> Digits {
    if a == 0.0 {
        return Digits { d: Vec::new(), dp: 0 };
    }
    digits_from_exp(&format!("{a:e}"))
}

/// `n` significant digits, correctly rounded.
fn fixed_digits(a: f64, n: usize) -> Digits {
    if a == 0.0 {
        return Digits { d: Vec::new(), dp: 0 };
    }
    digits_from_exp(&format!("{:.*e}", n.saturating_sub(1), a))
}

fn fmt_e(out: &mut String, d: &Digits, prec: i64, fmt: u8) {
    let nd = d.d.len() as i64;
    out.push(if nd == 0 { '0' } else { d.d[0] as char });
    if prec > 0 {
        out.push('.');
        let mut i = 1i64;
        let m = nd.min(prec + 1);
        if i < m {
            out.push_str(std::str::from_utf8(&d.d[i as usize..m as usize]).unwrap_or(""));
            i = m;
        }
        while i <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(fmt as char);
    let mut exp = d.dp - 1;
    if nd == 0 {
        exp = 0;
    }
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, d: &Digits, prec: i64) {
    let nd = d.d.len() as i64;
    if d.dp > 0 {
        let m = nd.min(d.dp);
        out.push_str(std::str::from_utf8(&d.d[..m as usize]).unwrap_or(""));
        for _ in m..d.dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = d.dp + i - 1;
            out.push(if (0..nd).contains(&j) { d.d[j as usize] as char } else { '0' });
        }
    }
}

/// Go's `strconv.FormatFloat(x, fmt, prec, 64)` for fmt in `b e E f g G` (prec < 0: shortest).
pub(super) fn format_float(x: f64, fmt: u8, prec: i64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let neg = x.is_sign_negative();
    let a = x.abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    match fmt {
        b'b' => {
            let bits = a.to_bits();
            let mut exp = ((bits >> 52) & 0x7ff) as i64;
            let mut mant = bits & ((1u64 << 52) - 1);
            if exp == 0 {
                exp = 1;
            } else {
                mant |= 1u64 << 52;
            }
            exp -= 1023 + 52;
            out.push_str(&format!("{mant}p{}{exp}", if exp >= 0 { "+" } else { "" }));
        }
        b'f' | b'F' => {
            if prec >= 0 {
                out.push_str(&format!("{:.*}", prec as usize, a));
            } else {
                let d = shortest_digits(a);
                let p = (d.d.len() as i64 - d.dp).max(0);
                fmt_f(&mut out, &d, p);
            }
        }
        b'e' | b'E' => {
            let (d, p) = if prec >= 0 {
                (fixed_digits(a, prec as usize + 1), prec)
            } else {
                let d = shortest_digits(a);
                let p = (d.d.len() as i64 - 1).max(0);
                (d, p)
            };
            fmt_e(&mut out, &d, p, fmt);
        }
        _ => {
            // 'g' / 'G'
            let shortest = prec < 0;
            let (d, mut prec) = if shortest {
                let d = shortest_digits(a);
                let n = d.d.len() as i64;
                (d, n)
            } else {
                let p = if prec == 0 { 1 } else { prec };
                (fixed_digits(a, p as usize), p)
            };
            let nd = d.d.len() as i64;
            let mut eprec = prec;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            let efmt = if fmt == b'G' { b'E' } else { b'e' };
            if exp < -4 || exp >= eprec {
                if prec > nd {
                    prec = nd;
                }
                fmt_e(&mut out, &d, prec - 1, efmt);
            } else {
                if prec > d.dp {
                    prec = nd;
                }
                fmt_f(&mut out, &d, (prec - d.dp).max(0));
            }
        }
    }
    out
}
