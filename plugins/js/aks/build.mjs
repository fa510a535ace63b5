//! Builds the `aks` component with componentize-js (StarlingMonkey) against the repository's WIT.
//!
//! Usage: node build.mjs OUT.wasm
//! The component imports no WASI beyond stdio (for error messages): random numbers and clocks
//! are disabled in the engine, and the operator denies the rest anyway.

import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { componentize } from '@bytecodealliance/componentize-js';
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';

const here = dirname(fileURLToPath(import.meta.url));
const repository = resolve(here, '../../..');
// componentize-js reads the WIT through WASI in Node.js; preview2-shim 0.26 preopens nothing
// by default, so grant it the repository (the WIT and the sources), read by absolute path.
_setPreopens({ [repository]: repository });
const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUT.wasm');
  process.exit(2);
}

const { component } = await componentize({
  sourcePath: resolve(here, 'src/aks.js'),
  witPath: resolve(repository, 'wit'),
  worldName: 'scheduling-provider',
  disableFeatures: ['random', 'clocks', 'http', 'fetch-event'],
});
await mkdir(dirname(resolve(out)), { recursive: true });
// Write then rename, so that an interrupted build never leaves a truncated component behind.
const partial = `${resolve(out)}.partial`;
await writeFile(partial, component);
await rename(partial, resolve(out));
console.log(`built ${out} (${component.byteLength} bytes)`);
