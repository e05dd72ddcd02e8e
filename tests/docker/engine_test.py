#!/usr/bin/env python3
"""docker.engine: the project's image, built and run by a real Docker engine this test starts and stops itself.

Phases (each timed and printed at the end):
  base      debootstrap --variant=minbase bookworm from the Debian mirror of /etc/apt (no registry is reachable),
            imported as debian:bookworm-slim into a dockerd of our own (no bridge, no iptables: host networking only,
            so every byte stays on loopback; its data and exec roots, socket and pid file under one temp directory)
  build     `docker build --network host` of the repository's Dockerfile (its build stage runs the unit tests)
  run       hcrelay, -T and -L each in a container of the image: a tunnel echoes 1 MiB byte-exact, the image's
            HEALTHCHECK reaches "healthy" (interval shortened to 2 s; the command is the image's), the processes
            run as UID 10001, and `docker stop -t 15` ends each with exit code 0 well within its timeout
  compose   docker/compose.sidecar.yml and docker/compose.local-demo.yml with Debian's docker-compose, their app
            service replaced by a busybox httpd image built from Debian packages and every service on the host's
            network (an override written here: ports are ephemeral); a request crosses the tunnel; `down` is clean
  cleanup   containers, compose projects, dockerd (and its containerd), mounts and the temp directory removed; the
            test fails if a dockerd/containerd of this run or a mount under its directory remains
Needs root, dockerd, docker, debootstrap, docker-compose (scripts/setup.sh); exits 77 (skipped) without them.
While working on it: HCB_DOCKER_SAVE=FILE saves the images after the build phase; HCB_DOCKER_IMAGES=FILE loads them
instead of the base and build phases (the test's own dockerd still starts from nothing).
It takes several minutes (see docs/docker.md), so scripts/test.sh runs it only when HCB_DOCKER_TESTS=1.
Usage: engine_test.py SOURCE_DIR
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..'))
DOCKER = '/usr/bin/docker'          # Debian's client, the same version as dockerd (no buildx needed)
IMAGE = 'hcbridge:engine-test'
APP_IMAGE = 'hcb-test-app:local'
UID = '10001'
results = {'ok': 0, 'failed': 0}
phases = []


def ok(msg):
    results['ok'] += 1
    print('ok:   ' + msg, flush=True)


def fail(msg):
    results['failed'] += 1
    print('FAIL: ' + msg, flush=True)


def check(cond, good, bad=None):
    (ok if cond else fail)(good if cond else (bad or good))
    return cond


class Abort(Exception):
    pass


def on_signal(signum, _frame):
    raise Abort('signal %d' % signum)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(cond, seconds, step=0.2):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(step)
    return None


class Phase:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        print('== phase %s' % self.name, flush=True)
        self.t0 = time.monotonic()

    def __exit__(self, *exc):
        phases.append((self.name, time.monotonic() - self.t0))


class Engine:
    """A dockerd of this test only; everything it owns lives under self.work."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix='hcbd-', dir='/tmp')   # short: socket paths are limited to 108 bytes
        os.chmod(self.work, 0o711)
        self.sock = os.path.join(self.work, 'd.sock')
        self.env = dict(os.environ, DOCKER_HOST='unix://' + self.sock, DOCKER_BUILDKIT='0',
                        COMPOSE_DOCKER_CLI_BUILD='0', DOCKER_CONFIG=os.path.join(self.work, 'cfg'))
        self.proc = None
        self.log = None

    def docker(self, *args, check_rc=True, timeout=120, quiet=False, **kw):
        r = subprocess.run([DOCKER, *args], env=self.env, capture_output=True, text=True, timeout=timeout, **kw)
        if check_rc and r.returncode != 0:
            raise RuntimeError('docker %s: exit %d: %s' % (' '.join(args[:3]), r.returncode, r.stderr.strip()[-2000:]))
        if not quiet and r.returncode != 0:
            print('  docker %s -> %d %s' % (' '.join(args[:2]), r.returncode, r.stderr.strip()[-300:]), flush=True)
        return r

    def start(self):
        self.log = open(os.path.join(self.work, 'dockerd.log'), 'w')
        self.proc = subprocess.Popen(
            ['dockerd', '--bridge=none', '--iptables=false', '--ip-masq=false', '--userland-proxy=false',
             '-H', 'unix://' + self.sock, '--data-root', os.path.join(self.work, 'data'),
             '--exec-root', os.path.join(self.work, 'x'), '--pidfile', os.path.join(self.work, 'd.pid')],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        up = wait_for(lambda: self.proc.poll() is not None or
                      self.docker('version', check_rc=False, quiet=True).returncode == 0, 60, 0.5)
        if not up or self.proc.poll() is not None:
            raise RuntimeError('dockerd did not start: ' + self.tail_log())

    def tail_log(self, n=3000):
        try:
            with open(os.path.join(self.work, 'dockerd.log')) as f:
                return f.read()[-n:]
        except OSError:
            return ''

    def stop(self):
        if self.proc and self.proc.poll() is None:
            r = self.docker('ps', '-aq', check_rc=False, quiet=True, timeout=30)
            ids = r.stdout.split() if r.returncode == 0 else []
            if ids:
                self.docker('rm', '-f', *ids, check_rc=False, timeout=60)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc:   # containerd and shims it started, if any survived it
            for pid in self.own_processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.log:
            self.log.close()

    def own_processes(self):
        """PIDs whose command line names this run's directory (dockerd, containerd, shims, debootstrap)."""
        pids = []
        for d in os.listdir('/proc'):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                with open('/proc/%s/cmdline' % d, 'rb') as f:
                    cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
            except OSError:
                continue
            if self.work in cmd:
                pids.append(int(d))
        return pids

    def mounts(self):
        with open('/proc/self/mountinfo') as f:
            points = [line.split()[4] for line in f]
        return [p for p in points if p == self.work or p.startswith(self.work + '/')]

    def unmount_all(self):
        for p in sorted(self.mounts(), key=len, reverse=True):
            subprocess.run(['umount', '-l', p], capture_output=True)


# ---- phases ----------------------------------------------------------------------------------------------------------
def debian_mirror():
    text = open('/etc/apt/sources.list.d/debian.sources').read() if os.path.exists(
        '/etc/apt/sources.list.d/debian.sources') else open('/etc/apt/sources.list').read()
    m = re.search(r'^URIs:\s*(\S+)', text, re.M) or re.search(r'^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s', text, re.M)
    if not m:
        raise RuntimeError('no Debian mirror found in /etc/apt')
    return m.group(1)


def make_base(eng):
    rootfs = os.path.join(eng.work, 'rootfs')   # fresh directory: an interrupted debootstrap leaves proc/sys mounted
    r = subprocess.run(['debootstrap', '--variant=minbase', 'bookworm', rootfs, debian_mirror()],
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError('debootstrap failed: ' + (r.stdout + r.stderr)[-2000:])
    eng.unmount_all()
    tar = subprocess.Popen(['tar', '--one-file-system', '-C', rootfs, '-c', '.'], stdout=subprocess.PIPE)
    imp = subprocess.run([DOCKER, 'import', '-', 'debian:bookworm-slim'], stdin=tar.stdout, env=eng.env,
                         capture_output=True, text=True, timeout=600)
    tar.stdout.close()
    tar.wait()
    if imp.returncode != 0:
        raise RuntimeError('docker import: ' + imp.stderr)
    shutil.rmtree(rootfs, ignore_errors=True)
    ok('base image debian:bookworm-slim made offline by debootstrap (minbase) and imported')


def build(eng):
    r = eng.docker('build', '--network', 'host', '--build-arg', 'JOBS=2', '-t', IMAGE, SRC, check_rc=False,
                   timeout=3600)
    if not check(r.returncode == 0, 'docker build of the Dockerfile (build stage ran the unit tests)',
                 'docker build failed: ' + (r.stdout + r.stderr)[-3000:]):
        raise Abort('no image')
    eng.docker('tag', IMAGE, 'hcbridge:local')
    size = eng.docker('image', 'inspect', '-f', '{{.Size}}', IMAGE).stdout.strip()
    print('note: image size %.1f MiB (on a minbase base, larger than the published slim one)' % (int(size) / 2**20))
    user = eng.docker('image', 'inspect', '-f', '{{.Config.User}}', IMAGE).stdout.strip()
    check(user.split(':')[0] == UID, 'image USER is %s' % user, 'image USER is %r, expected %s' % (user, UID))
    app_dir = os.path.join(eng.work, 'app')
    os.mkdir(app_dir)
    with open(os.path.join(app_dir, 'Dockerfile'), 'w') as f:
        f.write('FROM debian:bookworm-slim\n'
                'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends'
                ' busybox && rm -rf /var/lib/apt/lists/*\n'
                'RUN mkdir /srv/www && echo "hello from the app" > /srv/www/index.html\n'
                'CMD ["sh", "-c", "exec busybox httpd -f -p 127.0.0.1:${APP_PORT} -h /srv/www"]\n')
    eng.docker('build', '--network', 'host', '-t', APP_IMAGE, app_dir, timeout=900)


class EchoServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(c,), daemon=True).start()

    @staticmethod
    def echo(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)

    def close(self):
        self.sock.close()


def echo_through(port, size=1 << 20):
    payload = os.urandom(size)
    got = bytearray()
    with socket.create_connection(('127.0.0.1', port), timeout=20) as c:
        writer = threading.Thread(target=lambda: (c.sendall(payload), c.shutdown(socket.SHUT_WR)), daemon=True)
        writer.start()
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += d
        writer.join(20)
    return hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest(), len(got)


def container_uid(eng, name):
    pid = eng.docker('inspect', '-f', '{{.State.Pid}}', name).stdout.strip()
    with open('/proc/%s/status' % pid) as f:
        return re.search(r'^Uid:\s+(\d+)', f.read(), re.M).group(1)


def health(eng, name):
    return eng.docker('inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', name).stdout.strip()


def stop_and_check(eng, name):
    t0 = time.monotonic()
    eng.docker('stop', '-t', '15', name, timeout=60)
    took = time.monotonic() - t0
    code = eng.docker('inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', name).stdout.strip()
    check(code == '0 false' and took < 12, '%s: docker stop -t 15 -> exit 0 after %.1f s' % (name, took),
          '%s: docker stop -> exit/oom %s after %.1f s (expected exit 0 well within 15 s)' % (name, code, took))


def run_containers(eng, echo):
    key = 'engine-test-key'
    common = ['run', '-d', '--network', 'host', '--read-only', '--cap-drop', 'ALL',
              '--security-opt', 'no-new-privileges']
    eng.docker(*common, '--name', 'relay', '--no-healthcheck', '-e', 'HCRELAY_SAS=demo=' + key, IMAGE,
               'hcrelay', '--bind', '127.0.0.1:0')
    m = wait_for(lambda: re.search(r'hcrelay listening on ws://127\.0\.0\.1:(\d+)',
                                   eng.docker('logs', 'relay', quiet=True).stdout), 30)
    if not check(bool(m), 'hcrelay container listening', 'hcrelay container did not start: %s' %
                 eng.docker('logs', 'relay', check_rc=False).stderr[-1000:]):
        raise Abort('no relay')
    cs = 'Endpoint=ws://127.0.0.1:%s/;SharedAccessKeyName=demo;SharedAccessKey=%s' % (m.group(1), key)
    health_opts = ['--health-interval', '2s', '--health-start-period', '2s']
    eng.docker(*common, *health_opts, '--name', 'listener', '-e', 'HCBRIDGE_CONNECTION_STRING=' + cs,
               '-e', 'HCBRIDGE_ADMIN=127.0.0.1:%d' % free_port(), IMAGE, '-T', 'web:127.0.0.1:%d' % echo.port)
    lport = free_port()
    eng.docker(*common, *health_opts, '--name', 'sender', '-e', 'HCBRIDGE_CONNECTION_STRING=' + cs,
               '-e', 'HCBRIDGE_ADMIN=127.0.0.1:%d' % free_port(), IMAGE, '-L', '127.0.0.1:%d:web' % lport)
    for name in ('listener', 'sender'):
        t0 = time.monotonic()
        state = wait_for(lambda: health(eng, name) in ('healthy', 'unhealthy') and health(eng, name), 60, 0.5)
        check(state == 'healthy', '%s: HEALTHCHECK healthy after %.1f s' % (name, time.monotonic() - t0),
              '%s: health %r; logs: %s' % (name, state, eng.docker('logs', name, check_rc=False).stderr[-1500:]))
    for name in ('relay', 'listener', 'sender'):
        uid = container_uid(eng, name)
        check(uid == UID, '%s: runs as uid %s' % (name, uid), '%s: runs as uid %s, expected %s' % (name, uid, UID))
    ready = wait_for(lambda: re.search(r'listening on', eng.docker('logs', 'sender', quiet=True).stderr), 20)
    check(bool(ready), 'sender: forward listening')
    good, n = wait_for(lambda: (lambda r: r if r[0] else None)(echo_through(lport)), 20, 0.5) or (False, 0)
    check(good, 'tunnel relay/-T/-L containers: 1 MiB echoed byte-exact', 'tunnel: echo not byte-exact (%d bytes)' % n)
    for name in ('sender', 'listener', 'relay'):
        stop_and_check(eng, name)
    eng.docker('rm', 'sender', 'listener', 'relay')


def compose_override(eng, which, ports):
    """Everything on the host network with ephemeral ports; the app is the busybox image (no registry here)."""
    cs = 'Endpoint=ws://127.0.0.1:%d/;SharedAccessKeyName=demo;SharedAccessKey=compose-key' % ports['relay']
    app = {'image': APP_IMAGE, 'network_mode': 'host', 'environment': {'APP_PORT': str(ports['app'])}}
    if which == 'sidecar':
        services = {'app': app, 'hcbridge': {
            'image': 'hcbridge:local', 'command': ['-T', 'web:127.0.0.1:%d' % ports['app']],
            'environment': {'HCBRIDGE_ADMIN': '127.0.0.1:%d' % ports['admin1'], 'HCBRIDGE_CONNECTION_STRING': cs},
            'healthcheck': {'interval': '2s', 'start_period': '2s'}}}
    else:
        hc = {'interval': '2s', 'start_period': '2s'}
        services = {
            'app': app,
            'relay': {'network_mode': 'host', 'environment': {'HCRELAY_SAS': 'demo=compose-key'},
                      'command': ['hcrelay', '--bind', '127.0.0.1:%d' % ports['relay']]},
            'listener': {'command': ['-T', 'web:127.0.0.1:%d' % ports['app']], 'healthcheck': hc,
                         'environment': {'HCBRIDGE_CONNECTION_STRING': cs,
                                         'HCBRIDGE_ADMIN': '127.0.0.1:%d' % ports['admin1']}},
            'sender': {'network_mode': 'host', 'command': ['-L', '127.0.0.1:%d:web' % ports['local']],
                       'healthcheck': hc, 'environment': {'HCBRIDGE_CONNECTION_STRING': cs,
                                                          'HCBRIDGE_ADMIN': '127.0.0.1:%d' % ports['admin2']}}}
    path = os.path.join(eng.work, 'override.%s.json' % which)
    with open(path, 'w') as f:
        json.dump({'services': services}, f)
    return path


def compose_copy(eng, which):
    """The compose file in a directory of its own, so its env_file (not committed) can be provided without writing
    into the source tree. Dropped: published ports (the sender's forward listens on the host's loopback directly
    here), and the two keys of the Compose Specification that Debian 12's docker-compose 1.29 rejects, the top-level
    `name:` (the project name is given with -p instead) and `depends_on: ...: restart: true`."""
    d = os.path.join(eng.work, 'compose-' + which)
    os.mkdir(d)
    text = open(os.path.join(SRC, 'docker', 'compose.%s.yml' % which)).read()
    text = re.sub(r'\n    ports:\n(      - [^\n]*\n)+', '\n', text)
    text = re.sub(r'(?m)^name: [^\n]*\n', '', text)
    text = re.sub(r'(?m)^        restart: true[^\n]*\n', '', text)
    with open(os.path.join(d, 'compose.yml'), 'w') as f:
        f.write(text)
    with open(os.path.join(d, 'hcbridge.env'), 'w') as f:
        f.write('HCBRIDGE_CONNECTION_STRING=set-by-override\n')
    return os.path.join(d, 'compose.yml')


def compose(eng, which, echo):
    ports = {k: free_port() for k in ('relay', 'app', 'admin1', 'admin2', 'local')}
    base = compose_copy(eng, which)
    files = ['-f', base, '-f', compose_override(eng, which, ports)]
    project = ['-p', 'hcbt-' + which]
    dc = lambda *a, timeout=180: subprocess.run(['docker-compose', *project, *files, *a], env=eng.env,
                                                capture_output=True, text=True, timeout=timeout)
    relay = None
    try:
        if which == 'sidecar':   # the sidecar's relay is Azure; here an hcrelay container of the image plays it
            relay = eng.docker('run', '-d', '--network', 'host', '--no-healthcheck', '-e', 'HCRELAY_SAS=demo=compose-key',
                               IMAGE, 'hcrelay', '--bind', '127.0.0.1:%d' % ports['relay']).stdout.strip()
        r = dc('up', '-d', '--no-build')
        if not check(r.returncode == 0, '%s: docker-compose up' % which,
                     '%s: docker-compose up failed: %s' % (which, (r.stdout + r.stderr)[-2000:])):
            return
        bridges = ['hcbridge'] if which == 'sidecar' else ['listener', 'sender']
        for svc in bridges:
            cid = dc('ps', '-q', svc).stdout.strip()
            state = wait_for(lambda: health(eng, cid) in ('healthy', 'unhealthy') and health(eng, cid), 60, 0.5)
            check(state == 'healthy', '%s/%s: healthy' % (which, svc), '%s/%s: health %r: %s' % (
                which, svc, state, dc('logs', svc).stdout[-1500:]))
            check(container_uid(eng, cid) == UID, '%s/%s: runs as uid %s' % (which, svc, UID))
        if which == 'sidecar':   # the sender side is a plain -L container, as "elsewhere" in the docs
            lport = ports['local']
            sender = eng.docker('run', '-d', '--network', 'host', '--no-healthcheck', '-e',
                                'HCBRIDGE_CONNECTION_STRING=Endpoint=ws://127.0.0.1:%d/;SharedAccessKeyName=demo;'
                                'SharedAccessKey=compose-key' % ports['relay'], '-e', 'HCBRIDGE_ADMIN=',
                                IMAGE, '-L', '127.0.0.1:%d:web' % lport).stdout.strip()
        else:
            sender = None
        body = wait_for(lambda: http_get(ports['local']), 30, 0.5)
        check(body == 'hello from the app\n', '%s: a request crossed the tunnel to the app' % which,
              '%s: no answer through the tunnel (%r)' % (which, body))
        if sender:
            eng.docker('rm', '-f', sender)
        t0 = time.monotonic()
        r = dc('stop')
        took = time.monotonic() - t0
        codes = {svc: eng.docker('inspect', '-f', '{{.State.ExitCode}}', dc('ps', '-q', svc).stdout.strip()).stdout.strip()
                 for svc in bridges}
        check(r.returncode == 0 and all(c == '0' for c in codes.values()),
              '%s: docker-compose stop in %.1f s, hcbridge exit codes %s' % (which, took, codes),
              '%s: stop rc %d, exit codes %s' % (which, r.returncode, codes))
    finally:
        r = dc('down', '--remove-orphans', '-t', '15')
        check(r.returncode == 0, '%s: docker-compose down' % which, '%s: down failed: %s' % (which, r.stderr[-500:]))
        if relay:
            eng.docker('rm', '-f', relay, check_rc=False)


def http_get(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=5) as c:
            c.sendall(b'GET / HTTP/1.0\r\nHost: x\r\n\r\n')
            data = b''
            while True:
                d = c.recv(4096)
                if not d:
                    break
                data += d
        head, _, body = data.partition(b'\r\n\r\n')
        return body.decode() if head.startswith(b'HTTP/1.') and b' 200 ' in head.split(b'\r\n')[0] + b' ' else None
    except OSError:
        return None


def main():
    if os.environ.get('HCB_DOCKER_TESTS') != '1':
        print('SKIP: takes several minutes; runs with HCB_DOCKER_TESTS=1 (scripts/test.sh passes it on)')
        return 77
    missing = [p for p in ('dockerd', 'debootstrap', 'docker-compose') if not shutil.which(p)]
    if not os.path.exists(DOCKER):
        missing.append(DOCKER)
    if os.geteuid() != 0 or missing:
        print('SKIP: needs root and %s (scripts/setup.sh installs docker.io, debootstrap, docker-compose)' %
              (', '.join(missing) or 'nothing else'))
        return 77
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t_all = time.monotonic()
    images = os.environ.get('HCB_DOCKER_IMAGES')
    eng = Engine()
    echo = EchoServer()
    try:
        with Phase('base'):
            eng.start()
            if not images:
                make_base(eng)
        with Phase('build'):
            if images:   # a shortcut while working on the later phases: the images of an earlier run
                eng.docker('load', '-i', images, timeout=600)
                ok('images loaded from %s (HCB_DOCKER_IMAGES): base and build phases skipped' % images)
            else:
                build(eng)
            if os.environ.get('HCB_DOCKER_SAVE'):
                eng.docker('save', '-o', os.environ['HCB_DOCKER_SAVE'], IMAGE, 'hcbridge:local', APP_IMAGE,
                           'debian:bookworm-slim', timeout=600)
        with Phase('run'):
            run_containers(eng, echo)
        for which in ('sidecar', 'local-demo'):
            with Phase('compose ' + which):
                compose(eng, which, echo)
    except (Abort, RuntimeError, subprocess.TimeoutExpired) as e:
        fail('aborted: %s' % e)
        print(eng.tail_log(1500))
    finally:
        with Phase('cleanup'):
            echo.close()
            eng.stop()
            eng.unmount_all()
            left = eng.own_processes()
            mounts = eng.mounts()
            check(not left, 'no dockerd/containerd of this run left', 'processes left: %s' % left)
            check(not mounts, 'no mount left under %s' % eng.work, 'mounts left: %s' % mounts)
            shutil.rmtree(eng.work, ignore_errors=True)
            check(not os.path.exists(eng.work), 'work directory removed')
    phases.append(('total', time.monotonic() - t_all))
    print('figures: ' + ', '.join('%s %.0f s' % p for p in phases))
    print('%d ok, %d failed' % (results['ok'], results['failed']))
    return 1 if results['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
