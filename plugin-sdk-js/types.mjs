// Generates the TypeScript declarations of the WIT contract (plugin-sdk-js/types/) with the pinned
// jco bindgen (guest side: what a plugin imports and exports). Called by types.sh.
// `jco guest-types` itself cannot read a WIT path here (its WASI shim sees no file system), so the
// WIT text is handed to the same bindgen component as a source string.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
// Run through a link inside the toolchain directory (see types.sh), so this resolves there (the
// package does not export the path, hence the file URL).
const bindgen = new URL("./node_modules/@bytecodealliance/jco-transpile/vendor/js-component-bindgen-component.js", import.meta.url);
const { $init, generateTypes } = await import(bindgen);

const [wit, out] = process.argv.slice(2);
await $init;
const files = generateTypes("plugin", {
  wit: { tag: "source", val: await readFile(wit, "utf8") },
  world: "plugin",
  guest: true,
  tlaCompat: false,
  features: { tag: "list", val: [] },
});
await rm(out, { recursive: true, force: true });
for (const [name, data] of files) {
  const path = join(out, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}
