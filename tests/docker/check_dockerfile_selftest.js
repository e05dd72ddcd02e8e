#!/usr/bin/env node
'use strict';
// Proves that check_dockerfile.js catches what it is meant to: each case breaks the real Dockerfile in one way
// (a text edit, which must apply) and expects a matching failure. The unbroken Dockerfile must pass.
// Usage: node check_dockerfile_selftest.js [REPO_ROOT]

const fs = require('fs');
const path = require('path');
const { checkDockerfile } = require('./check_dockerfile');

const root = path.resolve(process.argv[2] || path.join(__dirname, '..', '..'));
const original = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');

// [name, from (string or RegExp), to, expected failure (RegExp)]
const cases = [
  ['no USER', /^USER .*\n/m, '', /has no USER/],
  ['USER root', /^USER .*$/m, 'USER root', /is root or unknown/],
  ['USER 0:0', /^USER .*$/m, 'USER 0:0', /is root or unknown/],
  ['COPY of a missing file', 'COPY CMakeLists.txt ./', 'COPY CMakeLists.txt no-such-file.txt ./', /no-such-file\.txt does not exist/],
  ['COPY of a file .dockerignore excludes', 'COPY CMakeLists.txt ./', 'COPY README.md ./', /README\.md is excluded by \.dockerignore/],
  ['COPY from outside the context', 'COPY CMakeLists.txt ./', 'COPY ../secrets ./', /outside the build context/],
  ['ADD instead of COPY', 'COPY src/ src/', 'ADD src/ src/', /use COPY, not ADD/],
  ['COPY --from a path the stage does not make', '/out/hcrelay /out/hcbridge-entrypoint', '/out/hcrelay /out/nothing /out/hcbridge-entrypoint', /produces \/out\/nothing/],
  ['runtime RUN uses curl', /(\n\s+&& mkdir -p \/etc\/hcbridge)/, '$1 \\\n    && curl -fsS https://example.invalid/x', /calls curl, which a debian:bookworm-slim image does not have/],
  ['runtime RUN uses a program of an uninstalled package', /(\n\s+&& mkdir -p \/etc\/hcbridge)/, '$1 \\\n    && cmake --version', /calls cmake/],
  ['runtime package that does not exist', 'libspdlog1.10 libfmt9', 'libspdlog1.11 libfmt9', /libspdlog1\.11 is not a Debian 12 package/],
  ['HEALTHCHECK with curl', /CMD \["hcbridge", "healthcheck", "--timeout", "3"\]/, 'CMD ["curl", "-f", "http://127.0.0.1:9090/healthz"]', /does not run `hcbridge healthcheck`/],
  ['HEALTHCHECK NONE', /^HEALTHCHECK [\s\S]*?\]\n/m, 'HEALTHCHECK NONE\n', /HEALTHCHECK CMD \(not NONE\)/],
  ['no HEALTHCHECK', /^HEALTHCHECK [\s\S]*?\]\n/m, '', /has 0 HEALTHCHECKs/],
  ['ENTRYPOINT not copied in', 'ENTRYPOINT ["/usr/local/bin/hcbridge-entrypoint"]', 'ENTRYPOINT ["/usr/local/bin/not-there"]', /not-there is not copied into the image/],
  ['no ENTRYPOINT, empty CMD', /^ENTRYPOINT .*\n/m, '', /CMD is empty and there is no ENTRYPOINT/],
  ['ENTRYPOINT in shell form', 'ENTRYPOINT ["/usr/local/bin/hcbridge-entrypoint"]', 'ENTRYPOINT /usr/local/bin/hcbridge-entrypoint', /uses the exec form/],
  ['hcbridge not copied onto PATH', '/out/hcbridge /out/hcrelay /out/hcbridge-entrypoint /usr/local/bin/', '/out/hcrelay /out/hcbridge-entrypoint /usr/local/bin/', /execs hcbridge, which is not in the image|HEALTHCHECK program hcbridge is not copied/],
  ['a secret baked into ENV', 'ENV HCBRIDGE_ADMIN=127.0.0.1:9090', 'ENV HCBRIDGE_ADMIN=127.0.0.1:9090 HCBRIDGE_CONNECTION_STRING=Endpoint=sb://x/;SharedAccessKey=abc', /bakes a secret-looking value/],
  ['no unit tests', /\s+&& ctest [^\n]*/, '', /no stage runs ctest -L unit/],
  ['Debug build', 'CMAKE_BUILD_TYPE=Release', 'CMAKE_BUILD_TYPE=Debug', /configures a Release build/],
  ['unit tests in a stage the runtime does not need', /\s+&& ctest [^\n]*([\s\S]*?)(FROM debian:bookworm-slim AS runtime)/,
    '$1FROM build AS test\nRUN ctest --test-dir /src/build -L unit\n\n$2', /BuildKit would skip its unit tests/],
  ['build stage misses a setup.sh package', 'libcli11-dev catch2', 'libcli11-dev', /missing \[catch2\]/],
  ['build stage installs a package setup.sh does not list', 'catch2 \\\n', 'catch2 libboost-dev \\\n', /not in setup\.sh \[libboost-dev\]/],
  ['apt-get without --no-install-recommends', /(install -y) --no-install-recommends( \\\n\s+ca-certificates libssl3)/, '$1$2', /uses --no-install-recommends/],
  ['apt lists kept', /\s+&& rm -rf \/var\/lib\/apt\/lists\/\* \\\n(\s+&& groupadd)/, ' \\\n$1', /apt lists are removed/],
  ['another base image', 'FROM debian:bookworm-slim AS runtime', 'FROM ubuntu:24.04 AS runtime', /expected debian:bookworm-slim/],
  ['useradd without a fixed UID', '--uid 10001 --gid 10001 ', '--gid 10001 ', /no fixed --uid/],
  ['no OCI title label', 'org.opencontainers.image.title=', 'org.example.title=', /LABEL org\.opencontainers\.image\.title/],
];

let passed = 0;
let failed = 0;
const base = checkDockerfile(root, original, { quiet: true });
if (base.failed === 0) { passed++; console.log('ok:   the Dockerfile itself passes'); }
else { failed++; console.log(`FAIL: the Dockerfile itself fails: ${base.failures.join(' | ')}`); }

for (const [name, from, to, expect] of cases) {
  const text = original.replace(from, to);
  if (text === original) {
    failed++;
    console.log(`FAIL: ${name}: the edit no longer applies to the Dockerfile (update the self-test)`);
    continue;
  }
  const r = checkDockerfile(root, text, { quiet: true });
  if (r.failures.some((f) => expect.test(f))) {
    passed++;
    console.log(`ok:   ${name}: caught (${r.failures.find((f) => expect.test(f))})`);
  } else {
    failed++;
    console.log(`FAIL: ${name}: not caught; failures were: ${r.failures.join(' | ') || 'none'}`);
  }
}
console.log(`dockerfile self-test: ${passed} ok, ${failed} failed`);
process.exit(failed ? 1 : 0);
