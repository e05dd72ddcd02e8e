'use strict';
// What a debian:bookworm-slim image contains, derived from this Debian 12 machine's dpkg database: the image is a
// debootstrap "minbase" system, i.e. the packages of Priority "required" and everything they depend on. We take those
// packages as installed here (the same Debian release), and their programs from `dpkg-query -L`.
// On a machine that is not Debian 12, or without dpkg, a short built-in list of programs is used instead.

const fs = require('fs');
const { execFileSync, spawnSync } = require('child_process');

const BIN_DIRS = ['/bin', '/usr/bin', '/sbin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin'];

// Programs certainly in debian:bookworm-slim (coreutils, dash, bash, apt, dpkg, passwd, login, util-linux, ...).
const FALLBACK_PROGRAMS = `sh dash bash apt apt-get apt-cache apt-config apt-mark dpkg dpkg-query dpkg-deb cat chmod
chown chgrp cp date dd df dirname basename echo env false head id install ln ls mkdir mktemp mv nproc printf pwd
readlink realpath rm rmdir sleep sort stat tail tee test touch tr true uname wc yes sed grep egrep fgrep find xargs tar
gzip gunzip zcat useradd userdel usermod groupadd groupdel groupmod chpasswd passwd su login mount umount getent
ldconfig hostname which run-parts tempfile update-alternatives mawk awk diff cmp perl`.split(/\s+/);

function isDebian12() {
  try {
    const t = fs.readFileSync('/etc/os-release', 'utf8');
    return /^ID=debian$/m.test(t) && /^VERSION_ID="?12"?$/m.test(t);
  } catch (_) {
    return false;
  }
}

function haveDpkg() {
  return spawnSync('dpkg-query', ['--version'], { stdio: 'ignore' }).status === 0;
}

// name -> {priority, deps: [[alternatives]], provides: []}
function installedPackages() {
  const out = execFileSync('dpkg-query',
    ['-W', '-f', '${Package}\t${db:Status-Status}\t${Priority}\t${Pre-Depends}\t${Depends}\t${Provides}\n'],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  const pkgs = new Map();
  const parseList = (s) => s.split(',').map((g) => g.trim()).filter(Boolean)
    .map((g) => g.split('|').map((a) => a.trim().replace(/\s*\(.*\)$/, '').replace(/:any$/, '')));
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [name, status, priority, pre, deps, provides] = line.split('\t');
    if (status !== 'installed') continue;
    pkgs.set(name, {
      priority,
      deps: parseList(pre || '').concat(parseList(deps || '')),
      provides: parseList(provides || '').map((g) => g[0]),
    });
  }
  return pkgs;
}

// The minbase set: Priority required plus the closure of their Depends/Pre-Depends (alternatives as installed here).
function slimBasePackages(pkgs) {
  const providers = new Map();
  for (const [name, p] of pkgs) {
    for (const v of p.provides) {
      if (!providers.has(v)) providers.set(v, []);
      providers.get(v).push(name);
    }
  }
  const base = new Set();
  const queue = [];
  for (const [name, p] of pkgs) if (p.priority === 'required') queue.push(name);
  while (queue.length) {
    const n = queue.pop();
    if (base.has(n) || !pkgs.has(n)) continue;
    base.add(n);
    for (const group of pkgs.get(n).deps) {
      // First alternative that is installed here (as a package or through Provides), as apt would have chosen.
      for (const alt of group) {
        if (pkgs.has(alt)) { queue.push(alt); break; }
        if (providers.has(alt)) { queue.push(...providers.get(alt)); break; }
      }
    }
  }
  return base;
}

// Map program name -> full path, for the programs the given installed packages ship in the usual bin directories.
function programsOf(names) {
  const programs = new Map();
  const list = [...names];
  if (!list.length) return programs;
  const r = spawnSync('dpkg-query', ['-L', ...list], { encoding: 'utf8', maxBuffer: 64 << 20 });
  for (const file of (r.stdout || '').split('\n')) {
    const slash = file.lastIndexOf('/');
    if (slash <= 0) continue;
    const dir = file.slice(0, slash);
    if (!BIN_DIRS.includes(dir)) continue;
    const name = file.slice(slash + 1);
    if (!programs.has(name)) programs.set(name, file);
  }
  return programs;
}

// Everything in one object: {source, packages:Set|null, programs:Map, note}
function slimImage() {
  if (isDebian12() && haveDpkg()) {
    const pkgs = installedPackages();
    const packages = slimBasePackages(pkgs);
    return { source: 'dpkg', packages, installed: pkgs, programs: programsOf(packages),
             note: `debian:bookworm-slim taken as ${packages.size} packages (Priority required + dependencies) from this machine's dpkg database` };
  }
  const programs = new Map(FALLBACK_PROGRAMS.map((p) => [p, '/usr/bin/' + p]));
  return { source: 'builtin', packages: null, installed: new Map(), programs,
           note: 'not a Debian 12 machine with dpkg: using a built-in list of debian:bookworm-slim programs' };
}

// apt lists present (after apt-get update)?
function haveAptLists() {
  try {
    return fs.readdirSync('/var/lib/apt/lists').some((f) => /_Packages(\.(lz4|gz|xz|zst))?$/.test(f));
  } catch (_) {
    return false;
  }
}

// The subset of names that `apt-cache show` knows as real (not purely virtual) packages; one call for all of them.
function aptKnown(names) {
  const r = spawnSync('apt-cache', ['show', '--no-all-versions', ...names], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const known = new Set();
  for (const m of (r.stdout || '').matchAll(/^Package: (\S+)$/gm)) known.add(m[1]);
  return known;
}

module.exports = { slimImage, programsOf, haveAptLists, aptKnown, isDebian12, BIN_DIRS };
