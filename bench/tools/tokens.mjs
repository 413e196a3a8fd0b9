// Writes N distinct, valid ID tokens (one per line) signed with a key of
// t/fixtures/oidc/mint.mjs's key directory, for the JWT scenarios of
// bench/bench.py: every token differs (a "jti"), so each one costs the
// proxy a full verification the first time it is seen.
//
//   node bench/tools/tokens.mjs KEYDIR KEY ISS N OUT [--exp-in S] [--bad-sig]
//
// KEY: ec1 (ES256) or rsa1 (RS256).  --exp-in -60: expired tokens.
// --bad-sig: the signature's first byte flipped (same length).
import { createPrivateKey, sign, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const [keydir, keyname, iss, nstr, out, ...rest] = process.argv.slice(2);
if (!out) {
  console.error('usage: tokens.mjs KEYDIR KEY ISS N OUT [--exp-in S] [--bad-sig]');
  process.exit(2);
}
const n = Number(nstr);
let expIn = 3600;
let badSig = false;
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--exp-in') expIn = Number(rest[++i]);
  else if (rest[i] === '--bad-sig') badSig = true;
}

const jwk = JSON.parse(readFileSync(`${keydir}/${keyname}.jwk`, 'utf8'));
const key = createPrivateKey({ key: jwk, format: 'jwk' });
const ec = jwk.kty === 'EC';
const alg = ec ? 'ES256' : 'RS256';
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const header = b64({ alg, typ: 'JWT', kid: jwk.kid });
const now = Math.floor(Date.now() / 1000);

const lines = [];
for (let i = 0; i < n; i++) {
  const payload = b64({
    iss, sub: 'bench', aud: 'kedge', iat: now, exp: now + expIn,
    perms: ['bench'], jti: randomBytes(9).toString('base64url'),
  });
  const input = `${header}.${payload}`;
  const sig = ec
    ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
    : sign('sha256', Buffer.from(input), key);
  if (badSig) sig[0] ^= 0xff;
  lines.push(`${input}.${sig.toString('base64url')}`);
}
writeFileSync(out, lines.join('\n') + '\n');
