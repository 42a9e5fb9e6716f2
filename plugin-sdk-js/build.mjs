// Builds a JavaScript cortado plugin into a component (called by build.sh, which finds the pinned
// toolchain): rolldown bundles the entry with this SDK (`cortado-plugin`), leaving the WIT imports
// (`cortado:plugin/...`) to componentize-js, which binds wit/plugin.wit. WASI HTTP is disabled: the
// host links none, and plugins reach AWS only through the broker.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
// Run through a link inside the toolchain directory (see build.sh), so these resolve there.
import { rolldown } from "rolldown";
import { componentize } from "@bytecodealliance/componentize-js";

const [entry, out, sdk, wit] = process.argv.slice(2);

const work = await mkdtemp(join(tmpdir(), "cortado-js-"));
try {
  const bundled = join(work, "plugin.js");
  const bundle = await rolldown({
    input: resolve(entry),
    external: [/^cortado:/, /^wasi:/],
    resolve: { alias: { "cortado-plugin": join(sdk, "src/index.js") } },
    // TypeScript entries are stripped of their types; a tsconfig's `paths` (which may map
    // `cortado-plugin` to its declarations, as plugin-sdk-js/tsconfig.json does) must not redirect
    // the SDK away from its code.
    tsconfig: false,
    logLevel: "warn",
  });
  await bundle.write({ file: bundled, format: "esm" });
  const { component } = await componentize({
    sourcePath: bundled,
    witPath: resolve(wit),
    worldName: "plugin",
    disableFeatures: ["http", "fetch-event"],
  });
  await writeFile(out, component);
} finally {
  await rm(work, { recursive: true, force: true });
}
