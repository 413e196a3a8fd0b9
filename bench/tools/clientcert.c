/*
 * LD_PRELOAD shim: every SSL_CTX a client creates presents the client
 * certificate BENCH_CLIENT_CERT (a chain file) with key BENCH_CLIENT_KEY.
 * wrk and h2load have no option for a client certificate; this lets them
 * drive the "client certificates over keepalive" scenario unchanged.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/ssl.h>


SSL_CTX *
SSL_CTX_new(const SSL_METHOD *method)
{
    static SSL_CTX *(*real)(const SSL_METHOD *);
    const char      *cert, *key;
    SSL_CTX         *ctx;

    if (real == NULL) {
        real = (SSL_CTX *(*)(const SSL_METHOD *)) dlsym(RTLD_NEXT,
                                                        "SSL_CTX_new");
        if (real == NULL) {
            return NULL;
        }
    }

    ctx = real(method);

    cert = getenv("BENCH_CLIENT_CERT");
    key = getenv("BENCH_CLIENT_KEY");

    if (ctx == NULL || cert == NULL || key == NULL) {
        return ctx;
    }

    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1
        || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
    {
        fprintf(stderr, "clientcert: cannot load %s / %s\n", cert, key);
        abort();
    }

    return ctx;
}
