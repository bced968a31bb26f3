/* Objects: creation, copy, destruction, attributes and search, with the access rules of the
 * standard (token objects need a read/write session, private objects a logged-in user) and
 * the reading rules of schema.c. */
#include <stdlib.h>

#include "core_int.h"
#include "error.h"
#include "schema.h"
#include "usage.h"

bool obj_visible(CK_USER_TYPE user, const struct attrs *a)
{
    return user == CKU_USER || !attrs_get_bool(a, CKA_PRIVATE, true);
}

CK_RV obj_get_visible(struct core *c, struct session *s, CK_OBJECT_HANDLE h, struct attrs **out)
{
    struct se *se = s->se;
    struct attrs *a = NULL;
    CK_RV rv = se->dev->ops->obj_attrs(se->dev->bdev, se->seq, h, &a);
    if (sess_sync_login(c, s, rv) == CKR_USER_NOT_LOGGED_IN)
        return err_set(ORIGIN_CORE, CKR_OBJECT_HANDLE_INVALID,
                       "object %lu is private: log in as the user first", h);
    if (rv != CKR_OK)
        return err_default(ORIGIN_BACKEND, rv, "object %lu is not available", h);
    if (!obj_visible(sess_user(c, s), a)) {
        attrs_unref(a);
        return err_set(ORIGIN_CORE, CKR_OBJECT_HANDLE_INVALID,
                       "object %lu is private: log in as the user first", h);
    }
    *out = a;
    return CKR_OK;
}

CK_RV obj_track(struct session *s, CK_OBJECT_HANDLE h)
{
    if (s->nobjs == s->capobjs) {
        size_t cap = s->capobjs ? s->capobjs * 2 : 8;
        CK_OBJECT_HANDLE *v = realloc(s->objs, cap * sizeof(*v));
        if (!v)
            return CKR_HOST_MEMORY;
        s->objs = v;
        s->capobjs = cap;
    }
    s->objs[s->nobjs++] = h;
    return CKR_OK;
}

void obj_untrack(struct session *s, CK_OBJECT_HANDLE h)
{
    for (size_t i = 0; i < s->nobjs; i++) {
        if (s->objs[i] == h) {
            s->objs[i] = s->objs[--s->nobjs];
            return;
        }
    }
}

/* Token objects change only in read/write sessions. */
static CK_RV check_token_rw(const struct session *s, const struct attrs *a, const char *what)
{
    if (attrs_get_bool(a, CKA_TOKEN, false) && !(s->flags & CKF_RW_SESSION))
        return err_set(ORIGIN_CORE, CKR_SESSION_READ_ONLY,
                       "token objects can only be %s in a read/write session", what);
    return CKR_OK;
}

CK_RV obj_check_write(struct core *c, struct session *s, const struct attrs *a)
{
    CK_USER_TYPE u = sess_user(c, s);
    CK_RV rv = check_token_rw(s, a, "created");
    if (rv != CKR_OK)
        return rv;
    if (attrs_get_bool(a, CKA_PRIVATE, true) && u != CKU_USER)
        return err_set(ORIGIN_CORE, CKR_USER_NOT_LOGGED_IN,
                       "private objects need the user logged in");
    if (attrs_get_bool(a, CKA_TOKEN, false))
        return sess_check_writable(c, s);
    return CKR_OK;
}

/* Store a complete attribute set as a new object of the session's SE. */
static CK_RV store_new(struct core *c, struct session *s, const struct attrs *a, unsigned flags,
                       CK_OBJECT_HANDLE *out)
{
    struct se *se = s->se;
    bool token = attrs_get_bool(a, CKA_TOKEN, false);
    if (!token && !(se->dev->caps.flags & DEVCAP_SESSION_OBJ))
        return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                       "device %s keeps no session objects: set CKA_TOKEN", se->dev->name);
    CK_RV rv =
        se->dev->ops->obj_create(se->dev->bdev, se->seq, a, flags | (token ? 0 : OBJ_SESSION), out);
    sess_sync_login(c, s, rv);
    if (rv != CKR_OK)
        return rv == CKR_SEA_EXISTS ? rv
                                    : err_default(ORIGIN_BACKEND, rv, "the object was not stored");
    if (!token && (rv = obj_track(s, *out)) != CKR_OK)
        se->dev->ops->obj_destroy(se->dev->bdev, se->seq, *out);
    return rv;
}

CK_RV core_create_object(struct core *c, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
                         unsigned flags, CK_OBJECT_HANDLE *obj)
{
    struct session *s;
    struct attrs *a = NULL;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = schema_create(t, n, sess_user(c, s) == CKU_SO, &a)) != CKR_OK)
        goto out;
    if (attrs_get_ulong(a, CKA_CLASS, 0) == CKO_DATA &&
        !(s->se->dev->caps.flags & DEVCAP_STORE_DATA)) {
        rv = err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT, "device %s cannot store data objects",
                     s->se->dev->name);
        goto out;
    }
    if ((rv = obj_check_write(c, s, a)) != CKR_OK)
        goto out;
    rv = store_new(c, s, a, flags, obj);
out:
    attrs_unref(a);
    sess_release(c, s);
    return rv;
}

/* The full attribute set of an object, its secret values included (they stay inside the
 * library: used to copy within one SE). */
static CK_RV full_attrs(struct se *se, CK_OBJECT_HANDLE h, const struct attrs *pub,
                        struct attrs **out)
{
    static const CK_ATTRIBUTE_TYPE secret_types[] = {
        CKA_VALUE,      CKA_PRIVATE_EXPONENT, CKA_PRIME_1,     CKA_PRIME_2,
        CKA_EXPONENT_1, CKA_EXPONENT_2,       CKA_COEFFICIENT,
    };
    CK_OBJECT_CLASS cls = attrs_get_ulong(pub, CKA_CLASS, 0);
    bool priv = attrs_get_bool(pub, CKA_PRIVATE, false);
    struct attrs *a = attrs_dup(pub);
    if (!a)
        return CKR_HOST_MEMORY;
    for (size_t i = 0; i < ARRAY_SIZE(secret_types); i++) {
        if (!schema_is_secret(cls, priv, secret_types[i]) ||
            !schema_attr_valid(pub, secret_types[i]))
            continue;
        struct attrs *sec = NULL;
        CK_RV rv = se->dev->ops->obj_secret(se->dev->bdev, se->seq, h, secret_types[i], &sec);
        if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
            continue;
        if (rv == CKR_OK)
            rv = attrs_merge(a, sec);
        attrs_unref(sec);
        if (rv != CKR_OK) {
            attrs_unref(a);
            return err_default(ORIGIN_BACKEND, rv, "the object's value cannot be copied");
        }
    }
    *out = a;
    return CKR_OK;
}

CK_RV core_copy_object(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                       const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    struct session *s;
    struct attrs *pub = NULL, *full = NULL, *copy = NULL;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = obj_get_visible(c, s, obj, &pub)) != CKR_OK)
        goto out;
    if (!attrs_get_bool(pub, CKA_COPYABLE, true)) {
        rv = err_set(ORIGIN_CORE, CKR_ACTION_PROHIBITED, "the object is not copyable");
        goto out;
    }
    if ((rv = full_attrs(s->se, obj, pub, &full)) != CKR_OK ||
        (rv = schema_copy(full, t, n, &copy)) != CKR_OK ||
        (rv = obj_check_write(c, s, copy)) != CKR_OK)
        goto out;
    rv = store_new(c, s, copy, 0, out);
out:
    attrs_unref(pub);
    attrs_unref(full);
    attrs_unref(copy);
    sess_release(c, s);
    return rv;
}

CK_RV core_destroy_object(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
    struct session *s;
    struct attrs *a = NULL;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = obj_get_visible(c, s, obj, &a)) != CKR_OK)
        goto out;
    if ((rv = check_token_rw(s, a, "destroyed")) != CKR_OK ||
        (attrs_get_bool(a, CKA_TOKEN, false) && (rv = sess_check_writable(c, s)) != CKR_OK))
        goto out;
    if (!attrs_get_bool(a, CKA_DESTROYABLE, true)) {
        rv = err_set(ORIGIN_CORE, CKR_ACTION_PROHIBITED, "the object is not destroyable");
        goto out;
    }
    rv = sess_sync_login(c, s, s->se->dev->ops->obj_destroy(s->se->dev->bdev, s->se->seq, obj));
    if (rv == CKR_OK)
        obj_untrack(s, obj);
    err_default(ORIGIN_BACKEND, rv, "the object could not be destroyed");
out:
    attrs_unref(a);
    sess_release(c, s);
    return rv;
}

CK_RV core_object_size(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG *size)
{
    struct session *s;
    struct attrs *a = NULL;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = obj_get_visible(c, s, obj, &a)) == CKR_OK) {
        CK_ULONG total = 0;
        for (size_t i = 0; i < a->n; i++)
            total += a->v[i].len;
        *size = total;
    }
    attrs_unref(a);
    sess_release(c, s);
    return rv;
}

/* Reveal one secret attribute the rules allow the caller to read. */
static CK_RV copy_secret(struct se *se, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t)
{
    struct attrs *sec = NULL;
    CK_RV rv = se->dev->ops->obj_secret(se->dev->bdev, se->seq, h, t->type, &sec);
    if (rv == CKR_OK) {
        const struct attr *x = attrs_find(sec, t->type);
        rv = x ? attr_copy_out(x, t) : CKR_GENERAL_ERROR;
    } else {
        err_default(ORIGIN_BACKEND, rv, "the value could not be read");
    }
    attrs_unref(sec);
    return rv;
}

CK_RV core_get_attrs(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *t,
                     CK_ULONG n)
{
    struct session *s;
    struct attrs *a = NULL;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = obj_get_visible(c, s, obj, &a)) != CKR_OK)
        goto out;
    /* Every attribute is processed; the result is the last problem met, as the standard
     * lets a token choose among several. */
    for (CK_ULONG i = 0; i < n; i++) {
        CK_RV r = CKR_OK;
        switch (schema_reveal(a, t[i].type)) {
        case REVEAL_INVALID:
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            r = CKR_ATTRIBUTE_TYPE_INVALID;
            break;
        case REVEAL_SENSITIVE:
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            r = CKR_ATTRIBUTE_SENSITIVE;
            break;
        case REVEAL_SECRET:
            /* a key outside its validity dates is not released in clear either */
            if (attrs_get_ulong(a, CKA_CLASS, CKO_DATA) != CKO_DATA &&
                usage_check_dates(a) != CKR_OK) {
                t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
                r = CKR_ATTRIBUTE_SENSITIVE;
                break;
            }
            r = copy_secret(s->se, obj, &t[i]);
            if (r != CKR_OK && r != CKR_BUFFER_TOO_SMALL)
                t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            break;
        case REVEAL_PUBLIC: {
            const struct attr *x = attrs_find(a, t[i].type);
            static const struct attr empty = {0, 0, (void *)"", false};
            struct attr e = empty;
            e.type = t[i].type;
            r = attr_copy_out(x ? x : &e, &t[i]);
            break;
        }
        }
        if (r != CKR_OK)
            rv = r;
    }
    if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
        err_set(ORIGIN_CORE, rv, "not every attribute could be returned");
out:
    attrs_unref(a);
    sess_release(c, s);
    return rv;
}

CK_RV core_set_attrs(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                     const CK_ATTRIBUTE *t, CK_ULONG n)
{
    struct session *s;
    struct attrs *a = NULL, *changes = NULL;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = obj_get_visible(c, s, obj, &a)) != CKR_OK)
        goto out;
    if ((rv = check_token_rw(s, a, "changed")) != CKR_OK ||
        (attrs_get_bool(a, CKA_TOKEN, false) && (rv = sess_check_writable(c, s)) != CKR_OK))
        goto out;
    if ((rv = schema_set(a, t, n, sess_user(c, s) == CKU_SO, &changes)) != CKR_OK)
        goto out;
    rv = sess_sync_login(c, s,
                         s->se->dev->ops->obj_update(s->se->dev->bdev, s->se->seq, obj, changes));
    err_default(ORIGIN_BACKEND, rv, "the object could not be changed");
out:
    attrs_unref(a);
    attrs_unref(changes);
    sess_release(c, s);
    return rv;
}

CK_RV core_find_init(struct core *c, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if (s->find.active) {
        rv = err_set(ORIGIN_CORE, CKR_OPERATION_ACTIVE, "a search is already running");
        goto out;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (!t[i].pValue && t[i].ulValueLen) {
            rv = err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "template entry %lu has no value", i);
            goto out;
        }
    }
    struct se *se = s->se;
    CK_OBJECT_HANDLE *found = NULL;
    size_t count = 0;
    rv = se->dev->ops->obj_find(se->dev->bdev, se->seq, t, n, sess_user(c, s) == CKU_USER, &found,
                                &count);
    if (rv != CKR_OK) {
        err_default(ORIGIN_BACKEND, rv, "the search failed");
        goto out;
    }
    s->find = (struct findstate){.active = true, .h = found, .n = count, .pos = 0};
out:
    sess_release(c, s);
    return rv;
}

CK_RV core_find(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out, CK_ULONG max,
                CK_ULONG *count)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if (!s->find.active) {
        rv = err_set(ORIGIN_CORE, CKR_OPERATION_NOT_INITIALIZED, "no search is running");
    } else {
        CK_ULONG k = 0;
        while (k < max && s->find.pos < s->find.n)
            out[k++] = s->find.h[s->find.pos++];
        *count = k;
    }
    sess_release(c, s);
    return rv;
}

CK_RV core_find_final(struct core *c, CK_SESSION_HANDLE h)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if (!s->find.active) {
        rv = err_set(ORIGIN_CORE, CKR_OPERATION_NOT_INITIALIZED, "no search is running");
    } else {
        free(s->find.h);
        memset(&s->find, 0, sizeof(s->find));
    }
    sess_release(c, s);
    return rv;
}
