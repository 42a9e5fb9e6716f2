//! Executor: walks the tree with nil data (Go's text/template/exec.go).

use super::builtins::{self, Builtin, CallError};
use super::parse::{Cmd, Cond, Node, OpKind, Operand, Pipe, RangeNode};
use super::value::Value;
use super::{FuncMap, MAX_OUTPUT_BYTES, MAX_RANGE_ITERATIONS, PosError};

/// Total bytes of strings that function calls may produce in one execution.
const MAX_PRODUCED_BYTES: usize = 1 << 30;

pub(super) fn execute(src: &str, root: &[Node], funcs: &FuncMap) -> Result<String, PosError> {
    let mut st = State { src, funcs, out: String::with_capacity(src.len() + src.len() / 8), vars: vec![("$", Value::Nil)], iterations: 0, produced: 0 };
    st.walk(&Value::Nil, root)?;
    Ok(st.out)
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'t> {
    src: &'t str,
    funcs: &'t FuncMap,
    out: String,
    vars: Vec<(&'t str, Value)>,
    iterations: u64,
    produced: usize,
}

impl<'t> State<'t> {
    fn walk(&mut self, dot: &Value, list: &'t [Node]) -> Result<Flow, PosError> {
        for node in list {
            match node {
                Node::Text(a, b) => {
                    self.out.push_str(self.src.get(*a..*b).unwrap_or(""));
                    self.check_output(*a)?;
                }
                Node::Action { pos, pipe } => {
                    let v = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        match &v {
                            Value::String(s) => self.out.push_str(s),
                            Value::Nil => self.out.push_str("<no value>"),
                            other => super::gofmt::write_v(&mut self.out, other),
                        }
                        self.check_output(*pos)?;
                    }
                }
                Node::Cond(c) => match self.walk_cond(dot, c)? {
                    Flow::Normal => {}
                    flow => return Ok(flow),
                },
                Node::Range(r) => self.walk_range(dot, r)?,
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn check_output(&self, pos: usize) -> Result<(), PosError> {
        if self.out.len() > MAX_OUTPUT_BYTES {
            return Err(PosError::new(pos, format!("output exceeds the limit of {MAX_OUTPUT_BYTES} bytes")));
        }
        Ok(())
    }

    fn walk_cond(&mut self, dot: &Value, c: &'t Cond) -> Result<Flow, PosError> {
        let mark = self.vars.len();
        let mut result = Ok(Flow::Normal);
        let mut taken = false;
        for branch in &c.branches {
            let v = match self.eval_pipeline(dot, &branch.pipe) {
                Ok(v) => v,
                Err(e) => {
                    result = Err(e);
                    taken = true;
                    break;
                }
            };
            if v.is_true() {
                result = if c.is_with { self.walk(&v, &branch.list) } else { self.walk(dot, &branch.list) };
                taken = true;
                break;
            }
        }
        if !taken && let Some(list) = &c.else_list {
            result = self.walk(dot, list);
        }
        self.vars.truncate(mark);
        result
    }

    fn walk_range(&mut self, dot: &Value, r: &'t RangeNode) -> Result<(), PosError> {
        let mark0 = self.vars.len();
        let result = self.range_inner(dot, r);
        self.vars.truncate(mark0);
        result
    }

    fn range_inner(&mut self, dot: &Value, r: &'t RangeNode) -> Result<(), PosError> {
        let val = self.eval_pipeline(dot, &r.pipe)?;
        let mark = self.vars.len();
        let ran = match &val {
            Value::List(items) => {
                for (i, elem) in items.iter().enumerate() {
                    if self.one_iteration(r, mark, Value::Int(i as i64), elem)? {
                        break;
                    }
                }
                !items.is_empty()
            }
            Value::Map(m) => {
                for (k, elem) in m {
                    if self.one_iteration(r, mark, Value::String(k.clone()), elem)? {
                        break;
                    }
                }
                !m.is_empty()
            }
            Value::Int(n) => {
                if r.pipe.decl.len() > 1 {
                    return Err(PosError::new(r.pos, format!("can't use {n} to iterate over more than one variable")));
                }
                for i in 0..(*n).max(0) {
                    if self.one_iteration(r, mark, Value::Nil, &Value::Int(i))? {
                        break;
                    }
                }
                *n > 0
            }
            Value::Nil => false,
            other => {
                return Err(PosError::new(r.pos, format!("range can't iterate over {other}")));
            }
        };
        if !ran && let Some(list) = &r.else_list {
            self.walk(dot, list)?;
        }
        Ok(())
    }

    /// Runs the body once; returns whether `{{break}}` was hit.
    fn one_iteration(&mut self, r: &'t RangeNode, mark: usize, index: Value, elem: &Value) -> Result<bool, PosError> {
        self.iterations += 1;
        if self.iterations > MAX_RANGE_ITERATIONS {
            return Err(PosError::new(r.pos, format!("more than {MAX_RANGE_ITERATIONS} range iterations")));
        }
        let decl = &r.pipe.decl;
        if !decl.is_empty() {
            if r.pipe.is_assign {
                let target = if decl.len() > 1 { index.clone() } else { elem.clone() };
                self.set_var(r.pos, &decl[0], target)?;
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if r.pipe.is_assign {
                self.set_var(r.pos, &decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let flow = self.walk(elem, &r.list);
        self.vars.truncate(mark);
        Ok(matches!(flow?, Flow::Break))
    }

    fn set_top_var(&mut self, n: usize, v: Value) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = v;
        }
    }

    fn set_var(&mut self, pos: usize, name: &str, v: Value) -> Result<(), PosError> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(PosError::new(pos, format!("undefined variable: {name}"))),
        }
    }

    fn var_value(&self, pos: usize, name: &str) -> Result<Value, PosError> {
        self.vars.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).ok_or_else(|| PosError::new(pos, format!("undefined variable: {name}")))
    }

    // ---- pipelines -----------------------------------------------------------------------

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'t Pipe) -> Result<Value, PosError> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_default();
        for name in &pipe.decl {
            if pipe.is_assign {
                let pos = pipe.cmds.first().and_then(|c| c.args.first()).map_or(0, |a| a.pos);
                self.set_var(pos, name, value.clone())?;
            } else {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'t Cmd, fin: Option<Value>) -> Result<Value, PosError> {
        let Some(first) = cmd.args.first() else {
            return Err(PosError::new(0, "empty command"));
        };
        match &first.kind {
            OpKind::Field(names) => self.eval_fields(first, dot.clone(), names, cmd.args.len() > 1 || fin.is_some()),
            OpKind::Chain(base, names) => {
                let receiver = self.eval_arg(dot, base)?;
                self.eval_fields(first, receiver, names, cmd.args.len() > 1 || fin.is_some())
            }
            OpKind::Func(name) => self.call_function(dot, first.pos, name, &cmd.args[1..], fin),
            OpKind::Pipe(p) => {
                self.not_a_function(cmd, fin.is_some())?;
                self.eval_pipeline(dot, p)
            }
            OpKind::Variable(name, fields) => {
                let v = self.var_value(first.pos, name)?;
                if fields.is_empty() {
                    self.not_a_function(cmd, fin.is_some())?;
                    return Ok(v);
                }
                self.eval_fields(first, v, fields, cmd.args.len() > 1 || fin.is_some())
            }
            OpKind::Const(v) => {
                self.not_a_function(cmd, fin.is_some())?;
                Ok(v.clone())
            }
            OpKind::Dot => {
                self.not_a_function(cmd, fin.is_some())?;
                Ok(dot.clone())
            }
            OpKind::Nil => Err(PosError::new(first.pos, "nil is not a command")),
        }
    }

    fn not_a_function(&self, cmd: &Cmd, has_final: bool) -> Result<(), PosError> {
        if cmd.args.len() > 1 || has_final {
            let first = &cmd.args[0];
            let text = self.src.get(first.pos..first.end).unwrap_or("");
            return Err(PosError::new(first.pos, format!("can't give argument to non-function {text}")));
        }
        Ok(())
    }

    /// `.A.B` on `receiver`. Fields of nil are nil; fields of maps are map entries.
    fn eval_fields(&self, op: &Operand, mut receiver: Value, names: &[Box<str>], has_args: bool) -> Result<Value, PosError> {
        for (i, name) in names.iter().enumerate() {
            receiver = match receiver {
                Value::Nil => return Ok(Value::Nil),
                Value::Map(mut m) => {
                    if has_args && i + 1 == names.len() {
                        return Err(PosError::new(op.pos, format!("{name} is not a method but has arguments")));
                    }
                    m.remove(&**name).unwrap_or(Value::Nil)
                }
                other => {
                    return Err(PosError::new(op.pos, format!("can't evaluate field {name} in type {}", other.type_name())));
                }
            };
        }
        Ok(receiver)
    }

    fn eval_arg(&mut self, dot: &Value, op: &'t Operand) -> Result<Value, PosError> {
        match &op.kind {
            OpKind::Dot => Ok(dot.clone()),
            OpKind::Nil => Ok(Value::Nil),
            OpKind::Const(v) => Ok(v.clone()),
            OpKind::Field(names) => self.eval_fields(op, dot.clone(), names, false),
            OpKind::Variable(name, fields) => {
                let v = self.var_value(op.pos, name)?;
                self.eval_fields(op, v, fields, false)
            }
            OpKind::Pipe(p) => self.eval_pipeline(dot, p),
            OpKind::Func(name) => self.call_function(dot, op.pos, name, &[], None),
            OpKind::Chain(base, names) => {
                let receiver = self.eval_arg(dot, base)?;
                self.eval_fields(op, receiver, names, false)
            }
        }
    }

    fn call_function(&mut self, dot: &Value, pos: usize, name: &str, args: &'t [Operand], fin: Option<Value>) -> Result<Value, PosError> {
        let user = self.funcs.get(name);
        let builtin = if user.is_none() { Builtin::from_name(name) } else { None };
        if user.is_none() && builtin.is_none() {
            return Err(PosError::new(pos, format!("function {name:?} not defined")));
        }
        // and/or evaluate their arguments lazily and return the deciding one.
        if let Some(b @ (Builtin::And | Builtin::Or)) = builtin {
            let total = args.len() + usize::from(fin.is_some());
            builtins::check_arity(name, total, 1, true).map_err(|e| call_error(pos, name, e))?;
            let want = b == Builtin::Or;
            let mut last = Value::Nil;
            for op in args {
                last = self.eval_arg(dot, op)?;
                if last.is_true() == want {
                    return Ok(last);
                }
            }
            if let Some(v) = fin {
                return Ok(v);
            }
            return Ok(last);
        }
        let mut argv: Vec<Value> = Vec::with_capacity(args.len() + 1);
        for op in args {
            argv.push(self.eval_arg(dot, op)?);
        }
        if let Some(v) = fin {
            argv.push(v);
        }
        let result = match (user, builtin) {
            (Some(f), _) => f(&argv).map_err(|m| PosError::new(pos, format!("error calling {name}: {m}")))?,
            (None, Some(b)) => builtins::call(b, name, argv).map_err(|e| call_error(pos, name, e))?,
            (None, None) => Value::Nil,
        };
        if let Value::String(s) = &result {
            self.produced = self.produced.saturating_add(s.len());
            if s.len() > MAX_OUTPUT_BYTES || self.produced > MAX_PRODUCED_BYTES {
                return Err(PosError::new(pos, format!("{name} produced more text than the template limits allow")));
            }
        }
        Ok(result)
    }
}

fn call_error(pos: usize, name: &str, e: CallError) -> PosError {
    match e {
        CallError::Plain(m) => PosError::new(pos, m),
        CallError::Failed(m) => PosError::new(pos, format!("error calling {name}: {m}")),
    }
}
