package redistest

import (
	"bufio"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"chatserver/internal/testcert"
)

func TestStartRunsAServerWithoutPersistence(t *testing.T) {
	s := Start(t, Options{})
	if reply, err := s.Do("PING"); err != nil || reply != "PONG" {
		t.Fatalf("PING = %v, %v; want PONG", reply, err)
	}
	for _, tt := range []struct{ param, want string }{
		{"save", ""},
		{"appendonly", "no"},
		{"bind", "127.0.0.1"},
		{"port", strconv.Itoa(s.Port)},
	} {
		reply, err := s.Do("CONFIG", "GET", tt.param)
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v", tt.param, err)
		}
		pair, ok := reply.([]any)
		if !ok || len(pair) != 2 || pair[1] != tt.want {
			t.Errorf("CONFIG GET %s = %#v, want %q", tt.param, reply, tt.want)
		}
	}
	if want := "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	if !strings.Contains(s.Output(), readyLine) {
		t.Errorf("the server's log lacks %q:\n%s", readyLine, s.Output())
	}

	s.Stop()
	if _, err := s.Do("PING"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("PING after Stop = %v, want connection refused", err)
	}
	s.Stop() // again: nothing to do
}

func TestRestartKeepsThePortAndLosesTheData(t *testing.T) {
	s := Start(t, Options{})
	port := s.Port
	if _, err := s.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if s.Port != port {
		t.Errorf("port %d after Restart, want %d", s.Port, port)
	}
	if reply, err := s.Do("GET", "k"); err != nil || reply != nil {
		t.Errorf("GET k after Restart = %#v, %v; want nil: nothing persists", reply, err)
	}
}

func TestAPersistentServerKeepsItsDataAcrossARestart(t *testing.T) {
	s := Start(t, Options{Persist: true})
	reply, err := s.Do("CONFIG", "GET", "appendonly")
	if pair, ok := reply.([]any); err != nil || !ok || len(pair) != 2 || pair[1] != "yes" {
		t.Fatalf("CONFIG GET appendonly = %#v, %v; want yes", reply, err)
	}
	if _, err := s.Do("RPUSH", "k", "a", "b"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if _, err := s.Do("PING"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("PING while stopped = %v, want connection refused", err)
	}
	s.StartAgain()
	reply, err = s.Do("LRANGE", "k", "0", "-1")
	if list, ok := reply.([]any); err != nil || !ok || len(list) != 2 || list[0] != "a" || list[1] != "b" {
		t.Errorf("LRANGE k after StartAgain = %#v, %v; want [a b]", reply, err)
	}
	if _, err := s.Do("SET", "more", "1"); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if reply, err := s.Do("GET", "more"); err != nil || reply != "1" {
		t.Errorf("GET more after Restart = %#v, %v; want 1", reply, err)
	}
	s.StartAgain() // running: nothing to do
	if reply, err := s.Do("GET", "more"); err != nil || reply != "1" {
		t.Errorf("GET more after StartAgain on a running server = %#v, %v; want 1", reply, err)
	}
}

func TestKillPubSubClosesOnlySubscribers(t *testing.T) {
	s := Start(t, Options{})
	sub, subR := rawConn(t, s)
	if reply, err := roundTrip(sub, subR, "SUBSCRIBE", "news"); err != nil || len(reply.([]any)) != 3 {
		t.Fatalf("SUBSCRIBE = %#v, %v", reply, err)
	}
	other, otherR := rawConn(t, s)
	if _, err := roundTrip(other, otherR, "PING"); err != nil {
		t.Fatal(err)
	}

	if n := s.KillPubSub(); n != 1 {
		t.Errorf("KillPubSub() = %d, want 1", n)
	}
	if reply, err := readReply(subR); err == nil {
		t.Errorf("the subscriber read %#v after the kill, want its connection closed", reply)
	}
	if reply, err := roundTrip(other, otherR, "PING"); err != nil || reply != "PONG" {
		t.Errorf("a connection not subscribed: PING = %v, %v; want it open", reply, err)
	}
	if n := s.KillPubSub(); n != 0 {
		t.Errorf("KillPubSub() again = %d, want 0", n)
	}
}

func TestPasswordIsRequired(t *testing.T) {
	s := Start(t, Options{Password: "s3cret pass"})
	if reply, err := s.Do("PING"); err != nil || reply != "PONG" {
		t.Fatalf("PING with the password = %v, %v", reply, err)
	}
	conn, r := rawConn(t, s)
	_, err := roundTrip(conn, r, "PING")
	var re ReplyError
	if !errors.As(err, &re) || !strings.HasPrefix(string(re), "NOAUTH") {
		t.Errorf("PING without the password = %v, want NOAUTH", err)
	}
	if want := "redis://:s3cret%20pass@127.0.0.1:" + strconv.Itoa(s.Port) + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
}

func TestTLS(t *testing.T) {
	ca := testcert.NewCA(t)
	dir := t.TempDir()
	cert, key := ca.WriteFiles(t, dir, "redis", 2, "127.0.0.1")
	caFile := filepath.Join(dir, "ca.pem")
	testcert.Write(t, caFile, ca.PEM)
	s := Start(t, Options{TLS: &TLSFiles{CertFile: cert, KeyFile: key, CAFile: caFile}})
	if reply, err := s.Do("PING"); err != nil || reply != "PONG" {
		t.Fatalf("PING over TLS = %v, %v", reply, err)
	}
	if !strings.HasPrefix(s.URL(), "rediss://127.0.0.1:") {
		t.Errorf("URL() = %q, want rediss://", s.URL())
	}
	conn, r := rawConn(t, s)
	if reply, err := roundTrip(conn, r, "PING"); err == nil {
		t.Errorf("PING in plain text to the TLS port = %v, want a failure", reply)
	}
}

// rawConn opens a plain connection to s, closed when t ends.
func rawConn(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

func TestMissingNamesThePackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if got := Missing(); !strings.Contains(got, "redis-server is not installed") || !strings.Contains(got, "Debian's redis-server package") {
		t.Errorf("Missing() = %q, want it to say what to install", got)
	}
}
