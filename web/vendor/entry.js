// The only third-party code the page runs, re-exported for one esbuild bundle (vendor/noble.js).
// Audited crypto from the @noble packages, and the `yaml` parser for the pasted Secret.
export { x25519 } from '@noble/curves/ed25519.js';
export { chacha20poly1305 } from '@noble/ciphers/chacha.js';
export { hkdf } from '@noble/hashes/hkdf.js';
export { sha256 } from '@noble/hashes/sha2.js';
export { sha3_256, shake256 } from '@noble/hashes/sha3.js';
export { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
export { parseAllDocuments, stringify } from 'yaml';
