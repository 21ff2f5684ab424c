package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"chatserver/internal/siotest"
)

// Sizes of the memory attacks. Each attacker sends messages just under
// the default --max-payload, so every one of them is accepted by the
// transport; together they would make a server that keeps them hold
// close to a gigabyte.
const (
	// memAttackers is the number of attacking connections.
	memAttackers = 100
	// attackMessage is the size of one attachment or auth object.
	attackMessage = 990_000
	// sentAttachments are sent of the ten announced: the event never
	// completes.
	sentAttachments = 9
	// maxRSSGrowth is a generous bound on what the attacks may add to the
	// server's resident memory: a server that keeps what the attackers
	// send needs over four times as much.
	maxRSSGrowth = 200 << 20
)

// TestIncompleteBinaryEventsDoNotPinMemory: a client that announces an
// event with ten binary attachments and sends nine (the chat uses no
// binary) is disconnected at the announcement, so a hundred such clients
// do not make the server buffer what they send, and the room keeps
// working for everybody else.
func TestIncompleteBinaryEventsDoNotPinMemory(t *testing.T) {
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	alice := joinWS(t, srv.url, "alice")
	before := procMemory(t, srv, "VmRSS")

	announce := binaryEvent("messages", 10)
	attachment := bytes.Repeat([]byte{0xAB}, attackMessage)
	attackers := make([]*siotest.Client, memAttackers)
	for i := range attackers {
		attackers[i] = connectWS(t, srv.url, wire)
	}
	var wg sync.WaitGroup
	for _, c := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SendText(announce)
			for range sentAttachments {
				c.SendBinary(attachment)
			}
		}()
	}
	wg.Wait()
	// Every attachment has been written: a server that keeps them holds
	// them all now. A text message ends the attack (a server still
	// waiting for the tenth attachment must refuse it).
	for _, c := range attackers {
		c.SendText(`42["messages","done"]`)
	}
	for _, c := range attackers {
		c.WaitClosed()
	}
	peak := procMemory(t, srv, "VmHWM")
	after := procMemory(t, srv, "VmRSS")
	t.Logf("server resident memory: %d MB before, peak %d MB, %d MB once the attackers are gone",
		before>>20, peak>>20, after>>20)
	if growth := peak - before; growth > maxRSSGrowth {
		t.Errorf("%d incomplete binary events of %d × %d bytes grew the server by %d MB, want under %d MB",
			memAttackers, sentAttachments, attackMessage, growth>>20, maxRSSGrowth>>20)
	}

	say(t, alice, "still here")
	alice.WaitEvent("her own message", messageLine("alice", "still here"))
}

// TestBinaryEventIsRefusedAtItsAnnouncement: a binary event or ack on the
// chat namespace closes the connection as soon as its first packet
// arrives, before any attachment; other clients stay.
func TestBinaryEventIsRefusedAtItsAnnouncement(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	alice := joinWS(t, srv.url, "alice")
	for _, packet := range []string{
		binaryEvent("messages", 1),             // binary event
		`461-0[{"_placeholder":true,"num":0}]`, // binary ack
	} {
		c := connectWS(t, srv.url, wire)
		c.SendText(packet)
		// No attachment follows: only the announcement can close it.
		c.WaitClosed()
	}
	say(t, alice, "still here")
	alice.WaitEvent("her own message", messageLine("alice", "still here"))
}

// TestLargeConnectAuthIsRefused: a CONNECT whose auth object is larger
// than the chat needs is answered with CONNECT_ERROR, and a hundred of
// them leave nothing behind; the connection may connect again with a
// small one.
func TestLargeConnectAuthIsRefused(t *testing.T) {
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	before := procMemory(t, srv, "VmRSS")
	connect := `40{"token":"` + strings.Repeat("a", attackMessage) + `"}`

	conns := make([]*siotest.Client, memAttackers)
	for i := range conns {
		conns[i] = siotest.Dial(t, srv.url, wire)
	}
	for _, c := range conns {
		c.SendText(connect)
	}
	for i, c := range conns {
		if reply := c.NextText(); !strings.HasPrefix(reply, `44{"message":`) {
			t.Fatalf("attacker %d: CONNECT with a %d-byte auth answered %.60q, want CONNECT_ERROR 44{\"message\":...}",
				i, attackMessage, reply)
		}
	}
	peak := procMemory(t, srv, "VmHWM")
	t.Logf("server resident memory: %d MB before, peak %d MB", before>>20, peak>>20)
	if growth := peak - before; growth > maxRSSGrowth {
		t.Errorf("%d CONNECTs with %d-byte auth grew the server by %d MB, want under %d MB",
			memAttackers, attackMessage, growth>>20, maxRSSGrowth>>20)
	}

	// The refusal changed nothing: the same connection connects with a
	// small auth object.
	conns[0].SendText(`40{"token":"small"}`)
	if reply := conns[0].NextText(); !strings.HasPrefix(reply, `40{"sid":`) {
		t.Errorf("CONNECT with a small auth after a refused one answered %.60q, want 40{\"sid\":...}", reply)
	}
}

// binaryEvent is the first packet of a binary event named name with n
// attachments, each a placeholder argument.
func binaryEvent(name string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `45%d-["%s"`, n, name)
	for i := range n {
		fmt.Fprintf(&b, `,{"_placeholder":true,"num":%d}`, i)
	}
	b.WriteString("]")
	return b.String()
}

// procMemory returns a memory figure of the server process from
// /proc/PID/status, in bytes: "VmRSS" (resident now) or "VmHWM" (the
// resident peak). It skips the test where there is no /proc.
func procMemory(t testing.TB, s *server, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if os.IsNotExist(err) {
		t.Skip("skipping: no /proc to read the server's memory from")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc status line %q: %v", sc.Text(), err)
		}
		return kb << 10
	}
	t.Fatalf("no %s in /proc/%d/status", field, s.cmd.Process.Pid)
	return 0
}
