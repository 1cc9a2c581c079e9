//! The control plane's certificates: one CA, the API server's serving certificate, client
//! certificates (CN = user, O = groups) and the ServiceAccount token signing key. ECDSA P-256
//! throughout (rcgen's default), which Go's TLS stack, rustls and the API server's token signer
//! all accept.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::Error;

/// The attribute type OID of `O` (organization), which Kubernetes reads as a group.
const ORGANIZATION_OID: [u64; 4] = [2, 5, 4, 10];

/// A certificate and its private key, PEM-encoded.
pub struct Pair {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The CA that signs the serving and client certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
}

fn pki(what: &str) -> impl FnOnce(rcgen::Error) -> Error + '_ {
    move |e| Error::Pki(format!("{what}: {e}"))
}

impl Authority {
    pub fn new() -> Result<Authority, Error> {
        let key = KeyPair::generate().map_err(pki("CA key"))?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "sealant-envtest-ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).map_err(pki("CA certificate"))?;
        Ok(Authority {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The API server's serving certificate, valid for the loopback address and the in-cluster
    /// names of the `kubernetes` Service.
    pub fn serving(&self) -> Result<Pair, Error> {
        let key = KeyPair::generate().map_err(pki("serving key"))?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params.subject_alt_names = vec![
            SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
            SanType::IpAddress(std::net::Ipv4Addr::new(10, 96, 0, 1).into()),
        ];
        for name in [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ] {
            params.subject_alt_names.push(SanType::DnsName(
                name.try_into().map_err(pki("serving name"))?,
            ));
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(pki("serving certificate"))?;
        Ok(Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A client certificate for `user` in `groups` (at most two: rcgen holds one value per
    /// attribute type, so the second group is written under the same OID as a custom type).
    pub fn client(&self, user: &str, groups: &[&str]) -> Result<Pair, Error> {
        if groups.len() > 2 {
            return Err(Error::Pki(format!(
                "user {user}: a client certificate here carries at most two groups, got {}",
                groups.len()
            )));
        }
        let key = KeyPair::generate().map_err(pki("client key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, user);
        if let Some(first) = groups.first() {
            params
                .distinguished_name
                .push(DnType::OrganizationName, *first);
        }
        if let Some(second) = groups.get(1) {
            params.distinguished_name.push(
                DnType::CustomDnType(ORGANIZATION_OID.to_vec()),
                rcgen::DnValue::Utf8String((*second).to_string()),
            );
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(pki("client certificate"))?;
        Ok(Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The ServiceAccount token signing key (PKCS#8 private key PEM, SPKI public key PEM).
pub fn service_account_key() -> Result<(String, String), Error> {
    let key = KeyPair::generate().map_err(pki("service-account key"))?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}
