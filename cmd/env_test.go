package cmd

import (
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"chatserver/internal/testcert"
)

// TestEveryServeFlagTakesItsEnvironmentVariable sets each variable alone
// and checks that its value reaches the configuration. The names are
// written out: they are what users put in their service files, so they
// must not change.
func TestEveryServeFlagTakesItsEnvironmentVariable(t *testing.T) {
	ca := testcert.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, t.TempDir(), "server", 1, "localhost")
	// companions are set with the variable of a flag that needs another.
	companions := map[string][2]string{
		"CHATSERVER_TLS_CERT": {"CHATSERVER_TLS_KEY", keyFile},
		"CHATSERVER_TLS_KEY":  {"CHATSERVER_TLS_CERT", certFile},
	}
	tests := []struct {
		flag, env, value string
		got              func(o *serveOptions) any
		want             any
	}{
		{"addr", "CHATSERVER_ADDR", "127.0.0.1:9000", func(o *serveOptions) any { return o.addr }, "127.0.0.1:9000"},
		{"db", "CHATSERVER_DB", "/srv/chat.db", func(o *serveOptions) any { return o.db }, "/srv/chat.db"},
		{"metrics-addr", "CHATSERVER_METRICS_ADDR", "127.0.0.1:9100", func(o *serveOptions) any { return o.metricsAddr }, "127.0.0.1:9100"},
		{"history", "CHATSERVER_HISTORY", "50", func(o *serveOptions) any { return o.room.History }, 50},
		{"allowed-origins", "CHATSERVER_ALLOWED_ORIGINS", "https://a.example,https://b.example",
			func(o *serveOptions) any { return o.web.SocketIO.Engine.AllowedOrigins }, []string{"https://a.example", "https://b.example"}},
		{"max-message", "CHATSERVER_MAX_MESSAGE", "500", func(o *serveOptions) any { return o.room.MaxMessageLen }, 500},
		{"rate", "CHATSERVER_RATE", "2.5", func(o *serveOptions) any { return o.room.Rate }, 2.5},
		{"burst", "CHATSERVER_BURST", "7", func(o *serveOptions) any { return o.room.Burst }, 7},
		{"flood-limit", "CHATSERVER_FLOOD_LIMIT", "4", func(o *serveOptions) any { return o.room.FloodLimit }, 4},
		{"presence-grace", "CHATSERVER_PRESENCE_GRACE", "7s", func(o *serveOptions) any { return o.room.PresenceGrace }, 7 * time.Second},
		{"recovery-window", "CHATSERVER_RECOVERY_WINDOW", "3m", func(o *serveOptions) any { return o.room.RecoveryWindow }, 3 * time.Minute},
		{"pace-backlog", "CHATSERVER_PACE_BACKLOG", "20", func(o *serveOptions) any { return o.room.PaceBacklog }, 20},
		{"ip-rate-factor", "CHATSERVER_IP_RATE_FACTOR", "10", func(o *serveOptions) any { return o.room.AddressFactor }, 10},
		{"send-queue", "CHATSERVER_SEND_QUEUE", "9000", func(o *serveOptions) any { return o.web.SocketIO.Engine.SendQueue }, 9000},
		{"max-payload", "CHATSERVER_MAX_PAYLOAD", "65536", func(o *serveOptions) any { return o.web.SocketIO.Engine.MaxPayload }, 65536},
		{"ping-interval", "CHATSERVER_PING_INTERVAL", "2s",
			func(o *serveOptions) any { return o.web.SocketIO.Engine.PingInterval }, 2 * time.Second},
		{"ping-timeout", "CHATSERVER_PING_TIMEOUT", "1s", func(o *serveOptions) any { return o.web.SocketIO.Engine.PingTimeout }, time.Second},
		{"max-connections", "CHATSERVER_MAX_CONNECTIONS", "100", func(o *serveOptions) any { return o.web.SocketIO.Engine.MaxSessions }, 100},
		{"max-connections-per-ip", "CHATSERVER_MAX_CONNECTIONS_PER_IP", "3",
			func(o *serveOptions) any { return o.web.SocketIO.Engine.MaxSessionsPerIP }, 3},
		{"trusted-proxies", "CHATSERVER_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8",
			func(o *serveOptions) any { return o.web.TrustedProxies },
			[]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}},
		{"read-header-timeout", "CHATSERVER_READ_HEADER_TIMEOUT", "750ms",
			func(o *serveOptions) any { return o.web.ReadHeaderTimeout }, 750 * time.Millisecond},
		{"flush-interval", "CHATSERVER_FLUSH_INTERVAL", "30ms",
			func(o *serveOptions) any { return o.web.SocketIO.Engine.FlushInterval }, 30 * time.Millisecond},
		{"public-url", "CHATSERVER_PUBLIC_URL", "https://chat.example.org",
			func(o *serveOptions) any { return fmt.Sprint(o.web.PublicURL) }, "https://chat.example.org"},
		{"allowed-hosts", "CHATSERVER_ALLOWED_HOSTS", "chat.lan,pi.example",
			func(o *serveOptions) any { return o.web.AllowedHosts }, []string{"chat.lan", "pi.example"}},
		{"max-pending", "CHATSERVER_MAX_PENDING", "30", func(o *serveOptions) any { return o.web.SocketIO.Engine.MaxPending }, 30},
		{"max-pending-per-ip", "CHATSERVER_MAX_PENDING_PER_IP", "4",
			func(o *serveOptions) any { return o.web.SocketIO.Engine.MaxPendingPerIP }, 4},
		{"pending-timeout", "CHATSERVER_PENDING_TIMEOUT", "3s",
			func(o *serveOptions) any { return o.web.SocketIO.Engine.PendingTimeout }, 3 * time.Second},
		{"ipv6-prefix", "CHATSERVER_IPV6_PREFIX", "56", func(o *serveOptions) any { return o.web.IPv6Prefix }, 56},
		{"allow-eio3", "CHATSERVER_ALLOW_EIO3", "false", func(o *serveOptions) any { return o.web.SocketIO.Engine.AllowEIO3 }, false},
		{"log-format", "CHATSERVER_LOG_FORMAT", "json", func(o *serveOptions) any { return o.logFormat }, "json"},
		{"log-level", "CHATSERVER_LOG_LEVEL", "debug", func(o *serveOptions) any { return o.level }, slog.LevelDebug},
		{"log-messages", "CHATSERVER_LOG_MESSAGES", "true", func(o *serveOptions) any { return o.room.LogMessages }, true},
		{"tls-cert", "CHATSERVER_TLS_CERT", certFile, func(o *serveOptions) any { return o.tlsCert }, certFile},
		{"tls-key", "CHATSERVER_TLS_KEY", keyFile, func(o *serveOptions) any { return o.tlsKey }, keyFile},
		{"redis", "CHATSERVER_REDIS", "redis://:secret@10.0.0.5:6379/2", func(o *serveOptions) any { return o.redis.url }, "redis://:secret@10.0.0.5:6379/2"},
		{"redis-prefix", "CHATSERVER_REDIS_PREFIX", "chat2:", func(o *serveOptions) any { return o.redis.prefix }, "chat2:"},
		{"node", "CHATSERVER_NODE", "web-1", func(o *serveOptions) any { return o.node }, "web-1"},
	}
	var tested []string
	for _, tt := range tests {
		tested = append(tested, tt.flag)
		t.Run(tt.env, func(t *testing.T) {
			if def := tt.got(parseServe(t)); reflect.DeepEqual(def, tt.want) {
				t.Fatalf("--%s defaults to %v already: pick another value", tt.flag, def)
			}
			t.Setenv(tt.env, tt.value)
			if c, ok := companions[tt.env]; ok {
				t.Setenv(c[0], c[1])
			}
			if got := tt.got(parseServe(t)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s=%s gave --%s %v, want %v", tt.env, tt.value, tt.flag, got, tt.want)
			}
		})
	}
	if flags := flagNames(serveFlags()); !slices.Equal(flags, slices.Sorted(slices.Values(tested))) {
		t.Errorf("serve has the flags %q, the test covers %q", flags, tested)
	}
}

// TestOnlyTheStoreHasEnvironmentVariablesInHistoryAndKick: the variables
// are derived from the flag names, and a CHATSERVER_BAN, CHATSERVER_REASON
// or CHATSERVER_TOPIC left in the environment must not change what kick or
// room add does; only where the store is (--db, --redis, --redis-prefix)
// has one.
func TestOnlyTheStoreHasEnvironmentVariablesInHistoryAndKick(t *testing.T) {
	root := NewRootCommand()
	for _, name := range []string{"history", "kick", "room add", "room list", "room remove", "import"} {
		cmd, _, err := root.Find(strings.Fields(name))
		if err != nil {
			t.Fatal(err)
		}
		var withVar []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Annotations[envAnnotation] != nil {
				withVar = append(withVar, f.Name)
			}
		})
		if want := []string{"db", "redis", "redis-prefix"}; !slices.Equal(withVar, want) {
			t.Errorf("%s: flags with an environment variable %q, want %q", name, withVar, want)
		}
	}
}

// serveFlags returns the flags of serve, as serve defines them.
func serveFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	new(serveOptions).addFlags(fs)
	return fs
}

// flagNames returns the names of the flags of fs, sorted.
func flagNames(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	return names
}
