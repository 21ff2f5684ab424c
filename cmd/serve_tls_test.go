package cmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"chatserver/internal/testcert"
)

func TestTLSFlagsAreCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, dir, "server", 1, "localhost")
	_, otherKey := ca.WriteFiles(t, dir, "other", 2, "localhost")
	missing := filepath.Join(dir, "missing.pem")
	db := filepath.Join(dir, "chat.db")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a certificate without its key", []string{"--tls-cert", certFile},
			"--tls-cert needs --tls-key, the certificate's private key: give both, or neither for plain HTTP"},
		{"a key without its certificate", []string{"--tls-key", keyFile},
			"--tls-key needs --tls-cert, the certificate: give both, or neither for plain HTTP"},
		{"a certificate file that is not there", []string{"--tls-cert", missing, "--tls-key", keyFile},
			"cannot serve TLS with --tls-cert and --tls-key: cannot read the certificate file " + missing + ": no such file or directory"},
		{"a key file that is not there", []string{"--tls-cert", certFile, "--tls-key", missing},
			"cannot read the key file " + missing + ": no such file or directory"},
		{"the key of another certificate", []string{"--tls-cert", certFile, "--tls-key", otherKey},
			"the private key in " + otherKey + " does not belong to the certificate in " + certFile},
		{"the two the wrong way round", []string{"--tls-cert", keyFile, "--tls-key", certFile},
			keyFile + " holds a private key, not a certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, tc.args...)...)
			if r.code != exitError || !strings.Contains(r.report, tc.want) {
				t.Fatalf("exit %d, %q; want exit 1 and %q", r.code, r.report, tc.want)
			}
			if strings.Count(r.report, "\n") != 1 || r.stdout != "" || r.stderr != "" {
				t.Errorf("more than one plain line: stdout %q stderr %q report %q", r.stdout, r.stderr, r.report)
			}
			if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the database was created before the flags were checked: %v", err)
			}
		})
	}
}

func TestServeInProcessOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, dir, "server", 77, "localhost", "127.0.0.1")
	db := filepath.Join(dir, "chat.db")

	ctx, cancel := context.WithCancel(context.Background())
	root := NewRootCommand()
	out, errOut := newLines(), newLines()
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--tls-cert", certFile, "--tls-key", keyFile})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	url := out.waitFor(t, regexp.MustCompile(`^chatserver: listening on (https://127\.0\.0\.1:\d+) \(database `), 10*time.Second)
	// The started line, naming the version, comes first, as without TLS.
	if first := errOut.next(t, 10*time.Second); !strings.Contains(first, `msg="chatserver started" version=`) {
		t.Errorf("the first log line is %q, want chatserver started", first)
	}
	errOut.waitFor(t, regexp.MustCompile(`msg="(serving the TLS certificate)" cert="`+regexp.QuoteMeta(certFile)+` for localhost, 127\.0\.0\.1 \(serial 77\), valid until .* UTC"$`), 10*time.Second)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 77 {
		t.Errorf("GET /healthz over TLS: %s %q", resp.Status, body)
	}
}

func TestDescribeCert(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	cert := func(names []string, ips []string, cn string, from, until time.Time) *x509.Certificate {
		c := &x509.Certificate{SerialNumber: big.NewInt(4242), DNSNames: names, Subject: pkix.Name{CommonName: cn}, NotBefore: from, NotAfter: until}
		for _, ip := range ips {
			c.IPAddresses = append(c.IPAddresses, net.ParseIP(ip))
		}
		return c
	}
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		leaf *x509.Certificate
		want string
	}{
		{"valid", cert([]string{"chat.example.org"}, []string{"192.0.2.7"}, "", now.Add(-day), now.Add(90*day)),
			"c.pem for chat.example.org, 192.0.2.7 (serial 4242), valid until 2026-08-30 12:00 UTC"},
		{"a common name only", cert(nil, nil, "pi.local", now.Add(-day), now.Add(day)),
			"c.pem for pi.local (serial 4242), valid until 2026-06-02 12:00 UTC"},
		{"expired", cert([]string{"a.example"}, nil, "", now.Add(-2*day), now.Add(-day)),
			"valid until 2026-05-31 12:00 UTC; it has EXPIRED: browsers refuse it (renew it, then send SIGHUP)"},
		{"not valid yet", cert([]string{"a.example"}, nil, "", now.Add(day), now.Add(2*day)),
			"; it is NOT VALID YET (from 2026-06-02 12:00 UTC): browsers refuse it until then"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describeCert("c.pem", tc.leaf, now); !strings.HasSuffix(got, tc.want) {
				t.Errorf("describeCert = %q, want it to end %q", got, tc.want)
			}
		})
	}
}

// TestServeInProcessOutlivesSIGHUPWithoutTLS: without TLS there is
// nothing to reload, but SIGHUP (systemctl reload, a closed terminal)
// must not end the server.
func TestServeInProcessOutlivesSIGHUPWithoutTLS(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	ctx, cancel := context.WithCancel(context.Background())
	root := NewRootCommand()
	out, errOut := newLines(), newLines()
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--db", db})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	url := out.waitFor(t, regexp.MustCompile(`^chatserver: listening on (http://127\.0\.0\.1:\d+) \(database `), 10*time.Second)
	errOut.waitFor(t, regexp.MustCompile(`msg="chatserver (started)"`), 10*time.Second)

	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	errOut.waitFor(t, regexp.MustCompile(`level=INFO msg="(SIGHUP: nothing to reload) \(no TLS certificate is served\)"$`), 10*time.Second)
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz after SIGHUP: %s", resp.Status)
	}
	select {
	case <-exited:
		t.Fatal("serve returned after SIGHUP")
	default:
	}
}
