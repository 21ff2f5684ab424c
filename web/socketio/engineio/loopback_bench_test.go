//go:build linux

package engineio

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment of TestLoopbackReaderHelper, the reading process of
// BenchmarkLoopbackWrite.
const (
	envLoopbackAddr  = "ENGINEIO_LOOPBACK_ADDR"
	envLoopbackConns = "ENGINEIO_LOOPBACK_CONNS"
)

// loopbackConns and loopbackRound shape BenchmarkLoopbackWrite like row
// (b) of docs/PERFORMANCE.md: 1000 clients, each sent a chat message
// (about 110 bytes as a frame) 50 times a second.
const (
	loopbackConns = 1000
	loopbackFrame = 110
	loopbackRound = 20 * time.Millisecond
)

// BenchmarkLoopbackWrite measures what the kernel charges a server for
// writing to loopback TCP sockets whose reader is another process (as in
// the load tests): the floor under any server that writes each delivery
// on its own. Each iteration is one round, paced like row (b): one write
// of frames×110 bytes to each of 1000 sockets. It reports the server's
// system and user CPU per write and per delivered frame, from
// getrusage. Run with a fixed count, for example:
//
//	go test -run '^$' -bench LoopbackWrite -benchtime 250x ./web/socketio/engineio/
func BenchmarkLoopbackWrite(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoopbackReaderHelper$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), envLoopbackAddr+"="+ln.Addr().String(), envLoopbackConns+"="+strconv.Itoa(loopbackConns))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	conns := make([]net.Conn, 0, loopbackConns)
	defer func() {
		for _, c := range conns {
			_ = c.Close() // the reader sees EOF on each and exits
		}
		_ = cmd.Wait()
	}()
	for len(conns) < loopbackConns {
		c, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, frames := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("frames_per_write=%d", frames), func(b *testing.B) {
			buf := make([]byte, loopbackFrame*frames)
			u0, s0 := cpuTimes(b)
			next := time.Now()
			writes := 0
			for b.Loop() {
				time.Sleep(time.Until(next))
				next = next.Add(loopbackRound)
				for _, c := range conns {
					if _, err := c.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				writes += len(conns)
			}
			u1, s1 := cpuTimes(b)
			sys, user := float64(s1-s0)/1e3, float64(u1-u0)/1e3 // µs
			b.ReportMetric(sys/float64(writes), "sys-µs/write")
			b.ReportMetric(sys/float64(writes*frames), "sys-µs/delivery")
			b.ReportMetric(user/float64(writes*frames), "user-µs/delivery")
		})
	}
}

// cpuTimes returns this process's user and system CPU time so far.
func cpuTimes(b *testing.B) (user, sys time.Duration) {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// TestLoopbackReaderHelper is the reading process of
// BenchmarkLoopbackWrite; it does nothing in a normal test run. It opens
// the connections and reads each until the benchmark closes it.
func TestLoopbackReaderHelper(t *testing.T) {
	addr := os.Getenv(envLoopbackAddr)
	if addr == "" {
		t.Skip("only run as the reader process of BenchmarkLoopbackWrite")
	}
	n, err := strconv.Atoi(os.Getenv(envLoopbackConns))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		})
	}
	wg.Wait()
}
