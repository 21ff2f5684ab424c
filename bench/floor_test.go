package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFloorConfigValidate(t *testing.T) {
	ok := FloorConfig{Conns: 10, Interval: 20 * time.Millisecond, Duration: time.Second, Frame: 110}
	tests := []struct {
		name    string
		change  func(c *FloorConfig)
		wantErr string
	}{
		{"the row (b) floor", func(*FloorConfig) {}, ""},
		{"no connection", func(c *FloorConfig) { c.Conns = 0 }, "at least one connection"},
		{"no interval", func(c *FloorConfig) { c.Interval = 0 }, "interval"},
		{"shorter than an interval", func(c *FloorConfig) { c.Duration = 10 * time.Millisecond }, "at least one interval"},
		{"empty frames", func(c *FloorConfig) { c.Frame = 0 }, "frame"},
		{"frames over 64 KB", func(c *FloorConfig) { c.Frame = 64<<10 + 1 }, "frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate: %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

// inProcessReader runs FloorReader on a goroutine: the unit tests count
// writes, not CPU, so the reader need not be another process.
func inProcessReader(addr string, conns int) (<-chan error, func(), error) {
	ended := make(chan error, 1)
	go func() { ended <- FloorReader(context.Background(), addr, conns) }()
	return ended, func() {}, nil
}

func TestFloorWritesEveryConnectionEveryInterval(t *testing.T) {
	cfg := FloorConfig{Conns: 20, Interval: 5 * time.Millisecond, Duration: 200 * time.Millisecond, Frame: 110}
	res, err := Floor(context.Background(), cfg, inProcessReader)
	if err != nil {
		t.Fatalf("Floor: %v", err)
	}
	rounds := res.Writes / int64(cfg.Conns)
	if res.Writes%int64(cfg.Conns) != 0 || rounds < 30 || rounds > 41 {
		t.Fatalf("%d writes to %d connections: want whole rounds, about 40 in 200 ms at 5 ms", res.Writes, cfg.Conns)
	}
	if res.Conns != 20 || res.FrameBytes != 110 || res.IntervalMS != 5 || res.Seconds < 0.2 {
		t.Fatalf("result %+v does not describe the floor asked for", res)
	}
	if res.SystemPerWrite <= 0 {
		t.Fatalf("a write cost %g µs of system time: the writes were not measured", res.SystemPerWrite)
	}
	var b strings.Builder
	if err := res.WriteTable(&b); err != nil || !strings.Contains(b.String(), "per write") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
}

func TestFloorSaysWhenTheReaderDoesNotCome(t *testing.T) {
	cfg := FloorConfig{Conns: 3, Interval: 5 * time.Millisecond, Duration: 50 * time.Millisecond, Frame: 10}
	t.Run("the reader ends before connecting", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dies := func(string, int) (<-chan error, func(), error) {
			ended := make(chan error, 1)
			ended <- errors.New("exit status 1")
			return ended, func() {}, nil
		}
		_, err := Floor(ctx, cfg, dies)
		if err == nil || !strings.Contains(err.Error(), "the reading process ended after 0 of 3 connections: exit status 1") {
			t.Fatalf("Floor: %v, want it to say the reader ended", err)
		}
		if ctx.Err() != nil {
			t.Fatal("Floor waited for its accept deadline instead of the reader's end")
		}
	})
	t.Run("the reader hangs and is killed at the end", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		killed := make(chan struct{})
		hangs := func(string, int) (<-chan error, func(), error) {
			ended := make(chan error, 1)
			return ended, func() { close(killed); ended <- errors.New("killed") }, nil
		}
		if _, err := Floor(ctx, cfg, hangs); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Floor: %v, want the context's end", err)
		}
		select {
		case <-killed:
		default:
			t.Fatal("the hanging reader was not killed")
		}
	})
	t.Run("nothing to connect to", func(t *testing.T) {
		if err := FloorReader(context.Background(), "127.0.0.1:1", 1); err == nil || !strings.Contains(err.Error(), "floor reader") {
			t.Fatalf("FloorReader with nothing listening: %v", err)
		}
	})
}
