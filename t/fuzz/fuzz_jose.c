
/*
 * libFuzzer target for ngx_kedge_module/ngx_kedge_jose.c: the calls that
 * ngx_kedge_oidc.c makes on what an issuer and a client send, made on
 * hostile bytes (t/fuzz/README.md, scripts/fuzz.sh).  The first byte
 * picks what the rest is:
 *
 *   0 mod 4  a JWK Set: ngx_kedge_jwks_parse() with the skip callback and
 *            the kept keys' JSON (the fetcher's call), with the algorithms
 *            (byte >> 2) & 3 picks; then the kept JSON parsed again (the
 *            workers' call): the same keys, nothing left out, the same JSON;
 *
 *   1 mod 4  a token: ngx_kedge_jwt_verify() against a fixed key set (an
 *            RSA-2048 and a P-256 key, kids "rsa1" and "ec1", embedded
 *            below), a fixed policy and a fixed time;
 *
 *   2 mod 4  the JSON of a header or a payload, as if its token's signature
 *            had verified: ngx_kedge_jwt_header() and
 *            ngx_kedge_jwt_claims(), which a mutated token seldom reaches
 *            (its signature no longer verifies);
 *
 *   3 mod 4  base64url text: ngx_kedge_jose_b64url_decode(); what it takes
 *            must encode back to the same text.
 *
 * The static functions are reached by including ngx_kedge_jose.c here.
 * Every buffer handed over is a heap copy of exactly its bytes, so that
 * ASan catches a read past a length; results are checked against the
 * contract of each call: a violation aborts.
 */


#include <stdio.h>

#include "ngx_kedge_jose.c"


/* as t/unit/make_jose_vectors.mjs: seeds signed there verify here */
#define FUZZ_ISS  "https://issuer.example"
#define FUZZ_AUD  "kedge"
#define FUZZ_NOW  1700000000


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* the public halves of t/fuzz/jose-keys.json */

static const char  fuzz_key_set[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"sckJh5IO_4RrbvilgZgFw5zQPXfve7V6"
    "17dE8WcVQ1sphyEK3RO0xhMbJscbof8jRedlTLMp0p435ES_m5OYi0lur1v3R0Y5K-gu"
    "ExIV_7zVjOUBR3TsX7otIOqdMgTaKoGyAV5ouyDJ6CZ4YRsHmPFxgE8YxemAGJ8q2hVo"
    "jlUZJMZe3swj2J_RBt7zbASwngzX0UXaaxYYQdVe1vtCyOw-TjpC-PnrcRa56LHN9TEP"
    "QarfOVuq9JEoNdvjRRpee3Ab6C6EwdTeZMaIo45CFpOxvAesY9EkWF0riI-o0HDjmWBT"
    "uExHKD5WxK5cgGKmQXnVUxQkc0cYmfiSfXq0ow\",\"e\":\"AQAB\",\"kid\":"
    "\"rsa1\",\"alg\":\"RS256\",\"use\":\"sig\"},{\"kty\":\"EC\",\"x\":"
    "\"Od226q6aOl2h2oLXC2RRTyfIHeYRUJOu8j-un0-vyU4\",\"y\":\"vy_nUH3uDgMe"
    "KC0YISynE263T8pQHaUU7LOzJ-AC8K4\",\"crv\":\"P-256\",\"kid\":\"ec1\","
    "\"alg\":\"ES256\",\"use\":\"sig\"}]}";

static const char  *fuzz_allow[] = { "read", "write" };

static const ngx_kedge_jwt_policy_t  fuzz_policy = {
    FUZZ_ISS, FUZZ_AUD, "perms", fuzz_allow, 2, NGX_KEDGE_JOSE_ALL_ALGS,
    60, 8192
};

static const unsigned  fuzz_algs[] = {
    NGX_KEDGE_JOSE_ALL_ALGS,
    NGX_KEDGE_JOSE_RSA_ALGS,
    NGX_KEDGE_JOSE_ES256 | NGX_KEDGE_JOSE_ES384,
    NGX_KEDGE_JOSE_PS256
};

static ngx_kedge_jwks_t  *fuzz_keys;


static void
fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_jose: contract violated: %s\n", what);
    abort();
}


static void *
fuzz_copy(const void *data, size_t len)
{
    void  *p;

    /* malloc(0) may return NULL: one byte more is still caught by ASan */
    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    if (len) {
        memcpy(p, data, len);
    }

    return p;
}


/* ---- key sets ----------------------------------------------------------- */


typedef struct {
    size_t  n;
} fuzz_skips_t;


static void
fuzz_skip(void *data, const char *kid, const char *why)
{
    fuzz_skips_t  *s = data;

    if (kid == NULL || why == NULL || *why == '\0') {
        fuzz_fail("skip: no kid or no reason");
    }

    if (strlen(kid) > NGX_KEDGE_JOSE_KID_LEN) {
        fuzz_fail("skip: a kid too long");
    }

    s->n++;
}


static void
fuzz_check_kids(ngx_kedge_jwks_t *keys)
{
    size_t       i, j, n;
    const char  *kid;

    n = ngx_kedge_jwks_count(keys);

    if (n > NGX_KEDGE_JOSE_MAX_KEYS) {
        fuzz_fail("jwks: more keys than the limit");
    }

    for (i = 0; i < n; i++) {
        kid = ngx_kedge_jwks_kid(keys, i);

        if (kid == NULL || strlen(kid) > NGX_KEDGE_JOSE_KID_LEN) {
            fuzz_fail("jwks: a kid missing or too long");
        }

        for (j = 0; *kid && j < i; j++) {
            if (strcmp(kid, ngx_kedge_jwks_kid(keys, j)) == 0) {
                fuzz_fail("jwks: a kid twice in the set kept");
            }
        }
    }
}


static void
fuzz_jwks(const uint8_t *data, size_t len, unsigned algs)
{
    char              *json, *json2, *copy;
    size_t            i, n;
    const char       *err;
    fuzz_skips_t      s, s2;
    ngx_kedge_jwks_t *keys, *again;

    copy = fuzz_copy(data, len);
    s.n = 0;
    err = NULL;
    json = (char *) "unchanged";

    keys = ngx_kedge_jwks_parse(copy, len, algs, fuzz_skip, &s, &json, &err);
    free(copy);

    if (keys == NULL) {
        if (err == NULL || json != NULL) {
            fuzz_fail("jwks: refused without a reason, or with JSON");
        }

        return;
    }

    if (json == NULL) {
        fuzz_fail("jwks: a set without its JSON");
    }

    fuzz_check_kids(keys);
    n = ngx_kedge_jwks_count(keys);

    /* the workers parse the stored JSON: the same set, nothing left out */

    copy = fuzz_copy(json, strlen(json));
    s2.n = 0;
    err = NULL;

    again = ngx_kedge_jwks_parse(copy, strlen(json), algs, fuzz_skip, &s2,
                                 &json2, &err);
    free(copy);

    if (again == NULL) {
        fuzz_fail("jwks: the kept JSON does not parse");
    }

    if (ngx_kedge_jwks_count(again) != n) {
        fuzz_fail("jwks: the kept JSON gives another number of keys");
    }

    if (s2.n != 0) {
        fuzz_fail("jwks: a kept key is left out the second time");
    }

    for (i = 0; i < n; i++) {
        if (strcmp(ngx_kedge_jwks_kid(keys, i), ngx_kedge_jwks_kid(again, i))
            != 0)
        {
            fuzz_fail("jwks: the kept JSON gives other kids");
        }
    }

    if (json2 == NULL || strcmp(json, json2) != 0) {
        fuzz_fail("jwks: the kept JSON of the kept JSON differs");
    }

    /* and without the callback and the JSON, as in the workers */

    ngx_kedge_jwks_free(again);
    again = ngx_kedge_jwks_parse(json, strlen(json), algs, NULL, NULL, NULL,
                                 &err);

    if (again == NULL || ngx_kedge_jwks_count(again) != n) {
        fuzz_fail("jwks: the kept JSON parsed without JSON differs");
    }

    ngx_kedge_jwks_free(again);
    ngx_kedge_jwks_free(keys);
    free(json);
    free(json2);
}


/* ---- tokens ------------------------------------------------------------- */


static void
fuzz_result(const ngx_kedge_jwt_result_t *r)
{
    size_t  i;

    if (memchr(r->kid, '\0', sizeof(r->kid)) == NULL) {
        fuzz_fail("result: kid not terminated");
    }

    if (r->sub_len > NGX_KEDGE_JOSE_SUB_LEN || r->sub[r->sub_len] != '\0'
        || strlen(r->sub) != r->sub_len)
    {
        fuzz_fail("result: sub and sub_len disagree");
    }

    for (i = 0; i < r->sub_len; i++) {
        if (r->sub[i] < 0x20 || r->sub[i] > 0x7e) {
            fuzz_fail("result: sub not printable");
        }
    }
}


static void
fuzz_token(const uint8_t *data, size_t len)
{
    int                     rc;
    char                   *copy;
    ngx_kedge_jwt_result_t  r;

    copy = fuzz_copy(data, len);

    rc = ngx_kedge_jwt_verify(copy, len, fuzz_keys, &fuzz_policy, FUZZ_NOW,
                              &r);
    fuzz_result(&r);

    switch (rc) {

    case NGX_KEDGE_JOSE_OK:
        if (r.reason != NULL) {
            fuzz_fail("verify: OK with a reason");
        }

        if (len > fuzz_policy.max_size
            || r.exp + fuzz_policy.leeway <= FUZZ_NOW)
        {
            fuzz_fail("verify: OK, too large or expired");
        }

        /* a second after the leeway: expired, to the second */

        rc = ngx_kedge_jwt_verify(copy, len, fuzz_keys, &fuzz_policy,
                                  (time_t) (r.exp + fuzz_policy.leeway), &r);

        if (rc != NGX_KEDGE_JOSE_DENY || strcmp(r.reason, "expired") != 0) {
            fuzz_fail("verify: not expired at exp + leeway");
        }

        /* without keys, nothing verifies */

        rc = ngx_kedge_jwt_verify(copy, len, NULL, &fuzz_policy, FUZZ_NOW, &r);

        if (rc == NGX_KEDGE_JOSE_OK) {
            fuzz_fail("verify: OK without keys");
        }

        break;

    case NGX_KEDGE_JOSE_UNKNOWN_KID:
        if (r.kid[0] == '\0') {
            fuzz_fail("verify: an unknown kid, but no kid");
        }

        /* fall through */

    case NGX_KEDGE_JOSE_DENY:
        if (r.reason == NULL || *r.reason == '\0') {
            fuzz_fail("verify: refused without a reason");
        }

        if (r.sub_len != 0) {
            fuzz_fail("verify: refused, with a subject");
        }

        break;

    default:
        fuzz_fail("verify: another return code (out of memory?)");
    }

    free(copy);
}


/* ---- a header's or a payload's JSON ------------------------------------- */


static void
fuzz_json(const uint8_t *data, size_t len)
{
    char                    *copy;
    json_t                  *obj;
    int64_t                  exp;
    unsigned                 alg;
    const char              *why;
    json_error_t             jerr;
    ngx_kedge_jwt_result_t   r;

    copy = fuzz_copy(data, len);
    obj = json_loadb(copy, len, JSON_REJECT_DUPLICATES, &jerr);
    free(copy);

    if (obj == NULL) {
        return;
    }

    if (!json_is_object(obj)) {
        json_decref(obj);
        return;
    }

    memset(&r, 0, sizeof(r));
    why = ngx_kedge_jwt_header(obj, &fuzz_policy, &alg, &r);
    fuzz_result(&r);

    if (why == NULL) {
        if (alg == 0 || (alg & (alg - 1)) != 0
            || (alg & fuzz_policy.algs) == 0)
        {
            fuzz_fail("header: taken, without one allowed algorithm");
        }

        if (strcmp(ngx_kedge_jose_alg_name(alg), "?") == 0) {
            fuzz_fail("header: an algorithm without a name");
        }
    }

    memset(&r, 0, sizeof(r));
    why = ngx_kedge_jwt_claims(obj, &fuzz_policy, FUZZ_NOW, &r);
    fuzz_result(&r);

    if (why == NULL) {
        exp = r.exp;

        if (exp + fuzz_policy.leeway <= FUZZ_NOW) {
            fuzz_fail("claims: taken, expired");
        }

        memset(&r, 0, sizeof(r));
        why = ngx_kedge_jwt_claims(obj, &fuzz_policy,
                                   (time_t) (exp + fuzz_policy.leeway), &r);

        if (why == NULL) {
            fuzz_fail("claims: taken at exp + leeway");
        }

    } else if (r.sub_len != 0) {
        fuzz_fail("claims: refused, with a subject");
    }

    json_decref(obj);
}


/* ---- base64url ---------------------------------------------------------- */


static void
fuzz_b64(const uint8_t *data, size_t len)
{
    int             rc, strict;
    char           *copy, *back;
    size_t          i, n, out_len;
    uint8_t        *out;
    uint32_t        v;
    static const char  abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    copy = fuzz_copy(data, len);
    n = len * 3 / 4;
    out = fuzz_copy("", n);             /* exactly the room promised */
    out_len = (size_t) -1;

    rc = ngx_kedge_jose_b64url_decode(copy, len, out, &out_len);

    /* strict: every character of the alphabet, no unused bits set */

    strict = len % 4 != 1;

    for (i = 0; strict && i < len; i++) {
        strict = data[i] != '\0' && strchr(abc, data[i]) != NULL;
    }

    if (rc == NGX_KEDGE_JOSE_OK) {
        if (!strict || out_len != n) {
            fuzz_fail("b64url: taken, not strict or the wrong length");
        }

        /* encoded again: the same text */

        back = fuzz_copy("", len);

        for (i = 0; i < len; i++) {
            v = 0;

            if (i * 6 / 8 < out_len) {
                v = (uint32_t) out[i * 6 / 8] << 8;
            }

            if (i * 6 / 8 + 1 < out_len) {
                v |= out[i * 6 / 8 + 1];
            }

            back[i] = abc[(v >> (10 - i * 6 % 8)) & 0x3f];
        }

        if (len && memcmp(back, copy, len) != 0) {
            fuzz_fail("b64url: taken, but not its one encoding");
        }

        free(back);

    } else if (rc != NGX_KEDGE_JOSE_DENY) {
        fuzz_fail("b64url: another return code");
    }

    free(copy);
    free(out);
}


/* the key set, once */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char  *err;

    (void) argc;
    (void) argv;

    fuzz_keys = ngx_kedge_jwks_parse(fuzz_key_set, sizeof(fuzz_key_set) - 1,
                                     NGX_KEDGE_JOSE_ALL_ALGS, NULL, NULL,
                                     NULL, &err);

    if (fuzz_keys == NULL || ngx_kedge_jwks_count(fuzz_keys) != 2) {
        fuzz_fail("the embedded key set");
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }

    switch (data[0] % 4) {

    case 0:
        fuzz_jwks(data + 1, size - 1, fuzz_algs[(data[0] >> 2) & 3]);
        break;

    case 1:
        fuzz_token(data + 1, size - 1);
        break;

    case 2:
        fuzz_json(data + 1, size - 1);
        break;

    default:
        fuzz_b64(data + 1, size - 1);
    }

    return 0;
}
