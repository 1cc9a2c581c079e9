// sealant in the browser: seals a Secret into a SealedSecret with the cluster's public keys,
// entirely in this page. A second, independent implementation of docs/FORMAT.md (section numbers
// below refer to it); the crypto comes from the audited @noble libraries in vendor/noble.js and
// randomness from crypto.getRandomValues. The page's one request is `keys` (the served public
// keys); the plaintext stays in the page's memory: never in the URL, never in storage.
//
// The module reads top-down: bytes and text helpers, keys (§3), names and bindings (§4), the
// envelope (§5), sealing (§6), opening (§7), Secrets to SealedSecrets (§9, as `sealant seal`
// does, with the same messages), and last the page itself.

import {
  chacha20poly1305,
  hkdf,
  ml_kem768,
  parseAllDocuments,
  sha256,
  sha3_256,
  shake256,
  stringify,
  x25519,
} from './vendor/noble.js';

// ---------------------------------------------------------------------------------------------
// Constants (§2, §5)

const enc = new TextEncoder();
const KEY_ID_LABEL = enc.encode('sealant.dev/v1/key-id');
const WRAP_LABEL = enc.encode('sealant.dev/v1/x25519-wrap');
const XWING_WRAP_LABEL = enc.encode('sealant.dev/v1/xwing-wrap');
const XWING_LABEL = new Uint8Array([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);
const PAYLOAD_LABEL = enc.encode('sealant.dev/v1/payload');
const COMMITMENT_LABEL = enc.encode('sealant.dev/v1/key-commitment');
const PUBLIC_KEY_PREFIX = 'sealant-pub-v1:';
const PRIVATE_KEY_PREFIX = 'SEALANT-PRIVATE-KEY-V1:';
const PQ_PUBLIC_KEY_PREFIX = 'sealant-pub-pq1:';
const PQ_PRIVATE_KEY_PREFIX = 'SEALANT-PRIVATE-KEY-PQ1:';

export const VERSION = 1;
export const MAX_RECIPIENTS = 32;
const MAX_NAME_LEN = 253;
const MAX_NAMESPACE_LEN = 63;
const KEY_LEN = 32;
const TAG_LEN = 16;
const KEY_ID_LEN = 8;
const MLKEM_EK_LEN = 1184;
const MLKEM_CT_LEN = 1088;
const XWING_PUBLIC_LEN = MLKEM_EK_LEN + KEY_LEN;
const XWING_CIPHERTEXT_LEN = MLKEM_CT_LEN + KEY_LEN;
const STANZA_X25519 = 1;
const STANZA_XWING = 2;
const ZERO_NONCE = new Uint8Array(12);
const EMPTY = new Uint8Array(0);
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export const SCOPES = ['strict', 'namespace-wide', 'cluster-wide'];
const SCOPE_CODE = { strict: 1, 'namespace-wide': 2, 'cluster-wide': 3 };

/** An error whose message is meant for the user, as the CLI would print it. */
export class SealantError extends Error {}

/** A value could not be opened; `reason` is sealant-core's: InvalidSealedValue, WrongScope,
 * UnknownKey or Tampered. */
export class OpenError extends SealantError {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes and text

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(text) {
  if (text.length % 2 !== 0 || /[^0-9a-f]/.test(text)) throw new SealantError('not hex');
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function base64Encode(bytes, alphabet, pad) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) out += alphabet[(n >> (18 - 6 * c)) & 63];
    if (pad) out += '='.repeat(4 - chars);
  }
  return out;
}

/** Decodes canonical base64: only the alphabet's characters, and unused low bits zero. Returns
 * null for anything else. `pad`: `=` padding required (standard) or forbidden (url-safe). */
function base64Decode(text, alphabet, pad) {
  let body = text;
  if (pad) {
    if (text.length % 4 !== 0) return null;
    const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
    body = text.slice(0, text.length - padding);
  } else if (text.length % 4 === 1) {
    return null;
  }
  const out = new Uint8Array(Math.floor((body.length * 6) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const ch of body) {
    const v = alphabet.indexOf(ch);
    if (v < 0 || ch === '=') return null;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  if (bits > 0 && (value & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

export const base64 = {
  encode: (bytes) => base64Encode(bytes, STD, true),
  decode: (text) => base64Decode(text, STD, true),
};

/** A name as messages show it (§5.1): double-quoted, printable ASCII as is, `"` and `\`
 * escaped, every other character as \u{H}. */
export function quote(name) {
  let out = '"';
  for (const ch of name) {
    const cp = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (cp >= 0x20 && cp <= 0x7e) out += ch;
    else out += `\\u{${cp.toString(16)}}`;
  }
  return out + '"';
}

// The five characters key text treats as whitespace (§3.3); nothing else is.
const KEY_WHITESPACE = new Set([' ', '\t', '\n', '\f', '\r']);

function trimKeyText(text) {
  let start = 0;
  let end = text.length;
  while (start < end && KEY_WHITESPACE.has(text[start])) start++;
  while (end > start && KEY_WHITESPACE.has(text[end - 1])) end--;
  return text.slice(start, end);
}

/** The lines of key text that count: trimmed, without empty and `#` lines (§3.3, §3.4). */
function keyLines(text) {
  return text
    .split('\n')
    .map(trimKeyText)
    .filter((line) => line !== '' && !line.startsWith('#'));
}

// ---------------------------------------------------------------------------------------------
// Keys (§3)

function keyIdOf(publicBytes) {
  return sha256(concat(KEY_ID_LABEL, publicBytes)).slice(0, KEY_ID_LEN);
}

/** `c2fe55…`: the short form of a key id in lists (§3.2). */
export function shortId(id) {
  return `${toHex(id).slice(0, 6)}…`;
}

function checksum(prefix, bytes) {
  return sha256(concat(enc.encode(prefix), bytes)).slice(0, 4);
}

/** Whether the 32 bytes, little-endian, are below 2^255 - 19 (§3.3 step 5). */
function isCanonicalX25519(bytes) {
  if (bytes[31] & 0x80) return false;
  // Only 2^255 - 19 .. 2^255 - 1 are out of range: 0x7f ff … ff ed and above.
  if (bytes[31] !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (bytes[i] !== 0xff) return true;
  return bytes[0] < 0xed;
}

/** FIPS 203 §7.2's modulus check: every 12-bit coefficient of ek's vector below q = 3329. */
function isValidMlKemKey(ek) {
  for (let i = 0; i < MLKEM_EK_LEN - 32; i += 3) {
    const c0 = ek[i] | ((ek[i + 1] & 0x0f) << 8);
    const c1 = (ek[i + 1] >> 4) | (ek[i + 2] << 4);
    if (c0 >= 3329 || c1 >= 3329) return false;
  }
  return true;
}

/** A recipient public key: `{type: 'x25519' | 'xwing', bytes, id, text}`. */
function publicKey(type, bytes) {
  const prefix = type === 'x25519' ? PUBLIC_KEY_PREFIX : PQ_PUBLIC_KEY_PREFIX;
  const text = prefix + base64Encode(concat(bytes, checksum(prefix, bytes)), URL_SAFE, false);
  return { type, bytes, id: keyIdOf(bytes), text };
}

/** Reads one public key line (§3.3, steps 1 to 6), with sealant-core's messages. */
export function parsePublicKey(input) {
  const text = trimKeyText(input);
  if (text.startsWith(PRIVATE_KEY_PREFIX) || text.startsWith(PQ_PRIVATE_KEY_PREFIX)) {
    const want = text.startsWith(PRIVATE_KEY_PREFIX) ? PUBLIC_KEY_PREFIX : PQ_PUBLIC_KEY_PREFIX;
    throw new SealantError(
      `this is a private key, not a public key: pass the .pub file or the \`${want}\` line`,
    );
  }
  let type;
  let prefix;
  if (text.startsWith(PUBLIC_KEY_PREFIX)) [type, prefix] = ['x25519', PUBLIC_KEY_PREFIX];
  else if (text.startsWith(PQ_PUBLIC_KEY_PREFIX)) [type, prefix] = ['xwing', PQ_PUBLIC_KEY_PREFIX];
  else {
    throw new SealantError(
      'not a sealant public key (expected a line starting with `sealant-pub-v1:` or `sealant-pub-pq1:`)',
    );
  }
  const [chars, len] = type === 'x25519' ? [48, KEY_LEN] : [1627, XWING_PUBLIC_LEN];
  const encoded = text.slice(prefix.length);
  const body = encoded.length === chars ? base64Decode(encoded, URL_SAFE, false) : null;
  if (body === null || body.length !== len + 4) {
    throw new SealantError(
      `malformed public key: the text after \`${prefix}\` must be ${chars} base64url characters`,
    );
  }
  const bytes = body.slice(0, len);
  if (!equalBytes(body.slice(len), checksum(prefix, bytes))) {
    throw new SealantError('public key checksum mismatch: the key was mistyped or truncated');
  }
  if (!isCanonicalX25519(bytes.slice(len - KEY_LEN))) {
    throw new SealantError('malformed public key: not a canonical X25519 public key');
  }
  if (type === 'xwing' && !isValidMlKemKey(bytes.slice(0, MLKEM_EK_LEN))) {
    throw new SealantError('malformed public key: not a valid ML-KEM-768 encapsulation key');
  }
  return publicKey(type, bytes);
}

/** X-Wing's expandDecapsulationKey (§3.1). */
function expandXWing(seed) {
  const expanded = shake256(seed, { dkLen: 96 });
  const { publicKey: ek, secretKey: dk } = ml_kem768.keygen(expanded.slice(0, 64));
  const skX = expanded.slice(64, 96);
  const pkX = x25519.getPublicKey(skX);
  return { dk, skX, pkX, public: concat(ek, pkX) };
}

/** Reads a private key file (§3.4), with sealant-core's messages. Only the browser test opens
 * values (the page never sees a private key); it is here to prove the format both ways. */
export function parsePrivateKeyFile(text) {
  const notAKey =
    'not a sealant private key (expected a line starting with `SEALANT-PRIVATE-KEY-V1:` or `SEALANT-PRIVATE-KEY-PQ1:`)';
  const lines = keyLines(text);
  if (lines.length === 0) throw new SealantError(notAKey);
  if (lines.length > 1) {
    throw new SealantError(
      `a private key file must hold exactly one key line, found ${lines.length}`,
    );
  }
  const line = lines[0];
  if (line.startsWith(PUBLIC_KEY_PREFIX) || line.startsWith(PQ_PUBLIC_KEY_PREFIX)) {
    throw new SealantError('this is a public key, not a private key');
  }
  let prefix;
  if (line.startsWith(PRIVATE_KEY_PREFIX)) prefix = PRIVATE_KEY_PREFIX;
  else if (line.startsWith(PQ_PRIVATE_KEY_PREFIX)) prefix = PQ_PRIVATE_KEY_PREFIX;
  else throw new SealantError(notAKey);
  const encoded = line.slice(prefix.length);
  const body = encoded.length === 48 ? base64Decode(encoded, URL_SAFE, false) : null;
  if (body === null || body.length !== KEY_LEN + 4) {
    throw new SealantError(
      `malformed private key: the text after \`${prefix}\` must be 48 base64url characters`,
    );
  }
  const secret = body.slice(0, KEY_LEN);
  if (!equalBytes(body.slice(KEY_LEN), checksum(prefix, secret))) {
    throw new SealantError('private key checksum mismatch: the key was mistyped or truncated');
  }
  if (prefix === PRIVATE_KEY_PREFIX) {
    const pub = publicKey('x25519', x25519.getPublicKey(secret));
    return { type: 'x25519', secret, public: pub, id: pub.id };
  }
  const expanded = expandXWing(secret);
  const pub = publicKey('xwing', expanded.public);
  return { type: 'xwing', secret, expanded, public: pub, id: pub.id };
}

// ---------------------------------------------------------------------------------------------
// Names and bindings (§4)

function invalidName(field, value, rule) {
  return new SealantError(`invalid ${field} ${quote(value)}: ${rule}`);
}

const isLowerOrDigit = (c) => (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

function validateNamespace(value) {
  const ok =
    value.length >= 1 &&
    value.length <= MAX_NAMESPACE_LEN &&
    /^[a-z0-9-]*$/.test(value) &&
    !value.startsWith('-') &&
    !value.endsWith('-');
  if (!ok) {
    throw invalidName(
      'namespace',
      value,
      "a namespace is at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
    );
  }
}

function validateObjectName(value) {
  const labelOk = (label) =>
    label.length > 0 &&
    isLowerOrDigit(label[0]) &&
    isLowerOrDigit(label[label.length - 1]) &&
    /^[a-z0-9-]*$/.test(label);
  if (!(value.length <= MAX_NAME_LEN && value.split('.').every(labelOk))) {
    throw invalidName(
      'name',
      value,
      "a name is at most 253 characters: dot-separated parts of lowercase letters, digits and '-', each starting and ending with a letter or digit",
    );
  }
}

function validateKeyName(value) {
  const ok =
    value.length >= 1 &&
    value.length <= MAX_NAME_LEN &&
    value !== '.' &&
    value !== '..' &&
    /^[A-Za-z0-9._-]*$/.test(value);
  if (!ok) throw invalidName('key', value, "a key is at most 253 letters, digits, '-', '_' or '.'");
}

const bindsNamespace = (scope) => scope !== 'cluster-wide';
const bindsName = (scope) => scope === 'strict';

/** Checks a binding's canonical form, in sealant-core's order (§5.1 step 4). */
function checkBinding({ scope, namespace, name, key }) {
  for (const [field, value, bound] of [
    ['namespace', namespace, bindsNamespace(scope)],
    ['name', name, bindsName(scope)],
  ]) {
    if (bound && value === '') {
      throw new SealantError(`a ${scope} value must be bound to a ${field}`);
    }
    if (!bound && value !== '') {
      throw new SealantError(`a ${scope} value must not carry a ${field}`);
    }
  }
  if (bindsNamespace(scope)) validateNamespace(namespace);
  if (bindsName(scope)) validateObjectName(name);
  validateKeyName(key);
}

/** The binding of a value sealed with `scope` at a location: names the scope does not bind are
 * dropped, the others checked. */
export function binding(scope, { namespace, name, key }) {
  if (!(scope in SCOPE_CODE)) {
    throw new SealantError(
      `unknown scope '${scope}' (expected strict, namespace-wide or cluster-wide)`,
    );
  }
  const b = {
    scope,
    namespace: bindsNamespace(scope) ? namespace : '',
    name: bindsName(scope) ? name : '',
    key,
  };
  checkBinding(b);
  return b;
}

function describePlace(b) {
  if (b.scope === 'strict') return `${b.namespace}/${b.name} (strict)`;
  if (b.scope === 'namespace-wide') return `namespace ${b.namespace} (namespace-wide)`;
  return 'any namespace (cluster-wide)';
}

function allows(b, at) {
  return (
    b.key === at.key &&
    (!bindsNamespace(b.scope) || b.namespace === at.namespace) &&
    (!bindsName(b.scope) || b.name === at.name)
  );
}

// ---------------------------------------------------------------------------------------------
// The envelope (§5)

function headerBytes(b, stanzas, commitment) {
  const name = (s) => {
    const bytes = enc.encode(s);
    return concat(new Uint8Array([bytes.length]), bytes);
  };
  return concat(
    new Uint8Array([VERSION, SCOPE_CODE[b.scope]]),
    name(b.namespace),
    name(b.name),
    name(b.key),
    new Uint8Array([stanzas.length]),
    ...stanzas.map((s) => concat(new Uint8Array([s.type]), s.keyId, s.share, s.wrapped)),
    commitment,
  );
}

/** Parses the binary envelope (§5.1), checking in sealant-core's order and with its messages. */
function readEnvelope(bytes) {
  let at = 0;
  const take = (n, field) => {
    if (bytes.length - at < n) throw new SealantError(`truncated: the data ends inside the ${field}`);
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const version = take(1, 'version')[0];
  if (version !== VERSION) throw new SealantError(`unsupported format version ${version}`);
  const code = take(1, 'scope')[0];
  const scope = SCOPES[code - 1];
  if (scope === undefined) throw new SealantError(`unknown scope code ${code}`);
  const readName = (field) => {
    const raw = take(take(1, field)[0], field);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw invalidName(field, new TextDecoder('utf-8').decode(raw), 'names are ASCII');
    }
  };
  const namespace = readName('namespace');
  const name = readName('name');
  const key = readName('key');
  const b = { scope, namespace, name, key };
  checkBinding(b);
  const count = take(1, 'recipient count')[0];
  if (count === 0 || count > MAX_RECIPIENTS) {
    throw new SealantError(`${count} recipients: a value is sealed to 1 to ${MAX_RECIPIENTS} keys`);
  }
  const stanzas = [];
  for (let i = 0; i < count; i++) {
    const type = take(1, 'recipient type')[0];
    if (type !== STANZA_X25519 && type !== STANZA_XWING) {
      throw new SealantError(`unknown recipient type ${type}`);
    }
    const keyId = take(KEY_ID_LEN, 'recipient key id').slice();
    if (stanzas.some((s) => equalBytes(s.keyId, keyId))) {
      throw new SealantError(`key ${toHex(keyId)} appears twice among the recipients`);
    }
    const share =
      type === STANZA_X25519
        ? take(KEY_LEN, 'recipient ephemeral key').slice()
        : take(XWING_CIPHERTEXT_LEN, 'recipient ciphertext').slice();
    const wrapped = take(KEY_LEN + TAG_LEN, 'recipient wrapped key').slice();
    stanzas.push({ type, keyId, share, wrapped });
  }
  const commitment = take(32, 'key commitment').slice();
  const headerEnd = at;
  const lenBytes = take(4, 'payload length');
  const payloadLen = new DataView(lenBytes.buffer, lenBytes.byteOffset, 4).getUint32(0);
  if (payloadLen < TAG_LEN) throw new SealantError('the payload is shorter than its 16-byte tag');
  const payload = take(payloadLen, 'payload').slice();
  if (at !== bytes.length) {
    throw new SealantError(`${bytes.length - at} trailing bytes after the payload`);
  }
  return { binding: b, stanzas, commitment, header: bytes.slice(0, headerEnd), payload };
}

// ---------------------------------------------------------------------------------------------
// Sealing (§6)

const deriveKey = (salt, ikm, info) => hkdf(sha256, ikm, salt, info, KEY_LEN);
const aeadSeal = (key, aad, m) => chacha20poly1305(key, ZERO_NONCE, aad).encrypt(m);
const aeadOpen = (key, aad, c) => chacha20poly1305(key, ZERO_NONCE, aad).decrypt(c);

/** The X25519 shared secret, or null for the all-zero output of a low-order point. noble
 * refuses those itself; the explicit check keeps the rule visible and version-proof. */
function x25519Shared(secret, point) {
  let shared;
  try {
    shared = x25519.getSharedSecret(secret, point);
  } catch {
    return null;
  }
  return shared.every((b) => b === 0) ? null : shared;
}

function xwingCombine(ssM, ssX, ctX, pkX) {
  return sha3_256(concat(ssM, ssX, ctX, pkX, XWING_LABEL));
}

/** X-Wing's EncapsulateDerand (§6 step 2): the 1120-byte ciphertext `ct_M || ct_X` and the
 * shared secret for the 1216-byte public key, from the 64-byte `eseed`; null when `pk_X` is a
 * low-order point. */
export function xwingEncapsulate(publicBytes, eseed) {
  const ekM = publicBytes.slice(0, MLKEM_EK_LEN);
  const pkX = publicBytes.slice(MLKEM_EK_LEN);
  const { cipherText: ctM, sharedSecret: ssM } = ml_kem768.encapsulate(ekM, eseed.slice(0, 32));
  const ekX = eseed.slice(32, 64);
  const ctX = x25519.getPublicKey(ekX);
  const ssX = x25519Shared(ekX, pkX);
  if (ssX === null) return null;
  return { ciphertext: concat(ctM, ctX), shared: xwingCombine(ssM, ssX, ctX, pkX) };
}

/** The X-Wing public key of a 32-byte seed (§3.1). */
export function xwingPublicKey(seed) {
  return expandXWing(seed).public;
}

/** Cryptographically secure random bytes: the one source of randomness (§2). */
export function systemRandom(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** The distinct recipients, in order; two different keys with one key id are refused (§6). */
function uniqueRecipients(recipients) {
  const unique = [];
  for (const key of recipients) {
    const same = unique.find((k) => equalBytes(k.id, key.id));
    if (!same) unique.push(key);
    else if (same.type !== key.type || !equalBytes(same.bytes, key.bytes)) {
      throw new SealantError(
        `two different public keys have the same key id ${toHex(key.id)}: refusing to seal to both (a key pair can be made to collide with another's 64-bit id; check where each key came from)`,
      );
    }
  }
  return unique;
}

/** Seals one value to the recipients (§6); returns the binary envelope. `random(n)` gives n
 * random bytes (the known-answer vectors pass a fixed stream). */
export function sealEnvelope(plaintext, b, recipients, random = systemRandom) {
  checkBinding(b);
  const unique = uniqueRecipients(recipients);
  if (unique.length === 0) throw new SealantError('no public key to seal to');
  if (unique.length > MAX_RECIPIENTS) {
    throw new SealantError(
      `${unique.length} public keys given: a value can be sealed to at most ${MAX_RECIPIENTS}`,
    );
  }
  if (plaintext.length > 0xffffffff - TAG_LEN) {
    throw new SealantError(`value '${b.key}' is too large to seal (4 GiB at most)`);
  }
  const dataKey = random(KEY_LEN);
  const stanzas = [];
  for (const r of unique) {
    const unusable = () =>
      new SealantError(`public key ${toHex(r.id)} is not a usable X25519 key (low-order point)`);
    let share;
    let wrapKey;
    if (r.type === 'x25519') {
      const ephemeralSecret = random(KEY_LEN);
      const ephemeral = x25519.getPublicKey(ephemeralSecret);
      const shared = x25519Shared(ephemeralSecret, r.bytes);
      if (shared === null) throw unusable();
      share = ephemeral;
      wrapKey = deriveKey(concat(ephemeral, r.bytes), shared, WRAP_LABEL);
    } else {
      const encapsulated = xwingEncapsulate(r.bytes, random(64));
      if (encapsulated === null) throw unusable();
      share = encapsulated.ciphertext;
      wrapKey = deriveKey(EMPTY, encapsulated.shared, XWING_WRAP_LABEL);
    }
    const type = r.type === 'x25519' ? STANZA_X25519 : STANZA_XWING;
    stanzas.push({ type, keyId: r.id, share, wrapped: aeadSeal(wrapKey, EMPTY, dataKey) });
  }
  const commitment = deriveKey(EMPTY, dataKey, COMMITMENT_LABEL);
  const header = headerBytes(b, stanzas, commitment);
  const payload = aeadSeal(deriveKey(EMPTY, dataKey, PAYLOAD_LABEL), header, plaintext);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, payload.length);
  dataKey.fill(0);
  return concat(header, length, payload);
}

/** Seals one value and returns its text form (§5.2). */
export function sealValue(plaintext, b, recipients, random = systemRandom) {
  return base64.encode(sealEnvelope(plaintext, b, recipients, random));
}

// ---------------------------------------------------------------------------------------------
// Opening (§7): used by the browser test to check the format both ways.

function describeIds(ids) {
  if (ids.length === 0) return 'no key';
  if (ids.length === 1) return `key ${shortId(ids[0])}`;
  return `keys ${ids.map(shortId).join(', ')}`;
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Opens a sealed value found at `at` ({namespace, name, key}) with the private keys held. */
export function openValue(text, at, ring) {
  const k = at.key;
  const bytes = base64.decode(text);
  let env;
  try {
    if (bytes === null) throw new SealantError('not canonical standard base64 (padded, no whitespace)');
    env = readEnvelope(bytes);
  } catch (e) {
    if (!(e instanceof SealantError)) throw e;
    throw new OpenError('InvalidSealedValue', `value '${k}' is not a valid sealed value: ${e.message}`);
  }
  const b = env.binding;
  if (!allows(b, at)) {
    const place = describePlace(b);
    const sealedFor = b.key === k ? place : `key '${b.key}' of ${place}`;
    const openedAs =
      b.scope === 'strict'
        ? `${at.namespace}/${at.name}`
        : b.scope === 'namespace-wide'
          ? `namespace ${at.namespace}`
          : `key '${k}'`;
    throw new OpenError(
      'WrongScope',
      `value '${k}' was sealed for ${sealedFor} but is being opened as ${openedAs}`,
    );
  }
  let stanza;
  let priv;
  for (const s of env.stanzas) {
    priv = ring.find((p) => equalBytes(p.id, s.keyId));
    if (priv) {
      stanza = s;
      break;
    }
  }
  if (!stanza) {
    const wanted = env.stanzas.map((s) => s.keyId);
    // Held keys are counted by key id (FORMAT.md): the same key given twice is one key.
    const available = [...new Map(ring.map((p) => [p.id.join(','), p.id])).values()].sort(
      compareBytes,
    );
    throw new OpenError(
      'UnknownKey',
      `value '${k}' was sealed for ${describeIds(wanted)} which ${wanted.length === 1 ? 'is not' : 'are not'} among the ${available.length === 1 ? '1 key' : `${available.length} keys`} provided (${describeIds(available)})`,
    );
  }
  const tampered = () => new OpenError('Tampered', `tampered or corrupt value '${k}'`);
  let wrapKey;
  if (stanza.type === STANZA_X25519 && priv.type === 'x25519') {
    const shared = x25519Shared(priv.secret, stanza.share);
    if (shared === null) throw tampered();
    wrapKey = deriveKey(concat(stanza.share, priv.public.bytes), shared, WRAP_LABEL);
  } else if (stanza.type === STANZA_XWING && priv.type === 'xwing') {
    const ctM = stanza.share.slice(0, MLKEM_CT_LEN);
    const ctX = stanza.share.slice(MLKEM_CT_LEN);
    const ssM = ml_kem768.decapsulate(ctM, priv.expanded.dk);
    const ssX = x25519Shared(priv.expanded.skX, ctX);
    if (ssX === null) throw tampered();
    wrapKey = deriveKey(EMPTY, xwingCombine(ssM, ssX, ctX, priv.expanded.pkX), XWING_WRAP_LABEL);
  } else {
    throw tampered();
  }
  let dataKey;
  try {
    dataKey = aeadOpen(wrapKey, EMPTY, stanza.wrapped);
  } catch {
    throw tampered();
  }
  if (!equalBytes(deriveKey(EMPTY, dataKey, COMMITMENT_LABEL), env.commitment)) throw tampered();
  try {
    return aeadOpen(deriveKey(EMPTY, dataKey, PAYLOAD_LABEL), env.header, env.payload);
  } catch {
    throw tampered();
  } finally {
    dataKey.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Secrets to SealedSecrets (§9), as `sealant seal` reads them: same checks, same order, same
// messages, with `SOURCE: document N (kind K)` naming the place.

/** The documents of a YAML or JSON stream, `kind: List` expanded, empty documents skipped. */
function documents(text, source) {
  const docs = [];
  parseAllDocuments(text).forEach((doc, i) => {
    const place = `${source}: document ${i + 1}`;
    if (doc.errors.length > 0) {
      throw new SealantError(`${place}: invalid YAML: ${doc.errors[0].message.split('\n')[0].replace(/:$/, '')}`);
    }
    const value = doc.toJS({ mapAsMap: true, maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    if (!(value instanceof Map)) {
      throw new SealantError(`${place}: expected a Kubernetes object (a mapping)`);
    }
    const kind = value.get('kind');
    if (typeof kind === 'string' && kind.endsWith('List')) {
      const items = value.get('items');
      if (items !== undefined && items !== null && !Array.isArray(items)) {
        throw new SealantError(`${place} (kind List): items: expected a list`);
      }
      (items ?? []).forEach((item, j) => docs.push({ place: `${place}, item ${j + 1}`, value: item }));
    } else {
      docs.push({ place, value });
    }
  });
  return docs;
}

function contextOf(doc) {
  const kind = doc.value instanceof Map ? doc.value.get('kind') : undefined;
  return typeof kind === 'string' && kind !== ''
    ? `${doc.place} (kind ${kind})`
    : `${doc.place} (no kind)`;
}

function optionalString(map, key, field, ctx) {
  const v = map instanceof Map ? map.get(key) : undefined;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  throw new SealantError(`${ctx}: ${field}: expected a string`);
}

function stringMap(value, field, ctx) {
  const out = new Map();
  if (value === undefined || value === null) return out;
  if (!(value instanceof Map)) throw new SealantError(`${ctx}: ${field}: expected a mapping`);
  for (const [k, v] of value) {
    if (typeof k !== 'string') throw new SealantError(`${ctx}: ${field}: keys must be strings`);
    if (v === null) out.set(k, '');
    else if (typeof v === 'string') out.set(k, v);
    else {
      throw new SealantError(`${ctx}: ${field}.${k}: expected a string (quote numbers and booleans)`);
    }
  }
  return out;
}

const byBytes = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** Reads a v1 Secret as the API server would accept it (the CLI's `parse_secret`). */
function parseSecret(doc) {
  const ctx = contextOf(doc);
  const err = (field, msg) => new SealantError(`${ctx}: ${field}: ${msg}`);
  const v = doc.value;
  if (!(v instanceof Map) || v.get('kind') !== 'Secret') {
    throw new SealantError(`${ctx}: expected kind Secret`);
  }
  const apiVersion = v.get('apiVersion');
  if (typeof apiVersion !== 'string') throw err('apiVersion', 'missing (expected v1)');
  if (apiVersion !== 'v1') throw err('apiVersion', `expected v1, found ${apiVersion}`);
  const metadata = v.get('metadata');
  if (metadata === undefined) throw err('metadata', 'missing');
  const name = optionalString(metadata, 'name', 'metadata.name', ctx);
  if (!name) throw err('metadata.name', 'missing');
  const namespace = optionalString(metadata, 'namespace', 'metadata.namespace', ctx) || undefined;
  const data = new Map();
  for (const [key, text] of stringMap(v.get('data'), 'data', ctx)) {
    const bytes = base64.decode(text);
    if (bytes === null) throw err(`data.${key}`, 'invalid base64');
    data.set(key, bytes);
  }
  const stringData = stringMap(v.get('stringData'), 'stringData', ctx);
  const immutable = v.get('immutable');
  if (immutable !== undefined && immutable !== null && typeof immutable !== 'boolean') {
    throw err('immutable', 'expected true or false');
  }
  const meta = metadata instanceof Map ? metadata : new Map();
  const labels = stringMap(meta.get('labels'), 'metadata.labels', ctx);
  const annotations = stringMap(meta.get('annotations'), 'metadata.annotations', ctx);
  const type = optionalString(v, 'type', 'type', ctx);
  return {
    ctx,
    name,
    namespace,
    data,
    stringData,
    labels,
    annotations,
    type,
    immutable: typeof immutable === 'boolean' ? immutable : undefined,
  };
}

/** The values to seal, by key in byte order, `stringData` over `data`, each with its field. */
function secretValues(secret) {
  const values = new Map();
  for (const [key, bytes] of secret.data) values.set(key, { field: `data.${key}`, bytes });
  for (const [key, text] of secret.stringData) {
    values.set(key, { field: `stringData.${key}`, bytes: enc.encode(text) });
  }
  return [...values.entries()].sort(([a], [b]) => byBytes(a, b));
}

/** The SealedSecret as YAML, fields in the order `sealant seal` writes them. */
function sealedSecretYaml(secret, namespace, encryptedData, recipients) {
  const metadata = { name: secret.name };
  if (namespace !== '') metadata.namespace = namespace;
  const template = {};
  const annotations = new Map([...secret.annotations].filter(([k]) => k !== LAST_APPLIED));
  if (secret.labels.size > 0 || annotations.size > 0) {
    template.metadata = {};
    if (secret.labels.size > 0) template.metadata.labels = sortedObject(secret.labels);
    if (annotations.size > 0) template.metadata.annotations = sortedObject(annotations);
  }
  if (secret.type !== undefined) template.type = secret.type;
  if (secret.immutable !== undefined) template.immutable = secret.immutable;
  const spec = { encryptedData: sortedObject(encryptedData), recipients };
  if (Object.keys(template).length > 0) spec.template = template;
  const object = { apiVersion: 'sealant.dev/v1alpha1', kind: 'SealedSecret', metadata, spec };
  return stringify(object, { lineWidth: 0, minContentWidth: 0 });
}

function sortedObject(map) {
  const out = {};
  for (const key of [...map.keys()].sort(byBytes)) out[key] = map.get(key);
  return out;
}

/** Reads the key lines of a text box: `#` comments and empty lines ignored. `source` names the
 * box in messages (`recipients line 2: …`). */
export function parseKeyLines(text, source) {
  const keys = [];
  text.split('\n').forEach((raw, i) => {
    const line = trimKeyText(raw);
    if (line === '' || line.startsWith('#')) return;
    try {
      keys.push(parsePublicKey(line));
    } catch (e) {
      throw new SealantError(`${source} line ${i + 1}: ${e.message}`);
    }
  });
  return keys;
}

/**
 * Seals every Secret of `input` (YAML or JSON text, named `source` in messages) as
 * `sealant seal --scope SCOPE [--namespace NS] --public-key ...` would, and returns the
 * SealedSecrets as one YAML stream. `namespace` plays `--namespace` (empty: not given; Secrets
 * without one then go to `default`, as with a kubeconfig without a namespace).
 */
export function sealSecrets({ input, source = 'input', scope, namespace = '', recipients, random }) {
  if (!SCOPES.includes(scope)) {
    throw new SealantError(
      `unknown scope '${scope}' (expected strict, namespace-wide or cluster-wide)`,
    );
  }
  const docs = documents(input, source);
  if (docs.length === 0) throw new SealantError(`${source}: no Secret to seal (the input is empty)`);
  const secrets = docs.map((doc) => {
    const secret = parseSecret(doc);
    if (secret.data.size === 0 && secret.stringData.size === 0) {
      throw new SealantError(`${secret.ctx}: the Secret has no data or stringData`);
    }
    if (secret.namespace !== undefined && namespace !== '' && secret.namespace !== namespace) {
      throw new SealantError(
        `${secret.ctx}: metadata.namespace is '${secret.namespace}' but the namespace field is '${namespace}'`,
      );
    }
    const resolved = secret.namespace ?? (namespace || 'default');
    const given = secret.namespace !== undefined || namespace !== '';
    return { secret, namespace: scope === 'cluster-wide' && !given ? '' : resolved };
  });
  const keys = recipients();
  if (keys.length === 0) throw new SealantError('no public key to seal to: paste a key line into the recipients box');
  // Every binding is checked before anything is sealed, data keys first, as `sealant seal` does.
  for (const { secret, namespace: ns } of secrets) {
    for (const [field, map] of [['data', secret.data], ['stringData', secret.stringData]]) {
      for (const key of [...map.keys()].sort(byBytes)) {
        try {
          binding(scope, { namespace: ns, name: secret.name, key });
        } catch (e) {
          throw new SealantError(`${secret.ctx}: ${field}.${key}: ${e.message}`);
        }
      }
    }
  }
  const recipientText = [];
  for (const k of keys) if (!recipientText.includes(k.text)) recipientText.push(k.text);
  const out = [];
  for (const { secret, namespace: ns } of secrets) {
    const encryptedData = new Map();
    for (const [key, { field, bytes }] of secretValues(secret)) {
      try {
        const b = binding(scope, { namespace: ns, name: secret.name, key });
        encryptedData.set(key, sealValue(bytes, b, keys, random));
      } catch (e) {
        throw new SealantError(`${secret.ctx}: ${field}: ${e.message}`);
      }
    }
    out.push(sealedSecretYaml(secret, ns, encryptedData, recipientText));
  }
  return out.join('---\n');
}

/** A Secret manifest from the form's name, namespace and key/value rows. */
export function secretFromForm({ namespace, name, rows }) {
  const stringData = {};
  for (const { key, value } of rows) if (key !== '' || value !== '') stringData[key] = value;
  const metadata = { name };
  if (namespace !== '') metadata.namespace = namespace;
  return stringify({ apiVersion: 'v1', kind: 'Secret', metadata, stringData });
}

// ---------------------------------------------------------------------------------------------
// The page

function describeKey(k) {
  return `${toHex(k.id)} (${k.type === 'x25519' ? 'X25519' : 'X-Wing, post-quantum'})`;
}

function startPage() {
  const $ = (id) => document.getElementById(id);
  const output = $('output');
  let served = [];

  const show = (text, isError) => {
    output.value = text;
    output.classList.toggle('error', isError);
    $('copy').disabled = isError || text === '';
    $('download').disabled = isError || text === '';
  };

  // The one request the page makes: the public keys its server holds.
  fetch('keys', { cache: 'no-store', credentials: 'same-origin' })
    .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((text) => {
      served = parseKeyLines(text, 'served keys');
      $('served').textContent =
        served.length === 0
          ? 'The server holds no public key: paste one below.'
          : `Sealing to the served key${served.length === 1 ? '' : 's'} ${served.map(describeKey).join(', ')}.`;
    })
    .catch((e) => {
      served = [];
      $('served').textContent = `No served keys (${e.message}): paste key lines below.`;
    });

  const addRow = () => {
    const row = $('row-template').content.firstElementChild.cloneNode(true);
    row.querySelector('.remove').addEventListener('click', () => row.remove());
    $('rows').append(row);
  };
  $('add-row').addEventListener('click', addRow);
  addRow();

  $('seal').addEventListener('click', () => {
    try {
      let input = $('input').value;
      let source = 'input';
      if (input.trim() === '') {
        input = secretFromForm({
          namespace: $('namespace').value.trim(),
          name: $('name').value.trim(),
          rows: [...$('rows').children].map((row) => ({
            key: row.querySelector('.key').value.trim(),
            value: row.querySelector('.value').value,
          })),
        });
        source = 'form';
      }
      const yaml = sealSecrets({
        input,
        source,
        scope: $('scope').value,
        namespace: source === 'input' ? $('namespace').value.trim() : '',
        recipients: () => [...served, ...parseKeyLines($('recipients').value, 'recipients')],
      });
      show(yaml, false);
    } catch (e) {
      show(e instanceof SealantError ? `error: ${e.message}` : `error: ${String(e)}`, true);
    }
  });

  $('copy').addEventListener('click', () => navigator.clipboard.writeText(output.value));
  $('download').addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([output.value], { type: 'application/yaml' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'sealed-secret.yaml';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  });
  $('clear').addEventListener('click', () => {
    $('input').value = '';
    for (const field of document.querySelectorAll('#rows .value')) field.value = '';
    show('', false);
  });
  show('', false);
}

if (typeof document !== 'undefined' && document.getElementById('seal')) startPage();
