//! The one plugin value per instance, and the checks made before a call reaches it.

use std::cell::RefCell;

use crate::{Check, Decision, Manifest, Plan, Plugin};

pub(crate) struct Runtime {
    plugin: Box<dyn Plugin>,
    manifest: Manifest,
}

impl Runtime {
    pub(crate) fn new<P: Plugin>() -> Self {
        let plugin = P::new();
        let manifest = plugin.manifest();
        Runtime { plugin: Box::new(plugin), manifest }
    }

    pub(crate) fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub(crate) fn call(&mut self, function: &str, args: &[String]) -> Result<String, String> {
        check_call(&self.manifest, function, args.len())?;
        self.plugin.call(function, args)
    }

    pub(crate) fn verify(&mut self, task_definition: &str, service_definition: Option<&str>) -> Vec<Check> {
        self.plugin.verify(task_definition, service_definition)
    }

    pub(crate) fn evaluate(&mut self, plan: &Plan) -> Decision {
        self.plugin.evaluate(plan)
    }
}

/// The function must be declared and `n` within its bounds. The texts follow ecspresso's
/// (`ssm template function accepts at most 2 parameters, but got 3`). `NAME#FORM` is a declared
/// function asked for another form of its result (the host calls `tfstate#json` for Jsonnet), so it
/// is checked as `NAME`; the plugin's `call` sees the full name.
pub(crate) fn check_call(manifest: &Manifest, function: &str, n: usize) -> Result<(), String> {
    let declared = function.split_once('#').map_or(function, |(name, _)| name);
    let Some(spec) = manifest.find_function(declared) else {
        return Err(format!("function {function} is not provided by this plugin"));
    };
    if n < spec.min_args as usize {
        return Err(format!("{function} template function requires at least {} parameters, but got {n}", spec.min_args));
    }
    if n > spec.max_args as usize {
        return Err(format!("{function} template function accepts at most {} parameters, but got {n}", spec.max_args));
    }
    Ok(())
}

thread_local! {
    static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
}

/// Runs `f` on the instance's runtime, creating the plugin on first use. Exports never re-enter
/// (the component model forbids it), so the borrow cannot conflict.
pub(crate) fn with<P: Plugin, R>(f: impl FnOnce(&mut Runtime) -> R) -> R {
    RUNTIME.with(|cell| {
        let mut slot = cell.borrow_mut();
        let rt = slot.get_or_insert_with(|| {
            install_panic_hook();
            Runtime::new::<P>()
        });
        f(rt)
    })
}

/// A panic aborts the instance (a trap); before that, hand the message to the host's log so the
/// operator sees more than "unreachable". The default hook still writes to stderr afterwards.
fn install_panic_hook() {
    #[cfg(target_arch = "wasm32")]
    {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            crate::sys::log(crate::Level::Error, &format!("plugin panicked: {info}"));
            previous(info);
        }));
    }
}
