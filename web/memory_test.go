package web

import (
	"bufio"
	"fmt"
	"io"
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

// Environment of the client process started by BenchmarkIdleJoinedMemory
// (the test binary itself, running TestIdleClientsHelper).
const (
	envMemClientsURL = "CHATSERVER_MEM_CLIENTS_URL"
	envMemClientsN   = "CHATSERVER_MEM_CLIENTS_N"
	// envMemHeapProfile names a file to write the server's heap profile
	// to once the clients have joined (read it with
	// `go tool pprof -sample_index=inuse_space`).
	envMemHeapProfile = "CHATSERVER_MEM_HEAPPROFILE"
)

// idleMemClients is how many joined idle clients the memory benchmark
// holds: the figure docs/PERFORMANCE.md quotes is per connection at 1000.
const idleMemClients = 1000

// BenchmarkIdleJoinedMemory measures what one joined idle WebSocket
// connection costs the server: idleMemClients real gorilla clients in a
// separate process (so that their own memory does not count) connect and
// join a real server, and once every join has been announced to everyone
// the server's heap in use, goroutine stacks and goroutines are compared
// with the same figures before the first client, after a forced GC.
func BenchmarkIdleJoinedMemory(b *testing.B) {
	if os.Getenv(envMemHeapProfile) != "" {
		// Record every allocation, so that the profile's small
		// per-connection objects are exact rather than sampled.
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		b.Cleanup(func() { runtime.MemProfileRate = old })
	}
	ts := newTestServer(b)
	for range b.N {
		before := settledMemStats()
		goBefore := runtime.NumGoroutine()

		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.bench=^$")
		cmd.Env = append(os.Environ(), envMemClientsURL+"="+ts.URL, envMemClientsN+"="+strconv.Itoa(idleMemClients))
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
		ready := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "joined" {
					ready <- nil
					_, _ = io.Copy(io.Discard, stdout)
					return
				}
			}
			ready <- fmt.Errorf("client process ended before joining: %v", sc.Err())
		}()
		select {
		case err := <-ready:
			if err != nil {
				b.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			b.Fatal("clients did not join within 2 minutes")
		}

		after := settledMemStats()
		goAfter := runtime.NumGoroutine()
		if path := os.Getenv(envMemHeapProfile); path != "" {
			writeHeapProfile(b, path)
		}
		_ = stdin.Close() // the client process exits when its stdin closes
		if err := cmd.Wait(); err != nil {
			b.Fatalf("client process: %v", err)
		}

		n := float64(idleMemClients)
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/n, "heap-B/conn")
		b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/n, "stack-B/conn")
		b.ReportMetric(float64(goAfter-goBefore)/n, "goroutines/conn")
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

// TestIdleClientsHelper is the client process of BenchmarkIdleJoinedMemory;
// it does nothing in a normal test run. It connects and joins the clients,
// prints "joined" once every one has seen all the joins announced, reads
// (answering pings) until its stdin is closed, then exits.
func TestIdleClientsHelper(t *testing.T) {
	url := os.Getenv(envMemClientsURL)
	if url == "" {
		t.Skip("only run as the client process of BenchmarkIdleJoinedMemory")
	}
	n, err := strconv.Atoi(os.Getenv(envMemClientsN))
	if err != nil {
		t.Fatal(err)
	}
	var all sync.WaitGroup // every client has seen n "add chatter" or has ended
	all.Add(n)
	for i := range n {
		c := siotest.Dial(t, url, siotest.Options{})
		c.Connect("/", "")
		c.Emit("join", fmt.Sprintf("m%d", i))
		var once sync.Once
		// Keep nothing, so that a thousand clients do not hold a million
		// announcements: count them on the client's reader.
		seen := 0
		c.Drain(func(f siotest.Frame) {
			if strings.HasPrefix(f.Data, `42["add chatter"`) {
				if seen++; seen == n {
					once.Do(all.Done)
				}
			}
		})
		go func() { // ends with the client, closed when the test ends
			<-c.Done()
			once.Do(all.Done)
		}()
	}
	all.Wait()
	fmt.Println("joined")
	_, _ = io.Copy(io.Discard, os.Stdin) // the clients close with the test
}
