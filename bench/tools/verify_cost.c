/*
 * The raw cost of one signature verification in OpenSSL 3, for callgrind
 * (bench/tools/jwt_callgrind.py runs it with --toggle-collect=verify_loop,
 * so that key generation and setup are not counted).
 *
 *   verify_cost ES256|RS256 speed|jwt COUNT
 *
 * speed: what `openssl speed ecdsap256` / `rsa2048` times, one
 *   EVP_PKEY_verify() on a context made once, over a 20-byte (ECDSA) or
 *   36-byte (RSA) input, no digest;
 * jwt: what one JWT signature costs at the least with a key made once:
 *   EVP_DigestVerifyInit() and EVP_DigestVerify() (SHA-256 included) over
 *   a 300-byte signing input.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>


static int verify_loop(const char *mode, EVP_PKEY *pkey, EVP_PKEY_CTX *vctx,
    const unsigned char *sig, size_t siglen, const unsigned char *in,
    size_t inlen, long count) __attribute__((noinline));


static int
verify_loop(const char *mode, EVP_PKEY *pkey, EVP_PKEY_CTX *vctx,
    const unsigned char *sig, size_t siglen, const unsigned char *in,
    size_t inlen, long count)
{
    int          ok;
    long         i;
    EVP_MD_CTX  *md;

    ok = 0;

    if (strcmp(mode, "speed") == 0) {
        for (i = 0; i < count; i++) {
            ok += EVP_PKEY_verify(vctx, sig, siglen, in, inlen) == 1;
        }

        return ok;
    }

    md = EVP_MD_CTX_new();

    for (i = 0; i < count; i++) {
        ok += EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1
              && EVP_DigestVerify(md, sig, siglen, in, inlen) == 1;
        EVP_MD_CTX_reset(md);
    }

    EVP_MD_CTX_free(md);

    return ok;
}


int
main(int argc, char **argv)
{
    int             ec, speed;
    long            count;
    size_t          siglen, inlen;
    EVP_PKEY       *pkey;
    EVP_MD_CTX     *md;
    EVP_PKEY_CTX   *sctx, *vctx;
    unsigned char   in[300], sig[512];

    if (argc != 4) {
        fprintf(stderr, "usage: verify_cost ES256|RS256 speed|jwt COUNT\n");
        return 2;
    }

    ec = strcmp(argv[1], "ES256") == 0;
    speed = strcmp(argv[2], "speed") == 0;
    count = atol(argv[3]);

    memset(in, 'a', sizeof(in));
    inlen = speed ? (ec ? 20 : 36) : sizeof(in);

    pkey = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    if (pkey == NULL) {
        return 1;
    }

    siglen = sizeof(sig);
    vctx = NULL;

    if (speed) {
        sctx = EVP_PKEY_CTX_new(pkey, NULL);
        vctx = EVP_PKEY_CTX_new(pkey, NULL);

        if (sctx == NULL || vctx == NULL
            || EVP_PKEY_sign_init(sctx) != 1
            || EVP_PKEY_verify_init(vctx) != 1
            || (!ec && (EVP_PKEY_CTX_set_rsa_padding(sctx, RSA_PKCS1_PADDING)
                        != 1
                        || EVP_PKEY_CTX_set_rsa_padding(vctx,
                                                        RSA_PKCS1_PADDING)
                           != 1))
            || EVP_PKEY_sign(sctx, sig, &siglen, in, inlen) != 1)
        {
            return 1;
        }

        EVP_PKEY_CTX_free(sctx);

    } else {
        md = EVP_MD_CTX_new();

        if (md == NULL
            || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1
            || EVP_DigestSign(md, sig, &siglen, in, inlen) != 1)
        {
            return 1;
        }

        EVP_MD_CTX_free(md);
    }

    if (verify_loop(argv[2], pkey, vctx, sig, siglen, in, inlen, count)
        != count)
    {
        fprintf(stderr, "verify_cost: a verification failed\n");
        return 1;
    }

    EVP_PKEY_CTX_free(vctx);
    EVP_PKEY_free(pkey);

    return 0;
}
