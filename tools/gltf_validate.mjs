// Khronos glTF-Validator over GLB/glTF files: one JSON line per file, for tests and CI.
//
// usage: node tools/gltf_validate.mjs FILE.glb [FILE ...]
//
// Each line: {"file", "errors", "warnings", "messages": ["CODE pointer message", ...]}
// (the first 20 errors). Exit 0 when no file has an error, 1 when one has, 2 when the
// npm package `gltf-validator` cannot be found. The package is looked up in
// $GLTF_VALIDATOR_DIR, then in .ci/node/ of this repository (where .ci/run installs it:
// npm install --prefix .ci/node gltf-validator). External resources are never read: a
// file that refers outside itself is reported as an error.
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';
import { fileURLToPath } from 'url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dirs = [process.env.GLTF_VALIDATOR_DIR, path.join(here, '..', '.ci', 'node')].filter(Boolean);
let validator = null;
for (const dir of dirs) {
  try {
    validator = createRequire(path.join(path.resolve(dir), 'noop.js'))('gltf-validator');
    break;
  } catch (e) { /* try the next place */ }
}
if (validator === null) {
  console.error(`gltf-validator not found in ${dirs.join(', ')} (npm install --prefix .ci/node gltf-validator)`);
  process.exit(2);
}
let bad = 0;
for (const file of process.argv.slice(2)) {
  const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {
    uri: path.basename(file),
    maxIssues: 0,
    externalResourceFunction: (uri) => Promise.reject(new Error(`external resource ${uri}`)),
  });
  const issues = report.issues;
  if (issues.numErrors) bad++;
  const messages = issues.messages.filter((m) => m.severity === 0).slice(0, 20)
    .map((m) => `${m.code} ${m.pointer || ''} ${m.message}`);
  console.log(JSON.stringify({ file, errors: issues.numErrors, warnings: issues.numWarnings, messages }));
}
process.exit(bad ? 1 : 0);
