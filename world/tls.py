"""The world's private CA and the loopback certificate it signs (vcsim's; the BDE
simulator makes its own). Made once per world directory with openssl."""

from pathlib import Path

from world.config import STATE, run


def ensure_tls() -> Path:
    tls = STATE / "tls"
    if (tls / "server.pem").exists():
        return tls
    tls.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, ext = (tls / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.ext"))
    run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650"]
        + ["-subj", "/CN=bde-heat test world CA", "-keyout", str(ca_key), "-out", str(ca)]
    )
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    run(
        [
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(csr),
        ]
    )
    run(
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial"]
        + ["-days", "3650", "-extfile", str(ext), "-out", str(tls / "server.pem")]
    )
    for private in tls.glob("*.key"):
        private.chmod(0o600)
    return tls
