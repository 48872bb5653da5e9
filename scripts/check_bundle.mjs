#!/usr/bin/env node
// Checks the editor bundle's dependency rules (run by `npm run build`, or `npm run check`):
//   * exactly one copy of `yjs` and of `@codemirror/state` installed (`npm ls`) and bundled
//     (esbuild metafile static/dist/editor.meta.json);
//   * no `@y/*` package anywhere (Yjs 14 pre-releases);
//   * `codemirror` is 6.0.2 (a stray CodeMirror 5 build is published as 6.65.7);
//   * package.json pins every dependency exactly (no ranges).
// Exits 1 with a list of problems, 0 with a short summary.
import { execFileSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const metaPath = path.join(root, "static/dist/editor.meta.json");
const SINGLE = ["yjs", "@codemirror/state"];
const problems = [];
const notes = [];

// 1. package.json pins.
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
for (const [name, spec] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
  if (!/^\d+\.\d+\.\d+$/.test(spec)) problems.push(`package.json: ${name} is "${spec}", not an exact version`);
  if (name.startsWith("@y/")) problems.push(`package.json: ${name} must not be used (@y/* are Yjs 14 pre-releases)`);
}

// 2. Installed tree (npm ls).
let tree;
try {
  tree = JSON.parse(execFileSync("npm", ["ls", "--all", "--json", "--long"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
} catch (err) {
  // npm ls exits non-zero on problems (e.g. invalid/extraneous) but still prints JSON.
  tree = JSON.parse(err.stdout || "{}");
  problems.push(`npm ls reported problems: ${(err.stderr || "").trim().split("\n")[0] || "exit " + err.status}`);
}
const installed = new Map(); // name -> Set(version)
const installPaths = new Map(); // name -> Set(path on disk)
(function walk(node) {
  for (const [name, dep] of Object.entries(node.dependencies || {})) {
    if (!installed.has(name)) { installed.set(name, new Set()); installPaths.set(name, new Set()); }
    if (dep.version) installed.get(name).add(dep.version);
    if (dep.path) installPaths.get(name).add(dep.path);
    walk(dep);
  }
})(tree);
for (const name of SINGLE) {
  const versions = [...(installed.get(name) || [])];
  const paths = [...(installPaths.get(name) || [])];
  if (versions.length !== 1) problems.push(`npm ls: ${name} has ${versions.length} versions installed: ${versions.join(", ") || "none"}`);
  else if (paths.length > 1) problems.push(`npm ls: ${name}@${versions[0]} is installed ${paths.length} times: ${paths.join(", ")}`);
  else notes.push(`npm ls: ${name}@${versions[0]} (one copy)`);
}
for (const name of installed.keys()) {
  if (name.startsWith("@y/")) problems.push(`npm ls: ${name} is installed (no @y/* packages allowed)`);
}
const cm = [...(installed.get("codemirror") || [])];
if (cm.length !== 1 || cm[0] !== "6.0.2") problems.push(`codemirror must be exactly 6.0.2, found: ${cm.join(", ") || "none"}`);

// 3. What went into the bundle (esbuild metafile).
if (!existsSync(metaPath)) {
  problems.push(`${path.relative(root, metaPath)} not found: run \`npm run build\` first`);
} else {
  const meta = JSON.parse(readFileSync(metaPath, "utf8"));
  const pkgDirOf = (input) => {
    const m = input.match(/^(.*node_modules\/(@[^/]+\/[^/]+|[^@/][^/]*))\//);
    return m ? { dir: m[1], name: m[2] } : null;
  };
  const bundled = new Map(); // name -> Set(dir)
  for (const input of Object.keys(meta.inputs)) {
    const p = pkgDirOf(input);
    if (!p) continue;
    if (!bundled.has(p.name)) bundled.set(p.name, new Set());
    bundled.get(p.name).add(p.dir);
  }
  for (const name of SINGLE) {
    const dirs = [...(bundled.get(name) || [])];
    if (dirs.length !== 1) problems.push(`bundle: ${name} comes from ${dirs.length} places: ${dirs.join(", ") || "none"}`);
    else {
      const version = JSON.parse(readFileSync(path.join(root, dirs[0], "package.json"), "utf8")).version;
      notes.push(`bundle: ${name}@${version} from ${dirs[0]}`);
    }
  }
  for (const name of bundled.keys()) {
    if (name.startsWith("@y/")) problems.push(`bundle: contains ${name}`);
  }
  const out = meta.outputs["static/dist/editor.js"];
  if (out) notes.push(`bundle: static/dist/editor.js ${(out.bytes / 1024).toFixed(1)} KiB minified, ${bundled.size} packages`);
}

if (problems.length) {
  console.error("check_bundle: FAILED");
  for (const p of problems) console.error("  - " + p);
  process.exit(1);
}
console.log("check_bundle: OK");
for (const n of notes) console.log("  " + n);
