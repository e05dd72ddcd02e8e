'use strict';
// A small Dockerfile reader for the static checks in tests/docker: instructions with their line numbers, flags and
// arguments; stages; .dockerignore matching with Docker's rules; a rough POSIX shell splitter that finds the programs
// a RUN line calls and the packages an apt-get install line names. No dependencies outside node itself.

const fs = require('fs');
const path = require('path');

// ---- Dockerfile ---------------------------------------------------------------------------------------------------

function parseDockerfile(text) {
  const lines = text.split(/\r?\n/);
  let escape = '\\';
  const directives = {};
  // Parser directives: "# key=value" lines at the very top, before any other line (comments included).
  for (const line of lines) {
    const m = /^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!m) break;
    directives[m[1].toLowerCase()] = m[2];
  }
  if (directives.escape) escape = directives.escape;

  const instructions = [];
  let current = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (current === null) {
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      current = { line: i + 1, parts: [] };
    } else if (trimmed.startsWith('#')) {
      continue;  // comment lines inside a continued instruction are dropped by Docker
    } else if (trimmed === '') {
      continue;  // so are empty lines
    }
    let body = raw.replace(/\s+$/, '');
    if (body.endsWith(escape)) {
      current.parts.push(body.slice(0, -escape.length));
      continue;
    }
    current.parts.push(body);
    instructions.push(makeInstruction(current.line, current.parts.join('')));
    current = null;
  }
  if (current !== null) instructions.push(makeInstruction(current.line, current.parts.join('')));
  if (instructions.some((ins) => /<<-?["']?[A-Za-z_]/.test(ins.rest) && ['RUN', 'COPY', 'ADD'].includes(ins.keyword)))
    throw new Error('heredocs are not supported by tests/docker/lib/dockerfile.js');
  return { directives, instructions, stages: splitStages(instructions) };
}

function makeInstruction(line, text) {
  const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(text);
  const keyword = m[1].toUpperCase();
  const rest = m[2].trim();
  const ins = { line, keyword, rest, flags: {}, args: rest, json: null };
  // Flags (--name=value or --name) come first for FROM, COPY, ADD, RUN and HEALTHCHECK.
  if (['FROM', 'COPY', 'ADD', 'RUN', 'HEALTHCHECK'].includes(keyword)) {
    let r = rest;
    for (;;) {
      const f = /^--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?\s*/.exec(r);
      if (!f) break;
      ins.flags[f[1]] = f[2] === undefined ? true : f[2];
      r = r.slice(f[0].length);
    }
    ins.args = r.trim();
  }
  if (/^\[/.test(ins.args)) {
    try {
      const v = JSON.parse(ins.args);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) ins.json = v;
    } catch (_) { /* shell form after all */ }
  }
  if (keyword === 'HEALTHCHECK') {
    const c = /^(CMD|NONE)\b\s*([\s\S]*)$/i.exec(ins.args);
    ins.healthcheck = c ? { kind: c[1].toUpperCase(), command: c[2].trim(), json: null } : null;
    if (ins.healthcheck && /^\[/.test(ins.healthcheck.command)) {
      try { ins.healthcheck.json = JSON.parse(ins.healthcheck.command); } catch (_) { /* shell form */ }
    }
  }
  return ins;
}

function splitStages(instructions) {
  const stages = [];
  let stage = null;
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const w = ins.args.split(/\s+/);
      stage = { index: stages.length, from: ins, image: w[0], name: /^as$/i.test(w[1] || '') ? w[2] : null,
                instructions: [] };
      stages.push(stage);
    } else if (stage) {
      stage.instructions.push(ins);
    }
  }
  return stages;
}

// Words of a shell-form or exec-form COPY/ADD: the last is the destination.
function copyParts(ins) {
  const words = ins.json ? ins.json.slice() : splitWords(ins.args);
  return { sources: words.slice(0, -1), dest: words[words.length - 1] };
}

// Split like the shell does for plain words (quotes removed), without any expansion.
function splitWords(s) {
  return shellTokens(s).filter((t) => t.type === 'word').map((t) => t.value);
}

// ---- A rough POSIX shell tokenizer ----------------------------------------------------------------------------------

const OPERATORS = ['&&', '||', ';;', '$(', ';', '|', '&', '(', ')', '\n', '`', '{', '}'];

function shellTokens(s) {
  const tokens = [];
  let i = 0;
  let word = null;
  const flush = () => {
    if (word !== null) tokens.push({ type: 'word', value: word.value, quoted: word.quoted });
    word = null;
  };
  const add = (ch, quoted) => {
    if (word === null) word = { value: '', quoted: false };
    word.value += ch;
    if (quoted) word.quoted = true;
  };
  while (i < s.length) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '\n') { i += 2; continue; }
    if (c === '\\') { add(s[i + 1] || '', true); i += 2; continue; }
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      const end = j < 0 ? s.length : j;
      add(s.slice(i + 1, end), true);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let v = '';
      while (j < s.length && s[j] !== '"') {
        if (s[j] === '\\' && j + 1 < s.length) { v += s[j + 1]; j += 2; continue; }
        v += s[j++];
      }
      add(v, true);
      i = j + 1;
      continue;
    }
    if (c === '#' && word === null) {  // a comment runs to the end of the line
      const j = s.indexOf('\n', i);
      i = j < 0 ? s.length : j;
      continue;
    }
    if (c === ' ' || c === '\t') { flush(); i++; continue; }
    const op = OPERATORS.find((o) => s.startsWith(o, i));
    // "{" and "}" are operators only as whole words; "$(" always opens a command substitution.
    if (op && !((op === '{' || op === '}') && (word !== null || !/[\s;&|]|$/.test(s[i + 1] || '')))) {
      if (op === '$(') { flush(); tokens.push({ type: 'op', value: op }); i += 2; continue; }
      if (op === '&' && /[<>]/.test(s[i - 1] || '')) { add(op); i++; continue; }
      flush();
      tokens.push({ type: 'op', value: op });
      i += op.length;
      continue;
    }
    if (c === '<' || c === '>') {  // redirections: drop the operator, the target word is not a command
      flush();
      let j = i;
      while (j < s.length && /[<>&0-9]/.test(s[j])) j++;
      tokens.push({ type: 'redir', value: s.slice(i, j) });
      i = j;
      continue;
    }
    add(c, false);
    i++;
  }
  flush();
  return tokens;
}

const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'case', 'esac', '!',
  'time', 'in']);
const BUILTINS = new Set(['cd', 'echo', 'printf', 'test', '[', 'true', 'false', 'set', 'unset', 'export', 'exit',
  'return', 'shift', 'read', 'eval', 'exec', 'command', 'type', 'umask', 'ulimit', 'wait', 'trap', 'alias',
  'unalias', 'getopts', 'hash', 'kill', 'pwd', 'times', 'local', '.', ':', 'break', 'continue', 'readonly']);
// Commands that run the next word as a program.
const WRAPPERS = new Set(['exec', 'command', 'env', 'xargs', 'nice', 'nohup', 'timeout', 'setpriv', 'runuser']);

// Programs a shell command line calls: [{name, line offset ignored}]. Handles ;, &&, ||, |, &, $(...), `...`, (..),
// assignments before a command, redirections, "for x in ...; do", and wrappers like env/xargs/exec.
function shellPrograms(s) {
  const tokens = shellTokens(s);
  const programs = [];
  let atStart = true;
  let skipUntilSeparator = false;  // after "for NAME in ..." / "case WORD in" up to ; or newline
  let afterRedir = false;
  let wrapper = null;
  for (const t of tokens) {
    if (t.type === 'op') {
      if (t.value === ';' || t.value === '\n' || t.value === '&&' || t.value === '||' || t.value === '|' ||
          t.value === '&' || t.value === '(' || t.value === '$(' || t.value === '`' || t.value === '{' ||
          t.value === '}' || t.value === ')' || t.value === ';;') {
        atStart = true;
        if (t.value !== ')') skipUntilSeparator = false;
        wrapper = null;
      }
      continue;
    }
    if (t.type === 'redir') { afterRedir = true; continue; }
    if (afterRedir) { afterRedir = false; continue; }
    if (skipUntilSeparator) continue;
    if (!atStart) {
      if (wrapper) {
        // env FOO=bar prog / xargs -0 prog / timeout 5 prog: skip options, assignments and numbers.
        if (/^-/.test(t.value) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(t.value) ||
            (wrapper === 'timeout' && /^[0-9.]+[smhd]?$/.test(t.value))) continue;
        programs.push(t.value);
        wrapper = WRAPPERS.has(t.value) ? t.value : null;
      }
      continue;
    }
    const v = t.value;
    if (!t.quoted && /^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) continue;  // assignment prefix
    if (!t.quoted && (v === 'for' || v === 'case')) { skipUntilSeparator = true; continue; }
    if (!t.quoted && KEYWORDS.has(v)) continue;
    atStart = false;
    programs.push(v);
    if (WRAPPERS.has(v)) wrapper = v;
  }
  return programs;
}

// Simple commands (word lists) of a shell line, split at ; && || | & and newlines.
function simpleCommands(s) {
  const out = [];
  let cur = [];
  let afterRedir = false;
  for (const t of shellTokens(s)) {
    if (t.type === 'op') {
      if (cur.length) out.push(cur);
      cur = [];
      continue;
    }
    if (t.type === 'redir') { afterRedir = true; continue; }
    if (afterRedir) { afterRedir = false; continue; }
    cur.push(t.value);
  }
  if (cur.length) out.push(cur);
  return out;
}

// Package names of every "apt-get install" / "apt install" in a shell line.
function aptInstalls(s) {
  const found = [];
  for (const words of simpleCommands(s)) {
    let w = words.slice();
    while (w.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(w[0])) w.shift();
    if (!w.length || !/^(\/usr\/bin\/)?apt(-get)?$/.test(w[0])) continue;
    const opts = [];
    const names = [];
    let sub = null;
    for (let i = 1; i < w.length; i++) {
      const a = w[i];
      if (a === '-o' || a === '-t' || a === '-c') { opts.push(a, w[++i]); continue; }
      if (a.startsWith('-')) { opts.push(a); continue; }
      if (sub === null) { sub = a; continue; }
      names.push(a);
    }
    if (sub === 'install') {
      found.push({ options: opts, packages: names.map((n) => n.replace(/[=/].*$/, '')) });
    }
  }
  return found;
}

// ---- .dockerignore --------------------------------------------------------------------------------------------------

// Docker's rules (moby/patternmatcher): one pattern a line, '#' comments, leading and trailing white space trimmed,
// paths cleaned and taken relative to the context root, '!' re-includes, the last matching pattern wins, and a
// pattern that matches a parent directory of a path matches the path too. '*' and '?' do not cross '/', '**' does.
function readDockerignore(contextDir) {
  const file = path.join(contextDir, '.dockerignore');
  if (!fs.existsSync(file)) return [];
  const patterns = [];
  for (let line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (line.startsWith('#')) continue;
    line = line.trim();
    if (!line) continue;
    let exclusion = false;
    if (line.startsWith('!')) { exclusion = true; line = line.slice(1).trim(); }
    line = path.posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (line === '' || line === '.') continue;
    patterns.push({ text: line, exclusion, re: patternRegExp(line) });
  }
  return patterns;
}

function patternRegExp(p) {
  let re = '^';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*') {
      if (p[i + 1] === '*') {
        i++;
        while (p[i + 1] === '/' && p[i + 2] === '*' && p[i + 3] === '*') i += 3;  // **/**/ = **/
        if (i + 1 >= p.length) re += '.*';
        else if (p[i + 1] === '/') { re += '(.*/)?'; i++; }
        else re += '.*';
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const j = p.indexOf(']', i + 1);
      if (j < 0) { re += '\\['; continue; }
      let cls = p.slice(i + 1, j);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += '[' + cls.replace(/\\/g, '\\\\') + ']';
      i = j;
    } else if (c === '\\' && i + 1 < p.length) {
      re += '\\' + p[++i];
    } else {
      re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
    }
  }
  return new RegExp(re + '$');
}

// true when the context path (posix, relative to the context root) is excluded from the build context.
function isIgnored(patterns, rel) {
  rel = path.posix.normalize(rel).replace(/^\.?\/+/, '').replace(/\/+$/, '');
  const parents = [];
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join('/'));
  let matched = false;
  for (const p of patterns) {
    if (p.exclusion === matched) {
      // As moby: an include pattern matters only while unmatched, a '!' pattern only while matched.
      if (p.re.test(rel) || parents.some((d) => p.re.test(d))) matched = !p.exclusion;
    }
  }
  return matched;
}

// Every file under root (relative posix paths); skipDir(rel) may prune directories.
function walk(root, rel = '', skipDir = null) {
  const out = [];
  const abs = path.join(root, rel);
  for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
    const r = rel ? rel + '/' + e.name : e.name;
    if (e.isDirectory()) { if (!skipDir || !skipDir(r)) out.push(...walk(root, r, skipDir)); }
    else out.push(r);
  }
  return out;
}

// A pruning test for walk(): a directory whose contents .dockerignore excludes wholesale (no '!' pattern could
// bring back anything below it).
function ignoredDir(patterns, prefix = '') {
  return (rel) => {
    const full = prefix ? prefix + '/' + rel : rel;
    return isIgnored(patterns, full) &&
      !patterns.some((p) => p.exclusion && (p.text.startsWith(full + '/') || /^[*?[]/.test(p.text)));
  };
}

module.exports = {
  parseDockerfile, copyParts, splitWords, shellTokens, shellPrograms, simpleCommands, aptInstalls,
  readDockerignore, isIgnored, patternRegExp, walk, ignoredDir, BUILTINS, KEYWORDS,
};
