/* The TLS-PSK release (sea_psk_find): a key's value goes to the caller only when the key says it
 * may leave the SE in clear and its SUID and validity dates allow the handshake it is for. Every
 * copy made here is in a secret attribute set, wiped when freed. */
#include "core_int.h"
#include "error.h"
#include "psk.h"

CK_RV core_psk_value(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, enum usage_op op,
                     uint8_t *out, size_t *len)
{
    struct session *s;
    struct attrs *a = NULL, *sec = NULL;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    if ((rv = obj_get_visible(c, s, obj, &a)) != CKR_OK)
        goto out;
    if (attrs_get_ulong(a, CKA_CLASS, CK_UNAVAILABLE_INFORMATION) != CKO_SECRET_KEY ||
        attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION) != CKK_GENERIC_SECRET) {
        rv = err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED,
                     "the key named by this PSK identity is not a generic secret key");
        goto out;
    }
    bool sensitive = attrs_get_bool(a, CKA_SENSITIVE, true);
    bool extractable = attrs_get_bool(a, CKA_EXTRACTABLE, false);
    if (sensitive || !extractable) {
        rv = err_set(ORIGIN_CORE, CKR_KEY_UNEXTRACTABLE,
                     "the key may not leave the SE in clear (it is %s): make a TLS-PSK key "
                     "extractable and not sensitive (.extractable and .clear_export; "
                     "CKA_EXTRACTABLE true, CKA_SENSITIVE false; doc/tls-psk.md)",
                     sensitive && !extractable ? "sensitive and not extractable"
                     : sensitive               ? "sensitive"
                                               : "not extractable");
        goto out;
    }
    if ((rv = usage_check(a, op, CK_UNAVAILABLE_INFORMATION)) != CKR_OK)
        goto out;
    rv = sess_sync_login(c, s,
                         se->dev->ops->obj_secret(se->dev->bdev, se->seq, obj, CKA_VALUE, &sec));
    if (rv != CKR_OK) {
        err_default(ORIGIN_BACKEND, rv, "the key's value could not be read");
        goto out;
    }
    const struct attr *v = attrs_find(sec, CKA_VALUE);
    if (!v || v->len == 0) {
        rv = err_set(ORIGIN_BACKEND, CKR_GENERAL_ERROR, "the key has no value");
        goto out;
    }
    if (out && *len < v->len)
        rv = err_set(ORIGIN_API, CKR_BUFFER_TOO_SMALL, "the PSK has %lu bytes; the buffer %zu",
                     (unsigned long)v->len, *len);
    else if (out)
        memcpy(out, v->val, v->len);
    *len = v->len;
out:
    attrs_unref(sec); /* wipes the value */
    attrs_unref(a);
    sess_release(c, s);
    return rv;
}
