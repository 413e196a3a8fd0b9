
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * cjose imports the keys; everything around it is checked here first,
 * because cjose alone imports any key (and takes the algorithm from the
 * token, decodes lenient base64url and lets the last of two equal JSON
 * members win).  So, for a key set: signing keys only, RSA of 2048 bits or more
 * with an odd exponent of 3 or more, EC on P-256/384/521 with exact
 * coordinates below the field's prime, each bound to the algorithms that
 * fit it (and to its own "alg", "use" and "key_ops"), no symmetric or
 * private keys, no kid twice.  For a token: a size cap, exactly three
 * non-empty segments of strict base64url, JSON objects without duplicate
 * members, an allowed algorithm that fits the chosen key, the exact
 * signature length, no "crit" and no "b64"; "jku", "x5u", "jwk" and "x5c"
 * are never followed.  The claims, checked before the signature because
 * they cost less: "iss" exact, "aud" holding the client id, an "azp" the
 * client id, "exp" required, "nbf" and "iat" within the leeway, and the
 * permissions claim a list of strings with one allowed.  Nothing of a
 * token counts unless its signature verified.
 *
 * The signature is OpenSSL's to check, on an EVP_PKEY made once per key
 * from the members cjose imported, with a verification context made once
 * per key and algorithm (RSASSA-PKCS1-v1_5 with the hash's DigestInfo,
 * RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash,
 * ECDSA over a DER signature built from R || S, each of them above zero
 * and below the group's order): the token is parsed once, here, and a
 * verification costs its digest and the signature check alone.
 */


#include <string.h>
#include <stdlib.h>
#include <math.h>

#include <jansson.h>
#include <cjose/cjose.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "ngx_kedge_jose.h"


#define NGX_KEDGE_JOSE_NALGS      9
#define NGX_KEDGE_JOSE_EC_MAX     66         /* bytes of a P-521 value */


typedef struct {
    char                      kid[NGX_KEDGE_JOSE_KID_LEN + 1];
    int                       has_kid;
    int                       dup;
    unsigned                  algs;       /* what it may verify */
    size_t                    sig_len;    /* exact */
    cjose_jwk_t              *jwk;
    EVP_PKEY                 *pkey;       /* the same key, for OpenSSL */
    EVP_PKEY_CTX             *verify[NGX_KEDGE_JOSE_NALGS];  /* by
                                             algorithm, made when first
                                             needed */
    uint8_t                   order[NGX_KEDGE_JOSE_EC_MAX];  /* EC: the
                                             group's, sig_len / 2 bytes */
    char                     *canon;      /* the JWK, compact, sorted */
    json_t                   *src;        /* while parsing */
} ngx_kedge_jwk_t;


struct ngx_kedge_jwks_s {
    size_t                    nkeys;
    EVP_MD                   *sha[3];     /* SHA-256, -384, -512 */
    EVP_MD_CTX               *md;
    ngx_kedge_jwk_t           keys[NGX_KEDGE_JOSE_MAX_KEYS];
};


static const struct {
    const char               *name;
    unsigned                  alg;
} ngx_kedge_jose_algs[] = {
    { "RS256", NGX_KEDGE_JOSE_RS256 },
    { "RS384", NGX_KEDGE_JOSE_RS384 },
    { "RS512", NGX_KEDGE_JOSE_RS512 },
    { "PS256", NGX_KEDGE_JOSE_PS256 },
    { "PS384", NGX_KEDGE_JOSE_PS384 },
    { "PS512", NGX_KEDGE_JOSE_PS512 },
    { "ES256", NGX_KEDGE_JOSE_ES256 },
    { "ES384", NGX_KEDGE_JOSE_ES384 },
    { "ES512", NGX_KEDGE_JOSE_ES512 },
    { NULL, 0 }
};


static const struct {
    const char               *crv;
    unsigned                  alg;
    size_t                    coord;      /* bytes of x, of y */
    int                       nid;
    const char               *group;      /* OpenSSL's name */
} ngx_kedge_jose_curves[] = {
    { "P-256", NGX_KEDGE_JOSE_ES256, 32, NID_X9_62_prime256v1,
      SN_X9_62_prime256v1 },
    { "P-384", NGX_KEDGE_JOSE_ES384, 48, NID_secp384r1, SN_secp384r1 },
    { "P-521", NGX_KEDGE_JOSE_ES512, 66, NID_secp521r1, SN_secp521r1 },
    { NULL, 0, 0, 0, NULL }
};


/* the hashes by algorithm, as in ngx_kedge_jwks_t's "sha" */
static const char  *ngx_kedge_jose_sha[] = { "SHA256", "SHA384", "SHA512" };


/* members that only a private or a symmetric key has */
static const char  *ngx_kedge_jose_private[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};


static const char *ngx_kedge_jwks_key(ngx_kedge_jwk_t *k, json_t *obj,
    unsigned algs);
static const char *ngx_kedge_jwks_rsa(ngx_kedge_jwk_t *k, json_t *obj);
static const char *ngx_kedge_jwks_ec(ngx_kedge_jwk_t *k, json_t *obj);
static const char *ngx_kedge_jose_ec_point(int nid, const uint8_t *x,
    const uint8_t *y, size_t len, uint8_t *order);
static EVP_PKEY *ngx_kedge_jose_pkey(const char *type, OSSL_PARAM *params);
static void ngx_kedge_jwk_release(ngx_kedge_jwk_t *k);
static size_t ngx_kedge_jose_hash(unsigned alg);
static int ngx_kedge_jose_digest(ngx_kedge_jwks_t *keys, unsigned alg,
    const char *in, size_t len, uint8_t *out, unsigned *out_len);
static int ngx_kedge_jwt_signature(ngx_kedge_jwks_t *keys,
    ngx_kedge_jwk_t *k, unsigned alg, const uint8_t *digest,
    size_t digest_len, const uint8_t *sig, size_t sig_len);
static int ngx_kedge_jose_member(json_t *obj, const char *name,
    uint8_t *out, size_t max, size_t *len);
static json_t *ngx_kedge_jose_segment(const char *data, size_t len);
static const char *ngx_kedge_jwt_header(json_t *hdr,
    const ngx_kedge_jwt_policy_t *policy, unsigned *alg,
    ngx_kedge_jwt_result_t *result);
static const char *ngx_kedge_jwt_claims(json_t *claims,
    const ngx_kedge_jwt_policy_t *policy, time_t now,
    ngx_kedge_jwt_result_t *result);
static int ngx_kedge_jose_numeric(json_t *claims, const char *name,
    int64_t *value);


unsigned
ngx_kedge_jose_alg(const char *name, size_t len)
{
    size_t  i;

    for (i = 0; ngx_kedge_jose_algs[i].name; i++) {
        if (len == 5 && memcmp(ngx_kedge_jose_algs[i].name, name, 5) == 0) {
            return ngx_kedge_jose_algs[i].alg;
        }
    }

    return 0;
}


const char *
ngx_kedge_jose_alg_name(unsigned alg)
{
    size_t  i;

    for (i = 0; ngx_kedge_jose_algs[i].name; i++) {
        if (ngx_kedge_jose_algs[i].alg == alg) {
            return ngx_kedge_jose_algs[i].name;
        }
    }

    return "?";
}


/* base64url's alphabet by byte: its value, or 0xff */

static const uint8_t  ngx_kedge_jose_b64url[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,     /*  !"#$%&' */
    0xff, 0xff, 0xff, 0xff, 0xff,   62, 0xff, 0xff,     /* ()*+,-./ */
      52,   53,   54,   55,   56,   57,   58,   59,     /* 01234567 */
      60,   61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,     /* 89:;<=>? */
    0xff,    0,    1,    2,    3,    4,    5,    6,     /* @ABCDEFG */
       7,    8,    9,   10,   11,   12,   13,   14,     /* HIJKLMNO */
      15,   16,   17,   18,   19,   20,   21,   22,     /* PQRSTUVW */
      23,   24,   25, 0xff, 0xff, 0xff, 0xff,   63,     /* XYZ[\]^_ */
    0xff,   26,   27,   28,   29,   30,   31,   32,     /* `abcdefg */
      33,   34,   35,   36,   37,   38,   39,   40,     /* hijklmno */
      41,   42,   43,   44,   45,   46,   47,   48,     /* pqrstuvw */
      49,   50,   51, 0xff, 0xff, 0xff, 0xff, 0xff,     /* xyz{|}~  */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
};


int
ngx_kedge_jose_b64url_decode(const char *in, size_t len, uint8_t *out,
    size_t *out_len)
{
    size_t          i, n;
    uint32_t        a, b, c, d;
    const uint8_t  *p;

    /* one character alone cannot carry a byte */

    if (len % 4 == 1) {
        return NGX_KEDGE_JOSE_DENY;
    }

    p = (const uint8_t *) in;
    n = 0;

    /* four characters, three bytes; a character out of the alphabet: 0xff */

    for (i = 0; i + 4 <= len; i += 4) {
        a = ngx_kedge_jose_b64url[p[i]];
        b = ngx_kedge_jose_b64url[p[i + 1]];
        c = ngx_kedge_jose_b64url[p[i + 2]];
        d = ngx_kedge_jose_b64url[p[i + 3]];

        if ((a | b | c | d) & 0x80) {
            return NGX_KEDGE_JOSE_DENY;
        }

        a = (a << 18) | (b << 12) | (c << 6) | d;

        out[n++] = (uint8_t) (a >> 16);
        out[n++] = (uint8_t) (a >> 8);
        out[n++] = (uint8_t) a;
    }

    /*
     * two or three left: one or two bytes; the bits left over must be
     * zero (one encoding per byte string)
     */

    if (i < len) {
        a = ngx_kedge_jose_b64url[p[i]];
        b = ngx_kedge_jose_b64url[p[i + 1]];
        c = (len - i == 3) ? ngx_kedge_jose_b64url[p[i + 2]] : 0;

        if ((a | b | c) & 0x80) {
            return NGX_KEDGE_JOSE_DENY;
        }

        a = (a << 18) | (b << 12) | (c << 6);

        if (len - i == 2) {
            if (a & 0xffff) {
                return NGX_KEDGE_JOSE_DENY;
            }

            out[n++] = (uint8_t) (a >> 16);

        } else {
            if (a & 0xff) {
                return NGX_KEDGE_JOSE_DENY;
            }

            out[n++] = (uint8_t) (a >> 16);
            out[n++] = (uint8_t) (a >> 8);
        }
    }

    *out_len = n;

    return NGX_KEDGE_JOSE_OK;
}


ngx_kedge_jwks_t *
ngx_kedge_jwks_parse(const char *data, size_t len, unsigned algs,
    ngx_kedge_jwks_skip_pt skip, void *skip_data, char **json,
    const char **err)
{
    size_t             i, j, n;
    json_t            *root, *list, *obj, *kept, *doc, *v;
    const char        *why;
    json_error_t       jerr;
    ngx_kedge_jwk_t   *k;
    ngx_kedge_jwks_t  *keys;

    if (json) {
        *json = NULL;
    }

    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        *err = "not JSON, or a member twice";
        return NULL;
    }

    list = json_object_get(root, "keys");

    if (!json_is_object(root) || !json_is_array(list)) {
        json_decref(root);
        *err = "not a JWK Set: no \"keys\" list";
        return NULL;
    }

    keys = calloc(1, sizeof(ngx_kedge_jwks_t));
    if (keys == NULL) {
        json_decref(root);
        *err = "out of memory";
        return NULL;
    }

    /* fetched once: a digest then costs no look-up in OpenSSL's tables */

    for (i = 0; i < 3; i++) {
        keys->sha[i] = EVP_MD_fetch(NULL, ngx_kedge_jose_sha[i], NULL);
    }

    keys->md = EVP_MD_CTX_new();

    if (keys->sha[0] == NULL || keys->sha[1] == NULL || keys->sha[2] == NULL
        || keys->md == NULL)
    {
        ngx_kedge_jwks_free(keys);
        json_decref(root);
        *err = "out of memory";
        return NULL;
    }

    json_array_foreach(list, i, obj) {

        if (keys->nkeys == NGX_KEDGE_JOSE_MAX_KEYS) {
            if (skip) {
                skip(skip_data, "", "too many keys in the set");
            }

            break;
        }

        k = &keys->keys[keys->nkeys];

        why = ngx_kedge_jwks_key(k, obj, algs);

        if (why) {
            ngx_kedge_jwk_release(k);

            if (skip) {
                skip(skip_data, k->kid, why);
            }

            memset(k, 0, sizeof(ngx_kedge_jwk_t));
            continue;
        }

        k->src = obj;
        keys->nkeys++;
    }

    /*
     * a kid twice in the set, whatever the other entry is (a key left out
     * too, for its own reason or for want of memory): which key is meant
     * cannot be told, so none
     */

    for (i = 0; i < keys->nkeys; i++) {
        if (!keys->keys[i].has_kid) {
            continue;
        }

        json_array_foreach(list, j, obj) {
            v = json_object_get(obj, "kid");

            if (obj != keys->keys[i].src && json_is_string(v)
                && strcmp(json_string_value(v), keys->keys[i].kid) == 0)
            {
                keys->keys[i].dup = 1;
                break;
            }
        }
    }

    kept = json ? json_array() : NULL;

    for (i = 0, n = 0; i < keys->nkeys; i++) {
        k = &keys->keys[i];

        if (k->dup) {
            if (skip) {
                skip(skip_data, k->kid, "its kid is in the set twice");
            }

            ngx_kedge_jwk_release(k);
            continue;
        }

        k->canon = json_dumps(k->src, JSON_COMPACT | JSON_SORT_KEYS);

        if (k->canon == NULL) {
            if (skip) {
                skip(skip_data, k->kid, "out of memory");
            }

            ngx_kedge_jwk_release(k);
            continue;
        }

        if (kept && json_array_append(kept, k->src) != 0) {
            json_decref(kept);
            kept = NULL;
        }

        k->src = NULL;
        keys->keys[n++] = *k;
    }

    keys->nkeys = n;

    json_decref(root);

    if (json == NULL) {
        return keys;
    }

    doc = kept ? json_pack("{s:o}", "keys", kept) : NULL;

    if (doc) {
        *json = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(doc);
    }

    if (*json == NULL) {
        ngx_kedge_jwks_free(keys);
        *err = "out of memory";
        return NULL;
    }

    return keys;
}


static const char *
ngx_kedge_jwks_key(ngx_kedge_jwk_t *k, json_t *obj, unsigned algs)
{
    size_t          i, len;
    json_t         *v, *op;
    unsigned        alg;
    const char     *kty, *why;
    cjose_err       cerr;
    cjose_jwk_kty_t type;

    if (!json_is_object(obj)) {
        return "not a JSON object";
    }

    v = json_object_get(obj, "kid");

    if (v) {
        if (!json_is_string(v)) {
            return "its kid is not a string";
        }

        len = json_string_length(v);

        if (len == 0 || len > NGX_KEDGE_JOSE_KID_LEN) {
            return "its kid is empty or too long";
        }

        memcpy(k->kid, json_string_value(v), len);
        k->kid[len] = '\0';
        k->has_kid = 1;
    }

    v = json_object_get(obj, "use");

    if (v && !(json_is_string(v) && strcmp(json_string_value(v), "sig") == 0))
    {
        return "not a signing key (\"use\")";
    }

    v = json_object_get(obj, "key_ops");

    if (v) {
        if (!json_is_array(v)) {
            return "\"key_ops\" is not a list";
        }

        why = "\"key_ops\" lacks \"verify\"";

        json_array_foreach(v, i, op) {
            if (!json_is_string(op)) {
                return "\"key_ops\" is not a list of strings";
            }

            if (strcmp(json_string_value(op), "verify") == 0) {
                why = NULL;
            }
        }

        if (why) {
            return why;
        }
    }

    for (i = 0; ngx_kedge_jose_private[i]; i++) {
        if (json_object_get(obj, ngx_kedge_jose_private[i])) {
            return "private or symmetric key material";
        }
    }

    v = json_object_get(obj, "kty");

    if (!json_is_string(v)) {
        return "no \"kty\"";
    }

    kty = json_string_value(v);

    if (strcmp(kty, "RSA") == 0) {
        why = ngx_kedge_jwks_rsa(k, obj);
        type = CJOSE_JWK_KTY_RSA;

    } else if (strcmp(kty, "EC") == 0) {
        why = ngx_kedge_jwks_ec(k, obj);
        type = CJOSE_JWK_KTY_EC;

    } else if (strcmp(kty, "oct") == 0) {
        return "a symmetric key";

    } else {
        return "an unsupported key type";
    }

    if (why) {
        return why;
    }

    v = json_object_get(obj, "alg");

    if (v) {
        if (!json_is_string(v)) {
            return "its \"alg\" is not a string";
        }

        alg = ngx_kedge_jose_alg(json_string_value(v), json_string_length(v));

        if (alg == 0 || (alg & k->algs) == 0) {
            return "its \"alg\" does not fit the key";
        }

        k->algs = alg;
    }

    k->algs &= algs;

    if (k->algs == 0) {
        return "no allowed algorithm fits the key";
    }

    k->jwk = cjose_jwk_import_json((cjose_header_t *) obj, &cerr);

    if (k->jwk == NULL) {
        return "cjose cannot import it (not on the curve?)";
    }

    if (cjose_jwk_get_kty(k->jwk, &cerr) != type) {
        return "cjose imported another key type";
    }

    return NULL;
}


static const char *
ngx_kedge_jwks_rsa(ngx_kedge_jwk_t *k, json_t *obj)
{
    size_t           i, n_len, e_len, bits;
    BIGNUM          *bn, *be;
    uint8_t          n[NGX_KEDGE_JOSE_RSA_MAX_BITS / 8 + 1], e[8];
    uint8_t         *p;
    uint64_t         exp;
    OSSL_PARAM      *params;
    OSSL_PARAM_BLD  *bld;

    if (ngx_kedge_jose_member(obj, "n", n, sizeof(n), &n_len)
        != NGX_KEDGE_JOSE_OK)
    {
        return "its modulus is missing, too large or not strict base64url";
    }

    if (ngx_kedge_jose_member(obj, "e", e, sizeof(e), &e_len)
        != NGX_KEDGE_JOSE_OK)
    {
        return "its exponent is missing or not strict base64url";
    }

    for (p = n; n_len && *p == 0; p++, n_len--) { /* void */ }

    if (n_len == 0) {
        return "RSA key under 2048 bits";
    }

    bits = (n_len - 1) * 8;

    for (i = p[0]; i; i >>= 1) {
        bits++;
    }

    if (bits < NGX_KEDGE_JOSE_RSA_MIN_BITS) {
        return "RSA key under 2048 bits";
    }

    if (bits > NGX_KEDGE_JOSE_RSA_MAX_BITS) {
        return "RSA key over 16384 bits";
    }

    exp = 0;

    for (i = 0; i < e_len; i++) {
        exp = (exp << 8) | e[i];
    }

    if (exp < 3 || (exp & 1) == 0 || e_len > 4) {
        return "a bad RSA exponent";
    }

    k->algs = NGX_KEDGE_JOSE_RSA_ALGS;
    k->sig_len = n_len;

    /* the key for OpenSSL's verification, from the same bytes */

    bld = OSSL_PARAM_BLD_new();
    bn = BN_bin2bn(p, (int) n_len, NULL);
    be = BN_bin2bn(e, (int) e_len, NULL);
    params = NULL;

    if (bld && bn && be
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
    {
        params = OSSL_PARAM_BLD_to_param(bld);
    }

    if (params) {
        k->pkey = ngx_kedge_jose_pkey("RSA", params);
    }

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);

    if (k->pkey == NULL) {
        return "out of memory (making the key)";
    }

    return NULL;
}


static const char *
ngx_kedge_jwks_ec(ngx_kedge_jwk_t *k, json_t *obj)
{
    size_t       i, len;
    json_t      *v;
    uint8_t      x[NGX_KEDGE_JOSE_EC_MAX], y[NGX_KEDGE_JOSE_EC_MAX];
    uint8_t      point[1 + 2 * NGX_KEDGE_JOSE_EC_MAX];
    OSSL_PARAM   params[3];
    const char  *crv, *why;

    v = json_object_get(obj, "crv");

    if (!json_is_string(v)) {
        return "an EC key without \"crv\"";
    }

    crv = json_string_value(v);

    for (i = 0; ngx_kedge_jose_curves[i].crv; i++) {
        if (strcmp(crv, ngx_kedge_jose_curves[i].crv) == 0) {
            break;
        }
    }

    if (ngx_kedge_jose_curves[i].crv == NULL) {
        return "an unsupported curve";
    }

    if (ngx_kedge_jose_member(obj, "x", x, sizeof(x), &len)
        != NGX_KEDGE_JOSE_OK
        || len != ngx_kedge_jose_curves[i].coord
        || ngx_kedge_jose_member(obj, "y", y, sizeof(y), &len)
           != NGX_KEDGE_JOSE_OK
        || len != ngx_kedge_jose_curves[i].coord)
    {
        return "EC coordinates missing, not strict or of the wrong size";
    }

    why = ngx_kedge_jose_ec_point(ngx_kedge_jose_curves[i].nid, x, y, len,
                                  k->order);

    if (why) {
        return why;
    }

    k->algs = ngx_kedge_jose_curves[i].alg;
    k->sig_len = 2 * ngx_kedge_jose_curves[i].coord;

    /* the key for OpenSSL's verification: the point, uncompressed */

    point[0] = 0x04;
    memcpy(point + 1, x, len);
    memcpy(point + 1 + len, y, len);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                   (char *) ngx_kedge_jose_curves[i].group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  point, 1 + 2 * len);
    params[2] = OSSL_PARAM_construct_end();

    k->pkey = ngx_kedge_jose_pkey("EC", params);

    if (k->pkey == NULL) {
        return "out of memory (making the key)";
    }

    return NULL;
}


static EVP_PKEY *
ngx_kedge_jose_pkey(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY      *pkey;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;

    ERR_set_mark();

    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);

    ERR_pop_to_mark();

    return pkey;
}


/*
 * Each coordinate below the field's prime (OpenSSL, so cjose, takes x + p
 * for x: a second encoding of one point), and the point on the curve,
 * checked here too: cjose's own check is lost when an allocation fails
 * inside it, and the key is then imported anyway.  NULL: good, and the
 * group's order in "order", "len" bytes.
 */

static const char *
ngx_kedge_jose_ec_point(int nid, const uint8_t *x, const uint8_t *y,
    size_t len, uint8_t *order)
{
    int          on;
    BIGNUM      *p, *bx, *by;
    BN_CTX      *ctx;
    EC_GROUP    *group;
    EC_POINT    *point;
    const char  *why;

    why = "out of memory (checking the point)";

    group = EC_GROUP_new_by_curve_name(nid);
    ctx = BN_CTX_new();
    p = BN_new();
    bx = BN_bin2bn(x, (int) len, NULL);
    by = BN_bin2bn(y, (int) len, NULL);
    point = group ? EC_POINT_new(group) : NULL;

    if (group && ctx && p && bx && by && point
        && EC_GROUP_get_curve(group, p, NULL, NULL, ctx) == 1)
    {
        if (BN_cmp(bx, p) >= 0 || BN_cmp(by, p) >= 0) {
            why = "EC coordinates not below the field's prime";

        } else {
            ERR_set_mark();

            if (EC_POINT_set_affine_coordinates(group, point, bx, by, ctx)
                == 1)
            {
                on = EC_POINT_is_on_curve(group, point, ctx);

                if (on == 1) {
                    why = NULL;

                    if (BN_bn2binpad(EC_GROUP_get0_order(group), order,
                                     (int) len)
                        != (int) len)
                    {
                        why = "the group's order does not fit";
                    }

                } else if (on == 0) {
                    why = "an EC point off the curve";
                }

            } else if (ERR_GET_REASON(ERR_peek_last_error())
                       == EC_R_POINT_IS_NOT_ON_CURVE)
            {
                why = "an EC point off the curve";
            }

            ERR_pop_to_mark();
        }
    }

    EC_POINT_free(point);
    BN_free(p);
    BN_free(bx);
    BN_free(by);
    BN_CTX_free(ctx);
    EC_GROUP_free(group);

    return why;
}


/* a base64url member, strictly decoded into "out" */

static int
ngx_kedge_jose_member(json_t *obj, const char *name, uint8_t *out,
    size_t max, size_t *len)
{
    size_t   slen;
    json_t  *v;

    v = json_object_get(obj, name);

    if (!json_is_string(v)) {
        return NGX_KEDGE_JOSE_DENY;
    }

    slen = json_string_length(v);

    /* the most "slen" characters decode to: 3 bytes for 4, 1 for 2, 2 for 3 */

    if (slen == 0 || slen / 4 * 3 + slen % 4 * 3 / 4 > max) {
        return NGX_KEDGE_JOSE_DENY;
    }

    return ngx_kedge_jose_b64url_decode(json_string_value(v), slen, out, len);
}


size_t
ngx_kedge_jwks_count(ngx_kedge_jwks_t *keys)
{
    return keys->nkeys;
}


const char *
ngx_kedge_jwks_kid(ngx_kedge_jwks_t *keys, size_t i)
{
    return keys->keys[i].has_kid ? keys->keys[i].kid : "";
}


/* whether "keys" holds key "i" of "other", the same key, byte for byte */

int
ngx_kedge_jwks_contains(ngx_kedge_jwks_t *keys, ngx_kedge_jwks_t *other,
    size_t i)
{
    size_t  j;

    for (j = 0; j < keys->nkeys; j++) {
        if (strcmp(keys->keys[j].canon, other->keys[i].canon) == 0) {
            return 1;
        }
    }

    return 0;
}


void
ngx_kedge_jwks_free(ngx_kedge_jwks_t *keys)
{
    size_t  i;

    if (keys == NULL) {
        return;
    }

    for (i = 0; i < keys->nkeys; i++) {
        ngx_kedge_jwk_release(&keys->keys[i]);
    }

    for (i = 0; i < 3; i++) {
        EVP_MD_free(keys->sha[i]);
    }

    EVP_MD_CTX_free(keys->md);
    free(keys);
}


static void
ngx_kedge_jwk_release(ngx_kedge_jwk_t *k)
{
    size_t  i;

    if (k->jwk) {
        cjose_jwk_release(k->jwk);
    }

    EVP_PKEY_free(k->pkey);

    for (i = 0; i < NGX_KEDGE_JOSE_NALGS; i++) {
        EVP_PKEY_CTX_free(k->verify[i]);
    }

    free(k->canon);
}


int
ngx_kedge_jwt_verify(const char *token, size_t len, ngx_kedge_jwks_t *keys,
    const ngx_kedge_jwt_policy_t *policy, time_t now,
    ngx_kedge_jwt_result_t *result)
{
    int               rc, kid_given;
    size_t            i, hlen, plen, slen, sig_len;
    json_t           *hdr, *claims;
    uint8_t          *sig, digest[EVP_MAX_MD_SIZE];
    unsigned          alg, digest_len;
    const char       *d1, *d2, *why;
    ngx_kedge_jwk_t  *k;

    memset(result, 0, sizeof(ngx_kedge_jwt_result_t));

    if (len > policy->max_size) {
        result->reason = "token too large";
        return NGX_KEDGE_JOSE_DENY;
    }

    d1 = memchr(token, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', len - (d1 + 1 - token)) : NULL;

    if (d2 == NULL || memchr(d2 + 1, '.', len - (d2 + 1 - token))) {
        result->reason = "not three segments";
        return NGX_KEDGE_JOSE_DENY;
    }

    hlen = d1 - token;
    plen = d2 - d1 - 1;
    slen = len - (d2 + 1 - token);

    if (hlen == 0 || plen == 0 || slen == 0) {
        result->reason = "an empty segment (unsigned?)";
        return NGX_KEDGE_JOSE_DENY;
    }

    hdr = ngx_kedge_jose_segment(token, hlen);
    if (hdr == NULL) {
        result->reason = "header not strict base64url of a JSON object";
        return NGX_KEDGE_JOSE_DENY;
    }

    why = ngx_kedge_jwt_header(hdr, policy, &alg, result);
    kid_given = json_object_get(hdr, "kid") != NULL;
    json_decref(hdr);

    if (why) {
        result->reason = why;
        return NGX_KEDGE_JOSE_DENY;
    }

    claims = ngx_kedge_jose_segment(d1 + 1, plen);
    if (claims == NULL) {
        result->reason = "payload not strict base64url of a JSON object";
        return NGX_KEDGE_JOSE_DENY;
    }

    sig = malloc(slen / 4 * 3 + 3);
    if (sig == NULL) {
        json_decref(claims);
        result->reason = "out of memory";
        return NGX_KEDGE_JOSE_ERROR;
    }

    if (ngx_kedge_jose_b64url_decode(d2 + 1, slen, sig, &sig_len)
        != NGX_KEDGE_JOSE_OK)
    {
        free(sig);
        json_decref(claims);
        result->reason = "signature not strict base64url";
        return NGX_KEDGE_JOSE_DENY;
    }

    /*
     * the claims first, cheap, as Envoy does: an expired or foreign token
     * costs no signature check, and an unknown kid on it no refetch
     */

    why = ngx_kedge_jwt_claims(claims, policy, now, result);
    json_decref(claims);

    if (why) {
        free(sig);
        result->reason = why;
        return NGX_KEDGE_JOSE_DENY;
    }

    /*
     * the key: by kid when the token names one, else any key the
     * algorithm fits; the algorithm must fit the key either way
     */

    rc = kid_given ? NGX_KEDGE_JOSE_UNKNOWN_KID : NGX_KEDGE_JOSE_DENY;
    result->reason = kid_given ? "unknown kid" : "no key fits the algorithm";
    digest_len = 0;

    for (i = 0; keys && i < keys->nkeys; i++) {
        k = &keys->keys[i];

        if (kid_given) {
            if (!k->has_kid || strcmp(k->kid, result->kid) != 0) {
                continue;
            }

            if ((k->algs & alg) == 0) {
                rc = NGX_KEDGE_JOSE_DENY;
                result->reason = "the algorithm does not fit the key";
                break;
            }

        } else if ((k->algs & alg) == 0) {
            continue;
        }

        if (sig_len != k->sig_len) {
            rc = NGX_KEDGE_JOSE_DENY;
            result->reason = "wrong signature length";

            if (kid_given) {
                break;
            }

            continue;
        }

        /* the signing input's digest, once for every key tried */

        if (digest_len == 0
            && ngx_kedge_jose_digest(keys, alg, token, d2 - token, digest,
                                     &digest_len)
               != NGX_KEDGE_JOSE_OK)
        {
            rc = NGX_KEDGE_JOSE_ERROR;
            result->reason = "out of memory (the digest)";
            break;
        }

        rc = ngx_kedge_jwt_signature(keys, k, alg, digest, digest_len, sig,
                                     sig_len);

        if (rc == NGX_KEDGE_JOSE_OK) {
            result->reason = NULL;
            break;
        }

        if (rc == NGX_KEDGE_JOSE_ERROR) {
            result->reason = "out of memory (the signature check)";
            break;
        }

        result->reason = "bad signature";

        if (kid_given) {
            break;
        }
    }

    free(sig);

    /* the claims read before the signature count only with it */

    if (rc != NGX_KEDGE_JOSE_OK) {
        result->exp = 0;
        result->sub[0] = '\0';
        result->sub_len = 0;
    }

    return rc;
}


/* which of SHA-256, -384 and -512 an algorithm signs with */

static size_t
ngx_kedge_jose_hash(unsigned alg)
{
    if (alg & (NGX_KEDGE_JOSE_RS256 | NGX_KEDGE_JOSE_PS256
               | NGX_KEDGE_JOSE_ES256))
    {
        return 0;
    }

    if (alg & (NGX_KEDGE_JOSE_RS384 | NGX_KEDGE_JOSE_PS384
               | NGX_KEDGE_JOSE_ES384))
    {
        return 1;
    }

    return 2;
}


static int
ngx_kedge_jose_digest(ngx_kedge_jwks_t *keys, unsigned alg, const char *in,
    size_t len, uint8_t *out, unsigned *out_len)
{
    int  rc;

    ERR_set_mark();

    rc = EVP_DigestInit_ex2(keys->md, keys->sha[ngx_kedge_jose_hash(alg)],
                            NULL) == 1
         && EVP_DigestUpdate(keys->md, in, len) == 1
         && EVP_DigestFinal_ex(keys->md, out, out_len) == 1;

    ERR_pop_to_mark();

    return rc ? NGX_KEDGE_JOSE_OK : NGX_KEDGE_JOSE_ERROR;
}


/*
 * The signature over the signing input's digest, with key "k" and
 * algorithm "alg" (one that fits the key; "sig_len" the key's): OK, DENY
 * or, when OpenSSL cannot make the verification context, ERROR.  The
 * context is made once per key and algorithm and kept with the key.
 */

static int
ngx_kedge_jwt_signature(ngx_kedge_jwks_t *keys, ngx_kedge_jwk_t *k,
    unsigned alg, const uint8_t *digest, size_t digest_len,
    const uint8_t *sig, size_t sig_len)
{
    int            rc;
    size_t         i, der_len;
    uint8_t        der[2 * NGX_KEDGE_JOSE_EC_MAX + 9];
    const EVP_MD  *md;
    EVP_PKEY_CTX  *ctx;

    for (i = 0; (1u << i) != alg; i++) { /* void */ }

    ERR_set_mark();

    ctx = k->verify[i];

    if (ctx == NULL) {
        md = keys->sha[ngx_kedge_jose_hash(alg)];
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);

        if (ctx == NULL
            || EVP_PKEY_verify_init(ctx) != 1
            || ((alg & NGX_KEDGE_JOSE_RSA_ALGS)
                && EVP_PKEY_CTX_set_rsa_padding(ctx,
                       (alg & (NGX_KEDGE_JOSE_PS256 | NGX_KEDGE_JOSE_PS384
                               | NGX_KEDGE_JOSE_PS512))
                       ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING)
                   != 1)
            || EVP_PKEY_CTX_set_signature_md(ctx, md) != 1
            || ((alg & (NGX_KEDGE_JOSE_PS256 | NGX_KEDGE_JOSE_PS384
                        | NGX_KEDGE_JOSE_PS512))
                && (EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1
                    || EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx,
                                                        RSA_PSS_SALTLEN_DIGEST)
                       != 1)))
        {
            EVP_PKEY_CTX_free(ctx);
            ERR_pop_to_mark();
            return NGX_KEDGE_JOSE_ERROR;
        }

        k->verify[i] = ctx;
    }

    if (alg & (NGX_KEDGE_JOSE_ES256 | NGX_KEDGE_JOSE_ES384
               | NGX_KEDGE_JOSE_ES512))
    {
        der_len = ngx_kedge_jose_ecdsa_der(sig, sig_len / 2, k->order, der);

        if (der_len == 0) {
            ERR_pop_to_mark();
            return NGX_KEDGE_JOSE_DENY;
        }

        sig = der;
        sig_len = der_len;
    }

    rc = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len);

    ERR_pop_to_mark();

    return (rc == 1) ? NGX_KEDGE_JOSE_OK : NGX_KEDGE_JOSE_DENY;
}


size_t
ngx_kedge_jose_ecdsa_der(const uint8_t *sig, size_t len,
    const uint8_t *order, uint8_t *out)
{
    size_t          i, n, body, skip[2];
    uint8_t        *p;
    const uint8_t  *v;

    if (len == 0 || len > NGX_KEDGE_JOSE_EC_MAX) {
        return 0;
    }

    body = 0;

    for (i = 0; i < 2; i++) {
        v = sig + i * len;

        for (n = 0; n < len && v[n] == 0; n++) { /* void */ }

        /* above zero and below the order, as ECDSA wants r and s */

        if (n == len || memcmp(v, order, len) >= 0) {
            return 0;
        }

        skip[i] = n;

        /* INTEGER: its minimal bytes, a zero first when the top bit is set */

        body += 2 + (len - n) + (v[n] >= 0x80);
    }

    /* at most 2 * (2 + 67) = 138: one length octet after 0x81 */

    p = out;
    *p++ = 0x30;

    if (body >= 0x80) {
        *p++ = 0x81;
    }

    *p++ = (uint8_t) body;

    for (i = 0; i < 2; i++) {
        v = sig + i * len + skip[i];
        n = len - skip[i];

        *p++ = 0x02;
        *p++ = (uint8_t) (n + (v[0] >= 0x80));

        if (v[0] >= 0x80) {
            *p++ = 0x00;
        }

        memcpy(p, v, n);
        p += n;
    }

    return p - out;
}


/* a strict base64url segment holding a JSON object, members once each */

static json_t *
ngx_kedge_jose_segment(const char *data, size_t len)
{
    size_t        n;
    json_t       *obj;
    uint8_t      *buf;
    json_error_t  jerr;

    buf = malloc(len / 4 * 3 + 3);
    if (buf == NULL) {
        return NULL;
    }

    if (ngx_kedge_jose_b64url_decode(data, len, buf, &n)
        != NGX_KEDGE_JOSE_OK)
    {
        free(buf);
        return NULL;
    }

    obj = json_loadb((char *) buf, n, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);

    if (obj && !json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }

    return obj;
}


static const char *
ngx_kedge_jwt_header(json_t *hdr, const ngx_kedge_jwt_policy_t *policy,
    unsigned *alg, ngx_kedge_jwt_result_t *result)
{
    size_t       len;
    json_t      *v;
    const char  *name;

    *alg = 0;

    json_object_foreach(hdr, name, v) {

        if (strcmp(name, "alg") == 0) {
            if (!json_is_string(v)) {
                return "\"alg\" is not a string";
            }

            *alg = ngx_kedge_jose_alg(json_string_value(v),
                                      json_string_length(v));

            if (*alg == 0) {
                return "unsupported algorithm (none? HMAC?)";
            }

            if ((*alg & policy->algs) == 0) {
                return "algorithm not allowed";
            }

        } else if (strcmp(name, "kid") == 0) {
            if (!json_is_string(v)) {
                return "\"kid\" is not a string";
            }

            len = json_string_length(v);

            if (len == 0 || len > NGX_KEDGE_JOSE_KID_LEN) {
                return "\"kid\" empty or too long";
            }

            memcpy(result->kid, json_string_value(v), len);
            result->kid[len] = '\0';

        } else if (strcmp(name, "crit") == 0) {
            return "a \"crit\" header";

        } else if (strcmp(name, "b64") == 0) {
            return "a \"b64\" header";

        } else if (strcmp(name, "enc") == 0 || strcmp(name, "zip") == 0) {
            return "not a signed token (\"enc\", \"zip\")";
        }

        /* "jku", "x5u", "jwk", "x5c", "typ" and the rest: not followed */
    }

    if (*alg == 0) {
        return "no \"alg\"";
    }

    return NULL;
}


static const char *
ngx_kedge_jwt_claims(json_t *claims, const ngx_kedge_jwt_policy_t *policy,
    time_t now, ngx_kedge_jwt_result_t *result)
{
    int          found;
    size_t       i, j, len;
    json_t      *v, *e;
    int64_t      exp, nbf, iat;
    const char  *s;

    v = json_object_get(claims, "iss");

    if (!json_is_string(v) || strcmp(json_string_value(v), policy->issuer))
    {
        return "wrong or no issuer (\"iss\")";
    }

    v = json_object_get(claims, "aud");
    found = 0;

    if (json_is_string(v)) {
        found = strcmp(json_string_value(v), policy->client_id) == 0;

    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) {
                return "\"aud\" is not a list of strings";
            }

            if (strcmp(json_string_value(e), policy->client_id) == 0) {
                found = 1;
            }
        }
    }

    if (!found) {
        return "the audience (\"aud\") lacks the client id";
    }

    /* OIDC Core 3.1.3.7: an "azp" must be the client itself */

    v = json_object_get(claims, "azp");

    if (v && !(json_is_string(v)
               && strcmp(json_string_value(v), policy->client_id) == 0))
    {
        return "the authorized party (\"azp\") is not the client id";
    }

    switch (ngx_kedge_jose_numeric(claims, "exp", &exp)) {

    case NGX_KEDGE_JOSE_OK:
        break;

    case NGX_KEDGE_JOSE_UNKNOWN_KID:
        return "no expiry (\"exp\")";

    default:
        return "\"exp\" is not a number";
    }

    if ((int64_t) now >= exp + policy->leeway) {
        return "expired";
    }

    switch (ngx_kedge_jose_numeric(claims, "nbf", &nbf)) {

    case NGX_KEDGE_JOSE_OK:
        if ((int64_t) now + policy->leeway < nbf) {
            return "not valid yet (\"nbf\")";
        }

        break;

    case NGX_KEDGE_JOSE_UNKNOWN_KID:
        break;

    default:
        return "\"nbf\" is not a number";
    }

    switch (ngx_kedge_jose_numeric(claims, "iat", &iat)) {

    case NGX_KEDGE_JOSE_OK:
        if (iat > (int64_t) now + policy->leeway) {
            return "issued in the future (\"iat\")";
        }

        break;

    case NGX_KEDGE_JOSE_UNKNOWN_KID:
        break;

    default:
        return "\"iat\" is not a number";
    }

    v = json_object_get(claims, policy->perms_claim);

    if (!json_is_array(v)) {
        return "the permissions claim is missing or not a list";
    }

    found = 0;

    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            return "the permissions claim is not a list of strings";
        }

        for (j = 0; !found && j < policy->nallow; j++) {
            found = strcmp(json_string_value(e), policy->allow[j]) == 0;
        }
    }

    if (!found) {
        return "no allowed permission";
    }

    result->exp = exp;

    /* the subject, for logs and headers: printable ASCII only */

    v = json_object_get(claims, "sub");

    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);

        for (i = 0; i < len; i++) {
            if (s[i] < 0x20 || s[i] > 0x7e) {
                break;
            }
        }

        if (i == len && len <= NGX_KEDGE_JOSE_SUB_LEN) {
            memcpy(result->sub, s, len);
            result->sub[len] = '\0';
            result->sub_len = len;
        }
    }

    return NULL;
}


/* NGX_KEDGE_JOSE_UNKNOWN_KID stands for "absent" here */

static int
ngx_kedge_jose_numeric(json_t *claims, const char *name, int64_t *value)
{
    double   d;
    json_t  *v;

    v = json_object_get(claims, name);

    if (v == NULL) {
        return NGX_KEDGE_JOSE_UNKNOWN_KID;
    }

    /* within some 30 million years: no overflow with the leeway added */

    if (json_is_integer(v)) {
        d = (double) json_integer_value(v);

    } else if (json_is_real(v)) {
        d = floor(json_real_value(v));

    } else {
        return NGX_KEDGE_JOSE_DENY;
    }

    if (d > -1e15 && d < 1e15) {
        *value = (int64_t) d;
        return NGX_KEDGE_JOSE_OK;
    }

    return NGX_KEDGE_JOSE_DENY;
}
