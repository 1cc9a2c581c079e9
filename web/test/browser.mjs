// Drives the sealing page in headless Chromium (playwright-core, the system's chromium) for
// cli/tests/web/browser.rs, which starts `sealant web`, checks everything this script reports
// against the real CLI, and decides pass or fail. Usage: node browser.mjs SPEC.json > RESULT.json
//
// SPEC: { url, chromium, testdata, screenshot?, seal: {input, scope, recipients},
//         form: {namespace, name, rows: [{key, value}], scope}, bad: [{name, input, recipients}] }
// RESULT: { vectors, sealed, formSealed, bad: {name: output}, requests, storage, csp, ... }

import { readdirSync, readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { runVectors } from './vectors.mjs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const cases = readdirSync(spec.testdata)
  .filter((f) => f.endsWith('.txt'))
  .sort()
  .map((f) => ({ name: f.replace(/\.txt$/, ''), text: readFileSync(`${spec.testdata}/${f}`, 'utf8') }));

const browser = await chromium.launch({
  executablePath: spec.chromium,
  headless: true,
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const result = { requests: [], console: [], cspViolations: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 1300 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  // Every request the page makes, with everything that could carry data.
  context.on('request', (r) => {
    result.requests.push({
      url: r.url(),
      method: r.method(),
      postData: r.postData() ?? '',
      headers: r.headers(),
    });
  });
  page.on('console', (m) => result.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => result.console.push(`pageerror: ${e.message}`));

  const response = await page.goto(spec.url);
  result.csp = response.headers()['content-security-policy'] ?? '';
  await page.waitForFunction(() => /Sealing to|No served keys|holds no/.test(document.getElementById('served').textContent));
  result.served = await page.textContent('#served');
  result.promise = await page.textContent('#promise');
  await page.evaluate(() =>
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__violations ??= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    }),
  );

  // Every known-answer vector, in the page.
  const xwing = JSON.parse(readFileSync(`${spec.testdata}/xwing/draft-connolly-cfrg-xwing-kem-06.json`, 'utf8'));
  result.vectors = await page.evaluate(runVectors, { cases, xwing, moduleUrl: new URL('app.js', spec.url).href });
  result.vectors.xwingTotal = xwing.length;
  result.vectors.total = cases.length;

  // Seal a pasted Secret.
  const sealWith = async (input, recipients, scope) => {
    await page.fill('#input', input);
    await page.fill('#recipients', recipients ?? '');
    if (scope) await page.selectOption('#scope', scope);
    await page.$eval('#output', (o) => { o.value = ''; });
    await page.click('#seal');
    await page.waitForFunction(() => document.getElementById('output').value !== '');
    return page.inputValue('#output');
  };
  result.sealed = await sealWith(spec.seal.input, spec.seal.recipients, spec.seal.scope);
  if (spec.screenshot) await page.screenshot({ path: spec.screenshot, fullPage: true });

  // Seal from the form (an empty #input).
  await page.fill('#input', '');
  await page.click('#form summary');
  await page.fill('#namespace', spec.form.namespace);
  await page.fill('#name', spec.form.name);
  for (let i = 0; i < spec.form.rows.length; i++) {
    if (i > 0) await page.click('#add-row');
    await page.locator('#rows .key').nth(i).fill(spec.form.rows[i].key);
    await page.locator('#rows .value').nth(i).fill(spec.form.rows[i].value);
  }
  await page.selectOption('#scope', spec.form.scope);
  await page.$eval('#output', (o) => { o.value = ''; });
  await page.click('#seal');
  await page.waitForFunction(() => document.getElementById('output').value !== '');
  result.formSealed = await page.inputValue('#output');
  await page.fill('#namespace', '');

  // Bad input: what the page says.
  result.bad = {};
  for (const bad of spec.bad) {
    result.bad[bad.name] = await sealWith(bad.input, bad.recipients, bad.scope ?? 'strict');
  }

  // Attacks on the page's promises. An inline script (as injected markup would add) must not
  // run, and a script that does run (here: playwright's) cannot send anything to another origin.
  result.inlineScriptRan = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = true;';
    document.body.append(s);
    await new Promise((r) => setTimeout(r, 50));
    return window.__inline === true;
  });
  const otherOrigin = new URL(spec.url);
  otherOrigin.port = String(Number(otherOrigin.port) === 1 ? 2 : 1);
  result.crossOriginFetch = await page.evaluate(async (target) => {
    try {
      await fetch(target, { method: 'POST', body: 'exfiltration attempt' });
      return 'sent';
    } catch (e) {
      return `blocked: ${e.name}`;
    }
  }, otherOrigin.href);
  result.cspViolations = await page.evaluate(() => window.__violations ?? []);

  // Where the plaintext could have been kept.
  result.storage = await page.evaluate(async () => ({
    url: location.href,
    history: history.length,
    localStorage: JSON.stringify({ ...localStorage }),
    sessionStorage: JSON.stringify({ ...sessionStorage }),
    cookie: document.cookie,
    indexedDB: JSON.stringify(await indexedDB.databases()),
    caches: JSON.stringify(await caches.keys()),
  }));
  result.cookies = JSON.stringify(await context.cookies());
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result));
