// Package openvpn runs the OpenVPN service with the real openvpn binary:
// the provider's server (its own CA and certificate, tls-crypt, AES-256-GCM,
// clients approved one by one over the management interface, NAT to the
// uplink) and the consumer's client (routes through the tunnel, byte counts).
package openvpn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// PKI is what a server needs for TLS: a CA made for this service alone, a
// server certificate it signed, and the tls-crypt key.
type PKI struct {
	CACert      []byte // PEM
	ServerCert  []byte // PEM
	ServerKey   []byte // PEM, PKCS#8
	TLSCryptKey []byte // OpenVPN static key V1 format
}

// NewPKI makes a fresh CA, server certificate and tls-crypt key.
func NewPKI(name string) (*PKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "myst CA " + name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "myst server " + name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return nil, err
	}
	static := make([]byte, 256)
	if _, err := rand.Read(static); err != nil {
		return nil, err
	}
	return &PKI{
		CACert:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		ServerCert:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		ServerKey:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		TLSCryptKey: staticKey(static),
	}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// staticKey writes 256 bytes in OpenVPN's static key V1 file format.
func staticKey(b []byte) []byte {
	var sb strings.Builder
	sb.WriteString("-----BEGIN OpenVPN Static key V1-----\n")
	h := hex.EncodeToString(b)
	for i := 0; i < len(h); i += 32 {
		sb.WriteString(h[i:i+32] + "\n")
	}
	sb.WriteString("-----END OpenVPN Static key V1-----\n")
	return []byte(sb.String())
}
