// Package pki keeps the booth's small certificate authority: one CA made
// on first use and an etcd server certificate it signs. Agents and Patroni
// trust the CA, so the server certificate can be re-issued (a new host
// address, near expiry) without touching any node.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside the directory Ensure keeps.
const (
	CACertName     = "ca.crt"
	CAKeyName      = "ca.key"
	ServerCertName = "etcd-server.crt"
	ServerKeyName  = "etcd-server.key"
)

const (
	caLifetime     = 10 * 365 * 24 * time.Hour
	serverLifetime = 2 * 365 * 24 * time.Hour
	// renewBefore re-issues a server certificate this close to expiry: the
	// head node calls Ensure on every start, so a month leaves many starts
	// to catch it.
	renewBefore = 30 * 24 * time.Hour
	// backdate starts the CA's validity two days early: booth computers
	// (Raspberry Pis) have no real-time clock and boot with the time they
	// last saved until NTP, if any, answers.
	backdate = 48 * time.Hour
)

// Files are the paths of the CA's and the etcd server's PEM files.
type Files struct {
	CACert, CAKey         string
	ServerCert, ServerKey string
}

// Ensure makes dir hold a booth CA and an etcd server certificate valid
// for hosts (IP addresses become IP SANs, anything else DNS SANs;
// 127.0.0.1, ::1 and localhost are always added). It creates what is
// missing on first use, reuses what is there later, and re-issues the
// server certificate from the same CA when it lacks one of hosts, expires
// within 30 days or does not match its key or the CA.
func Ensure(dir string, hosts []string) (Files, error) {
	return ensure(dir, hosts, time.Now())
}

func ensure(dir string, hosts []string, now time.Time) (Files, error) {
	f := Files{
		CACert: filepath.Join(dir, CACertName), CAKey: filepath.Join(dir, CAKeyName),
		ServerCert: filepath.Join(dir, ServerCertName), ServerKey: filepath.Join(dir, ServerKeyName),
	}
	names, ips, err := sans(hosts)
	if err != nil {
		return Files{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Files{}, fmt.Errorf("pki: directory %s: %w", dir, err)
	}
	// MkdirAll leaves an existing directory's mode alone; the keys must
	// not be listed, let alone read, by other users of the head node.
	if err := os.Chmod(dir, 0o700); err != nil {
		return Files{}, fmt.Errorf("pki: directory %s: %w", dir, err)
	}
	ca, caKey, err := loadOrCreateCA(f, now)
	if err != nil {
		return Files{}, err
	}
	if why := serverStale(f, ca, names, ips, now); why != "" {
		if err := issueServer(f, ca, caKey, names, ips, now); err != nil {
			return Files{}, fmt.Errorf("pki: re-issue %s (%s): %w", f.ServerCert, why, err)
		}
	}
	return f, nil
}

// sans splits hosts into DNS names and IP addresses, adding the loopback
// ones every local client uses.
func sans(hosts []string) ([]string, []net.IP, error) {
	var names []string
	var ips []net.IP
	seenName := map[string]bool{}
	seenIP := map[string]bool{}
	for _, h := range append([]string{"127.0.0.1", "::1", "localhost"}, hosts...) {
		h = strings.TrimSpace(h)
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if h == "" {
			return nil, nil, errors.New("pki: empty host name")
		}
		if ip := net.ParseIP(h); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if !seenIP[ip.String()] {
				seenIP[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !dnsName(h) {
			return nil, nil, fmt.Errorf("pki: host %q is neither an IP address nor a DNS name", h)
		}
		if !seenName[h] {
			seenName[h] = true
			names = append(names, h)
		}
	}
	return names, ips, nil
}

// dnsName reports whether h is a lower-case host name a certificate can
// carry: dot-separated labels of letters, digits, '-' and '_' (which
// container and booth host names use).
func dnsName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// loadOrCreateCA reads the CA, or makes one when its certificate does not
// exist. A key without a certificate is the leftover of an interrupted
// first run (the key is written first) and is replaced: nobody can trust a
// CA whose certificate was never written.
func loadOrCreateCA(f Files, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(f.CACert)
	if errors.Is(err, fs.ErrNotExist) {
		return createCA(f, now)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pki: CA certificate %s: %w", f.CACert, err)
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: CA certificate %s: %w", f.CACert, err)
	}
	if !cert.IsCA {
		return nil, nil, fmt.Errorf("pki: CA certificate %s: not a CA", f.CACert)
	}
	key, err := readKey(f.CAKey)
	if err != nil {
		// Never make a new CA over an existing certificate: every agent
		// that trusts it would stop reaching etcd.
		return nil, nil, fmt.Errorf("pki: CA key %s: %w", f.CAKey, err)
	}
	if !samePublic(cert, key) {
		return nil, nil, fmt.Errorf("pki: CA key %s does not match %s", f.CAKey, f.CACert)
	}
	if !now.Before(cert.NotAfter) {
		return nil, nil, fmt.Errorf("pki: CA certificate %s expired on %s", f.CACert, cert.NotAfter.Format(time.DateOnly))
	}
	return cert, key, nil
}

func createCA(f Files, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"redswitch booth"}, CommonName: "redswitch booth CA"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	if err := writeKey(f.CAKey, key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(f.CACert, "CERTIFICATE", der); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// serverStale says why the server certificate must be issued again, or ""
// when it is good for names and ips.
func serverStale(f Files, ca *x509.Certificate, names []string, ips []net.IP, now time.Time) string {
	certPEM, err := os.ReadFile(f.ServerCert)
	if err != nil {
		return "no certificate"
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return "unreadable certificate"
	}
	key, err := readKey(f.ServerKey)
	if err != nil {
		return "unreadable key"
	}
	if !samePublic(cert, key) {
		return "key does not match"
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return "not signed by the CA"
	}
	if now.Add(renewBefore).After(cert.NotAfter) {
		return "expires " + cert.NotAfter.Format(time.DateOnly)
	}
	for _, n := range names {
		if err := cert.VerifyHostname(n); err != nil {
			return "lacks " + n
		}
	}
	for _, ip := range ips {
		if err := cert.VerifyHostname(ip.String()); err != nil {
			return "lacks " + ip.String()
		}
	}
	return ""
}

func issueServer(f Files, ca *x509.Certificate, caKey crypto.Signer, names []string, ips []net.IP, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	notAfter := now.Add(serverLifetime)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"redswitch booth"}, CommonName: "redswitch etcd"},
		// Valid from when the CA is: a node whose clock accepts the CA
		// accepts this certificate's start too.
		NotBefore: ca.NotBefore,
		NotAfter:  notAfter,
		KeyUsage:  x509.KeyUsageDigitalSignature,
		// Client auth too: etcd presents the same certificate on its peer
		// listener, where members dial one another.
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	// Key first: a crash between the two leaves a pair that does not
	// match, which the next call notices and re-issues.
	if err := writeKey(f.ServerKey, key); err != nil {
		return err
	}
	return writePEM(f.ServerCert, "CERTIFICATE", der)
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func parseCert(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate in it")
	}
	return x509.ParseCertificate(block.Bytes)
}

func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM private key in it")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of type %T cannot sign", k)
	}
	return s, nil
}

func samePublic(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: key %s: %w", path, err)
	}
	return writePEM(path, "PRIVATE KEY", der)
}

// writePEM replaces path atomically (a temporary file renamed over it), so
// a crash never leaves half a key; every file is 0600, keys and
// certificates alike, which etcd and the agents read as the same user.
func writePEM(path, typ string, der []byte) error {
	var buf bytes.Buffer
	if err := pem.Encode(&buf, &pem.Block{Type: typ, Bytes: der}); err != nil {
		return fmt.Errorf("pki: %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("pki: %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing left to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: %s: %w", path, err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pki: %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pki: %s: %w", path, err)
	}
	return nil
}
