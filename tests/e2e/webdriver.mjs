// A minimal W3C WebDriver client: just the calls the end-to-end test makes.

export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async start(base, capabilities) {
    const value = await request(base, 'POST', '/session', { capabilities: { alwaysMatch: capabilities } });
    return new Session(base, value.sessionId);
  }

  call(method, path, body) {
    return request(this.base, method, `/session/${this.id}${path}`, body);
  }

  async find(css) {
    const v = await this.call('POST', '/element', { using: 'css selector', value: css });
    return Object.values(v)[0];
  }

  async findAll(css) {
    const v = await this.call('POST', '/elements', { using: 'css selector', value: css });
    return v.map((e) => Object.values(e)[0]);
  }

  text(element) {
    return this.call('GET', `/element/${element}/text`);
  }

  click(element) {
    return this.call('POST', `/element/${element}/click`, {});
  }

  /** Runs `script` (a function body) in the page and returns its result. */
  run(script, args = []) {
    return this.call('POST', '/execute/sync', { script, args });
  }

  async screenshot() {
    return Buffer.from(await this.call('GET', '/screenshot'), 'base64');
  }

  /** Polls `script` until it returns something truthy. */
  async waitFor(script, what, timeoutMs = 60_000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await this.run(script);
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  end() {
    return request(this.base, 'DELETE', `/session/${this.id}`);
  }
}

async function request(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok || (json.value && json.value.error)) {
    throw new Error(`${method} ${path}: ${JSON.stringify(json.value ?? json)}`);
  }
  return json.value;
}
