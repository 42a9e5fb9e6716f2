//! Tests: expected outputs follow Go's text/template and fmt semantics.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::*;

fn test_env() -> HashMap<&'static str, &'static str> {
    HashMap::from([("TAG", "v1.2.3"), ("EMPTY", ""), ("JSON", r#"{"a":"b<c>&"}"#), ("N", "3"), ("HOME_DIR", "/home/app")])
}

fn lookup_from(env: HashMap<&'static str, &'static str>) -> EnvLookup {
    Arc::new(move |k: &str| env.get(k).map(|v| (*v).to_owned()))
}

/// env funcs plus `list`, `dict` and `fail` helpers for building values in tests.
fn funcs() -> FuncMap {
    let mut m = env_funcs(lookup_from(test_env()));
    m.insert("list", Arc::new(|args: &[Value]| Ok(Value::List(args.to_vec())))).unwrap();
    m.insert(
        "dict",
        Arc::new(|args: &[Value]| {
            let mut map = BTreeMap::new();
            for pair in args.chunks(2) {
                let key = pair[0].as_str().ok_or("dict keys must be strings")?.to_owned();
                map.insert(key, pair.get(1).cloned().unwrap_or_default());
            }
            Ok(Value::Map(map))
        }),
    )
    .unwrap();
    m.insert("fail", Arc::new(|_: &[Value]| Err("boom".to_owned()))).unwrap();
    m.insert("nothing", Arc::new(|_: &[Value]| Ok(Value::Nil))).unwrap();
    m
}

#[track_caller]
fn r(src: &str) -> String {
    match render("t", src, &funcs()) {
        Ok(s) => s,
        Err(e) => panic!("render({src:?}) failed: {e}"),
    }
}

#[track_caller]
fn err(src: &str) -> String {
    match render("t", src, &funcs()) {
        Ok(s) => panic!("render({src:?}) succeeded with {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn check(cases: &[(&str, &str)]) {
    for (src, want) in cases {
        assert_eq!(r(src), *want, "template {src:?}");
    }
}

#[track_caller]
fn check_err(cases: &[(&str, &str)]) {
    for (src, want) in cases {
        assert_eq!(err(src), *want, "template {src:?}");
    }
}

// ---- text, trim markers, comments ----------------------------------------------------------

#[test]
fn plain_text_is_unchanged() {
    check(&[("", ""), ("hello", "hello"), ("a } b { c }} d", "a } b { c }} d"), ("{ {", "{ {")]);
    let t = Template::parse("t", "no actions here\n", &FuncMap::new()).unwrap();
    assert_eq!(t.execute(&FuncMap::new()).unwrap(), "no actions here\n");
}

#[test]
fn trim_markers() {
    check(&[
        ("a {{- \" b \" -}} c", "a b c"),
        ("a\n\t {{- 1 -}} \n\tb", "a1b"),
        ("x  {{- 3}}", "x3"),
        ("{{3 -}}  \n y", "3y"),
        ("{{-3}}", "-3"),
        ("{{- 3 }}", "3"),
        ("a {{- /* c */ -}} b", "ab"),
        ("{{ 1 -}}{{- 2 }}", "12"),
        ("a  {{-\n1\n-}}  b", "a1b"),
        ("{{ 1 }} {{- 2 -}} {{ 3 }}", "123"),
        ("{{ 5 }}-", "5-"),
        ("{{ -5 }}", "-5"),
    ]);
}

#[test]
fn comments() {
    check(&[
        ("a{{/* comment */}}b", "ab"),
        ("a{{/* multi\nline {{ not an action }} */}}b", "ab"),
        ("a {{- /* trimmed */}} b", "a b"),
        ("a {{/* trimmed */ -}} b", "a b"),
    ]);
    check_err(&[
        ("x{{/* unclosed", "t:1:2: unclosed comment"),
        ("{{/* c */ }}", "t:1:1: comment ends before closing delimiter"),
        ("{{ /* c */ }}", "t:1:4: unexpected \"/\" in command"),
    ]);
}

// ---- literals ------------------------------------------------------------------------------

#[test]
fn string_literals() {
    check(&[
        (r#"{{ "a\tb\n\"\\" }}"#, "a\tb\n\"\\"),
        (r#"{{ "\u00e9\x41\101\U0001F600" }}"#, "éA\u{41}😀"),
        (r#"{{ "\a\b\f\v\r" }}"#, "\u{7}\u{8}\u{c}\u{b}\r"),
        ("{{ `a\\nb` }}", "a\\nb"),
        ("{{ `multi\nline` }}", "multi\nline"),
        ("{{ `a\r\nb` }}", "a\nb"),
        ("{{ `` }}", ""),
        (r#"{{ "" }}"#, ""),
        (r#"{{ "{{" }}"#, "{{"),
        (r#"{{ "}}" }}"#, "}}"),
    ]);
    check_err(&[
        (r#"{{ "\q" }}"#, "t:1:4: invalid string literal \"\\q\": unknown escape sequence \\q"),
        (r#"{{ "\'" }}"#, "t:1:4: invalid string literal \"\\'\": unknown escape sequence \\'"),
        ("{{ \"abc }}", "t:1:4: unterminated quoted string"),
        ("{{ \"a\nb\" }}", "t:1:4: unterminated quoted string"),
        ("{{ `abc }}", "t:1:4: unterminated raw quoted string"),
    ]);
}

#[test]
fn char_literals() {
    check(&[
        ("{{ 'a' }}", "97"),
        (r"{{ '\n' }}", "10"),
        (r"{{ '\'' }}", "39"),
        ("{{ 'é' }}", "233"),
        (r"{{ '\x41' }}", "65"),
        (r"{{ '\u00e9' }}", "233"),
        ("{{ printf \"%c\" 'x' }}", "x"),
    ]);
    check_err(&[
        ("{{ 'a }}", "t:1:4: unterminated character constant"),
        ("{{ 'ab' }}", "t:1:4: malformed character constant: 'ab'"),
        ("{{ '' }}", "t:1:4: malformed character constant: ''"),
    ]);
}

#[test]
fn number_literals() {
    check(&[
        ("{{ 42 }}", "42"),
        ("{{ -42 }}", "-42"),
        ("{{ +7 }}", "7"),
        ("{{ 0x1F }}", "31"),
        ("{{ 0X1f }}", "31"),
        ("{{ 0o17 }}", "15"),
        ("{{ 017 }}", "15"),
        ("{{ 08 }}", "8"),
        ("{{ 09 }}", "9"),
        ("{{ 0b101 }}", "5"),
        ("{{ 1_000_000 }}", "1000000"),
        ("{{ 0x_ff }}", "255"),
        ("{{ 9223372036854775807 }}", "9223372036854775807"),
        ("{{ -9223372036854775808 }}", "-9223372036854775808"),
        ("{{ 1.5 }}", "1.5"),
        ("{{ 1.0 }}", "1"),
        ("{{ .5 }}", "0.5"),
        ("{{ 1e6 }}", "1e+06"),
        ("{{ 1E6 }}", "1e+06"),
        ("{{ 123456.0 }}", "123456"),
        ("{{ 1234567.0 }}", "1.234567e+06"),
        ("{{ 0.0001 }}", "0.0001"),
        ("{{ 0.00001 }}", "1e-05"),
        ("{{ 1e21 }}", "1e+21"),
        ("{{ 1e100 }}", "1e+100"),
        ("{{ 3.14159 }}", "3.14159"),
        ("{{ 0.1 }}", "0.1"),
        ("{{ -2.5e-3 }}", "-0.0025"),
        ("{{ 1_000.5 }}", "1000.5"),
        ("{{ true }}{{ false }}", "truefalse"),
    ]);
    check_err(&[
        ("{{ 1x }}", "t:1:4: bad number syntax: \"1x\""),
        ("{{ 1__0 }}", "t:1:4: bad number syntax: \"1__0\""),
        ("{{ 1_ }}", "t:1:4: bad number syntax: \"1_\""),
        ("{{ 0x }}", "t:1:4: bad number syntax: \"0x\""),
        ("{{ 1e }}", "t:1:4: bad number syntax: \"1e\""),
        ("{{ - }}", "t:1:4: bad number syntax: \"-\""),
        ("{{ 99999999999999999999 }}", "t:1:4: number 99999999999999999999 overflows int"),
        ("{{ 1e400 }}", "t:1:4: number 1e400 is out of range"),
        ("{{ 1i }}", "t:1:4: complex number 1i is not supported"),
        ("{{ 0x1p4 }}", "t:1:4: hexadecimal floating-point constant 0x1p4 is not supported"),
    ]);
}

#[test]
fn nil_and_dot() {
    check(&[
        ("{{ . }}", "<no value>"),
        ("{{ $ }}", "<no value>"),
        ("{{ .Foo }}", "<no value>"),
        ("{{ .Foo.Bar }}", "<no value>"),
        ("{{ $.Foo }}", "<no value>"),
        ("{{ print nil }}", "<nil>"),
        ("{{ print . }}", "<nil>"),
        ("{{ nothing }}", "<no value>"),
        ("{{ list nil }}", "[<nil>]"),
        ("{{ .Foo 1 2 }}", "<no value>"),
        ("{{ html . }}", "&lt;no value&gt;"),
    ]);
    check_err(&[
        ("{{ nil }}", "t:1:4: nil is not a command"),
        ("{{ . 1 }}", "t:1:4: can't give argument to non-function ."),
        ("{{ nil.Foo }}", "t:1:7: unexpected . after term \"nil\""),
        ("{{ \"a\".Foo }}", "t:1:7: unexpected . after term \"\\\"a\\\"\""),
    ]);
}

#[test]
fn fields_on_maps() {
    check(&[
        ("{{ (dict \"A\" \"x\").A }}", "x"),
        ("{{ (dict \"A\" (dict \"B\" 1)).A.B }}", "1"),
        ("{{ (dict \"A\" \"x\").Missing }}", "<no value>"),
        ("{{ $m := dict \"A\" \"x\" }}{{ $m.A }}", "x"),
        ("{{ with dict \"A\" \"y\" }}{{ .A }}{{ end }}", "y"),
    ]);
    check_err(&[
        ("{{ $s := \"str\" }}{{ $s.Foo }}", "t:1:21: can't evaluate field Foo in type string"),
        ("{{ $m := dict \"A\" 1 }}{{ $m.A 2 }}", "t:1:26: A is not a method but has arguments"),
    ]);
}

// ---- variables and pipelines ---------------------------------------------------------------

#[test]
fn variables() {
    check(&[
        ("{{ $x := \"a\" }}{{ $x }}", "a"),
        ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
        ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "21"),
        ("{{ with $x := \"v\" }}{{ $x }}{{ . }}{{ end }}", "vv"),
        ("{{ if $x := 0 }}a{{ else }}{{ $x }}{{ end }}", "0"),
        ("{{ $x := 0 }}{{ range 3 }}{{ $x = . }}{{ end }}{{ $x }}", "2"),
        ("{{ $x := \"a\" | printf \"%s%s\" \"b\" }}{{ $x }}", "ba"),
        ("{{ print (($x := 5)) $x }}", "5 5"),
    ]);
    check_err(&[
        ("{{ $y }}", "t:1:4: undefined variable \"$y\""),
        ("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}", "t:1:39: undefined variable \"$x\""),
        ("{{ $x, $y := 1 }}", "t:1:6: too many declarations in command"),
        ("{{ $x := }}", "t:1:10: missing value for command"),
        ("{{ $x = 1 }}", "t:1:9: undefined variable: $x"),
    ]);
}

#[test]
fn pipelines() {
    check(&[
        ("{{ \"x\" | printf \"%s-%s\" \"a\" }}", "a-x"),
        ("{{ printf \"%d\" (len \"abc\") }}", "3"),
        ("{{ \"abc\" | len | printf \"%03d\" }}", "003"),
        ("{{ (print \"a\") }}", "a"),
        ("{{ print (print (print (print \"deep\"))) }}", "deep"),
        ("{{ \"TAG\" | env }}", "v1.2.3"),
        ("{{ 1 | print 2 | print 3 }}", "32 1"),
        ("{{ print\n  \"multi\"\n  \"line\" }}", "multiline"),
    ]);
    check_err(&[
        ("{{ \"a\" | \"b\" }}", "t:1:10: non executable command in pipeline stage 2"),
        ("{{ print 1 | 2 }}", "t:1:14: non executable command in pipeline stage 2"),
        ("{{ }}", "t:1:4: missing value for command"),
        ("{{}}", "t:1:3: missing value for command"),
        ("{{ \"a\" \"b\" }}", "t:1:4: can't give argument to non-function \"a\""),
        ("{{ \"a\" | $ }}", "t:1:10: can't give argument to non-function $"),
        ("{{ len(\"a\") }}", "t:1:7: unexpected \"(\" in operand"),
        ("{{ print \"a\"\"b\" }}", "t:1:13: unexpected \"\\\"b\\\"\" in operand"),
        ("{{ (len \"a\" }}", "t:1:4: unclosed left paren"),
        ("{{ len \"a\") }}", "t:1:11: unexpected right paren"),
        ("{{ () }}", "t:1:5: missing value for parenthesized pipeline"),
    ]);
}

// ---- control structures --------------------------------------------------------------------

#[test]
fn if_else() {
    check(&[
        ("{{ if true }}a{{ end }}", "a"),
        ("{{ if false }}a{{ end }}", ""),
        ("{{ if false }}a{{ else }}b{{ end }}", "b"),
        ("{{ if false }}a{{ else if 1 }}b{{ else }}c{{ end }}", "b"),
        ("{{ if 0 }}a{{ else if \"\" }}b{{ else if . }}c{{ else }}d{{ end }}", "d"),
        ("{{ if 1 }}{{ if 0 }}x{{ else }}y{{ end }}{{ end }}", "y"),
        ("{{if true}}{{else}}{{end}}", ""),
    ]);
    check_err(&[
        ("{{ else }}", "t:1:1: else without if"),
        ("{{ end }}", "t:1:1: {{end}} without matching {{if}}, {{with}} or {{range}}"),
        ("line1\n\n{{ if true }}\nx", "t:4:2: missing {{end}} for {{if}} opened at line 3"),
        ("{{ if }}{{ end }}", "t:1:7: missing value for if"),
        ("{{ if 1 }}a{{ else }}b{{ else }}c{{ end }}", "t:1:23: expected {{end}}, found {{else}} (a {{if}} has one {{else}})"),
        ("{{ if 1 }}{{ else with 2 }}{{ end }}", "t:1:19: {{else with}} is not allowed in {{if}}"),
        ("{{ if 1 }}{{ end 2 }}", "t:1:18: unexpected \"2\" in end"),
        ("{{ if 1 }}{{ else 2 }}{{ end }}", "t:1:19: unexpected \"2\" in else"),
    ]);
}

#[test]
fn truthiness() {
    let falsy = ["false", "0", "0.0", "\"\"", "list", "dict", ".", "nothing"];
    for v in falsy {
        assert_eq!(r(&format!("{{{{ if {v} }}}}T{{{{ else }}}}F{{{{ end }}}}")), "F", "{v}");
    }
    let truthy = ["true", "1", "-1", "0.5", "\"0\"", "(list 0)", "(dict \"a\" 0)", "\" \""];
    for v in truthy {
        assert_eq!(r(&format!("{{{{ if {v} }}}}T{{{{ else }}}}F{{{{ end }}}}")), "T", "{v}");
    }
}

#[test]
fn with_else() {
    check(&[
        ("{{ with \"x\" }}[{{ . }}]{{ end }}", "[x]"),
        ("{{ with \"\" }}a{{ else }}b{{ end }}", "b"),
        ("{{ with \"\" }}a{{ else with \"y\" }}{{ . }}{{ end }}", "y"),
        ("{{ with 0 }}a{{ else with \"\" }}b{{ else }}c{{ end }}", "c"),
        ("{{ with list 1 2 }}{{ len . }}{{ end }}", "2"),
    ]);
}

#[test]
fn range_loops() {
    check(&[
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
        ("{{ range $i := 3 }}{{ $i }},{{ end }}", "0,1,2,"),
        ("{{ range 0 }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range -2 }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range . }}x{{ else }}nil{{ end }}", "nil"),
        ("{{ range list \"a\" \"b\" }}{{ . }}{{ end }}", "ab"),
        ("{{ range $v := list \"a\" \"b\" }}{{ $v }}{{ end }}", "ab"),
        ("{{ range $i, $v := list \"a\" \"b\" }}{{ $i }}={{ $v }};{{ end }}", "0=a;1=b;"),
        ("{{ range $k, $v := dict \"b\" 2 \"a\" 1 }}{{ $k }}={{ $v }};{{ end }}", "a=1;b=2;"),
        ("{{ range dict \"b\" 2 \"a\" 1 }}{{ . }}{{ end }}", "12"),
        ("{{ range list }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range $i, $e := list 5 6 }}{{ range $e }}{{ $i }}{{ end }}|{{ end }}", "00000|111111|"),
        ("{{ range 10 }}{{ if eq . 3 }}{{ continue }}{{ end }}{{ if eq . 5 }}{{ break }}{{ end }}{{ . }}{{ end }}", "0124"),
        ("{{ range 3 }}{{ range 3 }}{{ if eq . 1 }}{{ break }}{{ end }}{{ . }}{{ end }}|{{ end }}", "0|0|0|"),
        ("{{ $i := 9 }}{{ $v := 9 }}{{ range $i, $v = list 7 8 }}{{ end }}{{ $i }}{{ $v }}", "18"),
    ]);
    check_err(&[
        ("{{ break }}", "t:1:4: {{break}} outside {{range}}"),
        ("{{ if 1 }}{{ continue }}{{ end }}", "t:1:14: {{continue}} outside {{range}}"),
        ("{{ range 1 }}{{ else }}{{ break }}{{ end }}", "t:1:27: {{break}} outside {{range}}"),
        ("{{ range $i, $v := 3 }}{{ end }}", "t:1:1: can't use 3 to iterate over more than one variable"),
        ("{{ range \"abc\" }}{{ end }}", "t:1:1: range can't iterate over abc"),
        ("{{ range 1.5 }}{{ end }}", "t:1:1: range can't iterate over 1.5"),
        ("{{ range $a, $b, $c := 1 }}{{ end }}", "t:1:16: too many declarations in range"),
        ("{{ range $a, 1 := 1 }}{{ end }}", "t:1:12: range can only initialize variables"),
        ("{{ range 1 }}{{ else if 1 }}{{ end }}", "t:1:22: {{else if}} is not allowed in {{range}}"),
    ]);
}

#[test]
fn unsupported_actions() {
    check_err(&[
        ("{{ define \"x\" }}{{ end }}", "t:1:4: {{define}} is not supported (define, template and block are not available)"),
        ("{{ template \"x\" }}", "t:1:4: {{template}} is not supported (define, template and block are not available)"),
        ("{{ block \"x\" . }}{{ end }}", "t:1:4: {{block}} is not supported (define, template and block are not available)"),
    ]);
}

// ---- builtins ------------------------------------------------------------------------------

#[test]
fn and_or_not() {
    check(&[
        ("{{ and 1 0 2 }}", "0"),
        ("{{ and 1 2 }}", "2"),
        ("{{ or 0 \"\" \"x\" }}", "x"),
        ("{{ or 0 \"\" }}", ""),
        ("{{ or 1 (must_env \"UNSET\") }}", "1"),
        ("{{ and 0 (must_env \"UNSET\") }}", "0"),
        ("{{ 0 | and 1 }}", "0"),
        ("{{ 5 | or 0 }}", "5"),
        ("{{ not 0 }}{{ not \"x\" }}", "truefalse"),
        ("{{ if and (env \"TAG\") (not (env \"EMPTY\" \"\")) }}ok{{ end }}", "ok"),
    ]);
    check_err(&[
        ("{{ and }}", "t:1:4: wrong number of args for and: want at least 1 got 0"),
        ("{{ not }}", "t:1:4: wrong number of args for not: want 1 got 0"),
        ("{{ not 1 2 }}", "t:1:4: wrong number of args for not: want 1 got 2"),
        ("{{ or 0 (must_env \"UNSET\") }}", "t:1:10: error calling must_env: environment variable UNSET is not set"),
    ]);
}

#[test]
fn comparisons() {
    check(&[
        ("{{ eq 1 1 }}", "true"),
        ("{{ eq \"a\" \"b\" \"a\" }}", "true"),
        ("{{ eq \"a\" \"b\" \"c\" }}", "false"),
        ("{{ eq 1 1.0 }}", "true"),
        ("{{ eq true true }}", "true"),
        ("{{ eq . nil }}", "true"),
        ("{{ eq \"a\" nil }}", "false"),
        ("{{ eq 'a' 97 }}", "true"),
        ("{{ ne 1 2 }}", "true"),
        ("{{ lt 1 2 }}{{ lt 2 1 }}", "truefalse"),
        ("{{ lt \"a\" \"b\" }}", "true"),
        ("{{ le 2 2 }}{{ le 3 2 }}", "truefalse"),
        ("{{ gt 2.5 2 }}{{ gt 2 2 }}", "truefalse"),
        ("{{ ge 2 2 }}{{ ge 1 2 }}", "truefalse"),
        ("{{ lt 1 1.5 }}", "true"),
        ("{{ if eq (env \"N\") \"3\" }}three{{ end }}", "three"),
    ]);
    check_err(&[
        ("{{ eq 1 \"1\" }}", "t:1:4: error calling eq: incompatible types for comparison: int and string"),
        ("{{ eq (list) true }}", "t:1:4: error calling eq: incompatible types for comparison: []interface {} and bool"),
        ("{{ eq (list) (dict) }}", "t:1:4: error calling eq: non-comparable types []: []interface {}, map[string]interface {}: map[]"),
        ("{{ eq 1 }}", "t:1:4: error calling eq: missing argument for comparison"),
        ("{{ lt true false }}", "t:1:4: error calling lt: invalid type for comparison"),
        ("{{ lt 1 nil }}", "t:1:4: error calling lt: invalid type for comparison"),
        ("{{ gt 1 \"a\" }}", "t:1:4: error calling gt: incompatible types for comparison: int and string"),
        ("{{ eq (list 1) (list 2) }}", "t:1:4: error calling eq: non-comparable type [2]: []interface {}"),
        ("{{ ne 1 }}", "t:1:4: wrong number of args for ne: want 2 got 1"),
    ]);
}

#[test]
fn len_index_slice() {
    check(&[
        ("{{ len \"héllo\" }}", "6"),
        ("{{ len (list 1 2) }}", "2"),
        ("{{ len (dict \"a\" 1) }}", "1"),
        ("{{ index (list \"a\" \"b\") 1 }}", "b"),
        ("{{ index (dict \"k\" \"v\") \"k\" }}", "v"),
        ("{{ index (dict \"k\" \"v\") \"missing\" }}", "<no value>"),
        ("{{ index (list (list 1 2) (list 3 4)) 1 0 }}", "3"),
        ("{{ index (dict \"a\" (list 5 6)) \"a\" 1 }}", "6"),
        ("{{ index \"abc\" 1 }}", "98"),
        ("{{ index \"abc\" }}", "abc"),
        ("{{ slice \"abcdef\" 1 3 }}", "bc"),
        ("{{ slice \"abc\" 1 }}", "bc"),
        ("{{ slice \"abc\" }}", "abc"),
        ("{{ slice (list 1 2 3) 1 }}", "[2 3]"),
        ("{{ slice (list 1 2 3) 0 2 3 }}", "[1 2]"),
        ("{{ slice \"abc\" 3 }}", ""),
    ]);
    check_err(&[
        ("{{ len 3 }}", "t:1:4: error calling len: len of type int"),
        ("{{ index }}", "t:1:4: wrong number of args for index: want at least 1 got 0"),
        ("{{ index (list 1) 1 }}", "t:1:4: error calling index: index out of range: 1"),
        ("{{ index (list 1) -1 }}", "t:1:4: error calling index: index out of range: -1"),
        ("{{ index (list 1) \"a\" }}", "t:1:4: error calling index: cannot index slice/array with type string"),
        ("{{ index (dict \"a\" 1) 0 }}", "t:1:4: error calling index: value has type int; should be string"),
        ("{{ index . 0 }}", "t:1:4: error calling index: index of untyped nil"),
        ("{{ index 5 0 }}", "t:1:4: error calling index: can't index item of type int"),
        ("{{ slice \"abc\" 2 1 }}", "t:1:4: error calling slice: invalid slice index: 2 > 1"),
        ("{{ slice \"abc\" 1 2 3 }}", "t:1:4: error calling slice: cannot 3-index slice a string"),
        ("{{ slice \"abc\" 4 }}", "t:1:4: error calling slice: index out of range: 4"),
        ("{{ slice 1 }}", "t:1:4: error calling slice: can't slice item of type int"),
    ]);
}

#[test]
fn print_functions() {
    check(&[
        ("{{ print 1 2 \"a\" 3 \"b\" \"c\" }}", "1 2a3bc"),
        ("{{ print }}", ""),
        ("{{ print 1.5 true (list 1 \"x\") }}", "1.5 true [1 x]"),
        ("{{ println \"a\" 1 }}", "a 1\n"),
        ("{{ println }}", "\n"),
        ("{{ list 1 \"a\" 1.5 true }}", "[1 a 1.5 true]"),
        ("{{ dict \"b\" (list 2) \"a\" 1 }}", "map[a:1 b:[2]]"),
        ("{{ list }}", "[]"),
    ]);
}

#[test]
fn printf_verbs() {
    check(&[
        ("{{ printf \"%s|%d|%v|%q|%x|%.2f|%t|%%\" \"s\" 42 1.5 \"q\" 255 3.14159 true }}", "s|42|1.5|\"q\"|ff|3.14|true|%"),
        ("{{ printf \"%5d|%-5d|%05d|%5s|%-5s|%05s|%+d|% d\" 42 42 42 \"ab\" \"ab\" \"ab\" 5 5 }}", "   42|42   |00042|   ab|ab   |000ab|+5| 5"),
        ("{{ printf \"%05d|%-05d|%.3d|%6.3d|%06.0d\" -42 7 7 -7 0 }}", "-0042|7    |007|  -007|      "),
        ("{{ printf \"%x|%X|%#x|%o|%#o|%O|%b|%#b\" 255 255 255 8 8 8 5 5 }}", "ff|FF|0xff|10|010|0o10|101|0b101"),
        ("{{ printf \"%c|%q|%U|%#U\" 65 'x' 0x1F600 'x' }}", "A|'x'|U+1F600|U+0078 'x'"),
        ("{{ printf \"%x|% x|%#x|%X\" \"hi\" \"hi\" \"hi\" \"hi\" }}", "6869|68 69|0x6869|6869"),
        ("{{ printf \"%q|%+q|%#q|%#q\" \"é\\n\" \"é\" \"a\" \"`\" }}", "\"é\\n\"|\"\\u00e9\"|`a`|\"`\""),
        ("{{ printf \"%.2s|%.0s|%5.1s\" \"abc\" \"abc\" \"xyz\" }}", "ab||    x"),
        ("{{ printf \"%T %T %T %T %T %T %T\" 1 \"a\" 1.5 true (list) (dict) nil }}", "int string float64 bool []interface {} map[string]interface {} <nil>"),
        (
            "{{ printf \"%v|%#v|%#v|%#v\" (list 1 \"a\") (list 1 \"a\" nil) \"s\" (dict \"k\" 1) }}",
            "[1 a]|[]interface {}{1, \"a\", interface {}(nil)}|\"s\"|map[string]interface {}{\"k\":1}",
        ),
        ("{{ printf \"%d\" (list 1 2) }}", "[1 2]"),
        ("{{ printf \"%3d|%-3v|\" (list 1 2) (list 3) }}", "[  1   2]|[3  ]|"),
        ("{{ printf \"%[2]s %[1]s\" \"a\" \"b\" }}", "b a"),
        ("{{ printf \"%*d|%-*d|%.*f\" 5 42 4 1 2 3.14159 }}", "   42|1   |3.14"),
        ("{{ printf \"%s\" }}", "%!s(MISSING)"),
        ("{{ printf \"%d\" \"x\" }}", "%!d(string=x)"),
        ("{{ printf \"%s\" 5 }}", "%!s(int=5)"),
        ("{{ printf \"%d\" 1.5 }}", "%!d(float64=1.5)"),
        ("{{ printf \"%t\" 1 }}", "%!t(int=1)"),
        ("{{ printf \"%s\" nil }}", "%!s(<nil>)"),
        ("{{ printf \"%v %10v|\" nil nil }}", "<nil>      <nil>|"),
        ("{{ printf \"a\" 1 \"x\" }}", "a%!(EXTRA int=1, string=x)"),
        ("{{ printf \"%\" }}", "%!(NOVERB)"),
        ("{{ printf \"%z\" 1 }}", "%!z(int=1)"),
        ("{{ printf \"%[3]d\" 1 }}", "%!d(BADINDEX)"),
        ("{{ printf \"%d %d\" 1 }}", "1 %!d(MISSING)"),
        ("{{ printf \"%!\" }}", "%!!(MISSING)"),
        ("{{ printf \"%é\" 1 }}", "%!é(int=1)"),
        ("{{ printf \"%s\" (dict \"a\" \"x\") }}", "map[a:x]"),
        ("{{ printf \"%d\" (dict \"a\" 1) }}", "map[%!d(string=a):1]"),
        ("{{ printf \"%p\" 1 }}", "%!p(int=1)"),
        ("{{ printf \"%w\" 1 }}", "%!w(int=1)"),
    ]);
}

#[test]
fn printf_floats() {
    check(&[
        ("{{ printf \"%v %g %e %.3e %f %.0f %.0f\" 1e6 0.000012345 1234.5678 1234.5678 2.5 2.5 3.5 }}", "1e+06 1.2345e-05 1.234568e+03 1.235e+03 2.500000 2 4"),
        ("{{ printf \"%8.3f|%-8.2f|%+.1f|% .1f|%08.3f\" 3.14159 2.5 1.0 1.0 -3.14159 }}", "   3.142|2.50    |+1.0| 1.0|-003.142"),
        ("{{ printf \"%E|%G|%.3g|%.3g|%.3g|%g\" 1234.5678 1e-7 1.0 100.0 123456.0 100000.0 }}", "1.234568E+03|1E-07|1|100|1.23e+05|100000"),
        ("{{ printf \"%#g|%#.4g|%#.0f|%#.4g\" 1.0 0.012 1.0 0.0 }}", "1.00000|0.01200|1.|0.000"),
        ("{{ printf \"%f|%e|%g\" 0.0 0.0 0.0 }}", "0.000000|0.000000e+00|0"),
        ("{{ printf \"%.1f|%.2f|%.1f\" 0.25 0.125 0.35 }}", "0.2|0.12|0.3"),
        ("{{ printf \"%b|%b\" 1.0 0.0 }}", "4503599627370496p-52|0p-1074"),
        ("{{ printf \"%v|%v|%v\" 1e20 123456789.0 0.000001 }}", "1e+20|1.23456789e+08|1e-06"),
        ("{{ printf \"%6.2v|%.3v\" 3.14159 1234.0 }}", "   3.1|1.23e+03"),
        ("{{ printf \"%f\" -1e-9 }}", "-0.000000"),
        ("{{ printf \"%x\" 1.5 }}", "%!x(float64=1.5)"),
    ]);
}

#[test]
fn value_display_matches_go_v() {
    let cases: Vec<(Value, &str)> = vec![
        (Value::Nil, "<nil>"),
        (Value::Bool(true), "true"),
        (Value::Int(-3), "-3"),
        (Value::Float(1.5), "1.5"),
        (Value::Float(1e6), "1e+06"),
        (Value::Float(100000.0), "100000"),
        (Value::Float(-0.0), "-0"),
        (Value::Float(f64::NAN), "NaN"),
        (Value::Float(f64::INFINITY), "+Inf"),
        (Value::Float(f64::NEG_INFINITY), "-Inf"),
        (Value::Float(1e-7), "1e-07"),
        (Value::Float(f64::MAX), "1.7976931348623157e+308"),
        (Value::Float(5e-324), "5e-324"),
        (Value::String("s".into()), "s"),
        (Value::List(vec![Value::Int(1), Value::String("a b".into()), Value::Nil]), "[1 a b <nil>]"),
        (Value::Map(BTreeMap::from([("b".into(), Value::Int(2)), ("a".into(), Value::List(vec![]))])), "map[a:[] b:2]"),
    ];
    for (v, want) in cases {
        assert_eq!(v.to_string(), want, "{v:?}");
    }
    assert_eq!(Value::Nil.to_output_string(), "<no value>");
    assert_eq!(Value::from("x").to_output_string(), "x");
    assert_eq!(Value::from(2.0).to_output_string(), "2");
}

#[test]
fn escapers() {
    check(&[
        (r#"{{ html "<a href=\"x\">&'" }}"#, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
        (r#"{{ html "a" 1 }}"#, "a1"),
        (r#"{{ html 1 2 }}"#, "1 2"),
        (r#"{{ js "a'b\"c<d>&=\\" }}"#, r#"a\'b\"c\u003Cd\u003E\u0026\u003D\\"#),
        (r#"{{ js "\x01é\u2028" }}"#, r"\u0001é\u2028"),
        (r#"{{ urlquery "a b&c=d/é~_.-" }}"#, "a+b%26c%3Dd%2F%C3%A9~_.-"),
        (r#"{{ "a b" | urlquery }}"#, "a+b"),
    ]);
    check_err(&[
        ("{{ call . }}", "t:1:4: error calling call: call of nil"),
        ("{{ call }}", "t:1:4: wrong number of args for call: want at least 1 got 0"),
        ("{{ printf 1 }}", "t:1:4: wrong type for value; expected string; got int"),
    ]);
}

// ---- env funcs -----------------------------------------------------------------------------

#[test]
fn env_function() {
    check(&[
        ("{{ env \"TAG\" \"latest\" }}", "v1.2.3"),
        ("{{ env \"UNSET\" \"latest\" }}", "latest"),
        ("{{ env \"UNSET\" }}", "UNSET"),
        ("{{ env \"EMPTY\" \"d\" }}", "d"),
        ("{{ env \"EMPTY\" }}", "EMPTY"),
        ("{{ env \"UNSET\" \"TAG\" }}", "v1.2.3"),
        ("{{ env \"UNSET\" \"ALSO_UNSET\" \"N\" }}", "3"),
        ("{{ env \"UNSET\" \"\" }}", ""),
        ("{{ env }}", ""),
        ("{{ env `TAG` `latest` }}", "v1.2.3"),
    ]);
    check_err(&[
        ("{{ env 1 }}", "t:1:4: error calling env: wrong type for value; expected string; got int"),
        ("{{ env . }}", "t:1:4: error calling env: invalid value; expected string"),
    ]);
}

#[test]
fn must_env_function() {
    check(&[("{{ must_env \"TAG\" }}", "v1.2.3"), ("[{{ must_env \"EMPTY\" }}]", "[]"), ("{{ \"N\" | must_env }}", "3")]);
    check_err(&[
        ("x\n  {{ must_env `NOPE` }}", "t:2:6: error calling must_env: environment variable NOPE is not set"),
        ("{{ \"NOPE\" | must_env }}", "t:1:13: error calling must_env: environment variable NOPE is not set"),
        ("{{ must_env }}", "t:1:4: error calling must_env: wrong number of args: want 1 got 0"),
        ("{{ if false }}{{ else }}{{ must_env `NOPE` }}{{ end }}", "t:1:28: error calling must_env: environment variable NOPE is not set"),
    ]);
    // Not executed: no error.
    assert_eq!(r("{{ if false }}{{ must_env `NOPE` }}{{ end }}"), "");
}

#[test]
fn json_escape_function() {
    check(&[
        (
            "{{ json_escape \"a\\\"b\\\\c\\n\\r\\t<>&\\u2028\\u2029\\x01\\b\\f\\x7f é\" }}",
            "a\\\"b\\\\c\\n\\r\\t\\u003c\\u003e\\u0026\\u2028\\u2029\\u0001\\b\\f\u{7f} é",
        ),
        ("{{ must_env `JSON` | json_escape }}", r#"{\"a\":\"b\u003cc\u003e\u0026\"}"#),
        ("{{ json_escape \"\" }}", ""),
    ]);
    check_err(&[
        ("{{ json_escape }}", "t:1:4: error calling json_escape: wrong number of args: want 1 got 0"),
        // Go's `func(s string) string` refuses anything but a string (the differential test found it).
        ("{{ json_escape 1 }}", "t:1:4: error calling json_escape: wrong type for value; expected string; got int"),
        ("{{ json_escape 1.5 }}", "t:1:4: error calling json_escape: wrong type for value; expected string; got float64"),
    ]);
}

#[test]
fn ecspresso_style_inputs() {
    let src = r#"{
  "containerDefinitions": [
    {
      "name": "app",
      "image": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:{{ env `TAG` `latest` }}",
      "environment": [
        { "name": "JSON", "value": "{{ must_env `JSON` | json_escape }}" },
        { "name": "HOME", "value": "{{ env `HOME_DIR` }}" }
      ]
    }
  ],
  "desiredCount": {{ env `N` `1` }},
  "family": "app"
}"#;
    let want = r#"{
  "containerDefinitions": [
    {
      "name": "app",
      "image": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:v1.2.3",
      "environment": [
        { "name": "JSON", "value": "{\"a\":\"b\u003cc\u003e\u0026\"}" },
        { "name": "HOME", "value": "/home/app" }
      ]
    }
  ],
  "desiredCount": 3,
  "family": "app"
}"#;
    assert_eq!(r(src), want);

    let yaml = "plugins:\n{{ if (env `TFSTATE_BUCKET` ``) }}  - name: tfstate{{ end }}\n";
    assert_eq!(r(yaml), "plugins:\n\n");
    let mut env = test_env();
    env.insert("TFSTATE_BUCKET", "my-bucket");
    let with_bucket = env_funcs(lookup_from(env));
    assert_eq!(render("config.yaml", yaml, &with_bucket).unwrap(), "plugins:\n  - name: tfstate\n");

    // The unset default of a numeric field.
    let funcs = env_funcs(lookup_from(HashMap::new()));
    assert_eq!(render("td.json", "\"desiredCount\": {{ env `N` `1` }},", &funcs).unwrap(), "\"desiredCount\": 1,");
    assert_eq!(render("td.json", "\"image\": \"app:{{ env `TAG` `latest` }}\"", &funcs).unwrap(), "\"image\": \"app:latest\"");
}

// ---- errors and positions ------------------------------------------------------------------

#[test]
fn error_positions() {
    check_err(&[
        ("{{ foo }}", "t:1:4: function \"foo\" not defined"),
        ("a\n{{ if false }}{{ bar 1 }}{{ end }}", "t:2:18: function \"bar\" not defined"),
        ("é{{ foo }}", "t:1:5: function \"foo\" not defined"),
        ("ab\ncd {{ env `X`", "t:2:4: unterminated action (missing \"}}\")"),
        ("{{", "t:1:1: unterminated action (missing \"}}\")"),
        ("{{ env \"A\" } }}", "t:1:12: unexpected \"}\" in operand"),
        ("{{ fail }}", "t:1:4: error calling fail: boom"),
        ("{{ print (fail) }}", "t:1:11: error calling fail: boom"),
        ("{{ print 1 | fail }}", "t:1:14: error calling fail: boom"),
        ("{{ $: }}", "t:1:5: expected :="),
        ("{{ .Foo- }}", "t:1:8: bad character U+002D '-'"),
        ("{{ env\"A\" }}", "t:1:7: bad character U+0022 '\"'"),
        ("{{ ☃ }}", "t:1:4: unrecognized character in action: U+2603 '☃'"),
        ("{{ \u{1} }}", "t:1:4: unrecognized character in action: U+0001"),
        ("{{ if 1 }}{{ foo }}", "t:1:14: function \"foo\" not defined"),
        ("{{ if 1 }}{{ \"x }}{{ end }}", "t:1:14: unterminated quoted string"),
        ("{{ if }}{{ \"x }}", "t:1:7: missing value for if"),
    ]);
    let e = render("task-def.json", "\n\n   {{ must_env `MISSING` }}", &funcs()).unwrap_err();
    assert_eq!(
        e,
        TemplateError { file: "task-def.json".into(), line: 3, column: 7, message: "error calling must_env: environment variable MISSING is not set".into() }
    );
}

#[test]
fn execute_with_a_different_func_map() {
    let t = Template::parse("t", "{{ env `TAG` }}", &funcs()).unwrap();
    let e = t.execute(&FuncMap::new()).unwrap_err();
    assert_eq!(e.to_string(), "t:1:4: function \"env\" not defined");
}

// ---- API -----------------------------------------------------------------------------------

#[test]
fn func_map_api() {
    let mut m = FuncMap::new();
    assert!(m.is_empty());
    assert!(m.contains("printf"));
    assert!(!m.contains("env"));
    assert!(m.get("printf").is_none());
    let f: Func = Arc::new(|_: &[Value]| Ok(Value::Int(1)));
    m.insert("one", Arc::clone(&f)).unwrap();
    let e = m.insert("one", Arc::clone(&f)).unwrap_err();
    assert!(e.contains("one"), "{e}");
    let e = m.insert("printf", Arc::clone(&f)).unwrap_err();
    assert!(e.contains("printf"), "{e}");
    assert!(m.contains("one"));
    assert!(m.get("one").is_some());
    m.insert_or_replace("one", Arc::new(|_: &[Value]| Ok(Value::Int(2))));
    assert_eq!(render("t", "{{ one }}", &m).unwrap(), "2");
    m.insert_or_replace("len", Arc::new(|_: &[Value]| Ok(Value::from("shadowed"))));
    assert_eq!(render("t", "{{ len 1 }}", &m).unwrap(), "shadowed");
    assert_eq!(m.names().collect::<Vec<_>>(), vec!["len", "one"]);
    let env = env_funcs(lookup_from(HashMap::new()));
    assert_eq!(env.names().collect::<Vec<_>>(), vec!["env", "json_escape", "must_env"]);
    let mut all = env.clone();
    let e = all.extend(&m).unwrap_err();
    assert!(e.contains("len"), "{e}");
    let mut all = env.clone();
    let mut extra = FuncMap::new();
    extra.insert("one", f).unwrap();
    all.extend(&extra).unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.extend(&env).is_err());
    assert!(BUILTIN_NAMES.iter().all(|b| is_builtin(b)));
}

#[test]
fn template_is_reusable_and_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
    assert_send_sync::<FuncMap>();
    assert_send_sync::<TemplateError>();
    let f = funcs();
    let t = Template::parse("t", "{{ range 2 }}{{ env `TAG` }}{{ end }}", &f).unwrap();
    assert_eq!(t.name(), "t");
    let t = Arc::new(t);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let t = Arc::clone(&t);
            let f = f.clone();
            std::thread::spawn(move || t.execute(&f).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), "v1.2.3v1.2.3");
    }
}

// ---- robustness ----------------------------------------------------------------------------

#[test]
fn nesting_limit() {
    let ok = format!("{}x{}", "{{ if 1 }}".repeat(MAX_NESTING_DEPTH), "{{ end }}".repeat(MAX_NESTING_DEPTH));
    assert_eq!(r(&ok), "x");
    let deep = format!("{}x{}", "{{ if 1 }}".repeat(MAX_NESTING_DEPTH + 1), "{{ end }}".repeat(MAX_NESTING_DEPTH + 1));
    assert!(err(&deep).contains("nesting too deep"));
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(MAX_NESTING_DEPTH + 1), ")".repeat(MAX_NESTING_DEPTH + 1));
    assert!(err(&parens).contains("nesting too deep"));
    let parens_ok = format!("{{{{ {}1{} }}}}", "(".repeat(50), ")".repeat(50));
    assert_eq!(r(&parens_ok), "1");
    // The deepest accepted mix of control structures and calls runs on a default test thread.
    let calls = format!("{}{{{{ print {}1{} }}}}{}", "{{ with 1 }}".repeat(50), "(print ".repeat(49), ")".repeat(49), "{{ end }}".repeat(50));
    assert_eq!(r(&calls), "1");
    // Long else-if chains are not nesting.
    let chain = format!("{{{{ if 0 }}}}{}{{{{ else }}}}z{{{{ end }}}}", "{{ else if 0 }}".repeat(1000));
    assert_eq!(r(&chain), "z");
    // Unbalanced garbage never recurses without bound.
    let opens = "{{ if 1 }}".repeat(10_000);
    assert!(err(&opens).contains("nesting too deep"));
    let lparens = format!("{{{{ {}", "(".repeat(100_000));
    assert!(!err(&lparens).is_empty());
}

#[test]
fn execution_limits() {
    let e = err("{{ range 100000000 }}{{ end }}");
    assert!(e.contains("range iterations"), "{e}");
    let e = err("{{ range 1000000 }}{{ printf \"%1000d\" 1 }}{{ end }}");
    assert!(e.contains("output exceeds"), "{e}");
    let e = err("{{ $x := \"0123456789abcdef\" }}{{ range 40 }}{{ $x = print $x $x }}{{ end }}");
    assert!(e.contains("limits"), "{e}");
    assert_eq!(r("{{ printf \"%100000000d\" 1 }}"), "%!(NOVERB)%!(EXTRA int=1)");
}

const REALISTIC: &[&str] = &[
    r#"{
  "family": "{{ env `FAMILY` `app` }}",
  "containerDefinitions": [
    {{- range $i, $v := list 1 2 3 }}{{ if $i }},{{ end }}
    {"name": "c{{ $i }}", "image": "repo:{{ env `TAG` `latest` }}", "cpu": {{ printf "%d" $v }},
     "environment": [{"name": "J", "value": "{{ must_env `JSON` | json_escape }}"}]}
    {{- end }}
  ],
  {{/* comment */}}
  "desiredCount": {{ env `N` `1` }},
  "tags": {{ if and (env `TAG`) (not (eq (env `TAG`) "x")) -}} [ {{ printf "%q" (slice (env `TAG`) 1) }} ] {{- else -}} [] {{- end }}
}"#,
    "region: {{ env `AWS_REGION` `ap-northeast-1` }}\ncluster: {{ must_env `N` }}\n{{ with $x := index (dict \"a\" (list 1 2)) \"a\" }}{{ len $x }}{{ else }}none{{ end }}\n{{ range $k, $v := dict \"k\" 'c' }}{{ $k }}={{ $v }}{{ break }}{{ end }}",
    "{{ $a := 0x1F }}{{ $b := 1.5e3 }}{{ print $a $b `raw\nstr` \"esc\\t\\u00e9\" }}{{ html \"<>\" }}{{ js \"'\" }}{{ urlquery \"a b\" }}{{ println (lt 1 2) (ge 2.0 1) }}",
];

const ALPHABET: &[&str] = &[
    "{{", "}}", "{{- ", " -}}", "/*", "*/", "(", ")", "|", "$", "$x", ":=", "=", ",", ".", ".A", "\"", "`", "'", "\\", " ", "\n", "if", "else", "end", "range",
    "with", "break", "continue", "nil", "true", "1", "-", "0x", "1e", "_", "env", "print", "printf", "\"%d\"", "index", "slice", "len", "and", "or", "eq",
    "lt", "list", "dict", "fail", "define", "é", "}", "{", "%", "a",
];

#[test]
fn never_panics_on_prefixes_and_random_input() {
    let f = funcs();
    let check_one = |src: &str| {
        let _ = render("fuzz", src, &f);
        if let Ok(t) = Template::parse("fuzz", src, &f) {
            let _ = t.execute(&f);
        }
    };
    for src in REALISTIC {
        assert!(render("t", src, &f).is_ok(), "{src}: {:?}", render("t", src, &f));
        for (i, _) in src.char_indices() {
            check_one(&src[..i]);
            check_one(&src[i..]);
        }
    }
    let mut rng = super::testing::Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let n = rng.below(40);
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(ALPHABET[rng.below(ALPHABET.len())]);
        }
        check_one(&s);
    }
    for _ in 0..5_000 {
        let n = rng.below(64);
        let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
        let s = String::from_utf8_lossy(&bytes).into_owned();
        check_one(&s);
        check_one(&format!("{{{{{s}"));
        check_one(&format!("{{{{ {s} }}}}"));
    }
    // Random mutations of realistic templates.
    for _ in 0..5_000 {
        let base = REALISTIC[rng.below(REALISTIC.len())];
        let mut s: Vec<char> = base.chars().collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(s.len() + 1);
            match rng.below(3) {
                0 if at < s.len() => {
                    s.remove(at);
                }
                _ => {
                    let piece = ALPHABET[rng.below(ALPHABET.len())];
                    for (k, c) in piece.chars().enumerate() {
                        s.insert((at + k).min(s.len()), c);
                    }
                }
            }
        }
        let s: String = s.into_iter().collect();
        check_one(&s);
    }
}
