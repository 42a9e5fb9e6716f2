//! Go's `fmt.Sprintf` for `tfstatef`, over arguments that arrive as strings.
//!
//! Template arguments reach plugins as text, so an argument that reads as a number is formatted as
//! the number Go would have received (`%d` of `"1"` is `1`, `%x` of `"255"` is `ff`), and anything
//! else as a string. Verbs: `%s %v %d %q %x %X %f %t %%` (`%q` always quotes as a string), flags `- + # 0 space`, width,
//! precision, explicit argument indexes (`%[2]s`). Errors are written inline as Go does:
//! `%!d(string=abc)`, `%!s(MISSING)`, `%!(EXTRA string=x)`, `%!(NOVERB)`, `%!(BADINDEX)`.

use std::fmt::Write;

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

pub fn sprintf(format: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut next = 0usize; // next argument index
    let mut reordered = false;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        // flags
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        // explicit argument index, width, precision
        let mut bad_index = false;
        let take_index = |chars: &mut std::iter::Peekable<std::str::CharIndices>| -> Option<Result<usize, ()>> {
            if chars.peek().map(|&(_, c)| c) != Some('[') {
                return None;
            }
            chars.next();
            let mut n = String::new();
            while let Some(&(_, c)) = chars.peek() {
                chars.next();
                if c == ']' {
                    return Some(n.parse::<usize>().ok().filter(|&i| i >= 1 && i <= args.len()).map(|i| i - 1).ok_or(()));
                }
                n.push(c);
            }
            Some(Err(()))
        };
        if let Some(r) = take_index(&mut chars) {
            match r {
                Ok(i) => next = i,
                Err(()) => bad_index = true,
            }
            reordered = true;
        }
        spec.width = read_number(&mut chars);
        if chars.peek().map(|&(_, c)| c) == Some('.') {
            chars.next();
            spec.precision = Some(read_number(&mut chars).unwrap_or(0));
        }
        if !bad_index && let Some(r) = take_index(&mut chars) {
            match r {
                Ok(i) => next = i,
                Err(()) => bad_index = true,
            }
            reordered = true;
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if bad_index {
            let _ = write!(out, "%!{verb}(BADINDEX)");
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        format_arg(&mut out, verb, spec, arg);
    }
    // Go reports unused arguments only when no explicit index was used.
    if !reordered && next < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[next..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}={a}", kind_of(a));
        }
        out.push(')');
    }
    out
}

fn read_number(chars: &mut std::iter::Peekable<std::str::CharIndices>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(&(_, c)) = chars.peek() {
        let Some(d) = c.to_digit(10) else { break };
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

enum Arg {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str,
}

fn classify(a: &str) -> Arg {
    if let Ok(i) = a.parse::<i64>() {
        return Arg::Int(i);
    }
    if a.contains(['.', 'e', 'E'])
        && !a.contains(['i', 'n', 'I', 'N'])
        && let Ok(f) = a.parse::<f64>()
    {
        return Arg::Float(f);
    }
    match a {
        "true" => Arg::Bool(true),
        "false" => Arg::Bool(false),
        _ => Arg::Str,
    }
}

fn kind_of(a: &str) -> &'static str {
    match classify(a) {
        Arg::Int(_) => "int",
        Arg::Float(_) => "float64",
        Arg::Bool(_) => "bool",
        Arg::Str => "string",
    }
}

fn format_arg(out: &mut String, verb: char, spec: Spec, a: &str) {
    let arg = classify(a);
    let body = match (verb, &arg) {
        ('s' | 'v', _) => {
            // %s and %v print the argument's text (a number prints as itself either way).
            let mut s = a.to_owned();
            if let (Some(p), 's' | 'v', Arg::Str) = (spec.precision, verb, &arg) {
                s = s.chars().take(p).collect();
            }
            if verb == 'v'
                && spec.plus
                && let Arg::Int(i) = arg
            {
                s = signed(i, &spec);
            }
            s
        }
        ('d', Arg::Int(i)) => signed(*i, &spec),
        ('d', Arg::Bool(_) | Arg::Str | Arg::Float(_)) => return bad(out, verb, a),
        // Always a quoted string, even for a number: `[%q]` is how for_each keys are written, and a
        // key "1" must give `["1"]` (Go would quote an int as a character literal).
        ('q', _) => {
            if spec.sharp && !a.contains('`') && a.chars().all(|c| c == '\t' || !c.is_control()) {
                format!("`{a}`")
            } else {
                quote(a)
            }
        }
        ('x' | 'X', Arg::Int(i)) => {
            let s = if *i < 0 { format!("-{:x}", i.unsigned_abs()) } else { format!("{i:x}") };
            let s = if spec.sharp { if let Some(r) = s.strip_prefix('-') { format!("-0x{r}") } else { format!("0x{s}") } } else { s };
            if verb == 'X' { s.to_uppercase() } else { s }
        }
        ('x' | 'X', Arg::Str | Arg::Float(_) | Arg::Bool(_)) => {
            let mut s = String::with_capacity(a.len() * 2);
            for b in a.as_bytes() {
                let _ = write!(s, "{b:02x}");
            }
            if verb == 'X' { s.to_uppercase() } else { s }
        }
        ('f' | 'F', Arg::Int(i)) => format!("{:.*}", spec.precision.unwrap_or(6), *i as f64),
        ('f' | 'F', Arg::Float(f)) => format!("{:.*}", spec.precision.unwrap_or(6), f),
        ('f' | 'F', _) => return bad(out, verb, a),
        ('t', Arg::Bool(b)) => b.to_string(),
        _ => return bad(out, verb, a),
    };
    pad(out, &body, &spec, matches!(verb, 'd' | 'f' | 'F' | 'x' | 'X') && !matches!(arg, Arg::Str));
}

fn signed(i: i64, spec: &Spec) -> String {
    if i >= 0 && spec.plus {
        format!("+{i}")
    } else if i >= 0 && spec.space {
        format!(" {i}")
    } else {
        i.to_string()
    }
}

fn bad(out: &mut String, verb: char, a: &str) {
    let _ = write!(out, "%!{verb}({}={a})", kind_of(a));
}

fn pad(out: &mut String, body: &str, spec: &Spec, numeric: bool) {
    let len = body.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(body);
        return;
    }
    let fill = width - len;
    if spec.minus {
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric {
        // Zeros go after the sign.
        let (sign, digits) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (Some(c), &body[1..]),
            _ => (None, body),
        };
        if let Some(s) = sign {
            out.push(s);
        }
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else if spec.zero {
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(body);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(body);
    }
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        out.push_str(&quote_char(c, '"'));
    }
    out.push('"');
    out
}

fn quote_char(c: char, q: char) -> String {
    match c {
        '\u{7}' => "\\a".into(),
        '\u{8}' => "\\b".into(),
        '\u{c}' => "\\f".into(),
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        '\u{b}' => "\\v".into(),
        '\\' => "\\\\".into(),
        c if c == q => format!("\\{c}"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("\\x{:02x}", c as u32),
        c if c.is_control() || c == '\u{FEFF}' => {
            if (c as u32) < 0x10000 {
                format!("\\u{:04x}", c as u32)
            } else {
                format!("\\U{:08x}", c as u32)
            }
        }
        c => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[&str]) -> String {
        sprintf(fmt, &args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn common_verbs() {
        assert_eq!(f("aws_subnet.private[%d].id", &["1"]), "aws_subnet.private[1].id");
        assert_eq!(f("aws_subnet.%s.id", &["private-a"]), "aws_subnet.private-a.id");
        assert_eq!(f("aws_subnet.%v.%v", &["x", "3"]), "aws_subnet.x.3");
        assert_eq!(f("data.aws_sg.default[%q].id", &["first"]), r#"data.aws_sg.default["first"].id"#);
        assert_eq!(f("100%%", &[]), "100%");
        assert_eq!(f("no verbs", &[]), "no verbs");
    }

    #[test]
    fn go_error_forms() {
        assert_eq!(f("%d", &["abc"]), "%!d(string=abc)");
        assert_eq!(f("%s %s", &["a"]), "a %!s(MISSING)");
        assert_eq!(f("%s", &["a", "b", "3"]), "a%!(EXTRA string=b, int=3)");
        assert_eq!(f("abc%", &[]), "abc%!(NOVERB)");
        assert_eq!(f("%z", &["a"]), "%!z(string=a)");
        assert_eq!(f("%[3]s", &["a"]), "%!s(BADINDEX)");
    }

    #[test]
    fn widths_flags_precision() {
        assert_eq!(f("%03d", &["7"]), "007");
        assert_eq!(f("%-4d|", &["7"]), "7   |");
        assert_eq!(f("%+d", &["7"]), "+7");
        assert_eq!(f("%05d", &["-42"]), "-0042");
        assert_eq!(f("%5s|", &["ab"]), "   ab|");
        assert_eq!(f("%-5s|", &["ab"]), "ab   |");
        assert_eq!(f("%.2s", &["abcdef"]), "ab");
        assert_eq!(f("%x %X %#x", &["255", "255", "255"]), "ff FF 0xff");
        assert_eq!(f("%x", &["hi"]), "6869");
        assert_eq!(f("%.2f", &["3.14159"]), "3.14");
        assert_eq!(f("%f", &["2"]), "2.000000");
        assert_eq!(f("%t", &["true"]), "true");
    }

    #[test]
    fn explicit_indexes() {
        assert_eq!(f("%[2]s.%[1]s", &["a", "b"]), "b.a");
        assert_eq!(f("%[1]s %[1]s", &["x"]), "x x");
    }

    #[test]
    fn quoting_like_strconv() {
        assert_eq!(quote("a\"b\\c\n\t\u{1}é"), r#""a\"b\\c\n\t\x01é""#);
        assert_eq!(f("%q", &["65"]), r#""65""#);
        assert_eq!(f("%#q", &["ab"]), "`ab`");
    }
}
