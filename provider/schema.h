/* The object model: which attributes each class and key type has, their defaults, and the
 * rules of the standard for C_CreateObject, C_GenerateKey(Pair), C_CopyObject,
 * C_SetAttributeValue and C_GetAttributeValue. One table drives all of them. */
#ifndef SEA_SCHEMA_H
#define SEA_SCHEMA_H

#include "attrs.h"
#include "common.h"

/* Is attribute t of an object of class cls a secret a store must protect? CKA_VALUE of secret
 * and private keys, private-key components, and CKA_VALUE of private data objects. */
bool schema_is_secret(CK_OBJECT_CLASS cls, bool is_private, CK_ATTRIBUTE_TYPE t);

/* Is t an attribute objects of this class / key type / certificate type can have? */
bool schema_attr_valid(const struct attrs *obj, CK_ATTRIBUTE_TYPE t);

/* C_CreateObject: the complete attribute set (defaults filled in, CKA_UNIQUE_ID and the
 * creation time set, LOCAL/ALWAYS_SENSITIVE/NEVER_EXTRACTABLE false), secret values in the
 * secure heap. CKR_TEMPLATE_INCOMPLETE, CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_TYPE_INVALID,
 * CKR_ATTRIBUTE_VALUE_INVALID, CKR_ATTRIBUTE_READ_ONLY as the standard says. `so`: the SO is
 * logged in (only the SO may set CKA_TRUSTED). */
CK_RV schema_create(const CK_ATTRIBUTE *t, CK_ULONG n, bool so, struct attrs **out);

/* C_GenerateKey (cls CKO_SECRET_KEY) and each half of C_GenerateKeyPair (CKO_PUBLIC_KEY,
 * CKO_PRIVATE_KEY) with key-generation mechanism mech: the complete template before the
 * device adds the values. LOCAL true, KEY_GEN_MECHANISM set, ALWAYS_SENSITIVE = SENSITIVE,
 * NEVER_EXTRACTABLE = !EXTRACTABLE. */
CK_RV schema_generate(CK_MECHANISM_TYPE mech, CK_OBJECT_CLASS cls, const CK_ATTRIBUTE *t,
                      CK_ULONG n, bool so, struct attrs **out);

/* C_UnwrapKey and C_DeriveKey: the complete template of the new object before the device adds
 * its value. `given` is the caller's template with the key's unwrap or derive template merged
 * and CKA_CLASS (and for keys CKA_KEY_TYPE) set. Value attributes (CKA_VALUE and what is
 * computed from it, CKA_VALUE_LEN excepted) cannot be given: CKR_TEMPLATE_INCONSISTENT. LOCAL
 * false, KEY_GEN_MECHANISM unavailable; keys get ALWAYS_SENSITIVE = always_sensitive &&
 * SENSITIVE and NEVER_EXTRACTABLE = never_extractable && !EXTRACTABLE (C_UnwrapKey passes false
 * for both, C_DeriveKey the base key's values). */
CK_RV schema_unwrap_derive(const struct attrs *given, bool so, bool always_sensitive,
                           bool never_extractable, struct attrs **out);

/* C_CopyObject: orig's full attributes (secret values included) changed by the template. */
CK_RV schema_copy(const struct attrs *orig, const CK_ATTRIBUTE *t, CK_ULONG n, struct attrs **out);

/* C_SetAttributeValue: the changes to apply (MODIFIED_TIME included), or CKR_ACTION_PROHIBITED
 * (not modifiable), CKR_ATTRIBUTE_READ_ONLY, CKR_ATTRIBUTE_TYPE_INVALID,
 * CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT. `so` says the SO is logged in. */
CK_RV schema_set(const struct attrs *cur, const CK_ATTRIBUTE *t, CK_ULONG n, bool so,
                 struct attrs **changes);

/* C_GetAttributeValue, per attribute. */
enum reveal {
    REVEAL_PUBLIC,    /* in the public attribute set */
    REVEAL_SECRET,    /* a secret the caller may read: ask the backend (obj_secret) */
    REVEAL_SENSITIVE, /* CKR_ATTRIBUTE_SENSITIVE */
    REVEAL_INVALID,   /* CKR_ATTRIBUTE_TYPE_INVALID */
};
enum reveal schema_reveal(const struct attrs *obj, CK_ATTRIBUTE_TYPE t);

/* A fresh CKA_UNIQUE_ID value (32 lowercase hex characters). */
CK_RV schema_unique_id(char out[33]);

#endif
