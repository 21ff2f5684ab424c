package e2e

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"chatserver/internal/testcert"
)

// tlsSetup is a certificate authority of the test's own and a server
// certificate it signed for 127.0.0.1 and localhost, in files.
type tlsSetup struct {
	ca                *testcert.CA
	dir               string
	caFile            string // the authority's certificate, for the clients
	certFile, keyFile string // what --tls-cert and --tls-key are given
}

// newTLSSetup writes a CA and a server certificate with serial number
// serial to a new directory.
func newTLSSetup(t *testing.T, serial int64) *tlsSetup {
	t.Helper()
	s := &tlsSetup{ca: testcert.NewCA(t), dir: t.TempDir()}
	s.caFile = filepath.Join(s.dir, "ca.pem")
	testcert.Write(t, s.caFile, s.ca.PEM)
	s.certFile, s.keyFile = s.ca.WriteFiles(t, s.dir, "server", serial, "127.0.0.1", "localhost")
	return s
}

// servedSerial connects to the server at an https:// base URL, trusting
// only the setup's CA, and returns the serial number of the certificate
// it served.
func (s *tlsSetup) servedSerial(t *testing.T, base string) int64 {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: eventTimeout}, "tcp", strings.TrimPrefix(base, "https://"),
		&tls.Config{RootCAs: s.ca.Pool()})
	if err != nil {
		t.Fatalf("TLS handshake with %s trusting the test CA: %v", base, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// client returns an HTTP client that trusts only the setup's CA.
func (s *tlsSetup) client(t *testing.T) *http.Client {
	t.Helper()
	c := &http.Client{Timeout: eventTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool()}}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestChatOverTLS(t *testing.T) {
	t.Parallel()
	setup := newTLSSetup(t, 1)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--tls-cert", setup.certFile, "--tls-key", setup.keyFile)
	if !strings.HasPrefix(srv.url, "https://127.0.0.1:") {
		t.Fatalf("start-up line says %s, want an https:// address", srv.url)
	}
	d := startDriver(t)
	d.ca = setup.caFile

	// Every transport over TLS: HTTPS long-polling, WebSocket over TLS
	// (wss://), and the default client upgrading from one to the other.
	var names []string
	for _, kind := range transportKinds {
		client := clientName(kind, 0)
		d.connectOn(client, srv.url, kind)
		if ack := d.call(client, "join", kind.name); ack["ok"] != true {
			t.Fatalf("%s could not join: %v", client, ack)
		}
		names = append(names, client)
	}
	for i, from := range names {
		text := "over TLS from " + transportKinds[i].name + " ✓"
		ackOK(t, from, d.call(from, "messages", text))
		for _, to := range names {
			checkMessage(t, d.event(to, "messages"), transportKinds[i].name, text)
		}
	}

	t.Run("the page and the health check over HTTPS", func(t *testing.T) {
		for _, path := range []string{"/", "/healthz", "/socket.io/socket.io.js"} {
			resp, err := setup.client(t).Get(srv.url + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s over HTTPS: %s", path, resp.Status)
			}
		}
	})

	t.Run("a client that does not trust the certificate", func(t *testing.T) {
		defer d.in(t)()
		d.ca = ""
		defer func() { d.ca = setup.caFile }()
		for _, transport := range []string{"websocket", "polling"} {
			d.connectError("untrusting-"+transport, srv.url, transport)
		}
		// Its handshake failed: the first such failure from an address
		// is logged (the rest are counted).
		srv.waitRecordContaining(t, "http server error", "err", "http: TLS handshake error from 127.0.0.1:")
	})

	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		resp, err := http.Get("http://" + strings.TrimPrefix(srv.url, "https://") + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
			t.Errorf("plain HTTP request to the TLS port: %s %q, want 400", resp.Status, body)
		}
	})

	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

func TestTLSCertificateReloadsOnSIGHUP(t *testing.T) {
	t.Parallel()
	setup := newTLSSetup(t, 1)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--tls-cert", setup.certFile, "--tls-key", setup.keyFile)
	srv.waitRecordContaining(t, "serving the TLS certificate", "cert", setup.certFile+" for localhost, 127.0.0.1 (serial 1)")
	if got := setup.servedSerial(t, srv.url); got != 1 {
		t.Fatalf("served serial %d, want 1", got)
	}
	d := startDriver(t)
	d.ca = setup.caFile
	d.join("before", srv.url, "before")

	// A renewed certificate in the same files.
	setup.ca.WriteFiles(t, setup.dir, "server", 2, "127.0.0.1", "localhost")
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	srv.waitRecordContaining(t, "SIGHUP: reloaded the TLS certificate", "cert", setup.certFile+" for localhost, 127.0.0.1 (serial 2)")
	if got := setup.servedSerial(t, srv.url); got != 2 {
		t.Errorf("served serial %d after the reload, want 2", got)
	}

	// A certificate whose key has not been written yet: refused, the one
	// in use is kept; so is a file that is not a certificate at all.
	newCert, _ := setup.ca.Issue(t, 3, "127.0.0.1", "localhost")
	testcert.Write(t, setup.certFile, newCert)
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	const refused = "SIGHUP: the new TLS certificate was refused; the one in use is kept"
	if r := srv.waitRecordContaining(t, refused, "err", "the private key in "+setup.keyFile+
		" does not belong to the certificate in "+setup.certFile); r.attrs["serial"] != "2" {
		t.Errorf("the refusal names serial %q, want 2", r.attrs["serial"])
	}
	if got := setup.servedSerial(t, srv.url); got != 2 {
		t.Errorf("served serial %d after a refused reload, want 2", got)
	}
	testcert.Write(t, setup.certFile, []byte("not a certificate\n"))
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	srv.waitRecordContaining(t, refused, "err", setup.certFile+" holds no PEM certificate")
	if got := setup.servedSerial(t, srv.url); got != 2 {
		t.Errorf("served serial %d after a refused reload, want 2", got)
	}

	// The connection from before the reloads chats with a new one.
	d.join("after", srv.url, "after")
	ackOK(t, "before", d.call("before", "messages", "still here"))
	for _, c := range []string{"before", "after"} {
		checkMessage(t, d.event(c, "messages"), "before", "still here")
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

func TestTLSFlagsRefusedAtStart(t *testing.T) {
	t.Parallel()
	setup := newTLSSetup(t, 1)
	_, otherKey := setup.ca.WriteFiles(t, setup.dir, "other", 2, "127.0.0.1")
	db := filepath.Join(t.TempDir(), "chat.db")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a certificate without its key", []string{"--tls-cert", setup.certFile}, "--tls-cert needs --tls-key"},
		{"the key of another certificate", []string{"--tls-cert", setup.certFile, "--tls-key", otherKey},
			"cannot serve TLS with --tls-cert and --tls-key: the private key in " + otherKey + " does not belong to the certificate in " + setup.certFile},
		{"a certificate file that is not there", []string{"--tls-cert", filepath.Join(setup.dir, "nope.pem"), "--tls-key", setup.keyFile},
			"cannot read the certificate file " + filepath.Join(setup.dir, "nope.pem") + ": no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plainFailure(t, runCLI(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, tc.args...)...), tc.want)
		})
	}
}
