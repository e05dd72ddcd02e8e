'use strict';
// curl as the HTTP sender of the HTTP-request-mode tests (http_request_mode, daemon_http_forward), and the byte
// pattern their bodies are made of.
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

// A curl(args, { what }) that writes bodies and heads to files in `tmp` and resolves {status, headers (lower-case
// names), body Buffer}; the relay's test certificate is trusted.
function curlTo(tmp) {
  let seq = 0;
  return function curl(args, { what }) {
    const n = ++seq;
    const bodyFile = path.join(tmp, `b${n}`);
    const headFile = path.join(tmp, `h${n}`);
    const ca = path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem');
    return new Promise((resolve, reject) => {
      execFile('curl', ['-sS', '--max-time', '60', '--cacert', ca, '-o', bodyFile, '-D', headFile, ...args],
        { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
          if (err) return reject(new Error(`${what}: curl failed: ${stderr || err.message}`));
          const text = fs.readFileSync(headFile, 'latin1').split('\r\n\r\n').filter((s) => s.startsWith('HTTP/')).pop();
          const lines = text.split('\r\n');
          const status = Number(lines[0].split(' ')[1]);
          const headers = {};
          for (const l of lines.slice(1)) {
            const i = l.indexOf(':');
            if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
          }
          const body = fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile) : Buffer.alloc(0);
          fs.rmSync(bodyFile, { force: true });
          fs.rmSync(headFile, { force: true });
          resolve({ status, headers, body });
        });
    });
  };
}

module.exports = { pattern, curlTo };
