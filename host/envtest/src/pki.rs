//! Keys and certificates: a CA, serving certificates (the apiserver's and test servers'),
//! client certificates for any user and groups, and the aggregation layer's front-proxy CA
//! and client certificate.
//!
//! Kubernetes maps a client certificate's subject common name to the user
//! name and each organization (O) entry to a group. rcgen keeps at most one
//! value per attribute type in a subject, so client certificates are
//! assembled here from DER (with `yasna`, which rcgen itself uses) and signed
//! with the CA's rcgen key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PublicKeyData, SigningKey,
};
use yasna::models::{ObjectIdentifier, TaggedDerValue};
use yasna::tags::TAG_UTCTIME;

use crate::Error;

/// Common name of the test CA; also written as the issuer of client certificates.
const CA_COMMON_NAME: &str = "antfly-envtest-ca";

/// Common name of the CA that signs the aggregator's client certificate.
const FRONT_PROXY_CA_COMMON_NAME: &str = "antfly-envtest-front-proxy-ca";

/// Common name of the aggregator's client certificate, which it presents to aggregated
/// API servers; the apiserver's `--requestheader-allowed-names`.
pub(crate) const FRONT_PROXY_CLIENT: &str = "front-proxy-client";

const OID_COMMON_NAME: &[u64] = &[2, 5, 4, 3];
const OID_ORGANIZATION: &[u64] = &[2, 5, 4, 10];
const OID_ECDSA_WITH_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const OID_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const OID_CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];

/// Validity of client certificates, as ASN.1 UTCTime.
const NOT_BEFORE: &[u8] = b"000101000000Z";
const NOT_AFTER: &[u8] = b"491231235959Z";

/// A certificate (or public key) and its private key, both PEM.
pub(crate) struct CertAndKey {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

/// The control plane's certificate authorities.
pub(crate) struct Pki {
    /// Signs the serving certificates and the users' client certificates.
    ca: CertifiedIssuer<'static, KeyPair>,
    /// Signs only the aggregator's client certificate, so that no user certificate can
    /// pass for the front proxy and assert another identity in request headers.
    front_proxy_ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// New CAs with fresh P-256 keys.
    pub(crate) fn new() -> Result<Self, Error> {
        Ok(Self {
            ca: new_ca("the CA certificate", CA_COMMON_NAME)?,
            front_proxy_ca: new_ca("the front-proxy CA certificate", FRONT_PROXY_CA_COMMON_NAME)?,
        })
    }

    /// The CA certificate, PEM.
    pub(crate) fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// The CA certificate, DER.
    pub(crate) fn ca_der(&self) -> Vec<u8> {
        self.ca.der().to_vec()
    }

    /// The front-proxy CA certificate, PEM.
    pub(crate) fn front_proxy_ca_pem(&self) -> String {
        self.front_proxy_ca.pem()
    }

    /// A serving certificate for the loopback addresses and `localhost`.
    pub(crate) fn serving(&self) -> Result<CertAndKey, Error> {
        self.serving_for("the apiserver's serving certificate", "kube-apiserver", &["127.0.0.1", "::1", "localhost"])
    }

    /// A serving certificate with subject `CN=<common_name>` for `names`: DNS names, or IP
    /// addresses when they parse as one.
    pub(crate) fn serving_for(&self, what: &str, common_name: &str, names: &[&str]) -> Result<CertAndKey, Error> {
        let key = generate_key(what)?;
        let mut params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .map_err(|source| Error::Certificate { what: what.into(), source })?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert =
            params.signed_by(&key, &self.ca).map_err(|source| Error::Certificate { what: what.into(), source })?;
        Ok(CertAndKey { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// The aggregator's client certificate, `CN=front-proxy-client`, signed by the
    /// front-proxy CA (the apiserver's `--proxy-client-cert-file`).
    pub(crate) fn front_proxy_client(&self) -> Result<CertAndKey, Error> {
        let what = "the front-proxy client certificate";
        let key = generate_key(what)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, FRONT_PROXY_CLIENT);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .signed_by(&key, &self.front_proxy_ca)
            .map_err(|source| Error::Certificate { what: what.into(), source })?;
        Ok(CertAndKey { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// A client certificate with subject `CN=<user>` and one `O=<group>` per group.
    pub(crate) fn client(&self, user: &str, groups: &[&str]) -> Result<CertAndKey, Error> {
        let what = || format!("a client certificate for user {user:?}");
        let key = generate_key(&what())?;
        let tbs = client_tbs_der(user, groups, &key.subject_public_key_info());
        let signature = self.ca.key().sign(&tbs).map_err(|source| Error::Certificate { what: what(), source })?;
        let der = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_der(&tbs);
                write_algorithm(w.next(), OID_ECDSA_WITH_SHA256);
                w.next().write_bitvec_bytes(&signature, signature.len() * 8);
            });
        });
        Ok(CertAndKey {
            cert_pem: pem::encode_config(
                &pem::Pem::new("CERTIFICATE", der),
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            ),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A key for service-account tokens: the private key (PKCS#8 PEM) and the
/// public key (PKIX PEM, since the apiserver does not read PKCS#8 as a
/// public-key file).
pub(crate) fn service_account_key() -> Result<CertAndKey, Error> {
    let key = generate_key("the service-account signing key")?;
    Ok(CertAndKey { cert_pem: key.public_key_pem(), key_pem: key.serialize_pem() })
}

/// A self-signed CA certificate `CN=<common_name>` with a fresh key.
fn new_ca(what: &str, common_name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, Error> {
    let key = generate_key(what)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    CertifiedIssuer::self_signed(params, key).map_err(|source| Error::Certificate { what: what.into(), source })
}

fn generate_key(what: &str) -> Result<KeyPair, Error> {
    // P-256 ECDSA: accepted by Go's TLS stack, by rustls and for ES256 tokens.
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|source| Error::Certificate { what: what.into(), source })
}

/// The DER of an X.509 v3 TBSCertificate for a client certificate.
fn client_tbs_der(user: &str, groups: &[&str], spki_der: &[u8]) -> Vec<u8> {
    let serial = next_serial();
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            // version: v3
            w.next().write_tagged(yasna::Tag::context(0), |w| w.write_i64(2));
            w.next().write_bigint_bytes(&serial, true);
            write_algorithm(w.next(), OID_ECDSA_WITH_SHA256);
            // The issuer must be byte-equal to the CA's subject, which rcgen
            // writes as one RDN with a UTF8String common name.
            write_name(w.next(), &[(OID_COMMON_NAME, CA_COMMON_NAME)]);
            w.next().write_sequence(|w| {
                for time in [NOT_BEFORE, NOT_AFTER] {
                    w.next().write_tagged_der(&TaggedDerValue::from_tag_and_bytes(TAG_UTCTIME, time.to_vec()));
                }
            });
            let mut subject = vec![(OID_COMMON_NAME, user)];
            subject.extend(groups.iter().map(|g| (OID_ORGANIZATION, *g)));
            write_name(w.next(), &subject);
            w.next().write_der(spki_der);
            w.next().write_tagged(yasna::Tag::context(3), |w| {
                w.write_sequence(|w| {
                    // basicConstraints: not a CA
                    write_extension(w.next(), OID_BASIC_CONSTRAINTS, true, &|w| {
                        w.write_sequence(|_| {});
                    });
                    // keyUsage: digitalSignature (bit 0)
                    write_extension(w.next(), OID_KEY_USAGE, true, &|w| {
                        w.write_bitvec_bytes(&[0x80], 1);
                    });
                    // extKeyUsage: clientAuth
                    write_extension(w.next(), OID_EXT_KEY_USAGE, false, &|w| {
                        w.write_sequence(|w| {
                            w.next().write_oid(&ObjectIdentifier::from_slice(OID_CLIENT_AUTH));
                        });
                    });
                });
            });
        });
    })
}

/// A Name: one single-valued RDN per attribute, UTF8String values.
fn write_name(w: yasna::DERWriter<'_>, attributes: &[(&[u64], &str)]) {
    w.write_sequence(|w| {
        for (oid, value) in attributes {
            w.next().write_set(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&ObjectIdentifier::from_slice(oid));
                    w.next().write_utf8_string(value);
                });
            });
        }
    });
}

fn write_algorithm(w: yasna::DERWriter<'_>, oid: &[u64]) {
    // ecdsa-with-SHA256 has no parameters (RFC 5758).
    w.write_sequence(|w| {
        w.next().write_oid(&ObjectIdentifier::from_slice(oid));
    });
}

fn write_extension(w: yasna::DERWriter<'_>, oid: &[u64], critical: bool, value: &dyn Fn(yasna::DERWriter<'_>)) {
    let value = yasna::construct_der(value);
    w.write_sequence(|w| {
        w.next().write_oid(&ObjectIdentifier::from_slice(oid));
        if critical {
            w.next().write_bool(true);
        }
        w.next().write_bytes(&value);
    });
}

/// A positive serial number, unique within this process.
fn next_serial() -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut serial = vec![0x01];
    serial.extend_from_slice(&nanos.to_be_bytes()[8..]);
    serial.extend_from_slice(&count.to_be_bytes());
    serial.extend_from_slice(&std::process::id().to_be_bytes());
    serial
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_issuer_is_the_ca_subject() {
        // Go finds a certificate's parent by comparing the raw issuer with
        // the raw subject, so the hand-written issuer must match rcgen's bytes.
        let pki = Pki::new().expect("CA");
        let issuer = yasna::construct_der(|w| {
            write_name(w, &[(OID_COMMON_NAME, CA_COMMON_NAME)]);
        });
        let ca = pki.ca_der();
        assert!(
            ca.windows(issuer.len()).any(|w| w == issuer.as_slice()),
            "CA certificate does not contain the issuer name written for client certificates"
        );
    }

    #[test]
    fn client_certificate_is_pem() {
        let pki = Pki::new().expect("CA");
        let cert = pki.client("alice", &["g1", "g2", "g3"]).expect("client certificate");
        assert!(cert.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(cert.key_pem.contains("PRIVATE KEY"));
    }
}
