package tlscert_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"chatserver/internal/testcert"
	"chatserver/web/tlscert"
)

func TestLoadServesThePair(t *testing.T) {
	ca := testcert.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, t.TempDir(), "server", 7, "localhost", "127.0.0.1")
	p, err := tlscert.Load(certFile, keyFile)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := p.Leaf().SerialNumber.Int64(); got != 7 {
		t.Errorf("Leaf serial %d, want 7", got)
	}
	c, err := p.Config().GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	if err != nil || c.Leaf.SerialNumber.Int64() != 7 {
		t.Fatalf("GetCertificate: %v, %v", c, err)
	}
	if v := p.Config().MinVersion; v != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", v)
	}
}

func TestLoadRefusesWhatCannotServe(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, dir, "good", 1, "localhost")
	_, otherKey := ca.WriteFiles(t, dir, "other", 2, "localhost")
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	garbage := write("garbage.pem", "hello\n")
	brokenCert := write("broken.crt", "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n")
	brokenKey := write("broken.key", "-----BEGIN PRIVATE KEY-----\naGVsbG8=\n-----END PRIVATE KEY-----\n")
	unreadable := write("unreadable.key", "")
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing certificate", filepath.Join(dir, "none.crt"), keyFile,
			"cannot read the certificate file " + filepath.Join(dir, "none.crt") + ": no such file or directory"},
		{"missing key", certFile, filepath.Join(dir, "none.key"),
			"cannot read the key file " + filepath.Join(dir, "none.key") + ": no such file or directory"},
		{"a key of another certificate", certFile, otherKey,
			"the private key in " + otherKey + " does not belong to the certificate in " + certFile},
		{"the files switched", keyFile, certFile,
			keyFile + " holds a private key, not a certificate (are the certificate and key files the wrong way round?)"},
		{"the certificate twice", certFile, certFile,
			certFile + " holds a certificate, not a private key"},
		{"no PEM certificate", garbage, keyFile, garbage + " holds no PEM certificate"},
		{"no PEM key", certFile, garbage, garbage + " holds no PEM private key"},
		{"a damaged certificate", brokenCert, keyFile, "the certificate in " + brokenCert + " cannot be parsed"},
		{"a damaged key", certFile, brokenKey, "the private key in " + brokenKey + " cannot be parsed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlscert.Load(tc.cert, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("unreadable key", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("skipping: root reads any file")
		}
		if _, err := tlscert.Load(certFile, unreadable); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("Load: %v, want permission denied", err)
		}
	})
}

func TestReloadSwapsOrKeeps(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, dir, "server", 1, "localhost")
	p, err := tlscert.Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		t.Helper()
		c, err := p.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.Int64()
	}

	ca.WriteFiles(t, dir, "server", 2, "localhost")
	leaf, err := p.Reload()
	if err != nil || leaf.SerialNumber.Int64() != 2 || serial() != 2 || p.Leaf().SerialNumber.Int64() != 2 {
		t.Fatalf("Reload of a renewed pair: %v, %v; serving %d", leaf, err, serial())
	}

	// A new certificate whose key is not there yet: refused, the pair in
	// use stays.
	newCert, _ := ca.Issue(t, 3, "localhost")
	testcert.Write(t, certFile, newCert)
	if _, err := p.Reload(); err == nil || !strings.Contains(err.Error(), "does not belong to the certificate") {
		t.Fatalf("Reload of a mismatched pair: %v", err)
	}
	if serial() != 2 {
		t.Errorf("serving serial %d after a refused reload, want 2", serial())
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Reload(); err == nil || !strings.Contains(err.Error(), "cannot read the key file") {
		t.Fatalf("Reload without the key: %v", err)
	}
	if serial() != 2 {
		t.Errorf("serving serial %d after a refused reload, want 2", serial())
	}
}

func TestReloadDuringHandshakes(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, dir, "server", 1, "localhost")
	p, err := tlscert.Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, err := p.GetCertificate(nil); err != nil || c == nil || c.Leaf == nil {
					t.Errorf("GetCertificate during a reload: %v, %v", c, err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		ca.WriteFiles(t, dir, "server", int64(i+2), "localhost")
		if _, err := p.Reload(); err != nil {
			t.Errorf("Reload %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
}
