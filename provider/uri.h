/* PKCS#11 URIs (RFC 7512): parsing, matching against tokens and objects, formatting. */
#ifndef SEA_URI_H
#define SEA_URI_H

#include "common.h"

struct p11uri {
    /* token */
    char *token, *manufacturer, *serial, *model;
    /* slot */
    char *slot_description, *slot_manufacturer;
    bool has_slot_id;
    CK_SLOT_ID slot_id;
    /* library */
    char *library_manufacturer, *library_description;
    bool has_library_version;
    CK_VERSION library_version;
    /* object */
    char *object; /* CKA_LABEL */
    bool has_id;
    uint8_t *id; /* CKA_ID */
    size_t id_len;
    bool has_type;
    CK_OBJECT_CLASS type; /* public, private, cert, secret-key, data */
    /* query */
    char *pin_value, *pin_source, *module_name, *module_path;
};

/* Parse "pkcs11:..." (percent-decoding every value). Unknown path attributes are an error
 * (RFC 7512 allows vendor "x-" attributes: those are ignored). CKR_ARGUMENTS_BAD with an error
 * record saying what is wrong; never echoes pin-value in a message. */
CK_RV uri_parse(const char *s, struct p11uri **out);
void uri_free(struct p11uri *u); /* wipes pin_value */

/* Does the token (its CK_TOKEN_INFO) satisfy the URI's token attributes? */
bool uri_match_token(const struct p11uri *u, const CK_TOKEN_INFO *ti);

/* A template (at most 3 entries: CKA_CLASS, CKA_LABEL, CKA_ID) for the URI's object
 * attributes; returns the count. The template points into u. */
CK_ULONG uri_object_template(const struct p11uri *u, CK_ATTRIBUTE tmpl[3], CK_OBJECT_CLASS *cls);

/* Format a URI naming an object (NULL/0 parts are left out); malloc'd, percent-encoding
 * every byte outside RFC 7512's unreserved set. */
char *uri_format(const char *token, const char *serial, const char *label, const uint8_t *id,
                 size_t id_len, bool has_type, CK_OBJECT_CLASS type);

/* "private" -> CKO_PRIVATE_KEY etc.; false if unknown. */
bool uri_type_from_name(const char *name, CK_OBJECT_CLASS *out);
const char *uri_type_name(CK_OBJECT_CLASS cls);

#endif
