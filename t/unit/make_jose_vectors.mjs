// Test vectors for t/unit/jose_test.c (and seeds for t/fuzz/fuzz_jose.c),
// made by implementations independent of ngx_kedge_jose.c: node's crypto
// and Buffer, npm jose 5 (a cross-check of every token meant to verify)
// and t/fixtures/oidc/mint.mjs (keys and its 37 named cases).
//
//   node t/unit/make_jose_vectors.mjs OUT_DIR [--fuzz-keys FILE] [--seeds DIR]
//
// OUT_DIR is made anew:
//   keys/         mint.mjs's key directory (rsa1, ec1, weak, oct, dup, ...)
//   jwks/NAME     JWK Sets (files, not always JSON) for the parser
//   tok/NAME      tokens, one a file, no newline
//   mint/CASE     mint.mjs's cases, signed now, --iss ISS --perms read,write
//   claims/NAME   the payload JSON text of each tok/c-* token
//   b64.txt       base64url vectors: "ok|bad INPUT-HEX OUTPUT-HEX" ("-":
//                 empty), the output decoded by node's Buffer
//
// The tokens of tok/ are signed over exactly the bytes written here (the
// header and payload texts are given byte for byte, some hostile), with
// node's crypto; the ones meant to verify are verified by jose before
// they are written.  Times are fixed: jose_test.c verifies them "at" T0.
// --fuzz-keys FILE: FILE's "rsa1" and "ec1" private JWKs replace mint's,
// so that tokens verify against the fuzzer's embedded key set.  --seeds
// DIR: all of it as the fuzzer's inputs, each behind the byte that picks
// its mode (0 a JWK Set, 1 a token, 2 header or payload JSON, 3 base64url).

import { spawn, spawnSync } from 'node:child_process';
import {
  constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, privateEncrypt,
  randomBytes, sign,
} from 'node:crypto';
import {
  mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = resolve(here, '../fixtures/oidc');
const mint = join(fixture, 'mint.mjs');
const jose = await import(pathToFileURL(createRequire(join(fixture, 'package.json'))
  .resolve('jose')).href);

// the policy of jose_test.c and fuzz_jose.c
export const ISS = 'https://issuer.example';
export const AUD = 'kedge';
export const T0 = 1700000000;

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'fuzz-keys': { type: 'string' }, seeds: { type: 'string' } },
});
if (positionals.length !== 1) {
  process.stderr.write('usage: make_jose_vectors.mjs OUT_DIR [--fuzz-keys FILE] [--seeds DIR]\n');
  process.exit(2);
}
const out = resolve(positionals[0]);

rmSync(out, { recursive: true, force: true });
for (const d of ['jwks', 'tok', 'mint', 'claims']) {
  mkdirSync(join(out, d), { recursive: true });
}

const b64url = (data) => Buffer.from(data).toString('base64url');
const write = (name, data) => writeFileSync(join(out, name), data);
const json = (value) => JSON.stringify(value);
const pub = ({ d, p, q, dp, dq, qi, ...rest }) => rest;

// ---- keys: mint's directory, then ours

const keyDir = join(out, 'keys');
const run = spawnSync(process.execPath, [mint, 'keys', keyDir], { stdio: 'inherit' });
if (run.status !== 0) {
  throw new Error('mint.mjs keys failed');
}
const readKey = (name) => JSON.parse(readFileSync(join(keyDir, `${name}.jwk`), 'utf8'));

if (opts['fuzz-keys']) {
  const fk = JSON.parse(readFileSync(opts['fuzz-keys'], 'utf8'));
  writeFileSync(join(keyDir, 'rsa1.jwk'), `${json(fk.rsa1)}\n`);
  writeFileSync(join(keyDir, 'ec1.jwk'), `${json(fk.ec1)}\n`);
  for (const name of ['rsa1', 'ec1']) {
    writeFileSync(join(keyDir, `${name}.pub.pem`),
      createPublicKey({ key: fk[name], format: 'jwk' }).export({ type: 'spki', format: 'pem' }));
  }
  writeFileSync(join(keyDir, 'jwks.json'), `${json({ keys: [pub(fk.rsa1), pub(fk.ec1)] })}\n`);
  const weakSet = JSON.parse(readFileSync(join(keyDir, 'jwks-weak.json'), 'utf8'));
  weakSet.keys[0] = pub(fk.rsa1);
  weakSet.keys[1] = pub(fk.ec1);
  weakSet.keys[4] = { ...pub(fk.rsa1), kid: 'dup' };
  writeFileSync(join(keyDir, 'jwks-weak.json'), `${json(weakSet)}\n`);
}

const rsaKey = (bits, extra = {}, e = undefined) => {
  const o = { modulusLength: bits };
  if (e !== undefined) {
    o.publicExponent = e;
  }
  return { ...generateKeyPairSync('rsa', o).privateKey.export({ format: 'jwk' }), ...extra };
};
const ecKey = (crv, extra = {}) => ({
  ...generateKeyPairSync('ec', { namedCurve: crv }).privateKey.export({ format: 'jwk' }), ...extra,
});

const K = {
  rsa1: readKey('rsa1'),                  // kid rsa1, alg RS256, use sig
  ec1: readKey('ec1'),                    // kid ec1, alg ES256, use sig
  weak: readKey('weak'),                  // RSA-1024
  oct: readKey('oct'),
  dup: readKey('dup'),
  rsaAny: rsaKey(2048, { kid: 'rsa-any' }),                   // no alg: all RS/PS
  ec384: ecKey('P-384', { kid: 'ec384' }),
  ec521: ecKey('P-521', { kid: 'ec521' }),
  rsa4096: rsaKey(4096, { kid: 'rsa4096', key_ops: ['verify'], use: 'sig' }),
  e3: rsaKey(2048, { kid: 'e3' }, 3),
  eBig: rsaKey(2048, { kid: 'e-big' }, 0x7fffffff),           // 4-byte exponent
  rsa2047: rsaKey(2047, { kid: 'rsa2047' }),
  rsa3072: rsaKey(3072),                  // no kid (nokid set)
  rsaA: rsaKey(2048),
  rsaB: rsaKey(2048),
  ecN: ecKey('P-256'),
  stranger: rsaKey(2048, { kid: 'stranger' }),
  k256: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'jwk' }),
  ed: generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }),
};

// ---- JWK Sets

const set = (...keys) => json({ keys });
const jwks = (name, text) => write(`jwks/${name}`, text);

// a byte string as base64url, with one bit of its last character changed
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const flipLast = (s, bit) => s.slice(0, -1) + ALPHABET[ALPHABET.indexOf(s.at(-1)) ^ bit];
const int = (n) => {
  let hex = n.toString(16);
  if (hex.length % 2) {
    hex = `0${hex}`;
  }
  return Buffer.from(hex, 'hex');
};
const rsaPub = pub(K.rsa1);
const ecPub = pub(K.ec1);
const ecY = Buffer.from(K.ec1.y, 'base64url');
const offCurve = Buffer.from(ecY);
offCurve[offCurve.length - 1] ^= 1;

jwks('all.json', set(pub(K.rsa1), pub(K.ec1), pub(K.rsaAny), pub(K.ec384), pub(K.rsa4096),
  pub(K.e3), pub(K.eBig)));
jwks('nokid.json', set(pub(K.rsa3072), pub(K.rsaA), pub(K.rsaB), pub(K.ecN)));
jwks('empty.json', set());
jwks('rsa2047.json', set(pub(K.rsa2047)));
// 16384 bits, the most a modulus may have (a random odd number: the
// parser and cjose look at its size only)
const n16384 = randomBytes(2048);
n16384[0] |= 0x80;
n16384[2047] |= 1;
jwks('rsa16384.json', set({ kty: 'RSA', kid: 'n-16384', n: b64url(n16384), e: 'AQAB' }));
// the same with a leading zero octet: still 16384 bits
jwks('rsa16384-zero.json', set({
  kty: 'RSA', kid: 'n-16384-00', n: b64url(Buffer.concat([Buffer.from([0]), n16384])), e: 'AQAB',
}));
// P-521: coordinates of 66 bytes, 88 characters
jwks('p521.json', set(pub(K.ec521)));
const ec521Y = Buffer.from(K.ec521.y, 'base64url');
ec521Y[ec521Y.length - 1] ^= 1;
jwks('p521-off-curve.json', set({ ...pub(K.ec521), y: b64url(ec521Y) }));
jwks('p521-x-65.json', set({ ...pub(K.ec521), x: b64url(Buffer.from(K.ec521.x, 'base64url').subarray(1)) }));
// coordinates not below the field's prime p: x + p and y + p are the same
// point to OpenSSL, but not an encoding RFC 7518 allows (P-521: p = 2^521 - 1,
// so x + p still fits in 66 bytes; P-256: a point whose x is small enough,
// found here and checked by node, which refuses points off the curve)
const big = (s) => BigInt(`0x${Buffer.from(s, 'base64url').toString('hex')}`);
const coord = (n, bytes) => b64url(Buffer.from(n.toString(16).padStart(2 * bytes, '0'), 'hex'));
const P521 = 2n ** 521n - 1n;
const P256 = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const B256 = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
jwks('p521-x-plus-p.json', set({ ...pub(K.ec521), x: coord(big(K.ec521.x) + P521, 66) }));
jwks('p521-y-plus-p.json', set({ ...pub(K.ec521), y: coord(big(K.ec521.y) + P521, 66) }));
jwks('p521-x-plus-2p.json', set({ ...pub(K.ec521), x: coord(big(K.ec521.x) + 2n * P521, 66) }));
{
  const mod = (a) => ((a % P256) + P256) % P256;
  const pow = (a, e) => {
    let r = 1n;
    let b = mod(a);
    for (let k = e; k; k >>= 1n) {
      if (k & 1n) {
        r = mod(r * b);
      }
      b = mod(b * b);
    }
    return r;
  };
  let x = 1n;
  let y;
  for (;; x += 1n) {
    const rhs = mod(x ** 3n - 3n * x + B256);
    y = pow(rhs, (P256 + 1n) / 4n);                    // p = 3 mod 4
    if (mod(y * y) === rhs) {
      break;
    }
  }
  const point = { kty: 'EC', crv: 'P-256', x: coord(x, 32), y: coord(y, 32) };
  createPublicKey({ key: point, format: 'jwk' });      // throws if off the curve
  jwks('p256-small-x.json', set({ ...point, kid: 'p256-small-x' }));
  jwks('p256-x-plus-p.json', set({ ...point, kid: 'p256-x-plus-p', x: coord(x + P256, 32) }));
}
jwks('p521-x-67.json', set({
  ...pub(K.ec521), x: b64url(Buffer.concat([Buffer.from([0]), Buffer.from(K.ec521.x, 'base64url')])),
}));

// one key of each kind that is left out, under a kid that says which;
// "good" and a 128-character kid are kept
const hostile = [
  { ...rsaPub, kid: 'good' },
  { ...rsaPub, kid: 'k'.repeat(128) },
  { ...rsaPub, kid: 'use-enc', use: 'enc' },
  { ...rsaPub, kid: 'use-num', use: 1 },
  { ...rsaPub, kid: 'ops-string', key_ops: 'verify' },
  { ...rsaPub, kid: 'ops-num', key_ops: ['verify', 1] },
  { ...rsaPub, kid: 'ops-sign', key_ops: ['sign'] },
  { ...rsaPub, kid: 'ops-empty', key_ops: [] },
  { ...K.rsa1, kid: 'priv-rsa' },
  { ...K.ec1, kid: 'priv-ec' },
  { ...rsaPub, kid: 'priv-p', p: K.rsa1.p },
  { ...rsaPub, kid: 'priv-oth', oth: [] },
  { ...K.oct, kid: 'oct-k' },
  { kty: 'oct', kid: 'oct', alg: 'HS256' },
  { n: rsaPub.n, e: rsaPub.e, kid: 'no-kty' },
  { ...rsaPub, kid: 'kty-num', kty: 1 },
  { ...K.ed, kid: 'okp' },
  { ...pub(K.weak), kid: 'rsa1024' },
  { ...pub(K.rsa2047), kid: 'rsa2047' },
  { ...rsaPub, kid: 'n-zero', n: 'AAAA' },
  { ...rsaPub, kid: 'n-missing', n: undefined },
  { ...rsaPub, kid: 'n-num', n: 7 },
  { ...rsaPub, kid: 'n-padded', n: Buffer.from(rsaPub.n, 'base64url').toString('base64') },
  { ...rsaPub, kid: 'n-empty', n: '' },
  { ...rsaPub, kid: 'n-16385', n: b64url(Buffer.concat([Buffer.from([1]), randomBytes(2048)])) },
  { ...rsaPub, kid: 'n-2050-bytes', n: b64url(Buffer.concat([Buffer.from([1]), randomBytes(2049)])) },
  { ...rsaPub, kid: 'e-missing', e: undefined },
  { ...rsaPub, kid: 'e-one', e: b64url(int(1)) },
  { ...rsaPub, kid: 'e-zero', e: b64url(int(0)) },
  { ...rsaPub, kid: 'e-even', e: b64url(int(65536)) },
  { ...rsaPub, kid: 'e-5-bytes', e: b64url(int(0x0100000001)) },
  { ...rsaPub, kid: 'e-leading-zeros', e: b64url(Buffer.from([0, 0, 1, 0, 1])) },
  { ...rsaPub, kid: 'e-9-bytes', e: b64url(Buffer.alloc(9, 1)) },
  { ...rsaPub, kid: 'e-noncanonical', e: flipLast(b64url(int(3)), 1) },
  { ...ecPub, kid: 'ec-no-crv', crv: undefined },
  { ...K.k256, kid: 'ec-secp256k1' },
  { ...ecPub, kid: 'ec-crv-ed25519', crv: 'Ed25519' },
  { ...ecPub, kid: 'ec-x-31', x: b64url(Buffer.from(ecPub.x, 'base64url').subarray(1)) },
  { ...ecPub, kid: 'ec-y-33', y: b64url(Buffer.concat([Buffer.from([0]), ecY])) },
  { ...ecPub, kid: 'ec-y-missing', y: undefined },
  { ...ecPub, kid: 'ec-x-padded', x: Buffer.from(ecPub.x, 'base64url').toString('base64') },
  { ...pub(K.ec384), kid: 'ec-p384-as-p256', crv: 'P-256' },
  { ...ecPub, kid: 'ec-p256-as-p384', crv: 'P-384' },
  { ...ecPub, kid: 'ec-off-curve', y: b64url(offCurve) },
  { ...rsaPub, kid: 'alg-num', alg: 256 },
  { ...rsaPub, kid: 'alg-es256-rsa', alg: 'ES256' },
  { ...ecPub, kid: 'alg-rs256-ec', alg: 'RS256' },
  { ...ecPub, kid: 'alg-es384-p256', alg: 'ES384' },
  { ...rsaPub, kid: 'alg-hs256', alg: 'HS256' },
  { ...rsaPub, kid: 'alg-none', alg: 'none' },
  { ...rsaPub, kid: 'alg-rs256x', alg: 'RS256x' },
  { ...rsaPub, kid: 'dup' },
  { ...pub(K.dup), kid: 'dup' },
  { ...ecPub, kid: 'dup' },
  { ...rsaPub, kid: 5 },
  { ...rsaPub, kid: '' },
  { ...rsaPub, kid: 'k'.repeat(129) },
  42,
  'a string',
  null,
  [],
];
jwks('hostile.json', set(...hostile));

// the limit of 64 keys: more (the 65th and later are not looked at),
// keys left out do not count, a kid twice among the first 64
const numbered = (n, from = 0) => Array.from({ length: n },
  (_, i) => ({ ...rsaPub, kid: `k${String(i + from).padStart(2, '0')}` }));
jwks('many.json', set(...numbered(70)));
jwks('many-64.json', set(...numbered(64)));
jwks('ten.json', set(...numbered(10)));
jwks('many-65.json', set(...numbered(65)));
jwks('many-skipped.json', set(...numbered(10).map((k) => ({ ...k, use: 'enc' })),
  ...numbered(64, 10)));
jwks('many-dup.json', set(...numbered(63), { ...rsaPub, kid: 'k00' }, ...numbered(6, 63)));
jwks('many-nokid.json', set(...numbered(66).map(({ kid, ...k }) => k)));

// the document itself
jwks('root-array.json', '[]');
jwks('root-string.json', '"keys"');
jwks('root-no-keys.json', '{}');
jwks('root-keys-object.json', json({ keys: { a: rsaPub } }));
jwks('root-keys-null.json', '{"keys":null}');
jwks('root-dup.json', `{"keys":[],"keys":${json([rsaPub])}}`);
jwks('key-dup-member.json', `{"keys":[${json({ ...rsaPub, kid: 'a' }).slice(0, -1)},"kid":"b"}]}`);
jwks('nested-dup-member.json', `{"keys":[${json({ ...rsaPub, kid: 'a' }).slice(0, -1)},`
  + '"x5c":[{"a":1,"a":2}]}]}');
jwks('not-json.json', `{"keys":[${json(rsaPub)}]`);
jwks('trailing.json', `${set(rsaPub)} x`);
jwks('empty-file.json', '');
jwks('big-int.json', `{"keys":[${json(rsaPub).slice(0, -1)},"n2":123456789012345678901234567890}]}`);
jwks('extra-members.json', set({ ...rsaPub, kid: 'extra', x5t: 'abc', n2: 1.5, z: [null, true, { y: -0.25 }] }));

// ---- tokens

const HASH = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };

function signature(alg, input, jwk) {
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const hash = HASH[alg.slice(2)];
  switch (alg.slice(0, 2)) {
    case 'RS':
      return sign(hash, input, key);
    case 'PS':
      return sign(hash, input, {
        key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    case 'ES':
      return sign(hash, input, { key, dsaEncoding: 'ieee-p1363' });
    default:
      throw new Error(`no signer for ${alg}`);
  }
}

// JSON text with raw pieces: values raw('1e300') are written as given
const raws = [];
const raw = (text) => {
  raws.push(text);
  return `\u0000RAW${raws.length - 1}\u0000`;
};
const text = (value) => (typeof value === 'string' ? value
  : json(value).replace(/"\\u0000RAW(\d+)\\u0000"/g, (_, i) => raws[i]));

const claims = (over = {}) => {
  const c = { iss: ISS, sub: 'alice', aud: AUD, iat: T0, exp: T0 + 600, perms: ['read'] };
  for (const [name, value] of Object.entries(over)) {
    if (value === undefined) {
      delete c[name];
    } else {
      c[name] = value;
    }
  }
  return c;
};

// the token's signing key and algorithm: the header's alg, else the key's
const good = [];
const jsonSeeds = [];
function token(name, { key = K.rsa1, alg, hdr = {}, payload = claims(), edit, verifies } = {}) {
  const a = alg ?? key.alg ?? 'RS256';
  const h = typeof hdr === 'string' ? hdr : text({ alg: a, typ: 'JWT', kid: key.kid, ...hdr });
  const p = text(payload);
  const input = `${b64url(h)}.${b64url(p)}`;
  let t = `${input}.${b64url(signature(a, input, key))}`;
  if (edit) {
    t = edit(t);
  }
  write(`tok/${name}`, t);
  jsonSeeds.push([`h-${name}`, h], [`p-${name}`, p]);
  if (name.startsWith('c-')) {
    write(`claims/${name}`, p);
  }
  if (verifies) {
    good.push({ name, t, key: pub(key), alg: a });
  }
  return t;
}

const seg = (t, i) => t.split('.')[i];
const withSeg = (t, i, s) => {
  const p = t.split('.');
  p[i] = s;
  return p.join('.');
};
const sigBytes = (t) => Buffer.from(seg(t, 2), 'base64url');
const flipSig = (t) => {
  const s = sigBytes(t);
  s[s.length >> 1] ^= 0x40;
  return withSeg(t, 2, b64url(s));
};
const noKid = (key) => {
  const { kid, ...k } = key;
  return k;
};
// base64url text with its "=" padding (the text must need some)
const padded = (s) => {
  const b = Buffer.from(s, 'base64url');
  if (b.length % 3 === 0) {
    throw new Error('padded(): nothing to pad');
  }
  return b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
};
// base64url text made one character too long: length 1 modulo 4
const mod4is1 = (s) => {
  let t = `${s}A`;
  while (t.length % 4 !== 1) {
    t += 'A';
  }
  return t;
};
// a text whose UTF-8 length is 1 modulo 3: its base64url has unused bits
const mod3is1 = (s) => {
  let t = s;
  while (Buffer.byteLength(t) % 3 !== 1) {
    t = `${t.slice(0, -1)} }`;
  }
  return t;
};

// good ones, against all.json
token('good-rs256', { verifies: true });
token('good-es256', { key: K.ec1, verifies: true });
for (const a of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']) {
  token(`good-${a.toLowerCase()}-any`, { key: K.rsaAny, alg: a, verifies: true });
}
token('good-es384', { key: K.ec384, alg: 'ES384', verifies: true });
token('good-es512', { key: K.ec521, alg: 'ES512', verifies: true });
token('nokid-es512', { key: noKid(K.ec521), alg: 'ES512', verifies: true });
token('es512-sig-long', { key: K.ec521, alg: 'ES512', edit: (t) => withSeg(t, 2, b64url(Buffer.concat([sigBytes(t), Buffer.from([0])]))) });
token('bad-sig-es512', { key: K.ec521, alg: 'ES512', edit: flipSig });
token('es512-kid-ec384', { key: K.ec521, alg: 'ES512', hdr: { kid: 'ec384' } });
token('good-ps512-4096', { key: K.rsa4096, alg: 'PS512', verifies: true });
token('good-e3', { key: K.e3, alg: 'RS256', verifies: true });
token('good-e-big', { key: K.eBig, alg: 'RS256', verifies: true });
token('good-ignored-members', {
  verifies: true,
  hdr: {
    jku: 'https://127.0.0.1:9/jwks', x5u: 'https://127.0.0.1:9/cert', jwk: pub(K.ecN),
    x5c: ['MIIB'], x5t: 'abc', cty: 'JWT', typ: 'at+jwt', foo: { bar: [1, 2] },
  },
});

// the key and the algorithm
token('ps256-kid-rsa1', { alg: 'PS256' });                     // rsa1 says RS256
token('es256-kid-rsa1', { key: K.ec1, hdr: { kid: 'rsa1' } });
token('es384-kid-ec1', { key: K.ec384, alg: 'ES384', hdr: { kid: 'ec1' } });
token('rs256-kid-ec384', { key: K.rsaAny, alg: 'RS256', hdr: { kid: 'ec384' } });
token('rs256-4096-kid-rsa1', { key: K.rsa4096, alg: 'RS256', hdr: { kid: 'rsa1' } });
token('es256-sig-short', { key: K.ec1, edit: (t) => withSeg(t, 2, b64url(sigBytes(t).subarray(1))) });
token('bad-sig-rs256', { edit: flipSig });
token('bad-sig-es256', { key: K.ec1, edit: flipSig });
token('rsa-any-as-rsa1', { key: K.rsaAny, alg: 'RS256', hdr: { kid: 'rsa1' } });
token('unknown-kid', { hdr: { kid: 'nope' } });
token('kid-128', { hdr: { kid: 'k'.repeat(128) } });
token('kid-129', { hdr: { kid: 'k'.repeat(129) } });
token('kid-empty', { hdr: { kid: '' } });
token('kid-num', { hdr: { kid: 1 } });
token('kid-null', { hdr: { kid: null } });

// without a kid: any key the algorithm fits (nokid.json: RSA-3072, rsaA,
// rsaB, a P-256 key)
token('nokid-rs256-b', { key: noKid(K.rsaB), alg: 'RS256', verifies: true });
token('nokid-ps256-a', { key: noKid(K.rsaA), alg: 'PS256', verifies: true });
token('nokid-es256', { key: noKid(K.ecN), alg: 'ES256', verifies: true });
token('nokid-rs256-3072', { key: noKid(K.rsa3072), alg: 'RS256', verifies: true });
token('nokid-rs256-stranger', { key: noKid(K.stranger), alg: 'RS256' });
token('nokid-rs256-4096', { key: noKid(K.rsa4096), alg: 'RS256' });
token('nokid-es384', { key: noKid(K.ec384), alg: 'ES384' });
token('nokid-es256-ec1', { key: noKid(K.ec1), alg: 'ES256', verifies: true });

// the signature's own values, for OpenSSL's check (jose_test.c's
// test_signatures): ECDSA's R and S zero, at or above the group's order n
// (refused), with leading zero octets or a top bit set (a DER INTEGER
// then needs fewer octets, or a zero first: verified), S replaced by
// n - S (ECDSA's other signature of the same digest: verified, as cjose
// and jose do); RSA signatures that are no signature of the input with
// the algorithm named (refused)
const N256 = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const N521 = 0x01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n;
const fixed = (n, bytes) => Buffer.from(n.toString(16).padStart(2 * bytes, '0'), 'hex');
const inputOf = (t) => Buffer.from(t.split('.').slice(0, 2).join('.'));
// R and S of an ECDSA signature, each replaced when given (a function of
// the old value, as BigInt)
const setRS = (fr, fs) => (t) => {
  const b = sigBytes(t);
  const h = b.length / 2;
  const r = fr ? fixed(fr(big(b64url(b.subarray(0, h)))), h) : b.subarray(0, h);
  const s2 = fs ? fixed(fs(big(b64url(b.subarray(h)))), h) : b.subarray(h);
  return withSeg(t, 2, b64url(Buffer.concat([r, s2])));
};
// signed again until the signature suits "pick" (ECDSA signs with a new
// random k each time)
const until = (alg, jwk, pick) => (t) => {
  for (let i = 0; i < 100000; i++) {
    const sig = signature(alg, inputOf(t), jwk);
    if (pick(sig)) {
      return withSeg(t, 2, b64url(sig));
    }
  }
  throw new Error('until(): no signature found');
};
// signed again by "fn(input, privateKey)"
const resign = (jwk, fn) => (t) => withSeg(t, 2,
  b64url(fn(inputOf(t), createPrivateKey({ key: jwk, format: 'jwk' }))));
const pss = (hash, saltLength) => (input, key) => sign(hash, input, {
  key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength,
});

token('es256-r-zero', { key: K.ec1, edit: setRS(() => 0n) });
token('es256-s-zero', { key: K.ec1, edit: setRS(null, () => 0n) });
token('es256-r-one', { key: K.ec1, edit: setRS(() => 1n) });
token('es256-r-n', { key: K.ec1, edit: setRS(() => N256) });
token('es256-s-n', { key: K.ec1, edit: setRS(null, () => N256) });
token('es256-r-n-plus-1', { key: K.ec1, edit: setRS(() => N256 + 1n) });
token('es256-s-n-minus-1', { key: K.ec1, edit: setRS(null, () => N256 - 1n) });
token('es256-r-ones', { key: K.ec1, edit: setRS(() => 2n ** 256n - 1n) });
token('es256-s-ones', { key: K.ec1, edit: setRS(null, () => 2n ** 256n - 1n) });
token('es256-high-s', { key: K.ec1, edit: setRS(null, (v) => N256 - v), verifies: true });
token('es256-r-lead0', { key: K.ec1, edit: until('ES256', K.ec1, (g) => g[0] === 0 && g[1] < 0x80), verifies: true });
token('es256-r-lead0-top', { key: K.ec1, edit: until('ES256', K.ec1, (g) => g[0] === 0 && g[1] >= 0x80), verifies: true });
token('es256-s-lead0', { key: K.ec1, edit: until('ES256', K.ec1, (g) => g[32] === 0), verifies: true });
token('es256-rs-top', { key: K.ec1, edit: until('ES256', K.ec1, (g) => g[0] >= 0x80 && g[32] >= 0x80), verifies: true });
token('es256-rs-low', { key: K.ec1, edit: until('ES256', K.ec1, (g) => g[0] > 0 && g[0] < 0x80 && g[32] > 0 && g[32] < 0x80), verifies: true });
token('es384-r-lead0', { key: K.ec384, alg: 'ES384', edit: until('ES384', K.ec384, (g) => g[0] === 0), verifies: true });
token('es384-s-zero', { key: K.ec384, alg: 'ES384', edit: setRS(null, () => 0n) });
token('es512-r-lead0-top', { key: K.ec521, alg: 'ES512', edit: until('ES512', K.ec521, (g) => g[0] === 0 && g[1] >= 0x80), verifies: true });
token('es512-r-top-1', { key: K.ec521, alg: 'ES512', edit: until('ES512', K.ec521, (g) => g[0] === 1 && g[66] === 1), verifies: true });
token('es512-s-n', { key: K.ec521, alg: 'ES512', edit: setRS(null, () => N521) });
token('es512-r-max', { key: K.ec521, alg: 'ES512', edit: setRS(() => 2n ** 528n - 1n) });

const rsaN = Buffer.from(K.rsa1.n, 'base64url');
token('rs256-sig-zero', { edit: (t) => withSeg(t, 2, b64url(Buffer.alloc(rsaN.length))) });
token('rs256-sig-one', { edit: (t) => withSeg(t, 2, b64url(fixed(1n, rsaN.length))) });
token('rs256-sig-n', { edit: (t) => withSeg(t, 2, b64url(rsaN)) });
token('rs256-sig-ones', { edit: (t) => withSeg(t, 2, b64url(Buffer.alloc(rsaN.length, 0xff))) });
token('rs256-no-digestinfo', {
  edit: resign(K.rsa1, (input, key) => privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING },
    createHash('sha256').update(input).digest())),
});
token('rs256-sha384', { edit: resign(K.rsa1, (input, key) => sign('sha384', input, key)) });
token('rs256-sha1', { edit: resign(K.rsa1, (input, key) => sign('sha1', input, key)) });
token('rs256-pss', { key: K.rsaAny, alg: 'RS256', edit: resign(K.rsaAny, pss('sha256', 32)) });
token('ps256-pkcs1', { key: K.rsaAny, alg: 'PS256', edit: resign(K.rsaAny, (input, key) => sign('sha256', input, key)) });
token('ps256-salt-0', { key: K.rsaAny, alg: 'PS256', edit: resign(K.rsaAny, pss('sha256', 0)) });
token('ps256-salt-64', { key: K.rsaAny, alg: 'PS256', edit: resign(K.rsaAny, pss('sha256', 64)) });
token('ps256-salt-max', { key: K.rsaAny, alg: 'PS256', edit: resign(K.rsaAny, pss('sha256', constants.RSA_PSS_SALTLEN_MAX_SIGN)) });
token('ps384-salt-32', { key: K.rsaAny, alg: 'PS384', edit: resign(K.rsaAny, pss('sha384', 32)) });
token('ps256-salt-32', { key: K.rsaAny, alg: 'PS256', edit: resign(K.rsaAny, pss('sha256', 32)), verifies: true });

// the header
token('alg-num', { hdr: { alg: 256 } });
token('alg-none', { hdr: { alg: 'none' } });
token('alg-hs256', { hdr: { alg: 'HS256' } });
token('alg-es256k', { hdr: { alg: 'ES256K' } });
token('alg-lower', { hdr: { alg: 'rs256' } });
token('alg-rs25', { hdr: { alg: 'RS25' } });
token('alg-null', { hdr: { alg: null } });
token('no-alg', { hdr: '{"typ":"JWT","kid":"rsa1"}' });
token('crit', { hdr: { crit: ['exp'] } });
token('crit-empty', { hdr: { crit: [] } });
token('b64', { hdr: { b64: true } });
token('enc', { hdr: { enc: 'A128GCM' } });
token('zip', { hdr: { zip: 'DEF' } });
token('hdr-array', { hdr: '["RS256","rsa1"]' });
token('hdr-string', { hdr: '"RS256"' });
token('hdr-not-json', { hdr: '{"alg":"RS256","kid":"rsa1"' });
token('hdr-trailing', { hdr: '{"alg":"RS256","kid":"rsa1"} x' });
token('hdr-dup', { hdr: '{"alg":"RS256","kid":"rsa1","alg":"RS256"}' });
token('hdr-dup-kid', { hdr: '{"alg":"RS256","kid":"nope","kid":"rsa1"}' });
token('hdr-nul', { hdr: '{"alg":"RS256","kid":"rsa1","x":"a\\u0000b"}' });
token('hdr-padded', {
  hdr: mod3is1('{"alg":"RS256","typ":"JWT","kid":"rsa1"}'), edit: (t) => withSeg(t, 0, padded(seg(t, 0))),
});
token('hdr-noncanonical', {
  hdr: mod3is1('{"alg":"RS256","typ":"JWT","kid":"rsa1"}'), edit: (t) => withSeg(t, 0, flipLast(seg(t, 0), 1)),
});

// the payload
token('pl-array', { payload: '[1]' });
token('pl-not-json', { payload: '{"iss":' });
token('pl-dup', { payload: `{"perms":["nothing"],${json(claims()).slice(1)}` });
token('pl-dup-nested', { payload: `{"x":{"a":1,"a":2},${json(claims()).slice(1)}` });
token('pl-padded', {
  payload: mod3is1(`${json(claims()).slice(0, -1)},"x":""}`), edit: (t) => withSeg(t, 1, padded(seg(t, 1))),
});
token('pl-noncanonical', {
  payload: mod3is1(`${json(claims()).slice(0, -1)},"x":""}`),
  edit: (t) => withSeg(t, 1, flipLast(seg(t, 1), 1)),
});
token('pl-alphabet', { edit: (t) => withSeg(t, 1, `${seg(t, 1)}+`) });
token('pl-len-mod4-1', { edit: (t) => withSeg(t, 1, mod4is1(seg(t, 1))) });

// the signature text
token('sig-padded', { edit: (t) => withSeg(t, 2, padded(seg(t, 2))) });
token('sig-noncanonical', { edit: (t) => withSeg(t, 2, flipLast(seg(t, 2), 1)) });
token('sig-alphabet', { edit: (t) => withSeg(t, 2, `${seg(t, 2).slice(0, -2)}/A`) });

// the segments
const base = readFileSync(join(out, 'tok/good-rs256'), 'utf8');
write('tok/seg-one', seg(base, 0));
write('tok/seg-two', base.split('.').slice(0, 2).join('.'));
write('tok/seg-four', `${base}.x`);
write('tok/seg-four-empty', `${base}.`);
write('tok/seg-empty-header', `.${seg(base, 1)}.${seg(base, 2)}`);
write('tok/seg-empty-payload', `${seg(base, 0)}..${seg(base, 2)}`);
write('tok/seg-empty-sig', `${seg(base, 0)}.${seg(base, 1)}.`);
write('tok/seg-dots', '..');
write('tok/seg-nul', `${base.slice(0, 10)}\u0000${base.slice(10)}`);

// the claims, all signed by rsa1 (kid rsa1, RS256)
const c = (name, over) => token(`c-${name}`, { payload: claims(over) });
token('c-base', { verifies: true });
c('no-iss', { iss: undefined });
c('iss-num', { iss: 1 });
c('iss-null', { iss: null });
c('iss-prefix', { iss: `${ISS}/` });
c('iss-short', { iss: ISS.slice(0, -1) });
c('iss-case', { iss: ISS.toUpperCase() });
c('aud-list', { aud: ['other', AUD] });
c('aud-list-none', { aud: ['other', `${AUD}x`] });
c('aud-list-nonstring-before', { aud: [1, AUD] });
c('aud-list-nonstring-after', { aud: [AUD, null] });
c('aud-list-empty', { aud: [] });
c('aud-object', { aud: { [AUD]: AUD } });
c('aud-missing', { aud: undefined });
c('aud-wrong', { aud: 'other' });
c('aud-prefix', { aud: AUD.slice(0, -1) });
c('aud-num', { aud: 5 });
c('no-exp', { exp: undefined });
c('exp-string', { exp: String(T0 + 600) });
c('exp-bool', { exp: true });
c('exp-null', { exp: null });
c('exp-list', { exp: [T0 + 600] });
c('exp-real', { exp: raw(`${T0 + 600}.9`) });
c('exp-real-below', { exp: raw(`${T0 + 599}.999`) });
c('exp-int64-max', { exp: raw('9223372036854775807') });
c('exp-int64-min', { exp: raw('-9223372036854775808') });
c('exp-1e15', { exp: raw('1000000000000000') });
c('exp-1e15-real', { exp: raw('1e15') });
c('exp-max', { exp: raw('999999999999999') });
c('exp-max-real', { exp: raw('999999999999999.5') });
c('exp-1e300', { exp: raw('1e300') });
c('exp-minus-1e300', { exp: raw('-1e300') });
c('exp-min', { exp: raw('-999999999999999') });
c('exp-half', { exp: raw('0.5') });
c('exp-minus-half', { exp: raw('-0.5') });
c('exp-too-big-int', { exp: raw('92233720368547758070') });
c('nbf', { nbf: T0 + 100 });
c('nbf-real', { nbf: raw(`${T0 + 100}.5`) });
c('nbf-string', { nbf: String(T0) });
c('nbf-int64-max', { nbf: raw('9223372036854775807') });
c('nbf-1e15', { nbf: raw('1000000000000000') });
c('nbf-1e300', { nbf: raw('1e300') });
c('nbf-max', { nbf: raw('999999999999999') });
c('nbf-min', { nbf: raw('-999999999999999') });
c('iat', { iat: T0 + 100 });
c('iat-string', { iat: String(T0) });
c('iat-int64-max', { iat: raw('9223372036854775807') });
c('iat-int64-min', { iat: raw('-9223372036854775808') });
c('iat-1e15', { iat: raw('1000000000000000') });
c('iat-max', { iat: raw('999999999999999') });
c('iat-min', { iat: raw('-999999999999999') });
c('no-iat', { iat: undefined });
c('perms-missing', { perms: undefined });
c('perms-string', { perms: 'read' });
c('perms-object', { perms: { read: true } });
c('perms-null', { perms: null });
c('perms-empty', { perms: [] });
c('perms-none', { perms: ['nothing'] });
c('perms-second', { perms: ['nothing', 'write'] });
c('perms-both', { perms: ['write', 'read'] });
c('perms-nonstring-after', { perms: ['read', 1] });
c('perms-nonstring-before', { perms: [1, 'read'] });
c('perms-null-element', { perms: [null] });
c('perms-nested', { perms: [['read']] });
c('perms-case', { perms: ['READ'] });
c('perms-prefix', { perms: ['rea', 'reads'] });
c('roles', { perms: undefined, roles: ['read'] });
c('sub-ctl', { sub: 'al\u0001ice' });
c('sub-del', { sub: 'al\u007fice' });
c('sub-utf8', { sub: '\u00e4lice' });
c('sub-tab', { sub: 'al\tice' });
c('sub-255', { sub: 's'.repeat(255) });
c('sub-256', { sub: 's'.repeat(256) });
c('sub-edges', { sub: ' ~' });
c('sub-empty', { sub: '' });
c('sub-num', { sub: 5 });
c('sub-missing', { sub: undefined });
c('sub-nul', { sub: raw('"a\\u0000b"') });

// ---- mint.mjs's cases, signed now (in parallel: a node each)

const cases = spawnSync(process.execPath, [mint, 'cases'], { encoding: 'utf8' })
  .stdout.split('\n').filter(Boolean);

await Promise.all(cases.map((name) => new Promise((ok, fail) => {
  const p = spawn(process.execPath, [mint, 'token', keyDir, name, '--iss', ISS, '--aud', AUD,
    '--perms', 'read,write'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let data = '';
  p.stdout.on('data', (d) => {
    data += d;
  });
  p.on('close', (code) => {
    if (code !== 0) {
      fail(new Error(`mint.mjs token ${name}: exit ${code}`));
      return;
    }
    write(`mint/${name}`, data.replace(/\n$/, ''));
    ok();
  });
})));

// ---- base64url

const lines = [];
const hex = (b) => (b.length ? Buffer.from(b).toString('hex') : '-');
const okLine = (bytes) => lines.push(`ok ${hex(Buffer.from(b64url(bytes)))} ${hex(bytes)}`);
const badLine = (s) => lines.push(`bad ${hex(Buffer.from(s, 'latin1'))} -`);

for (let n = 0; n <= 70; n++) {
  for (let i = 0; i < 3; i++) {
    const bytes = randomBytes(n);
    okLine(bytes);
    const s = b64url(bytes);
    if (n % 3) {
      badLine(bytes.toString('base64'));                      // "=" padding
      badLine(flipLast(s, 1));                                // unused bits
      badLine(flipLast(s, n % 3 === 1 ? 8 : 2));              // the highest
    }
    badLine(mod4is1(s));
    if (n) {
      badLine(`${s.slice(0, s.length >> 1)}=${s.slice(s.length >> 1)}`);
    }
  }
}
okLine(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
okLine(Buffer.from([0xfb, 0xff, 0xbf]));                      // "-__-" in url form
badLine(Buffer.from([0xfb, 0xff, 0xbf]).toString('base64'));  // "+/+/"
for (let ch = 0; ch < 256; ch++) {
  const s = `QUJ${String.fromCharCode(ch)}`;
  if (ALPHABET.includes(String.fromCharCode(ch))) {
    lines.push(`ok ${hex(Buffer.from(s))} ${hex(Buffer.from(s, 'base64url'))}`);
  } else {
    badLine(s);
    badLine(`${String.fromCharCode(ch)}QUJ`);
  }
}
write('b64.txt', `${lines.join('\n')}\n`);

// ---- the cross-check: what is meant to verify, verifies with jose

for (const g of good) {
  const key = await jose.importJWK(g.key, g.alg);
  await jose.compactVerify(g.t, key, { algorithms: [g.alg] }).catch((err) => {
    throw new Error(`jose does not verify ${g.name}: ${err.message}`);
  });
}

// ---- the fuzzer's seeds

if (opts.seeds) {
  const seeds = resolve(opts.seeds);
  rmSync(seeds, { recursive: true, force: true });
  mkdirSync(seeds, { recursive: true });
  const seed = (name, mode, data) => writeFileSync(join(seeds, name),
    Buffer.concat([Buffer.from([mode]), Buffer.from(data)]));
  const files = (sub) => readdirSync(join(out, sub)).map((f) => [f, readFileSync(join(out, sub, f))]);

  for (const [f, data] of files('jwks')) {
    seed(`jwks-${f}`, 0, data);
  }
  for (const f of ['jwks.json', 'jwks-weak.json']) {
    seed(`jwks-mint-${f}`, 0, readFileSync(join(keyDir, f)));
  }
  for (const sub of ['tok', 'mint']) {
    for (const [f, data] of files(sub)) {
      seed(`${sub}-${f}`, 1, data);
    }
  }
  for (const [name, data] of jsonSeeds) {
    seed(`json-${name}`, 2, data);
  }
  lines.filter((_, i) => i % 15 === 0).forEach((l, i) => {
    const h = l.split(' ')[1];
    seed(`b64-${i}`, 3, h === '-' ? '' : Buffer.from(h, 'hex'));
  });
}

process.stderr.write(`make_jose_vectors: ${good.length} good tokens cross-checked by jose, `
  + `${cases.length} mint.mjs cases\n`);
