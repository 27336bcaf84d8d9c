#!/usr/bin/env node
// Builds ensdef's optional native addon (oneDNN kernels) with node-gyp, offline.
//
//   node native/build.mjs             npm's install step: never fails the install; says in one line why
//                                     the addon was not built, and ensdef then runs on wasm
//   node native/build.mjs --required  `npm run build:native`: exits non-zero if the build fails
//
// It needs oneDNN 2.x headers and library (Debian/Ubuntu: apt-get install libdnnl-dev), a C++17 compiler
// and make. node-gyp is the copy bundled with npm, pointed at the headers of the running Node (--nodedir):
// it must never try to download them. ENSDEF_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const required = process.argv.includes('--required');
const logFile = join(here, 'build-log.txt');

function finish(ok, message) {
  if (ok) {
    console.log(`ensdef: native oneDNN kernels built (${message})`);
    process.exit(0);
  }
  const hint = 'apt-get install libdnnl-dev g++ make, then npm run build:native';
  console.log(`ensdef: native oneDNN kernels not built: ${message}; ensdef runs on wasm (for the faster CPU path: ${hint})`);
  process.exit(required ? 1 : 0);
}

if (process.env.ENSDEF_SKIP_NATIVE) finish(false, 'ENSDEF_SKIP_NATIVE is set');

const cxx = process.env.CXX || 'g++';
const probe = spawnSync(cxx, ['-x', 'c++', '-std=c++17', '-E', '-o', '/dev/null', '-'], { input: '#include <oneapi/dnnl/dnnl.hpp>\n', encoding: 'utf8' });
if (probe.error?.code === 'ENOENT') finish(false, `no C++ compiler (${cxx} not found)`);
if (probe.status !== 0) finish(false, `oneDNN headers not found by ${cxx} (oneapi/dnnl/dnnl.hpp)`);

// The running Node's headers: Debian installs them under /usr/include/node, official builds under <prefix>/include/node.
const prefixes = [resolve(dirname(process.execPath), '..'), '/usr', '/usr/local'];
const nodedir = prefixes.find((p) => existsSync(join(p, 'include', 'node', 'node_api.h')));
if (!nodedir) finish(false, "Node's C headers not found (include/node/node_api.h); on Debian: apt-get install libnode-dev");

const candidates = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  '/usr/share/nodejs/npm/node_modules/node-gyp/bin/node-gyp.js',
];
const nodeGyp = candidates.find((p) => p && existsSync(p));
if (!nodeGyp) finish(false, 'node-gyp not found (it ships with npm)');

const build = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: here, encoding: 'utf8', env: { ...process.env, npm_config_nodedir: nodedir } });
writeFileSync(logFile, `${build.stdout ?? ''}\n${build.stderr ?? ''}`);
if (build.status !== 0) {
  const firstError = `${build.stdout}\n${build.stderr}`.split('\n').find((l) => /error|cannot find|undefined reference/i.test(l) && !l.startsWith('gyp ERR! stack'));
  finish(false, `the compile failed (${(firstError ?? 'see the log').trim().slice(0, 160)}; full log in native/build-log.txt)`);
}

// A library that links but does not load (e.g. a missing libdnnl.so at run time) is no build either.
const check = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(join(here, 'build', 'Release', 'ensdef_dnnl.node'))}); console.log(a.version())`], { encoding: 'utf8' });
if (check.status !== 0) finish(false, `the built addon does not load (${(check.stderr.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 160)})`);
finish(true, `oneDNN ${check.stdout.trim()}, native/build/Release/ensdef_dnnl.node`);
