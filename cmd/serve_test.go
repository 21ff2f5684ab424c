package cmd

import (
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"chatserver/chat"
	"chatserver/storage"
	"chatserver/web/socketio/engineio"
)

// parseServe parses args (and the environment) as serve does, validates,
// and returns the options.
func parseServe(t testing.TB, args ...string) *serveOptions {
	t.Helper()
	var o serveOptions
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	return &o
}

func TestServeLimitsReachTheRoomAndTheTransport(t *testing.T) {
	t.Setenv("CHATSERVER_BURST", "7")
	t.Setenv("CHATSERVER_MAX_CONNECTIONS_PER_IP", "3")
	o := parseServe(t, "--max-message", "500", "--rate", "2.5", "--flood-limit", "4",
		"--send-queue", "1100", "--max-payload", "65536", "--ping-interval", "2s", "--ping-timeout", "1s",
		"--max-connections", "100", "--trusted-proxies", "127.0.0.1,10.0.0.0/8",
		"--read-header-timeout", "750ms", "--burst", "8", "--flush-interval", "30ms")

	room := o.room
	wantRoom := chat.Config{History: storage.DefaultHistory, MaxMessageLen: 500, Rate: 2.5, Burst: 8, FloodLimit: 4}
	if room.History != wantRoom.History || room.MaxMessageLen != wantRoom.MaxMessageLen || room.Rate != wantRoom.Rate ||
		room.Burst != wantRoom.Burst || room.FloodLimit != wantRoom.FloodLimit {
		t.Errorf("room config %+v, want %+v (the flag --burst wins over CHATSERVER_BURST)", room, wantRoom)
	}

	w, e := o.web, o.web.SocketIO.Engine
	wantEngine := engineio.Config{
		PingInterval: 2 * time.Second, PingTimeout: time.Second, MaxPayload: 65536, SendQueue: 1100,
		MaxSessions: 100, MaxSessionsPerIP: 3, FlushInterval: 30 * time.Millisecond,
	}
	if e.PingInterval != wantEngine.PingInterval || e.PingTimeout != wantEngine.PingTimeout || e.MaxPayload != wantEngine.MaxPayload ||
		e.SendQueue != wantEngine.SendQueue || e.MaxSessions != wantEngine.MaxSessions ||
		e.MaxSessionsPerIP != wantEngine.MaxSessionsPerIP || e.FlushInterval != wantEngine.FlushInterval {
		t.Errorf("engine config %+v, want %+v (CHATSERVER_MAX_CONNECTIONS_PER_IP applies)", e, wantEngine)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	if w.ReadHeaderTimeout != 750*time.Millisecond || !slices.Equal(w.TrustedProxies, wantProxies) {
		t.Errorf("web config: read header timeout %s, trusted proxies %v; want 750ms, %v", w.ReadHeaderTimeout, w.TrustedProxies, wantProxies)
	}
}

func TestServeDefaultsAreValid(t *testing.T) {
	o := parseServe(t)
	e := o.web.SocketIO.Engine
	if o.room.MaxMessageLen != chat.DefaultMaxMessageLen || o.room.Rate != chat.DefaultRate || o.room.Burst != chat.DefaultBurst ||
		o.room.AddressFactor != chat.DefaultAddressFactor || o.room.PaceBacklog != chat.DefaultPaceBacklog ||
		e.MaxSessionsPerIP != defaultMaxConnectionsPerIP || e.MaxSessions != defaultMaxConnections || len(o.web.TrustedProxies) != 0 {
		t.Errorf("defaults %+v", o)
	}
}

// TestPaceBacklogZeroTurnsPacingOff: --pace-backlog 0 is the room's
// NoPacing (0 in chat.Config would mean its default).
func TestPaceBacklogZeroTurnsPacingOff(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want int
	}{
		{"0", chat.NoPacing},
		{"1", 1},
		{"200", 200},
	} {
		if got := parseServe(t, "--pace-backlog", tc.arg).room.PaceBacklog; got != tc.want {
			t.Errorf("--pace-backlog %s: room PaceBacklog %d, want %d", tc.arg, got, tc.want)
		}
	}
}

// TestEveryServeFlagIsDocumented keeps the flags, their environment
// variables and the README's configuration table in step.
func TestEveryServeFlagIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	serveFlags().VisitAll(func(f *pflag.Flag) {
		env := envName(f.Name)
		if f.Annotations[envAnnotation] == nil {
			t.Errorf("--%s has no environment variable", f.Name)
		}
		if !strings.Contains(f.Usage, "(env "+env+")") {
			t.Errorf("--%s usage %q does not name %s", f.Name, f.Usage, env)
		}
		row := regexp.MustCompile("(?m)^\\| `--" + regexp.QuoteMeta(f.Name) + "` \\| `" + env + "` \\|")
		if !row.Match(readme) {
			t.Errorf("README.md has no configuration row for --%s / %s", f.Name, env)
		}
	})
}

func TestServeSendQueueIsSizedForTheConnectionCap(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"defaults", nil, 4096},
		{"a cap above what 4096 holds", []string{"--max-connections", "5000"}, 10 + 5000 + 64},
		{"a long history and a large cap", []string{"--history", "1000", "--max-connections", "4000"}, 1000 + 4000 + 64},
		{"no cap", []string{"--max-connections", "0"}, 4096},
		{"given explicitly", []string{"--max-connections", "100", "--send-queue", "1100"}, 1100},
		{"given explicitly, without recovery", []string{"--max-connections", "100", "--send-queue", "500", "--recovery-window", "0"}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := parseServe(t, tt.args...)
			if got := o.web.SocketIO.Engine.SendQueue; got != tt.want {
				t.Errorf("send queue %d, want %d", got, tt.want)
			}
		})
	}
}
