package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// readTimeout bounds the wait for a datagram the test has just sent.
const readTimeout = 5 * time.Second

// fakeManager listens where a service manager would, at addr, and closes
// the socket at the end of the test.
func fakeManager(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// shortDir is a temporary directory whose path leaves room for a socket
// name (a Unix socket path holds at most 107 bytes).
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdnotify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// receive returns the next datagram on conn.
func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(readTimeout)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification within %s: %v", readTimeout, err)
	}
	return string(buf[:n])
}

func TestNotifySendsOneDatagramOfLines(t *testing.T) {
	tests := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"a socket file", func(t *testing.T) string { return filepath.Join(shortDir(t), "notify") }},
		{"an abstract socket", func(t *testing.T) string {
			if runtime.GOOS != "linux" {
				t.Skip("abstract Unix sockets are Linux's")
			}
			return fmt.Sprintf("@chatserver-sdnotify-test-%d", os.Getpid())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr(t)
			manager := fakeManager(t, addr)
			t.Setenv(Env, addr)

			sent, err := Notify(Ready, Status("listening on\nhttp://localhost:8080"))
			if err != nil || !sent {
				t.Fatalf("Notify = %v, %v; want true, nil", sent, err)
			}
			if got, want := receive(t, manager), "READY=1\nSTATUS=listening on http://localhost:8080\n"; got != want {
				t.Errorf("the manager received %q, want %q", got, want)
			}
			if sent, err := Notify(Stopping); err != nil || !sent {
				t.Fatalf("Notify(Stopping) = %v, %v; want true, nil", sent, err)
			}
			if got, want := receive(t, manager), "STOPPING=1\n"; got != want {
				t.Errorf("the manager received %q, want %q", got, want)
			}
		})
	}
}

func TestNotifyWithoutAManager(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		wantSent bool
		wantErr  bool
		is       error
	}{
		{name: "unset: nothing to do", value: ""},
		{name: "a relative name is no address", value: "notify.sock", wantErr: true, is: ErrUnsupported},
		{name: "vsock is not supported", value: "vsock:2:1234", wantErr: true, is: ErrUnsupported},
		{name: "nobody listens", value: "/nonexistent/notify.sock", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(Env, tt.value)
			sent, err := Notify(Ready)
			if sent != tt.wantSent || (err != nil) != tt.wantErr {
				t.Fatalf("Notify with %s=%q = %v, %v; want sent %v, error %v", Env, tt.value, sent, err, tt.wantSent, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want one wrapping %v", err, tt.is)
			}
		})
	}
}

func TestExtendTimeoutIsInMicroseconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90*time.Second + 500*time.Microsecond: "EXTEND_TIMEOUT_USEC=90000500",
		time.Minute:                           "EXTEND_TIMEOUT_USEC=60000000",
	} {
		if got := ExtendTimeout(d); got != want {
			t.Errorf("ExtendTimeout(%s) = %q, want %q", d, got, want)
		}
	}
}
