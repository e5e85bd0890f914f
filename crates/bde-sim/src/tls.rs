//! The simulator's certificate: a private CA and a loopback certificate it
//! signs, made at first start and kept; clients verify against `ca.pem`.

use std::path::Path;

/// Returns (certificate PEM, key PEM), making and saving them if absent.
pub fn ensure_certificate(dir: &Path) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("key.pem"));
    if let (Ok(chain), Ok(key)) = (std::fs::read(dir.join("chain.pem")), std::fs::read(&key_path)) {
        return Ok((chain, key));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (ca_pem, leaf_pem, key_pem) = make_chain().map_err(|e| format!("making the certificate: {e}"))?;
    write_private(&key_path, key_pem.as_bytes())?;
    // ca.pem is what clients trust; the server presents the leaf and the CA.
    std::fs::write(&cert_path, &ca_pem).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    std::fs::write(dir.join("chain.pem"), format!("{leaf_pem}{ca_pem}")).map_err(|e| e.to_string())?;
    Ok((format!("{leaf_pem}{ca_pem}").into_bytes(), key_pem.into_bytes()))
}

/// A private CA and a loopback server certificate it signs: (CA, leaf, leaf key).
fn make_chain() -> Result<(String, String, String), rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "bde-sim CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    let leaf_key = KeyPair::generate()?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;
    Ok((ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem()))
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(data).map_err(|e| format!("{}: {e}", path.display()))
}
