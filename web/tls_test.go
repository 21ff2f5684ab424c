package web

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/internal/testcert"
	"chatserver/internal/throttle"
	"chatserver/storage/bolt"
	"chatserver/web/tlscert"
)

// tlsTimeout bounds each network wait of the TLS tests.
const tlsTimeout = 10 * time.Second

// tlsServer serves the whole HTTP front over TLS with cfg on a port of
// 127.0.0.1 and returns the server and its https:// base URL; it is shut
// down at cleanup.
func tlsServer(t *testing.T, cfg *tls.Config, logger *slog.Logger) (*Server, string) {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "chat.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	room, err := chat.NewHub(context.Background(), store, chat.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(room, Config{Logger: logger, TLS: cfg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), tlsTimeout)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		room.Close()
		store.Close()
	})
	return srv, "https://" + ln.Addr().String()
}

func TestServeTLS(t *testing.T) {
	ca := testcert.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, t.TempDir(), "server", 41, "localhost", "127.0.0.1")
	pair, err := tlscert.Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	logger, _ := logtest.New(t)
	_, base := tlsServer(t, pair.Config(), logger)
	host := strings.TrimPrefix(base, "https://")
	client := &http.Client{
		Timeout:   tlsTimeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true},
	}
	t.Cleanup(client.CloseIdleConnections)

	t.Run("the certificate is served, HTTP/1.1 only", func(t *testing.T) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: tlsTimeout}, "tcp", host,
			&tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("TLS handshake trusting the CA: %v", err)
		}
		defer conn.Close()
		st := conn.ConnectionState()
		if serial := st.PeerCertificates[0].SerialNumber.Int64(); serial != 41 {
			t.Errorf("served certificate serial %d, want 41", serial)
		}
		if st.NegotiatedProtocol != "http/1.1" {
			t.Errorf("negotiated %q, want http/1.1", st.NegotiatedProtocol)
		}
	})

	t.Run("HTTPS routes", func(t *testing.T) {
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "ok\n" || resp.Proto != "HTTP/1.1" {
			t.Errorf("GET /healthz over TLS: %s %s %q", resp.Proto, resp.Status, body)
		}
	})

	t.Run("the page's origin is https", func(t *testing.T) {
		for _, tc := range []struct {
			origin string
			status int
		}{
			{base, http.StatusOK},
			{"http://" + host, http.StatusForbidden},
		} {
			req, err := http.NewRequest(http.MethodGet, base+"/socket.io/?EIO=4&transport=polling", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", tc.origin)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("polling handshake from origin %s: %s, want %d", tc.origin, resp.Status, tc.status)
			}
		}
	})

	t.Run("a client that does not trust the certificate", func(t *testing.T) {
		_, err := tls.DialWithDialer(&net.Dialer{Timeout: tlsTimeout}, "tcp", host, &tls.Config{})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("handshake without the CA: %v, want a certificate error", err)
		}
	})
}

func TestTLSHandshakeErrorsAreThrottled(t *testing.T) {
	ca := testcert.NewCA(t)
	certPEM, keyPEM := ca.Issue(t, 1, "127.0.0.1")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := logtest.New(t)
	srv, base := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{cert}}, logger)
	host := strings.TrimPrefix(base, "https://")

	const attempts = 5
	for range attempts {
		conn, err := net.DialTimeout("tcp", host, tlsTimeout)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(tlsTimeout))
		io.WriteString(conn, "hello, this is not TLS\r\n\r\n")
		// The server logs the failure, then closes the connection.
		if _, err := io.Copy(io.Discard, conn); err != nil {
			t.Fatalf("waiting for the server to close: %v", err)
		}
		conn.Close()
	}
	var errs []logtest.Record
	for _, r := range logs.Matching("http server error") {
		if strings.Contains(r.Attrs["err"], "TLS handshake error from 127.0.0.1:") {
			errs = append(errs, r)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("logged %v, want the first handshake error only", errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), tlsTimeout)
	defer cancel()
	srv.Shutdown(ctx)
	if sums := logs.Matching(throttle.SummaryMsg, "key", "127.0.0.1", "count", fmt.Sprint(attempts-1)); len(sums) != 1 {
		t.Errorf("log %s, want one summary of %d held-back handshake errors", logs, attempts-1)
	}
}
