// The known-answer vectors of shared/testdata, run against app.js. `runVectors` is passed whole
// to the page (playwright serializes it), so it uses nothing from this file's scope: it imports
// the module under test from `moduleUrl` and gets the vector files as `cases` and the X-Wing
// draft's vectors (shared/testdata/xwing/) as `xwing`.

/** Runs every case; returns `{ passed, failures: ["name: what differs"] }`. */
export async function runVectors({ cases, xwing, moduleUrl }) {
  const m = await import(moduleUrl);
  const failures = [];
  let passed = 0;
  for (const { name, text } of cases) {
    const all = {};
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      const field = line.slice(0, colon);
      let value = line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      (all[field] ??= []).push(value);
    }
    const one = (f) => (all[f] ?? [])[0];
    const fail = (what) => failures.push(`${name}: ${what}`);
    const before = failures.length;
    try {
      const expect = one('expect');
      if (name.startsWith('key_')) {
        let key;
        let error;
        try {
          key = one('public-key') !== undefined
            ? m.parsePublicKey(one('public-key'))
            : m.parsePrivateKeyFile(one('private-key')).public;
        } catch (e) {
          error = e;
        }
        if (expect === 'success') {
          if (error) fail(`expected success, got: ${error.message}`);
          else if (m.toHex(key.bytes) !== one('public-key-hex')) fail('different public key');
          else if (m.toHex(key.id) !== one('key-id')) fail('different key id');
        } else if (!error) fail(`expected ${expect}, but it parsed`);
        else if (!(error instanceof m.SealantError)) fail(`not a SealantError: ${error}`);
        else if (!error.message.includes(one('error'))) {
          fail(`error ${JSON.stringify(error.message)} lacks ${JSON.stringify(one('error'))}`);
        }
      } else {
        const ring = (all['private-key'] ?? []).map((t) => m.parsePrivateKeyFile(t));
        const [namespace, nm, key] = one('open-at').split('/');
        const at = { namespace, name: nm, key };
        let opened;
        let error;
        try {
          opened = m.openValue(one('sealed'), at, ring);
        } catch (e) {
          error = e;
        }
        const reasons = {
          'wrong scope': 'WrongScope',
          'unknown key': 'UnknownKey',
          tampered: 'Tampered',
          malformed: 'InvalidSealedValue',
        };
        if (expect === 'success') {
          if (error) fail(`expected success, got: ${error.message}`);
          else if (m.toHex(opened) !== one('plaintext-hex')) fail('opened to a different value');
          // Re-sealing with the recorded entropy must give the same bytes.
          const entropy = m.fromHex(one('entropy-hex'));
          let used = 0;
          const random = (n) => {
            if (used + n > entropy.length) throw new Error('the vector ran out of entropy');
            const out = entropy.slice(used, used + n);
            used += n;
            return out;
          };
          const [sns, sname, skey] = one('seal-at').split('/');
          const b = m.binding(one('scope'), { namespace: sns, name: sname, key: skey });
          const recipients = (all.recipient ?? []).map((t) => m.parsePublicKey(t));
          const sealed = m.sealValue(m.fromHex(one('plaintext-hex')), b, recipients, random);
          if (sealed !== one('sealed')) fail('re-sealing with the entropy gives other bytes');
          if (used !== entropy.length) fail(`used ${used} of ${entropy.length} entropy bytes`);
        } else if (!error) fail(`expected ${expect}, but it opened`);
        else if (error.reason !== reasons[expect]) {
          fail(`expected ${expect}, got ${error.reason}: ${error.message}`);
        } else if (!error.message.includes(one('error'))) {
          fail(`error ${JSON.stringify(error.message)} lacks ${JSON.stringify(one('error'))}`);
        }
      }
    } catch (e) {
      fail(`threw ${e && e.stack ? e.stack : e}`);
    }
    if (failures.length === before) passed++;
  }
  // draft-connolly-cfrg-xwing-kem-06's own vectors: key generation and encapsulation.
  let xwingPassed = 0;
  for (const [i, v] of (xwing ?? []).entries()) {
    const pk = m.xwingPublicKey(m.fromHex(v.seed));
    const enc = m.xwingEncapsulate(pk, m.fromHex(v.eseed));
    if (m.toHex(pk) !== v.pk) failures.push(`xwing ${i}: different public key`);
    else if (m.toHex(enc.ciphertext) !== v.ct) failures.push(`xwing ${i}: different ciphertext`);
    else if (m.toHex(enc.shared) !== v.ss) failures.push(`xwing ${i}: different shared secret`);
    else xwingPassed++;
  }
  return { passed, xwingPassed, failures };
}
