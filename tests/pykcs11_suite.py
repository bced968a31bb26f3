#!/usr/bin/python3
# PyKCS11 against libsea's module: key generation (EC, RSA, AES), signatures verified by the
# module and by the openssl command line, RSA-OAEP with a label, AES-GCM, HMAC, AES key
# wrap/unwrap, HKDF and ECDH derivation and data objects. Known answers come from the published
# vectors named at each check; everything else is checked against openssl computing the same
# operation.
#
# Usage: /usr/bin/python3 pykcs11_suite.py MODULE TOKEN-LABEL USER-PIN WORKDIR
# Prints "ok N - what" per check; the first failed check raises and exits non-zero.

import ctypes
import os
import struct
import subprocess
import sys

import PyKCS11
from PyKCS11 import LowLevel
from PyKCS11.LowLevel import (
    CKA_APPLICATION, CKA_CLASS, CKA_DECRYPT, CKA_DERIVE, CKA_EC_PARAMS, CKA_EC_POINT,
    CKA_ENCRYPT, CKA_EXTRACTABLE, CKA_ID, CKA_KEY_TYPE, CKA_LABEL, CKA_MODULUS,
    CKA_MODULUS_BITS, CKA_PRIVATE, CKA_PUBLIC_EXPONENT, CKA_SENSITIVE, CKA_SIGN, CKA_TOKEN,
    CKA_UNWRAP, CKA_VALUE, CKA_VALUE_LEN, CKA_VERIFY, CKA_WRAP, CKF_RW_SESSION,
    CKF_SERIAL_SESSION, CKG_MGF1_SHA256, CKK_AES, CKK_EC, CKK_GENERIC_SECRET, CKK_RSA,
    CKM_AES_GCM, CKM_AES_KEY_GEN, CKM_AES_KEY_WRAP, CKM_ECDSA, CKM_ECDSA_SHA256,
    CKM_EC_KEY_PAIR_GEN, CKM_HKDF_DERIVE, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_SHA256,
    CKM_SHA256_HMAC, CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, CKO_DATA, CKO_PRIVATE_KEY,
    CKO_PUBLIC_KEY, CKO_SECRET_KEY, CKR_ATTRIBUTE_SENSITIVE, CKR_ENCRYPTED_DATA_INVALID,
    CKR_KEY_UNEXTRACTABLE, CKR_OK, CKR_SIGNATURE_INVALID)

MODULE, TOKEN, PIN, WORK = sys.argv[1:5]
CHECKS = 0


def ok(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        raise AssertionError("not ok %d - %s" % (CHECKS, what))
    print("ok %d - %s" % (CHECKS, what), flush=True)


def fails_with(code, what, fn, *args):
    try:
        fn(*args)
    except PyKCS11.PyKCS11Error as e:
        ok(e.value == code, "%s: %s (got %s)" % (what, PyKCS11.CKR[code], e))
        return
    ok(False, "%s: succeeded, must fail with %s" % (what, PyKCS11.CKR[code]))


def openssl(*args, data=None):
    r = subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                       env=dict(os.environ, OPENSSL_CONF="/dev/null"))
    return r.returncode, r.stdout + r.stderr


def path(name):
    return os.path.join(WORK, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(bytes(data))
    return path(name)


# ---- minimal DER, to hand public keys and signatures to openssl ----

def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def der_int(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")  # leading zero keeps it positive
    return der(0x02, b)


def ec_spki_p256(point):
    alg = der(0x30, bytes.fromhex("06072a8648ce3d0201") + bytes.fromhex("06082a8648ce3d030107"))
    return der(0x30, alg + der(0x03, b"\x00" + point))


def rsa_spki(n, e):
    alg = der(0x30, bytes.fromhex("06092a864886f70d0101010500"))
    return der(0x30, alg + der(0x03, b"\x00" + der(0x30, der_int(n) + der_int(e))))


def ecdsa_rs_to_der(sig):
    h = len(sig) // 2
    return der(0x30, der_int(int.from_bytes(sig[:h], "big")) +
               der_int(int.from_bytes(sig[h:], "big")))


# get_value_rv: the CKR code of a plain C_GetAttributeValue(CKA_VALUE) (PyKCS11's own
# getAttributeValue turns CKR_ATTRIBUTE_SENSITIVE into a None value).
def get_value_rv(session, obj):
    t = LowLevel.ckattrlist(1)
    t[0].SetType(CKA_VALUE)
    return session.lib.C_GetAttributeValue(session.session, obj, t)


def value_is_sensitive(session, obj, what):
    rv = get_value_rv(session, obj)
    ok(rv == CKR_ATTRIBUTE_SENSITIVE,
       "%s: CKA_VALUE gives CKR_ATTRIBUTE_SENSITIVE (got %s)" % (what, PyKCS11.CKR.get(rv, rv)))


def attr(session, obj, a):
    return session.getAttributeValue(obj, [a], allAsBinary=True)[0]


def find_one(session, template):
    objs = session.findObjects(template)
    ok(len(objs) == 1, "exactly one object matches %s" % (
        [(PyKCS11.CKA[t], v) for t, v in template],))
    return objs[0]


# PyKCS11 1.5.12's Session.unwrapKey returns an undefined name (NameError after a successful
# C_UnwrapKey): call the low-level C_UnwrapKey the same way, and return the handle.
def unwrap(session, key, wrapped, template, mecha):
    handle = LowLevel.CK_OBJECT_HANDLE()
    rv = session.lib.C_UnwrapKey(session.session, mecha.to_native(), key,
                                 PyKCS11.ckbytelist(wrapped),
                                 session._template2ckattrlist(template), handle)
    if rv != CKR_OK:
        raise PyKCS11.PyKCS11Error(rv)
    return handle


# CK_HKDF_PARAMS (PKCS#11 3.0, 2.43.3) has no PyKCS11 wrapper: build the C struct with
# ctypes and pass its bytes as the mechanism parameter; the salt and info buffers it points
# to are kept alive by the returned tuple.
class CK_HKDF_PARAMS(ctypes.Structure):
    _fields_ = [("bExtract", ctypes.c_ubyte), ("bExpand", ctypes.c_ubyte),
                ("prfHashMechanism", ctypes.c_ulong), ("ulSaltType", ctypes.c_ulong),
                ("pSalt", ctypes.c_void_p), ("ulSaltLen", ctypes.c_ulong),
                ("hSaltKey", ctypes.c_ulong), ("pInfo", ctypes.c_void_p),
                ("ulInfoLen", ctypes.c_ulong)]


CKF_HKDF_SALT_DATA = 0x2


def hkdf_mechanism(salt, info):
    sbuf = ctypes.create_string_buffer(salt, len(salt))
    ibuf = ctypes.create_string_buffer(info, len(info))
    p = CK_HKDF_PARAMS(1, 1, CKM_SHA256, CKF_HKDF_SALT_DATA,
                       ctypes.cast(sbuf, ctypes.c_void_p), len(salt), 0,
                       ctypes.cast(ibuf, ctypes.c_void_p), len(info))
    return PyKCS11.Mechanism(CKM_HKDF_DERIVE, bytes(p)), (sbuf, ibuf)


# ---------------------------------------------------------------------------------------
lib = PyKCS11.PyKCS11Lib()
lib.load(MODULE)
info = lib.getInfo()
ok(info.manufacturerID.strip() == "libsea", "C_GetInfo: manufacturer libsea")
slot = None
for s in lib.getSlotList(tokenPresent=True):
    if lib.getTokenInfo(s).label.strip() == TOKEN:
        slot = s
ok(slot is not None, "the token %s is found by label" % TOKEN)
mechs = lib.getMechanismList(slot)
for m in ("CKM_EC_KEY_PAIR_GEN", "CKM_RSA_PKCS_KEY_PAIR_GEN", "CKM_AES_GCM",
          "CKM_AES_KEY_WRAP", "CKM_SHA256_HMAC", "CKM_HKDF_DERIVE"):
    ok(m in mechs, "the mechanism list has %s" % m)
se = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
se.login(PIN)
ok(True, "C_Login with the user PIN")
DATA = b"PyKCS11 drives libsea " + os.urandom(16).hex().encode()
write("data", DATA)

# ---- EC P-256: keygen, ECDSA, verified by the module and by openssl ----
pub, priv = se.generateKeyPair(
    [(CKA_TOKEN, True), (CKA_EC_PARAMS, bytes.fromhex("06082a8648ce3d030107")),
     (CKA_VERIFY, True), (CKA_LABEL, "py-ec"), (CKA_ID, b"\x31")],
    [(CKA_TOKEN, True), (CKA_PRIVATE, True), (CKA_SENSITIVE, True), (CKA_SIGN, True),
     (CKA_LABEL, "py-ec"), (CKA_ID, b"\x31")],
    PyKCS11.Mechanism(CKM_EC_KEY_PAIR_GEN))
ok(attr(se, priv, CKA_KEY_TYPE) is not None, "EC P-256 key pair generated")
point = bytes(attr(se, pub, CKA_EC_POINT))
ok(point[:3] == b"\x04\x41\x04" and len(point) == 67,
   "CKA_EC_POINT is a DER OCTET STRING holding an uncompressed P-256 point")
value_is_sensitive(se, priv, "the EC private key")
sig = bytes(se.sign(priv, DATA, PyKCS11.Mechanism(CKM_ECDSA_SHA256)))
ok(len(sig) == 64, "CKM_ECDSA_SHA256 gives a 64-byte r|s signature")
ok(se.verify(pub, DATA, sig, PyKCS11.Mechanism(CKM_ECDSA_SHA256)),
   "the module verifies its ECDSA signature")
ok(not se.verify(pub, DATA + b"x", sig, PyKCS11.Mechanism(CKM_ECDSA_SHA256)),
   "the module rejects the ECDSA signature over changed data")
write("ec.der", ec_spki_p256(point[2:]))
write("ec.sig", ecdsa_rs_to_der(sig))
rc, out = openssl("dgst", "-sha256", "-verify", path("ec.der"), "-keyform", "DER",
                  "-signature", path("ec.sig"), path("data"))
ok(rc == 0 and b"Verified OK" in out, "openssl verifies the ECDSA signature: %r" % out)
digest = bytes(se.digest(DATA, PyKCS11.Mechanism(CKM_SHA256)))
sig2 = bytes(se.sign(priv, digest, PyKCS11.Mechanism(CKM_ECDSA)))
write("ec2.sig", ecdsa_rs_to_der(sig2))
rc, out = openssl("dgst", "-sha256", "-verify", path("ec.der"), "-keyform", "DER",
                  "-signature", path("ec2.sig"), path("data"))
ok(rc == 0 and b"Verified OK" in out, "openssl verifies CKM_ECDSA over a SHA-256 digest")

# ---- RSA 2048: keygen, PKCS#1 v1.5 and PSS signatures checked by openssl ----
rpub, rpriv = se.generateKeyPair(
    [(CKA_TOKEN, True), (CKA_MODULUS_BITS, 2048), (CKA_PUBLIC_EXPONENT, b"\x01\x00\x01"),
     (CKA_VERIFY, True), (CKA_ENCRYPT, True), (CKA_LABEL, "py-rsa"), (CKA_ID, b"\x32")],
    [(CKA_TOKEN, True), (CKA_PRIVATE, True), (CKA_SENSITIVE, True), (CKA_SIGN, True),
     (CKA_DECRYPT, True), (CKA_LABEL, "py-rsa"), (CKA_ID, b"\x32")],
    PyKCS11.Mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN))
n = int.from_bytes(bytes(attr(se, rpub, CKA_MODULUS)), "big")
e = int.from_bytes(bytes(attr(se, rpub, CKA_PUBLIC_EXPONENT)), "big")
ok(n.bit_length() == 2048 and e == 65537, "RSA-2048 key pair with e = 65537 generated")
write("rsa.der", rsa_spki(n, e))
sig = bytes(se.sign(rpriv, DATA, PyKCS11.Mechanism(CKM_SHA256_RSA_PKCS)))
write("rsa.sig", sig)
rc, out = openssl("dgst", "-sha256", "-verify", path("rsa.der"), "-keyform", "DER",
                  "-signature", path("rsa.sig"), path("data"))
ok(rc == 0 and b"Verified OK" in out, "openssl verifies CKM_SHA256_RSA_PKCS: %r" % out)
pss = PyKCS11.RSA_PSS_Mechanism(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32)
sig = bytes(se.sign(rpriv, DATA, pss))
write("pss.sig", sig)
rc, out = openssl("dgst", "-sha256", "-verify", path("rsa.der"), "-keyform", "DER",
                  "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
                  "-signature", path("pss.sig"), path("data"))
ok(rc == 0 and b"Verified OK" in out, "openssl verifies CKM_SHA256_RSA_PKCS_PSS: %r" % out)
ok(se.verify(rpub, DATA, sig, pss), "the module verifies its PSS signature")
ok(not se.verify(rpub, DATA + b"x", sig, pss), "the module rejects PSS over changed data")
# RSA-OAEP with SHA-256, MGF1-SHA-256 and a label: openssl encrypts, the SE decrypts
secret = os.urandom(32)
write("oaep.in", secret)
rc, out = openssl("pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", path("rsa.der"),
                  "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                  "-pkeyopt", "rsa_mgf1_md:sha256", "-pkeyopt", "rsa_oaep_label:" +
                  b"libsea label".hex(), "-in", path("oaep.in"), "-out", path("oaep.ct"))
ok(rc == 0, "openssl encrypts with OAEP-SHA256 and a label: %r" % out)
oaep_ct = open(path("oaep.ct"), "rb").read()
oaep = PyKCS11.RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256, b"libsea label")
ok(bytes(se.decrypt(rpriv, oaep_ct, oaep)) == secret,
   "CKM_RSA_PKCS_OAEP (SHA-256, MGF1-SHA-256, label) decrypts openssl's ciphertext")
try:
    se.decrypt(rpriv, oaep_ct, PyKCS11.RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256, b"other"))
    ok(False, "OAEP with another label must not decrypt")
except PyKCS11.PyKCS11Error as e:
    # PKCS#11 3.0 says CKR_ENCRYPTED_DATA_INVALID; 3.1's CKR_DECRYPTED_PADDING_INVALID (0x1D0)
    # is not in PyKCS11 1.5.12
    ok(e.value in (CKR_ENCRYPTED_DATA_INVALID, 0x1D0), "OAEP with another label fails (%s)" % e)

# ---- AES-256: keygen and AES-GCM; the GCM spec's test case 3 as a known answer ----
aes = se.generateKey([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES), (CKA_TOKEN, True),
                      (CKA_VALUE_LEN, 32), (CKA_ENCRYPT, True), (CKA_DECRYPT, True),
                      (CKA_LABEL, "py-aes"), (CKA_ID, b"\x33")],
                     PyKCS11.Mechanism(CKM_AES_KEY_GEN))
ok(attr(se, aes, CKA_VALUE_LEN) is not None, "AES-256 key generated")
value_is_sensitive(se, aes, "the generated AES key")
iv = os.urandom(12)
aad = b"header"
plain = os.urandom(100)
ct = bytes(se.encrypt(aes, plain, PyKCS11.AES_GCM_Mechanism(iv, aad, 128)))
ok(len(ct) == len(plain) + 16 and ct[:100] != plain, "AES-GCM: ciphertext plus a 16-byte tag")
ok(bytes(se.decrypt(aes, ct, PyKCS11.AES_GCM_Mechanism(iv, aad, 128))) == plain,
   "AES-GCM decrypts back to the plaintext")
bad = bytearray(ct)
bad[5] ^= 1
fails_with(CKR_ENCRYPTED_DATA_INVALID, "AES-GCM with a changed ciphertext",
           se.decrypt, aes, bytes(bad), PyKCS11.AES_GCM_Mechanism(iv, aad, 128))
fails_with(CKR_ENCRYPTED_DATA_INVALID, "AES-GCM with a changed AAD",
           se.decrypt, aes, ct, PyKCS11.AES_GCM_Mechanism(iv, b"Header", 128))
# "The Galois/Counter Mode of Operation (GCM)", McGrew & Viega, Appendix B, Test Case 3
kat = se.createObject([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES),
                       (CKA_TOKEN, False), (CKA_ENCRYPT, True), (CKA_DECRYPT, True),
                       (CKA_VALUE, bytes.fromhex("feffe9928665731c6d6a8f9467308308"))])
p3 = bytes.fromhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                   "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
c3 = bytes.fromhex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
                   "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
                   "4d5c2af327cd64a62cf35abd2ba6fab4")
gcm3 = PyKCS11.AES_GCM_Mechanism(bytes.fromhex("cafebabefacedbaddecaf888"), b"", 128)
ok(bytes(se.encrypt(kat, p3, gcm3)) == c3, "AES-GCM known answer (GCM spec, test case 3)")

# ---- HMAC-SHA256: RFC 4231 test case 1, and a generated key compared with openssl ----
hk = se.createObject([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET),
                      (CKA_TOKEN, False), (CKA_SIGN, True), (CKA_VERIFY, True),
                      (CKA_VALUE, b"\x0b" * 20)])
mac = bytes(se.sign(hk, b"Hi There", PyKCS11.Mechanism(CKM_SHA256_HMAC)))
ok(mac.hex() == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
   "HMAC-SHA256 known answer (RFC 4231, 4.2 test case 1)")
ok(se.verify(hk, b"Hi There", mac, PyKCS11.Mechanism(CKM_SHA256_HMAC)),
   "the module verifies the HMAC")
ok(not se.verify(hk, b"Hi there", mac, PyKCS11.Mechanism(CKM_SHA256_HMAC)),
   "the module rejects the HMAC over changed data")

# ---- AES key wrap (RFC 3394) and unwrap ----
# RFC 3394, 4.6: wrap 256 bits of key data with a 256-bit KEK
kek = se.createObject([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES), (CKA_TOKEN, False),
                       (CKA_WRAP, True), (CKA_UNWRAP, True), (CKA_VALUE, bytes(range(32)))])
kd = se.createObject([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES), (CKA_TOKEN, False),
                      (CKA_EXTRACTABLE, True), (CKA_SENSITIVE, True),
                      (CKA_ENCRYPT, True), (CKA_DECRYPT, True),
                      (CKA_VALUE, bytes.fromhex("00112233445566778899aabbccddeeff"
                                                "000102030405060708090a0b0c0d0e0f"))])
wrapped = bytes(se.wrapKey(kek, kd, PyKCS11.Mechanism(CKM_AES_KEY_WRAP)))
ok(wrapped.hex() == "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326"
                    "cbc7f0e71a99f43bfb988b9b7a02dd21",
   "CKM_AES_KEY_WRAP known answer (RFC 3394, 4.6)")
unw = unwrap(se, kek, wrapped,
             [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES), (CKA_TOKEN, False),
              (CKA_ENCRYPT, True), (CKA_DECRYPT, True), (CKA_LABEL, "py-unwrapped")],
             PyKCS11.Mechanism(CKM_AES_KEY_WRAP))
iv = os.urandom(12)
ok(bytes(se.encrypt(unw, plain, PyKCS11.AES_GCM_Mechanism(iv, b"", 128))) ==
   bytes(se.encrypt(kd, plain, PyKCS11.AES_GCM_Mechanism(iv, b"", 128))),
   "the unwrapped key encrypts like the original key")
wrapped2 = bytearray(wrapped)
wrapped2[3] ^= 1
try:
    unwrap(se, kek, bytes(wrapped2), [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES),
                                      (CKA_TOKEN, False)], PyKCS11.Mechanism(CKM_AES_KEY_WRAP))
    ok(False, "unwrapping a changed wrapped key must fail")
except PyKCS11.PyKCS11Error as e:
    ok(e.value in (LowLevel.CKR_WRAPPED_KEY_INVALID, CKR_ENCRYPTED_DATA_INVALID),
       "unwrapping a changed wrapped key fails (%s)" % e)
fails_with(CKR_KEY_UNEXTRACTABLE, "wrapping the non-extractable generated AES key",
           se.wrapKey, kek, aes, PyKCS11.Mechanism(CKM_AES_KEY_WRAP))

# ---- HKDF (RFC 5869, A.1 test case 1) through C_DeriveKey ----
ikm = se.createObject([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET),
                       (CKA_TOKEN, False), (CKA_DERIVE, True), (CKA_VALUE, b"\x0b" * 22)])
mech, _keep = hkdf_mechanism(bytes(range(13)), bytes(range(0xf0, 0xfa)))
okm = se.deriveKey(ikm, [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET),
                         (CKA_TOKEN, False), (CKA_VALUE_LEN, 42), (CKA_SENSITIVE, False),
                         (CKA_EXTRACTABLE, True)], mech)
ok(bytes(attr(se, okm, CKA_VALUE)).hex() ==
   "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
   "CKM_HKDF_DERIVE known answer (RFC 5869, A.1 test case 1)")

# ---- ECDH (CKD_NULL): the SE's shared secret equals openssl's with the peer's key ----
epub, epriv = se.generateKeyPair(
    [(CKA_TOKEN, False), (CKA_EC_PARAMS, bytes.fromhex("06082a8648ce3d030107"))],
    [(CKA_TOKEN, False), (CKA_PRIVATE, True), (CKA_SENSITIVE, True), (CKA_DERIVE, True)],
    PyKCS11.Mechanism(CKM_EC_KEY_PAIR_GEN))
write("ecdh-se.der", ec_spki_p256(bytes(attr(se, epub, CKA_EC_POINT))[2:]))
rc, out = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-out", path("peer.pem"))
ok(rc == 0, "openssl makes the peer's P-256 key")
rc, peer_spki = openssl("pkey", "-in", path("peer.pem"), "-pubout", "-outform", "DER")
ok(rc == 0 and len(peer_spki) == 91, "the peer's public key in DER")
rc, z_ossl = openssl("pkeyutl", "-derive", "-inkey", path("peer.pem"), "-peerform", "DER",
                     "-peerkey", path("ecdh-se.der"))
ok(rc == 0 and len(z_ossl) == 32, "openssl derives the shared secret with the SE's public key")
z = se.deriveKey(epriv, [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET),
                         (CKA_TOKEN, False), (CKA_VALUE_LEN, 32), (CKA_SENSITIVE, False),
                         (CKA_EXTRACTABLE, True)],
                 PyKCS11.ECDH1_DERIVE_Mechanism(peer_spki[-65:]))
ok(bytes(attr(se, z, CKA_VALUE)) == z_ossl,
   "CKM_ECDH1_DERIVE (CKD_NULL) in the SE gives openssl's shared secret")

# ---- data objects: create, find, read, destroy ----
value = os.urandom(48)
do = se.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, True), (CKA_PRIVATE, True),
                      (CKA_APPLICATION, "libsea-pykcs11"), (CKA_LABEL, "py-data"),
                      (CKA_VALUE, value)])
found = find_one(se, [(CKA_CLASS, CKO_DATA), (CKA_LABEL, "py-data")])
ok(found.value() == do.value(), "C_FindObjects finds the data object by label")
ok(bytes(attr(se, found, CKA_VALUE)) == value, "its CKA_VALUE reads back unchanged")
ok(bytes(attr(se, found, CKA_APPLICATION)) == b"libsea-pykcs11", "its CKA_APPLICATION too")
se.logout()
ok(se.findObjects([(CKA_CLASS, CKO_DATA), (CKA_LABEL, "py-data")]) == [],
   "the private data object is invisible after C_Logout")
se.login(PIN)
se.destroyObject(found)
ok(se.findObjects([(CKA_CLASS, CKO_DATA), (CKA_LABEL, "py-data")]) == [],
   "C_DestroyObject removes it")

# ---- the token keys are found again by label and class ----
find_one(se, [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_LABEL, "py-ec")])
find_one(se, [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_LABEL, "py-rsa")])
find_one(se, [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES), (CKA_LABEL, "py-aes")])

se.logout()
se.closeSession()
print("all %d checks passed" % CHECKS)
