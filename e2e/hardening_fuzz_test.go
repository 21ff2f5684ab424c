package e2e

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"chatserver/internal/siotest"
)

// Bounds of the chat-level fuzz test: it stops after fuzzEvents events or
// fuzzBudget, whichever comes first.
const (
	fuzzEvents = 4000
	fuzzBudget = 8 * time.Second
	// fuzzPayloadCap is the server's --max-payload: the fuzzer's huge
	// strings sometimes exceed it, which must close only that connection.
	fuzzPayloadCap = 200_000
)

// foreignAckID is the smallest ack id of the raw packets the fuzzer
// writes itself; the client's own ids (counted from 0) never reach it, so
// the answers to those packets are told apart (and ignored).
const foreignAckID = 1_000_000

// knownCodes are the error codes a refused chat request may carry.
var knownCodes = map[string]bool{
	"invalid_name": true, "name_taken": true, "banned": true, "not_joined": true, "invalid_message": true,
	"rate_limited": true, "store_failed": true, "unavailable": true, "internal": true,
}

// fuzzer makes random events and arguments from a seeded source.
type fuzzer struct{ rng *rand.Rand }

// eventName is mostly a chat event, sometimes a server-only or unknown
// one, rarely a reserved one (which closes the connection).
func (f *fuzzer) eventName() string {
	switch n := f.rng.IntN(100); {
	case n < 35:
		return "messages"
	case n < 60:
		return "join"
	case n < 75:
		return []string{"add chatter", "remove chatter", "kicked", "chat error", "messages "}[f.rng.IntN(5)]
	case n < 99:
		return f.text(12)
	default:
		return []string{"connect", "disconnect", "disconnecting", "newListener", "removeListener", "connect_error"}[f.rng.IntN(6)]
	}
}

// text returns a random string of up to n runes drawn from troublesome
// alphabets: ASCII, controls, bidi and zero-width characters, emoji,
// quotes and backslashes, and noncharacters.
func (f *fuzzer) text(n int) string {
	alphabets := []string{
		"abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789",
		"\x00\x01\x07\x08\t\n\r\x1b\x7f",
		"\u200b\u200e\u200f\u202a\u202e\u2066\u2069\ufeff\u061c",
		"😀👍🏽🇫🇷€éß漢字",
		`"\/'<>&{}[],:`,
		"\ufffd\ufffe\uffff\U0010ffff",
	}
	var b strings.Builder
	for range f.rng.IntN(n + 1) {
		a := []rune(alphabets[f.rng.IntN(len(alphabets))])
		b.WriteRune(a[f.rng.IntN(len(a))])
	}
	return b.String()
}

// value returns a random JSON value, nested up to depth.
func (f *fuzzer) value(depth int) any {
	switch n := f.rng.IntN(12); {
	case n < 4:
		return f.text(40)
	case n == 4:
		// Huge: near or over the limits (2000 characters, the payload cap).
		return strings.Repeat(f.text(3)+"x", []int{1999, 2000, 2001, 50_000, fuzzPayloadCap}[f.rng.IntN(5)])
	case n == 5:
		return []any{0, -1, 42, 1 << 53, -1e308, 3.14, 1e-7}[f.rng.IntN(7)]
	case n == 6:
		return f.rng.IntN(2) == 0
	case n == 7:
		return nil
	case n == 8 && depth > 0:
		obj := map[string]any{}
		for range f.rng.IntN(4) {
			obj[[]string{"token", "name", "text", "_placeholder", "num", f.text(5)}[f.rng.IntN(6)]] = f.value(depth - 1)
		}
		return obj
	case n == 9 && depth > 0:
		arr := make([]any, f.rng.IntN(4))
		for i := range arr {
			arr[i] = f.value(depth - 1)
		}
		return arr
	default:
		return f.text(8)
	}
}

// send sends one random event on c; with an ack, it returns the ack
// channel and whether the event is one the server answers (join or
// messages: unknown events are ignored, acks and all).
func (f *fuzzer) send(c *siotest.Client) (<-chan siotest.Args, bool) {
	name := f.eventName()
	args := make([]any, f.rng.IntN(4))
	for i := range args {
		args[i] = f.value(2)
	}
	switch f.rng.IntN(11) {
	case 10:
		// Escapes Go strings cannot hold: unpaired UTF-16 surrogates.
		c.SendText(`42` + strconv.Itoa(foreignAckID+f.rng.IntN(1000)) + `["messages","\ud800x\udfff"]`)
		return nil, false
	case 0:
		// A binary attachment in place of an argument.
		payload, _ := json.Marshal(append([]any{name}, append(args, map[string]any{"_placeholder": true, "num": 0})...))
		c.SendText("451-" + strconv.Itoa(foreignAckID+f.rng.IntN(1000)) + string(payload))
		bin := make([]byte, f.rng.IntN(64))
		for i := range bin {
			bin[i] = byte(f.rng.IntN(256))
		}
		c.SendBinary(bin)
		return nil, false
	case 1, 2, 3:
		c.Emit(name, args...)
		return nil, false
	default:
		return c.EmitWithAck(name, args...), name == "join" || name == "messages"
	}
}

// TestChatSurvivesRandomEvents sends random event names and argument
// shapes (strings of every kind, numbers, objects, arrays, nulls, huge
// strings, binary) over real connections for a bounded time. Every ack is
// a success or a known error code; afterwards the server still answers a
// normal client, stops cleanly, and its file opens.
func TestChatSurvivesRandomEvents(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db, "--rate", "100000", "--burst", "100000", "--max-payload", strconv.Itoa(fuzzPayloadCap))
	seed := time.Now().UnixNano()
	t.Logf("random seed %d", seed)
	f := &fuzzer{rng: rand.New(rand.NewPCG(uint64(seed), 1))}

	// check checks one ack: a success or a known error code.
	check := func(args []json.RawMessage) {
		t.Helper()
		var reply map[string]any
		if len(args) != 1 || json.Unmarshal(args[0], &reply) != nil {
			t.Fatalf("ack %s is not one object", args)
		}
		code, _ := reply["error"].(string)
		if reply["ok"] != true && !knownCodes[code] {
			t.Fatalf("ack %v is neither ok nor a known error", reply)
		}
	}
	var unanswered []<-chan siotest.Args
	connections, events, replies := 0, 0, 0
	var c *siotest.Client
	start := time.Now()
	for ; events < fuzzEvents && time.Since(start) < fuzzBudget; events++ {
		if c == nil || !c.IsOpen() {
			if c != nil {
				c.Close()
			}
			c = connectWS(t, srv.url, wire)
			connections++
		}
		ch, answered := f.send(c)
		switch {
		case ch == nil:
		case answered:
			// Wait, so that the next event meets the state this one left.
			select {
			case args, ok := <-ch:
				if ok {
					replies++
					check(args)
				}
			case <-time.After(eventTimeout):
				t.Fatalf("event %d: no ack within %s", events, eventTimeout)
			}
		default:
			unanswered = append(unanswered, ch)
		}
	}
	if c != nil {
		c.Close()
	}
	for _, ch := range unanswered {
		// Every connection is closed by now, so each channel has its ack
		// or was closed without one.
		if args, ok := <-ch; ok {
			t.Fatalf("an unknown event was answered: %s", args)
		}
	}
	t.Logf("%d events on %d connections in %s, %d acks checked", events, connections, time.Since(start).Round(time.Millisecond), replies)

	a, b := joinWS(t, srv.url, "checker-a"), joinWS(t, srv.url, "checker-b")
	say(t, a, "still answering")
	b.WaitEvent("the checker's message", messageLine("checker-a", "still answering"))
	if out := srv.stderr.String(); strings.Contains(out, "panic") {
		t.Errorf("the server log shows a panic:\n%s", out)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if msgs := historyJSON(t, db); len(msgs) == 0 || msgs[len(msgs)-1].Text != "still answering" {
		t.Fatalf("history after the fuzz: %v", msgs)
	}
}
