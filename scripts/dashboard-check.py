#!/usr/bin/env python3
"""Checks the Berth web dashboard in headless Chromium, as a user would see it.

Against a running `berth serve`, it submits a few executions through the REST API, then loads
each page of the dashboard in Debian's `chromium`, checks what the page shows (waiting for live
updates where the page must update by itself), and saves a screenshot of each. It prints one line
per check and exits 1 if any failed. A JavaScript exception or a console error (a refused
Content-Security-Policy included) on any page is a failure.

Chromium is driven through the DevTools protocol over `--remote-debugging-pipe` (JSON messages
ended by NUL on file descriptors 3 and 4), so only the Python standard library is needed.

Usage:
  scripts/dashboard-check.py --url http://127.0.0.1:8080 --token-file DATA_DIR/admin.token \\
      --image busybox:1 [--host local] [--screenshots DIR]

The image must have `sh`; the executions run on --host (default: the server's default host).
"""
import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


class Failure(Exception):
    """A check did not hold."""


class API:
    """The few REST calls the checks need."""

    def __init__(self, url, token):
        self.url = url.rstrip('/')
        self.token = token

    def call(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header('Authorization', 'Bearer ' + (token or self.token))
        if data is not None:
            request.add_header('Content-Type', 'application/json')
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b'null')

    def submit(self, name, command, host=None, image=None, labels=None):
        body = {'name': name, 'image': image, 'command': ['sh', '-c', command]}
        if host:
            body['target_host'] = host
        if labels:
            body['labels'] = labels
        return self.call('POST', '/v1/executions', body)['id']

    def wait_state(self, execution, states, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.call('GET', f'/v1/executions/{execution}')['state']
            if state in states:
                return state
            time.sleep(0.2)
        raise Failure(f'execution {execution} did not reach {states} within {timeout} s')


class Browser:
    """Headless Chromium on the DevTools protocol, one page (tab) at a time."""

    def __init__(self, chromium, log_file):
        self.profile = tempfile.mkdtemp(prefix='berth-chromium-')
        to_chromium_read, self.to_chromium = os.pipe()
        self.from_chromium, from_chromium_write = os.pipe()

        def pipes_on_3_and_4():
            os.dup2(to_chromium_read, 3)
            os.dup2(from_chromium_write, 4)

        self.process = subprocess.Popen(
            [chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
             '--remote-debugging-pipe', '--no-first-run', '--no-default-browser-check',
             '--hide-scrollbars', '--force-color-profile=srgb', f'--user-data-dir={self.profile}', 'about:blank'],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
            preexec_fn=pipes_on_3_and_4, close_fds=False)
        os.close(to_chromium_read)
        os.close(from_chromium_write)
        self.buffer = b''
        self.next_id = 0
        self.session = None
        self.problems = []   # exceptions and console errors of the current page

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self, deadline):
        while b'\0' not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Failure('Chromium did not answer in time')
            ready, _, _ = select.select([self.from_chromium], [], [], remaining)
            if ready:
                chunk = os.read(self.from_chromium, 1 << 20)
                if not chunk:
                    raise Failure('Chromium exited')
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b'\0', 1)
        return json.loads(message)

    def _note(self, event):
        method, params = event.get('method'), event.get('params', {})
        if method == 'Runtime.exceptionThrown':
            details = params['exceptionDetails']
            text = details.get('exception', {}).get('description') or details.get('text')
            self.problems.append(f'exception: {text}')
        elif method == 'Runtime.consoleAPICalled' and params.get('type') == 'error':
            self.problems.append('console.error: ' + ' '.join(str(arg.get('value', arg.get('description'))) for arg in params['args']))
        elif method == 'Log.entryAdded':
            entry = params['entry']
            # A refused request (401 while signing in with a bad token) is logged by the network
            # source; that is the page working, not failing.
            if entry['level'] == 'error' and entry['source'] != 'network':
                self.problems.append(f"{entry['source']}: {entry['text']}")

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        message = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session and self.session:
            message['sessionId'] = self.session
        os.write(self.to_chromium, json.dumps(message).encode() + b'\0')
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get('id') == self.next_id:
                if 'error' in answer:
                    raise Failure(f"{method}: {answer['error'].get('message')}")
                return answer.get('result', {})
            self._note(answer)

    def new_page(self, width=1280, height=900):
        if self.session:
            self.send('Target.closeTarget', {'targetId': self.target}, session=False)
        self.session = None
        self.target = self.send('Target.createTarget', {'url': 'about:blank'})['targetId']
        self.session = self.send('Target.attachToTarget', {'targetId': self.target, 'flatten': True}, session=False)['sessionId']
        for domain in ('Page.enable', 'Runtime.enable', 'Log.enable'):
            self.send(domain)
        self.send('Emulation.setDeviceMetricsOverride', {'width': width, 'height': height, 'deviceScaleFactor': 1, 'mobile': False})
        self.problems = []

    def go(self, url):
        self.send('Page.navigate', {'url': url})

    def evaluate(self, expression):
        result = self.send('Runtime.evaluate', {'expression': expression, 'returnByValue': True, 'awaitPromise': True})
        if 'exceptionDetails' in result:
            raise Failure(f"evaluating {expression!r}: {result['exceptionDetails'].get('text')}")
        return result['result'].get('value')

    def wait_for(self, expression, what, timeout=30):
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        text = self.evaluate('document.body ? document.body.innerText.slice(0, 1500) : ""')
        raise Failure(f'{what}: not seen within {timeout} s; the page shows:\n{text}')

    def text(self, selector='body'):
        return self.evaluate(f'(document.querySelector({json.dumps(selector)}) || {{innerText: ""}}).innerText')

    def screenshot(self, path):
        data = self.send('Page.captureScreenshot', {'format': 'png', 'captureBeyondViewport': True})['data']
        with open(path, 'wb') as file:
            file.write(base64.b64decode(data))


def contains(selector, text):
    """A page expression: whether `selector`'s text contains `text`."""
    return f'(document.querySelector({json.dumps(selector)})?.innerText || "").includes({json.dumps(text)})'


class Checks:
    def __init__(self, arguments):
        self.url = arguments.url.rstrip('/')
        token = open(arguments.token_file).readline().strip()
        self.token = token
        self.api = API(self.url, token)
        self.image = arguments.image
        self.host = arguments.host
        self.shots = arguments.screenshots
        os.makedirs(self.shots, exist_ok=True)
        self.log = open(os.path.join(self.shots, 'chromium.log'), 'w')
        self.browser = Browser(arguments.chromium, self.log)
        self.failures = 0

    def page(self, name, fragment=''):
        """Opens `#fragment` signed in (the token rides in the fragment and is taken out of it)."""
        self.browser.new_page()
        separator = '&' if '?' in fragment else '?'
        self.browser.go(f'{self.url}/#{fragment}{separator}token={self.token}')

    def check(self, name, body, screenshot=True):
        started = time.monotonic()
        try:
            summary = body()
            if self.browser.problems:
                raise Failure('the page reported errors: ' + '; '.join(self.browser.problems))
            print(f'ok    {name}: {summary} ({time.monotonic() - started:.1f} s)', flush=True)
        except Exception as error:  # noqa: BLE001 — every failure is reported, then the next check runs
            self.failures += 1
            print(f'FAIL  {name}: {error}', flush=True)
        finally:
            try:
                if screenshot:
                    self.browser.screenshot(os.path.join(self.shots, f'{name}.png'))
            except Exception as error:  # noqa: BLE001
                print(f'      (no screenshot of {name}: {error})', flush=True)

    # ---- The checks ----

    def login(self):
        b = self.browser
        b.new_page()
        b.go(self.url + '/')
        b.wait_for(contains('main', 'Sign in to Berth'), 'the sign-in form')
        address = b.evaluate('location.href')
        b.evaluate('''document.getElementById("token").value = "berth_not-a-token";
                      document.querySelector("#login button[type=submit]").click(); true''')
        b.wait_for(contains('#login-error', 'not accepted'), 'the refusal of a bad token')
        b.evaluate(f'''document.getElementById("token").value = {json.dumps(self.token)};
                      document.querySelector("#login button[type=submit]").click(); true''')
        b.wait_for('document.querySelector("table.executions") !== null', 'the executions table after signing in')
        stored = b.evaluate('sessionStorage.getItem("berth.token") !== null && localStorage.length === 0')
        if not stored:
            raise Failure('the token should be in session storage only')
        return f'the form at {address}; a bad token is refused; the good one opens the executions'

    def executions(self, names):
        b = self.browser
        self.page('executions', '/executions?state=all')
        for name in names:
            b.wait_for(contains('table.executions', name), f'the execution {name} in the list')
        if b.evaluate('document.querySelector("main img") !== null'):
            raise Failure('an execution name became markup')
        if not b.evaluate('location.hash.indexOf("token=") < 0'):
            raise Failure('the token stayed in the address bar')
        rows = b.evaluate('document.querySelectorAll("table.executions tbody tr").length')
        return f'{rows} executions listed with their states; a name holding markup shows as text; the token left the address'

    def filters(self, failed, succeeded):
        b = self.browser
        self.page('filters', '/executions?state=failed')
        b.wait_for(contains('table.executions', failed), 'the failed execution')
        if b.evaluate(contains('table.executions', succeeded)):
            raise Failure(f'{succeeded} is listed under state=failed')
        b.evaluate('document.getElementById("filter-state").value = "succeeded"; document.querySelector(".filters button").click(); true')
        b.wait_for(contains('table.executions', succeeded), 'the succeeded execution after changing the filter')
        if b.evaluate(contains('table.executions', failed)):
            raise Failure(f'{failed} is listed under state=succeeded')
        return 'state=failed lists only the failed one; the filter form switches to succeeded'

    def paging(self):
        b = self.browser
        self.page('paging', '/executions?state=all&limit=2')
        b.wait_for('document.querySelectorAll("table.executions tbody tr").length === 2', 'a first page of 2')
        first = b.evaluate('[...document.querySelectorAll("table.executions tbody tr")].map(r => r.dataset.id)')
        b.wait_for('document.getElementById("older") !== null', 'the link to older executions')
        b.evaluate('document.getElementById("older").click(); true')
        b.wait_for('document.getElementById("newest") !== null', 'the second page')
        second = b.wait_for('''(() => { const ids = [...document.querySelectorAll("table.executions tbody tr")].map(r => r.dataset.id);
                               return ids.length ? ids : null; })()''', 'rows on the second page')
        if set(first) & set(second):
            raise Failure(f'the pages overlap: {first} and {second}')
        return f'2 per page; "Older" shows {len(second)} others; "Newest" leads back'

    def live_execution(self, execution):
        b = self.browser
        self.page('execution-live', f'/executions/{execution}')
        b.wait_for('document.querySelector("#state [data-state=running]") !== null', 'the running state')
        first = int(b.wait_for('''(() => { const m = [...document.getElementById("logs").innerText.matchAll(/tick (\\d+)/g)];
                                  return m.length ? m[m.length - 1][1] : null; })()''', 'a first tick'))
        b.wait_for(contains('#logs', f'tick {first + 2}'), 'output arriving while the page is open', timeout=30)
        b.wait_for(contains('#progress', '/1000'), 'the progress count')
        bar = b.evaluate('document.querySelector("#progress .bar").getAttribute("aria-valuenow")')
        if bar is None:
            raise Failure('the progress bar has no value')
        b.screenshot(os.path.join(self.shots, 'execution-running.png'))
        b.evaluate('document.getElementById("cancel").click(); true')
        b.wait_for('document.querySelector("#state [data-state=cancelled]") !== null', 'the cancelled state without a reload')
        b.wait_for('document.getElementById("cancel").hidden', 'the cancel button hidden once the execution ended')
        return f'ticks {first} → {first + 2} arrived live, progress shown, Cancel ended it and the state changed in place'

    def finished_execution(self, execution):
        b = self.browser
        self.page('execution-done', f'/executions/{execution}')
        b.wait_for(contains('#logs', 'hello from berth'), 'the stdout line')
        b.wait_for(contains('#logs .stderr', 'oops'), 'the stderr line, marked as stderr')
        b.wait_for(contains('.details', 'Exit code'), 'the details')
        b.wait_for(contains('table.events', '→ succeeded'), 'the transition to succeeded')
        b.wait_for(contains('#progress', '100%'), 'the progress reported')
        return 'stdout and stderr (marked), exit code, events and its final progress'

    def hosts(self):
        b = self.browser
        expected = self.api.call('GET', '/v1/hosts')['items']
        self.page('hosts', '/hosts')
        for host in expected:
            health = 'healthy' if (host.get('health') or {}).get('ok') else 'unhealthy'
            selector = f'tr[data-host="{host["name"]}"]'
            b.wait_for(contains(selector, health), f'{host["name"]} shown as {health}')
        return ', '.join(f"{h['name']} {'healthy' if (h.get('health') or {}).get('ok') else 'unhealthy'}" for h in expected)

    def plugins(self):
        b = self.browser
        expected = self.api.call('GET', '/v1/plugins')['items']
        self.page('plugins', '/plugins')
        for plugin in expected:
            b.wait_for(contains('table.plugins', plugin['file']), f"the plugin file {plugin['file']}")
            if plugin.get('loaded'):
                b.wait_for(contains('table.plugins', plugin['name']), f"the plugin {plugin['name']}")
        loaded = sum(1 for plugin in expected if plugin.get('loaded'))
        return f'{len(expected)} plugin files, {loaded} loaded'

    def headers(self):
        request = urllib.request.Request(self.url + '/', method='GET')
        with urllib.request.urlopen(request, timeout=30) as response:
            policy = response.headers.get('Content-Security-Policy', '')
            body = response.read().decode()
        if "script-src 'self'" not in policy or "connect-src 'self'" not in policy:
            raise Failure(f'Content-Security-Policy is {policy!r}')
        if 'http://' in body.replace(self.url, '') or 'https://' in body:
            raise Failure('the page refers to another origin')
        return 'served without a token, with a same-origin Content-Security-Policy and no outside URL'

    def run(self):
        api = self.api
        tag = str(int(time.time()))
        ok = api.submit(f'dash-ok-{tag}', 'echo hello from berth; echo oops >&2; echo \'::berth::progress {"percent": 100, "stage": "done"}\'',
                        self.host, self.image)
        failed = api.submit(f'dash-fail-{tag}', 'echo failing; exit 3', self.host, self.image)
        marked = api.submit(f'<img src=x onerror=alert(1)>-{tag}', 'true', self.host, self.image)
        live = api.submit(f'dash-live-{tag}',
                          'i=0; while true; do i=$((i+1)); echo "tick $i"; '
                          'echo "::berth::progress {\\"step\\": $i, \\"of\\": 1000, \\"stage\\": \\"ticking\\"}"; sleep 1; done',
                          self.host, self.image, labels={'dash': 'live'})
        api.wait_state(ok, {'succeeded'})
        api.wait_state(failed, {'failed'})
        api.wait_state(marked, {'succeeded'})
        api.wait_state(live, {'running'})
        try:
            self.check('page-headers', self.headers, screenshot=False)
            self.check('login', self.login)
            self.check('executions', lambda: self.executions([f'dash-ok-{tag}', f'dash-fail-{tag}', f'dash-live-{tag}', f'<img src=x onerror=alert(1)>-{tag}']))
            self.check('filters', lambda: self.filters(f'dash-fail-{tag}', f'dash-ok-{tag}'))
            self.check('paging', self.paging)
            self.check('execution-live', lambda: self.live_execution(live))
            self.check('execution-done', lambda: self.finished_execution(ok))
            self.check('hosts', self.hosts)
            self.check('plugins', self.plugins)
        finally:
            self.browser.close()
            try:
                api.call('POST', f'/v1/executions/{live}/cancel')
            except urllib.error.URLError:
                pass
        print(f'screenshots in {self.shots}', flush=True)
        return 1 if self.failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', required=True, help='the server, e.g. http://127.0.0.1:8080')
    parser.add_argument('--token-file', required=True, help='a file whose first line is an admin or submitter token')
    parser.add_argument('--image', required=True, help='an image with sh, on the host the executions run on')
    parser.add_argument('--host', help='the target host of the executions (default: the server\'s)')
    parser.add_argument('--screenshots', default='dashboard-screenshots', help='where the PNG files go')
    parser.add_argument('--chromium', default=shutil.which('chromium') or 'chromium', help='the Chromium binary')
    arguments = parser.parse_args()
    try:
        return Checks(arguments).run()
    except Failure as error:
        print(f'FAIL  setup: {error}', flush=True)
        return 1


if __name__ == '__main__':
    sys.exit(main())
