//! Jsonnet through the embedded jrsonnet evaluator: no external binary, `--ext-str`/`--ext-code`,
//! imports relative to the importing file, and cortado's template functions as native functions
//! (`std.native('must_env')('FOO')`), so Jsonnet users get typed values without template tricks.

use std::path::Path;

use anyhow::Result;
use jrsonnet_evaluator::function::builtin::Builtin;
use jrsonnet_evaluator::function::{CallLocation, FuncVal};
use jrsonnet_evaluator::manifest::JsonFormat;
use jrsonnet_evaluator::trace::{CompactFormat, PathResolver, TraceFormat};
use jrsonnet_evaluator::{FileImportResolver, State, Thunk, Val};
use jrsonnet_gcmodule::Trace;
use jrsonnet_ir::function::{FunctionSignature, ParamDefault, ParamName, ParamParse};

use crate::error::InputError;
use crate::functions::{Registry, TypedFunc};
use crate::template::{Func, Value as TValue};

/// External variables from the command line.
#[derive(Debug, Clone, Default)]
pub struct JsonnetOptions {
    pub ext_str: Vec<(String, String)>,
    pub ext_code: Vec<(String, String)>,
}

/// Evaluates a Jsonnet (or JSON) file to a JSON value. The registry's functions become natives.
pub fn evaluate_file(path: &Path, opts: &JsonnetOptions, natives: &Registry) -> Result<serde_json::Value> {
    let abs = std::path::absolute(path).map_err(|e| InputError::in_file(path, e))?;
    if !abs.is_file() {
        return Err(InputError::in_file(path, "file not found").into());
    }
    let resolver = PathResolver::new_cwd_fallback();
    let ctx = jrsonnet_stdlib::ContextInitializer::new(resolver.clone());
    for (k, v) in &opts.ext_str {
        ctx.add_ext_str(k.as_str().into(), v.as_str().into());
    }
    for (k, code) in &opts.ext_code {
        ctx.add_ext_code(k, code).map_err(|e| InputError::new(format!("--ext-code {k}: {}", e.error())))?;
    }
    for spec in natives.natives() {
        ctx.add_native(
            spec.name.as_str(),
            FuncVal::builtin(Native {
                name: spec.name.clone(),
                required: spec.required,
                optional: spec.optional,
                func: spec.func.clone(),
                typed: spec.typed.clone(),
            }),
        );
    }
    let mut builder = State::builder();
    builder.import_resolver(FileImportResolver::default()).context_initializer(ctx);
    let state = builder.build();
    let _guard = state.enter();
    let format = CompactFormat { resolver, max_trace: 20, padding: 4 };
    let describe = |e: &jrsonnet_evaluator::Error| -> anyhow::Error {
        let text = format.format(e).unwrap_or_else(|_| e.error().to_string());
        InputError(format!("{}: jsonnet: {}", path.display(), text.trim_end())).into()
    };
    let val = state.import(abs.as_path()).map_err(|e| describe(&e))?;
    let json = val.manifest(JsonFormat::minify()).map_err(|e| describe(&e))?;
    serde_json::from_str(&json).map_err(|e| InputError::in_file(path, format!("jsonnet produced invalid JSON: {e}")).into())
}

/// A template function exposed to Jsonnet. Strings, numbers and booleans go in; the result comes back
/// as a string (or number/bool when the function returns one). A function with a typed form gets
/// and returns JSON values instead, so `tfstate` gives a number for a number and `env` a `null`
/// default back unchanged.
#[derive(Trace)]
struct Native {
    #[trace(skip)]
    name: String,
    #[trace(skip)]
    required: usize,
    #[trace(skip)]
    optional: usize,
    #[trace(skip)]
    func: Func,
    #[trace(skip)]
    typed: Option<TypedFunc>,
}

impl Builtin for Native {
    fn name(&self) -> &str {
        &self.name
    }

    fn params(&self) -> FunctionSignature {
        let params: Vec<ParamParse> = (0..self.required + self.optional)
            .map(|i| {
                let default = if i < self.required { ParamDefault::None } else { ParamDefault::Exists };
                ParamParse::new(ParamName::Named(format!("arg{i}").as_str().into()), default)
            })
            .collect();
        FunctionSignature::new(params.into())
    }

    fn call(&self, _loc: CallLocation<'_>, args: &[Option<Thunk<Val>>]) -> jrsonnet_evaluator::Result<Val> {
        if let Some(typed) = &self.typed {
            return self.call_typed(typed, args);
        }
        let mut values = Vec::with_capacity(args.len());
        for arg in args.iter().flatten() {
            let v = arg.evaluate()?;
            values.push(match v {
                Val::Str(s) => TValue::String(s.into_flat().to_string()),
                Val::Num(n) => {
                    let f = n.get();
                    if f.fract() == 0.0 && f.abs() < 9.0e15 { TValue::Int(f as i64) } else { TValue::Float(f) }
                }
                Val::Bool(b) => TValue::Bool(b),
                Val::Null => TValue::Nil,
                _ => {
                    return Err(jrsonnet_evaluator::error::ErrorKind::RuntimeError(
                        format!("{}: arguments must be strings, numbers or booleans", self.name).into(),
                    )
                    .into());
                }
            });
        }
        match (self.func)(&values) {
            Ok(TValue::Bool(b)) => Ok(Val::Bool(b)),
            Ok(TValue::Int(i)) => Ok(Val::Num(num(i as f64))),
            Ok(TValue::Float(f)) => Ok(Val::Num(num(f))),
            Ok(TValue::Nil) => Ok(Val::Null),
            Ok(other) => Ok(Val::string(other.to_string())),
            Err(msg) => Err(jrsonnet_evaluator::error::ErrorKind::RuntimeError(format!("{}: {msg}", self.name).into()).into()),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Native {
    fn call_typed(&self, typed: &TypedFunc, args: &[Option<Thunk<Val>>]) -> jrsonnet_evaluator::Result<Val> {
        let fail =
            |msg: String| -> jrsonnet_evaluator::Error { jrsonnet_evaluator::error::ErrorKind::RuntimeError(format!("{}: {msg}", self.name).into()).into() };
        let mut values = Vec::with_capacity(args.len());
        for arg in args.iter().flatten() {
            let v = arg.evaluate()?;
            values.push(serde_json::to_value(&v).map_err(|e| fail(e.to_string()))?);
        }
        let out = typed(&values).map_err(fail)?;
        serde_json::from_value::<Val>(out).map_err(|e| fail(e.to_string()))
    }
}

fn num(f: f64) -> jrsonnet_evaluator::NumValue {
    jrsonnet_evaluator::NumValue::new(f).or_else(|| jrsonnet_evaluator::NumValue::new(0.0)).expect("0 is finite")
}
