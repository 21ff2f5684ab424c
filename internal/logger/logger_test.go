package logger

import (
	"fmt"
	"testing"
)

func TestNewSendsEachLineThroughLogf(t *testing.T) {
	var got []string
	l := New(func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }, "admin: ")
	l.Printf("http: TLS handshake error from %s", "10.0.0.1:4242")
	l.Print("100% done\n")
	want := []string{"admin: http: TLS handshake error from 10.0.0.1:4242", "admin: 100% done"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logged %q, want %q", got, want)
	}
}
