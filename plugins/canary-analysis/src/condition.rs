//! `success_condition` / `failure_condition`: `result OP NUMBER`, optionally several joined by
//! `&&` or `||`. A deliberately tiny language (Argo's expr subset that canary thresholds use), so
//! that everything accepted is understood at config time and nothing fails mid-canary.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// Two-character operators first, so `<=` is not read as `<` followed by `=5`.
const OPS: [(&str, Op); 6] = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)];

impl Op {
    fn text(self) -> &'static str {
        OPS.iter().find(|(_, op)| *op == self).map_or("?", |(t, _)| t)
    }

    fn holds(self, result: f64, n: f64) -> bool {
        match self {
            Op::Lt => result < n,
            Op::Le => result <= n,
            Op::Gt => result > n,
            Op::Ge => result >= n,
            Op::Eq => result == n,
            Op::Ne => result != n,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Join {
    All,
    Any,
}

/// A parsed condition on the measured `result`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    join: Join,
    terms: Vec<(Op, f64)>,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let (join, sep) = match (text.contains("&&"), text.contains("||")) {
            (true, true) => return Err(format!("{text:?} mixes && and ||; use only one of them")),
            (false, true) => (Join::Any, "||"),
            _ => (Join::All, "&&"),
        };
        let terms = text.split(sep).map(|t| term(t).map_err(|e| format!("{text:?}: {e}"))).collect::<Result<Vec<_>, _>>()?;
        Ok(Condition { join, terms })
    }

    pub fn holds(&self, result: f64) -> bool {
        let mut each = self.terms.iter().map(|(op, n)| op.holds(result, *n));
        match self.join {
            Join::All => each.all(|b| b),
            Join::Any => each.any(|b| b),
        }
    }
}

/// One `result OP NUMBER`.
fn term(text: &str) -> Result<(Op, f64), String> {
    let t = text.trim();
    let expected = || format!("expected `result OP NUMBER` (OP one of < <= > >= == !=), got {t:?}");
    let rest = t.strip_prefix("result").ok_or_else(expected)?.trim_start();
    let (sym, op) = OPS.iter().find(|(sym, _)| rest.starts_with(sym)).ok_or_else(expected)?;
    let number = rest[sym.len()..].trim();
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((*op, n)),
        _ => Err(format!("{number:?} is not a number, in {t:?}")),
    }
}

/// Without `result`: `> 5`, `> 5 || < 0`, read after the measured value (`12 > 5`).
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.join == Join::All { " && " } else { " || " };
        let terms: Vec<String> = self.terms.iter().map(|(op, n)| format!("{} {n}", op.text())).collect();
        f.write_str(&terms.join(sep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> Condition {
        Condition::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn operators_with_and_without_spaces() {
        assert!(c("result <= 5").holds(5.0) && !c("result <= 5").holds(5.5));
        assert!(c("result<5").holds(4.9) && !c("result<5").holds(5.0));
        assert!(c("result > 5").holds(5.1) && !c("result > 5").holds(5.0));
        assert!(c("result>=0.5").holds(0.5) && !c("result>=0.5").holds(0.4));
        assert!(c("result == 0").holds(0.0) && !c("result == 0").holds(1.0));
        assert!(c("  result   !=   -1e3 ").holds(0.0) && !c("result != -1e3").holds(-1000.0));
    }

    #[test]
    fn and_or() {
        let band = c("result >= 1 && result < 10");
        assert!(band.holds(1.0) && band.holds(9.9) && !band.holds(10.0) && !band.holds(0.0));
        let outside = c("result < 1 || result >= 10");
        assert!(outside.holds(0.0) && outside.holds(10.0) && !outside.holds(5.0));
    }

    #[test]
    fn shown_without_result() {
        assert_eq!(c("result>5").to_string(), "> 5");
        assert_eq!(c("result <= 0.05 && result != 0").to_string(), "<= 0.05 && != 0");
        assert_eq!(c("result < 1 || result > 2.5").to_string(), "< 1 || > 2.5");
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for bad in [
            "",
            "result",
            "result > ",
            "result >> 5",
            "result => 5",
            "result = 5",
            "5 < result",
            "results > 5",
            "error_rate > 5",
            "result > five",
            "result > inf",
            "result > NaN",
            "result > 5 &&",
            "result > 5 & result < 9",
            "result > 1 && result < 9 || result == 20",
            "len(result) > 0",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let e = Condition::parse("result >> 5").unwrap_err();
        assert!(e.contains("\"> 5\" is not a number"), "{e}");
    }
}
