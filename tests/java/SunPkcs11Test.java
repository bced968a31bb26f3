// Java 17 through SunPKCS11 on libsea's module: log in with the user PIN, list the token's
// keys by alias, generate an EC P-256 key pair inside the SE with the provider's
// KeyPairGenerator, sign with SHA256withECDSA in the SE, and verify with the JDK's own SunEC
// provider; the same for RSA-2048 (SHA256withRSA, RSASSA-PSS) checked by SunRsaSign. Every check throws on failure; the exit status tells the test script.
//
// Usage: java SunPkcs11Test CONFIG-FILE PIN [EXPECTED-ALIAS...]
//   CONFIG-FILE: a SunPKCS11 config (name, library, slot or slotListIndex)
//   EXPECTED-ALIAS: aliases KeyStore.aliases() must contain: secret keys (by CKA_LABEL), or EC
//   private keys with a certificate of the same CKA_ID (these also sign, checked by SunEC)

import java.nio.charset.StandardCharsets;
import java.security.AlgorithmParameters;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.Collections;
import java.util.List;

public final class SunPkcs11Test {
    private static int checks = 0;

    private static void check(boolean ok, String what) {
        checks++;
        if (!ok) {
            throw new AssertionError("FAILED: " + what);
        }
        System.out.println("ok " + checks + " - " + what);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: SunPkcs11Test CONFIG-FILE PIN [EXPECTED-ALIAS...]");
            System.exit(2);
        }
        Provider base = Security.getProvider("SunPKCS11");
        check(base != null, "the JDK has the SunPKCS11 provider");
        Provider p11 = base.configure(args[0]);
        Security.addProvider(p11);
        System.out.println("provider: " + p11.getName() + " - " + p11.getInfo());

        KeyStore ks = KeyStore.getInstance("PKCS11", p11);
        ks.load(null, args[1].toCharArray());
        check(true, "KeyStore.load logged in with the user PIN");
        List<String> aliases = Collections.list(ks.aliases());
        System.out.println("aliases: " + aliases);
        for (int i = 2; i < args.length; i++) {
            check(aliases.contains(args[i]), "the KeyStore lists the token key '" + args[i] + "'");
            check(ks.isKeyEntry(args[i]), "'" + args[i] + "' is a key entry");
            java.security.cert.Certificate cert = ks.getCertificate(args[i]);
            if (cert == null) {
                continue; // a secret key
            }
            // A private key with its certificate: sign with the key in the SE, verify with the
            // certificate's public key in SunEC.
            PrivateKey k = (PrivateKey) ks.getKey(args[i], null);
            byte[] msg = ("signed with the KeyStore entry " + args[i]).getBytes(StandardCharsets.UTF_8);
            Signature s = Signature.getInstance("SHA256withECDSA", p11);
            s.initSign(k);
            s.update(msg);
            byte[] sg = s.sign();
            Signature v = Signature.getInstance("SHA256withECDSA", "SunEC");
            v.initVerify(cert.getPublicKey());
            v.update(msg);
            check(v.verify(sg), "the entry '" + args[i] + "' signs in the SE; SunEC verifies with its certificate");
        }

        KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC", p11);
        kpg.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair kp = kpg.generateKeyPair();
        String privClass = kp.getPrivate().getClass().getName();
        System.out.println("private key class: " + privClass);
        check(privClass.startsWith("sun.security.pkcs11.P11Key"),
              "the EC private key is a SunPKCS11 key (held by the module)");
        check(kp.getPrivate().getEncoded() == null,
              "the EC private key is sensitive: no encoding leaves the SE");
        check(kp.getPublic() instanceof ECPublicKey, "the public key is an ECPublicKey");
        ECParameterSpec spec = ((ECPublicKey) kp.getPublic()).getParams();
        AlgorithmParameters ap = AlgorithmParameters.getInstance("EC", "SunEC");
        ap.init(new ECGenParameterSpec("secp256r1"));
        ECParameterSpec want = ap.getParameterSpec(ECParameterSpec.class);
        check(spec.getCurve().equals(want.getCurve()) && spec.getOrder().equals(want.getOrder()),
              "the public key is on P-256");

        byte[] data = ("signed in the SE by SunPKCS11, " + System.nanoTime())
                .getBytes(StandardCharsets.UTF_8);
        Signature signer = Signature.getInstance("SHA256withECDSA", p11);
        signer.initSign(kp.getPrivate());
        signer.update(data);
        byte[] sig = signer.sign();
        check(signer.getProvider() == p11, "SHA256withECDSA signed by " + p11.getName());
        check(sig.length > 8 && sig[0] == 0x30, "the signature is a DER SEQUENCE");

        // The verifying side is the JDK's default EC provider, not the module.
        Signature verifier = Signature.getInstance("SHA256withECDSA", "SunEC");
        verifier.initVerify(kp.getPublic());
        verifier.update(data);
        check(verifier.verify(sig), "SunEC verifies the SE's signature");

        byte[] bad = data.clone();
        bad[0] ^= 1;
        verifier.initVerify(kp.getPublic());
        verifier.update(bad);
        check(!verifier.verify(sig), "SunEC rejects the signature over changed data");

        // A second signature over the same data differs (ECDSA is randomised) and verifies.
        signer.initSign(kp.getPrivate());
        signer.update(data);
        byte[] sig2 = signer.sign();
        verifier.initVerify(kp.getPublic());
        verifier.update(data);
        check(verifier.verify(sig2) && !java.util.Arrays.equals(sig, sig2),
              "a second signature is fresh and verifies");

        // RSA-2048 generated in the SE (SunPKCS11 checks the size against C_GetMechanismInfo,
        // in bits), PKCS#1 v1.5 and PSS signatures verified by the JDK's SunRsaSign.
        KeyPairGenerator rkpg = KeyPairGenerator.getInstance("RSA", p11);
        rkpg.initialize(2048);
        KeyPair rkp = rkpg.generateKeyPair();
        check(rkp.getPrivate().getEncoded() == null, "the RSA-2048 private key stays in the SE");
        Signature rs = Signature.getInstance("SHA256withRSA", p11);
        rs.initSign(rkp.getPrivate());
        rs.update(data);
        byte[] rsig = rs.sign();
        Signature rv = Signature.getInstance("SHA256withRSA", "SunRsaSign");
        rv.initVerify(rkp.getPublic());
        rv.update(data);
        check(rv.verify(rsig), "SHA256withRSA made in the SE, verified by SunRsaSign");
        PSSParameterSpec pss = new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1);
        Signature ps = Signature.getInstance("RSASSA-PSS", p11);
        ps.setParameter(pss);
        ps.initSign(rkp.getPrivate());
        ps.update(data);
        byte[] psig = ps.sign();
        Signature pv = Signature.getInstance("RSASSA-PSS", "SunRsaSign");
        pv.setParameter(pss);
        pv.initVerify(rkp.getPublic());
        pv.update(data);
        check(pv.verify(psig), "RSASSA-PSS (SHA-256) made in the SE, verified by SunRsaSign");
        pv.initVerify(rkp.getPublic());
        pv.update(bad);
        check(!pv.verify(psig), "SunRsaSign rejects the PSS signature over changed data");

        System.out.println("all " + checks + " checks passed");
    }
}
