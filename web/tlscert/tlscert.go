// Package tlscert serves a TLS certificate and private key read from two
// PEM files, and reads them again when asked (Reload), so that a renewed
// certificate is served from the next handshake on, without a restart. A
// pair that cannot be used is refused with a sentence naming the file and
// what is wrong with it; a refused reload keeps the pair in use.
package tlscert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
)

// Pair is a certificate and its key, loaded from two files. It is safe
// for concurrent use: handshakes read the current pair while Reload
// replaces it.
type Pair struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// Load reads the certificate (with any intermediate certificates after
// it) from certFile and its private key from keyFile, both PEM, and checks
// that they belong together.
func Load(certFile, keyFile string) (*Pair, error) {
	c, err := read(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	p := &Pair{certFile: certFile, keyFile: keyFile}
	p.cur.Store(c)
	return p, nil
}

// Reload reads the two files again. If they hold a usable pair, it is
// served from the next handshake on and Reload returns its certificate;
// otherwise the pair in use stays and the error says why.
func (p *Pair) Reload() (*x509.Certificate, error) {
	c, err := read(p.certFile, p.keyFile)
	if err != nil {
		return nil, err
	}
	p.cur.Store(c)
	return c.Leaf, nil
}

// Leaf returns the certificate in use.
func (p *Pair) Leaf() *x509.Certificate { return p.cur.Load().Leaf }

// GetCertificate returns the pair in use, for tls.Config.GetCertificate.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.cur.Load(), nil
}

// Config returns a server configuration that serves the pair in use at
// each handshake, with TLS 1.2 at least.
func (p *Pair) Config() *tls.Config {
	return &tls.Config{GetCertificate: p.GetCertificate, MinVersion: tls.VersionTLS12}
}

// read loads and checks a pair; its errors are sentences for the
// operator.
func read(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the certificate file %s: %w", certFile, pathCause(err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the key file %s: %w", keyFile, pathCause(err))
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, diagnose(certFile, certPEM, keyFile, keyPEM, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("the certificate in %s cannot be parsed: %w", certFile, err)
		}
	}
	return &c, nil
}

// diagnose says what is wrong with a pair tls.X509KeyPair refused with
// err.
func diagnose(certFile string, certPEM []byte, keyFile string, keyPEM []byte, err error) error {
	certDER, certHasKey := firstBlock(certPEM)
	keyDER, keyHasCert := firstKey(keyPEM)
	switch {
	case certDER == nil && certHasKey:
		return fmt.Errorf("%s holds a private key, not a certificate (are the certificate and key files the wrong way round?)", certFile)
	case certDER == nil:
		return fmt.Errorf("%s holds no PEM certificate (a block beginning -----BEGIN CERTIFICATE-----)", certFile)
	case keyDER == nil && keyHasCert:
		return fmt.Errorf("%s holds a certificate, not a private key (are the certificate and key files the wrong way round?)", keyFile)
	case keyDER == nil:
		return fmt.Errorf("%s holds no PEM private key (a block beginning -----BEGIN ... PRIVATE KEY-----)", keyFile)
	}
	cert, cerr := x509.ParseCertificate(certDER)
	if cerr != nil {
		return fmt.Errorf("the certificate in %s cannot be parsed: %w", certFile, cerr)
	}
	key, kerr := parseKey(keyDER)
	if kerr != nil {
		return fmt.Errorf("the private key in %s cannot be parsed: %w", keyFile, kerr)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); ok && !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("the private key in %s does not belong to the certificate in %s", keyFile, certFile)
	}
	return fmt.Errorf("%s and %s are not a usable certificate and key: %w", certFile, keyFile, err)
}

// firstBlock returns the first CERTIFICATE block of data, or nil and
// whether data holds a private key instead.
func firstBlock(data []byte) (der []byte, hasKey bool) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		switch {
		case b == nil:
			return nil, hasKey
		case b.Type == "CERTIFICATE":
			return b.Bytes, false
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			hasKey = true
		}
	}
}

// firstKey returns the first private key block of data, or nil and
// whether data holds a certificate instead.
func firstKey(data []byte) (der []byte, hasCert bool) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		switch {
		case b == nil:
			return nil, hasCert
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			return b.Bytes, false
		case b.Type == "CERTIFICATE":
			hasCert = true
		}
	}
}

// parseKey parses a private key in the encodings tls.X509KeyPair takes:
// PKCS #8, PKCS #1 (RSA) and SEC 1 (EC).
func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch k := k.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		}
		return nil, errors.New("unknown kind of key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, errors.New("not a PKCS #8, PKCS #1 or EC private key")
	}
	return k, nil
}

// pathCause drops the *fs.PathError layer, whose text repeats the path.
func pathCause(err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}
