package web

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/internal/siotest"
)

// Environment of the client process started by the memory benchmarks (the
// test binary itself, running TestIdleClientsHelper).
const (
	envMemClientsURL = "CHATSERVER_MEM_CLIENTS_URL"
	envMemClientsN   = "CHATSERVER_MEM_CLIENTS_N"
	// envMemClientsRooms lists, comma-separated, the rooms each client
	// enters after the default room, one room per line the benchmark
	// writes to the process's stdin.
	envMemClientsRooms = "CHATSERVER_MEM_CLIENTS_ROOMS"
	// envMemHeapProfile names a file to write the server's heap profile
	// to once the clients have joined (read it with
	// `go tool pprof -sample_index=inuse_space`). BenchmarkIdleRoomsMemory
	// also writes FILE.base once the clients are in the default room only,
	// so that `go tool pprof -base FILE.base FILE` shows what the other
	// rooms added.
	envMemHeapProfile = "CHATSERVER_MEM_HEAPPROFILE"
)

// idleMemClients is how many joined idle clients the memory benchmarks
// hold: the figure docs/PERFORMANCE.md quotes is per connection at 1000.
const idleMemClients = 1000

// memRooms are the rooms BenchmarkIdleRoomsMemory has every connection
// enter after the default room.
var memRooms = []string{"second", "third"}

// BenchmarkIdleJoinedMemory measures what one joined idle WebSocket
// connection costs the server: idleMemClients real gorilla clients in a
// separate process (so that their own memory does not count) connect and
// join a real server, and once every join has been announced to everyone
// the server's heap in use, goroutine stacks and goroutines are compared
// with the same figures before the first client, after a forced GC.
func BenchmarkIdleJoinedMemory(b *testing.B) {
	exactHeapProfile(b)
	ts := newTestServer(b)
	for range b.N {
		before, goBefore := settledMemStats(), runtime.NumGoroutine()
		clients := startMemClients(b, ts.URL, idleMemClients, nil)
		clients.await("joined")
		after, goAfter := settledMemStats(), runtime.NumGoroutine()
		if path := os.Getenv(envMemHeapProfile); path != "" {
			writeHeapProfile(b, path)
		}
		clients.stop()

		n := float64(idleMemClients)
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/n, "heap-B/conn")
		b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/n, "stack-B/conn")
		b.ReportMetric(float64(goAfter-goBefore)/n, "goroutines/conn")
	}
}

// BenchmarkIdleRoomsMemory measures what one more room costs a connection
// that is in a room already: the namespace socket, the room's client and
// presence, and what the transport keeps for them. The idleMemClients
// clients of BenchmarkIdleJoinedMemory join the default room; then every
// one of them also enters and joins each of memRooms, under the same
// nickname, on the same connection, one room after the other. The heap
// and stacks after the default room are compared with those before the
// first client (per connection, as BenchmarkIdleJoinedMemory) and those
// after the last room with those after the default room (per extra room
// socket: the difference over clients × len(memRooms)).
func BenchmarkIdleRoomsMemory(b *testing.B) {
	exactHeapProfile(b)
	ts := newTestServerWith(b, nil, slog.New(slog.DiscardHandler), memRooms...)
	for range b.N {
		before := settledMemStats()
		clients := startMemClients(b, ts.URL, idleMemClients, memRooms)
		clients.await("joined")
		one, goOne := settledMemStats(), runtime.NumGoroutine()
		path := os.Getenv(envMemHeapProfile)
		if path != "" {
			writeHeapProfile(b, path+".base")
		}
		for _, room := range memRooms {
			clients.proceed()
			clients.await("joined " + room)
		}
		all, goAll := settledMemStats(), runtime.NumGoroutine()
		if path != "" {
			writeHeapProfile(b, path)
		}
		clients.stop()

		n := float64(idleMemClients)
		extra := n * float64(len(memRooms))
		b.ReportMetric(float64(int64(one.HeapInuse)-int64(before.HeapInuse))/n, "heap-B/conn")
		b.ReportMetric(float64(int64(all.HeapInuse)-int64(one.HeapInuse))/extra, "heap-B/room-socket")
		b.ReportMetric(float64(int64(all.StackInuse)-int64(one.StackInuse))/extra, "stack-B/room-socket")
		b.ReportMetric(float64(goAll-goOne)/extra, "goroutines/room-socket")
	}
}

// exactHeapProfile has every allocation recorded while the benchmark runs,
// when a heap profile is asked for, so that the profile's small
// per-connection objects are exact rather than sampled.
func exactHeapProfile(b *testing.B) {
	if os.Getenv(envMemHeapProfile) == "" {
		return
	}
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	b.Cleanup(func() { runtime.MemProfileRate = old })
}

// memClients is the client process of a memory benchmark.
type memClients struct {
	b     *testing.B
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // what the process prints, closed when it ends
}

// startMemClients starts the client process: n clients of the server at
// url join the default room, then enter rooms one at a time, each when
// proceed is called.
func startMemClients(b *testing.B, url string, n int, rooms []string) *memClients {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), envMemClientsURL+"="+url, envMemClientsN+"="+strconv.Itoa(n),
		envMemClientsRooms+"="+strings.Join(rooms, ","))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	m := &memClients{b: b, cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() { // ends with the process's output
		defer close(m.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			m.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	return m
}

// await waits for the process to print want, killing it and failing the
// benchmark when it ends first or takes more than two minutes.
func (m *memClients) await(want string) {
	m.b.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-m.lines:
			if !ok {
				m.b.Fatalf("client process ended before %q", want)
			}
			if line == want {
				return
			}
		case <-deadline:
			_ = m.cmd.Process.Kill()
			m.b.Fatalf("client process did not print %q within 2 minutes", want)
		}
	}
}

// proceed has the process enter its next room.
func (m *memClients) proceed() {
	m.b.Helper()
	if _, err := io.WriteString(m.stdin, "next\n"); err != nil {
		m.b.Fatalf("client process: %v", err)
	}
}

// stop ends the process: it exits when its stdin closes.
func (m *memClients) stop() {
	m.b.Helper()
	_ = m.stdin.Close()
	if err := m.cmd.Wait(); err != nil {
		m.b.Fatalf("client process: %v", err)
	}
}

// settledMemStats returns the memory statistics after two forced GCs, so
// that the figures count live data rather than garbage of the joins.
func settledMemStats() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

func writeHeapProfile(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		tb.Fatal(err)
	}
}

// TestIdleClientsHelper is the client process of the memory benchmarks;
// it does nothing in a normal test run. It connects the clients and joins
// them to the default room, and prints "joined" once every one has seen
// all the joins announced. Then, for each room of envMemClientsRooms, it
// reads a line from stdin, has every client enter the room and join it
// under its nickname, and prints "joined ROOM" once every one has seen all
// the joins there. It reads (answering pings) until its stdin is closed,
// then exits.
func TestIdleClientsHelper(t *testing.T) {
	url := os.Getenv(envMemClientsURL)
	if url == "" {
		t.Skip("only run as the client process of the memory benchmarks")
	}
	n, err := strconv.Atoi(os.Getenv(envMemClientsN))
	if err != nil {
		t.Fatal(err)
	}
	var rooms []string
	if r := os.Getenv(envMemClientsRooms); r != "" {
		rooms = strings.Split(r, ",")
	}
	// Phase 0 is the default room, phase k the k-th of rooms. A client
	// counts the add chatter events of each phase's namespace; the phase
	// is done once every client has seen n of them or has ended.
	prefixes := []string{`42["add chatter"`}
	for _, r := range rooms {
		prefixes = append(prefixes, `42/`+r+`,["add chatter"`)
	}
	all := make([]sync.WaitGroup, len(prefixes))
	for i := range all {
		all[i].Add(n)
	}
	clients := make([]*siotest.Client, n)
	// entered[i][k] is closed when client i has seen its first add
	// chatter of phase k: its join there has been handled.
	entered := make([][]chan struct{}, n)
	for i := range n {
		c := siotest.Dial(t, url, siotest.Options{})
		clients[i] = c
		c.Connect("/", "")
		c.Emit("join", fmt.Sprintf("m%d", i))
		once := make([]sync.Once, len(prefixes))
		entered[i] = make([]chan struct{}, len(prefixes))
		for k := range entered[i] {
			entered[i][k] = make(chan struct{})
		}
		// Keep nothing, so that a thousand clients do not hold a million
		// announcements: count them on the client's reader.
		seen := make([]int, len(prefixes))
		c.Drain(func(f siotest.Frame) {
			for k, p := range prefixes {
				if strings.HasPrefix(f.Data, p) {
					if seen[k]++; seen[k] == 1 {
						close(entered[i][k])
					}
					if seen[k] == n {
						once[k].Do(all[k].Done)
					}
					return
				}
			}
		})
		go func() { // ends with the client, closed when the test ends
			<-c.Done()
			for k := range once {
				once[k].Do(all[k].Done)
			}
		}()
	}
	all[0].Wait()
	fmt.Println("joined")
	in := bufio.NewScanner(os.Stdin)
	for k, r := range rooms {
		if !in.Scan() {
			return
		}
		// The server handles a connection's packets in order, so the
		// join follows the CONNECT without waiting for its reply (which
		// the drain passes over). The clients enter one after another,
		// each once the one before has joined, as they joined the
		// default room: a storm of joins would leave the sessions with
		// larger send-queue arrays than the default room's joins did,
		// which would count as the room's cost.
		for i, c := range clients {
			c.SendText("40/" + r + ",")
			c.SendText(fmt.Sprintf(`42/%s,["join","m%d"]`, r, i))
			select {
			case <-entered[i][k+1]:
			case <-c.Done():
			}
		}
		all[k+1].Wait()
		fmt.Println("joined " + r)
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // the clients close with the test
}
