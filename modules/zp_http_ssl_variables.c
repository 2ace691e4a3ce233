/*
 * zp_http_ssl_variables.c: the http_ssl module's per-request side: the
 * client certificate check of ssl_verify_client, and the $ssl_*
 * variables (docs/tls.md).
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>
#include <zp_event_openssl.h>
#include <zp_http_ssl_module.h>


static SSL *
zp_http_ssl_conn(zp_http_request_t *r)
{
    zp_ssl_connection_t *sc = r->connection->ssl;

    return sc && sc->handshaked ? sc->ssl : NULL;
}


/*
 * Before anything else runs for a request of a server with
 * ssl_verify_client: a missing (with "on") or bad certificate gets 400
 * with the reason, as in nginx. The handshake took the client
 * certificate rules of the server the SNI name chose; a Host naming
 * another server that checks clients would bypass them, so that is
 * refused with 421.
 */
zp_int_t
zp_http_ssl_check_client(zp_http_request_t *r)
{
    long                    rc;
    SSL                    *ssl = zp_http_ssl_conn(r);
    X509                   *cert;
    zp_str_t                body, type = zp_string("text/html");
    zp_http_ssl_srv_conf_t *sscf;

    if (ssl == NULL) {
        return ZP_DECLINED;
    }

    sscf = zp_http_get_module_srv_conf(r, zp_http_ssl_module);
    if (sscf == NULL || sscf->verify == ZP_HTTP_SSL_VERIFY_OFF) {
        return ZP_DECLINED;
    }

    if (sscf->ctx != SSL_get_SSL_CTX(ssl)) {
        zp_log_error(ZP_LOG_INFO, r->connection->log, 0,
                     "client certificate rules of the SNI server differ from the Host's");
        return 421;
    }

    rc = SSL_get_verify_result(ssl);
    if (rc != X509_V_OK) {
        zp_log_error(ZP_LOG_INFO, r->connection->log, 0,
                     "client SSL certificate verify error: (%l:%s)", rc,
                     X509_verify_cert_error_string(rc));
        zp_str_set(&body, "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n"
                          "<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
                          "<center>The SSL certificate error</center>\r\n"
                          "<hr><center>zproxy</center>\r\n</body>\r\n</html>\r\n");
        zp_http_send_response(r, 400, &type, &body);
        return ZP_DONE;
    }

    cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL && sscf->verify == ZP_HTTP_SSL_VERIFY_ON) {
        zp_log_error(ZP_LOG_INFO, r->connection->log, 0, "client sent no required SSL certificate");
        zp_str_set(&body,
                   "<html>\r\n<head><title>400 No required SSL certificate was sent</title>"
                   "</head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
                   "<center>No required SSL certificate was sent</center>\r\n"
                   "<hr><center>zproxy</center>\r\n</body>\r\n</html>\r\n");
        zp_http_send_response(r, 400, &type, &body);
        return ZP_DONE;
    }

    return ZP_DECLINED;
}


enum {
    zp_http_ssl_var_protocol,
    zp_http_ssl_var_cipher,
    zp_http_ssl_var_server_name,
    zp_http_ssl_var_session_reused,
    zp_http_ssl_var_client_verify,
    zp_http_ssl_var_client_s_dn,
    zp_http_ssl_var_client_i_dn,
    zp_http_ssl_var_client_serial,
};


/* Copies what bio holds into the request pool. */
static zp_int_t
zp_http_ssl_bio_value(zp_http_request_t *r, BIO *bio, zp_http_variable_value_t *v)
{
    long  n;
    char *p;

    n = BIO_get_mem_data(bio, &p);
    if (n < 0 || n > 4096) {
        n = 0;
    }

    v->data = zp_pnalloc(r->pool, (size_t) n + 1);
    if (v->data == NULL) {
        return ZP_ERROR;
    }
    zp_memcpy(v->data, p, (size_t) n);
    v->len = (unsigned) n;
    return ZP_OK;
}


/* $ssl_*: empty on a plain connection. */
static zp_int_t
zp_http_ssl_variable(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    long        rc;
    BIO        *bio;
    SSL        *ssl = zp_http_ssl_conn(r);
    X509       *cert;
    zp_int_t    ret;
    const char *s = NULL;

    v->len  = 0;
    v->data = (u_char *) "";

    if (ssl == NULL) {
        return ZP_OK;
    }

    switch (data) {
    case zp_http_ssl_var_protocol:
        s = SSL_get_version(ssl);
        break;
    case zp_http_ssl_var_cipher:
        s = SSL_get_cipher_name(ssl);
        break;
    case zp_http_ssl_var_server_name:
        s = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        break;
    case zp_http_ssl_var_session_reused:
        s = SSL_session_reused(ssl) ? "r" : ".";
        break;

    case zp_http_ssl_var_client_verify:
        cert = SSL_get0_peer_certificate(ssl);
        if (cert == NULL) {
            s = "NONE";
            break;
        }
        rc = SSL_get_verify_result(ssl);
        if (rc == X509_V_OK) {
            s = "SUCCESS";
            break;
        }
        s       = X509_verify_cert_error_string(rc);
        v->data = zp_pnalloc(r->pool, sizeof("FAILED:") + strlen(s));
        if (v->data == NULL) {
            return ZP_ERROR;
        }
        v->len = (unsigned) (zp_sprintf(v->data, "FAILED:%s", s) - v->data);
        return ZP_OK;

    default: /* the client certificate's subject, issuer, serial */
        cert = SSL_get0_peer_certificate(ssl);
        if (cert == NULL) {
            return ZP_OK;
        }
        bio = BIO_new(BIO_s_mem());
        if (bio == NULL) {
            return ZP_ERROR;
        }
        if (data == zp_http_ssl_var_client_serial) {
            rc = i2a_ASN1_INTEGER(bio, X509_get_serialNumber(cert));
        } else {
            /* RFC 2253, as nginx's $ssl_client_s_dn: "CN=alice,O=Example" */
            rc = X509_NAME_print_ex(bio,
                                    data == zp_http_ssl_var_client_s_dn
                                        ? X509_get_subject_name(cert)
                                        : X509_get_issuer_name(cert),
                                    0, XN_FLAG_RFC2253);
        }
        ret = rc < 0 ? ZP_OK : zp_http_ssl_bio_value(r, bio, v);
        BIO_free(bio);
        ERR_clear_error();
        return ret;
    }

    if (s) {
        v->data = (u_char *) s;
        v->len  = (unsigned) strlen(s);
    }
    return ZP_OK;
}


zp_int_t
zp_http_ssl_preconfiguration(zp_conf_t *cf)
{
    zp_uint_t           i;
    zp_http_variable_t *v;
    static struct {
        zp_str_t  name;
        uintptr_t data;
        zp_uint_t flags;
    } vars[] = {
        {zp_string("ssl_protocol"), zp_http_ssl_var_protocol, 0},
        {zp_string("ssl_cipher"), zp_http_ssl_var_cipher, 0},
        {zp_string("ssl_server_name"), zp_http_ssl_var_server_name, 0},
        {zp_string("ssl_session_reused"), zp_http_ssl_var_session_reused, 0},
        {zp_string("ssl_client_verify"), zp_http_ssl_var_client_verify, 0},
        {zp_string("ssl_client_s_dn"), zp_http_ssl_var_client_s_dn, 0},
        {zp_string("ssl_client_i_dn"), zp_http_ssl_var_client_i_dn, 0},
        {zp_string("ssl_client_serial"), zp_http_ssl_var_client_serial, 0},
    };

    /* the ex_data indexes exist before any SSL_CTX, in the master */
    if (zp_ssl_init(cf->log) != ZP_OK) {
        return ZP_ERROR;
    }

    for (i = 0; i < zp_nelems(vars); i++) {
        v = zp_http_add_variable(cf, &vars[i].name, vars[i].flags);
        if (v == NULL) {
            return ZP_ERROR;
        }
        v->get_handler = zp_http_ssl_variable;
        v->data        = vars[i].data;
    }

    return ZP_OK;
}
