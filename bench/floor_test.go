package bench

import (
	"context"
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
func inProcessReader(t *testing.T) StartFloorReader {
	return func(addr string, conns int) (func() error, error) {
		done := make(chan error, 1)
		go func() { done <- FloorReader(context.Background(), addr, conns) }()
		return func() error {
			select {
			case err := <-done:
				return err
			case <-time.After(10 * time.Second):
				t.Error("the floor reader did not end after its connections closed")
				return nil
			}
		}, nil
	}
}

func TestFloorWritesEveryConnectionEveryInterval(t *testing.T) {
	cfg := FloorConfig{Conns: 20, Interval: 5 * time.Millisecond, Duration: 200 * time.Millisecond, Frame: 110}
	res, err := Floor(context.Background(), cfg, inProcessReader(t))
	if err != nil {
		t.Fatalf("Floor: %v", err)
	}
	rounds := res.Writes / int64(cfg.Conns)
	if res.Writes%int64(cfg.Conns) != 0 || rounds < 1 || rounds > 41 {
		t.Fatalf("%d writes to %d connections: want whole rounds, at most 41 in 200 ms at 5 ms", res.Writes, cfg.Conns)
	}
	if res.Conns != 20 || res.FrameBytes != 110 || res.IntervalMS != 5 || res.Seconds < 0.2 {
		t.Fatalf("result %+v does not describe the floor asked for", res)
	}
	if res.PerWrite != res.UserPerWrite+res.SystemPerWrite {
		t.Fatalf("per write %g, want user %g + system %g", res.PerWrite, res.UserPerWrite, res.SystemPerWrite)
	}
	var b strings.Builder
	if err := res.WriteTable(&b); err != nil || !strings.Contains(b.String(), "per write") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
}

func TestFloorSaysWhenTheReaderDoesNotCome(t *testing.T) {
	cfg := FloorConfig{Conns: 3, Interval: 5 * time.Millisecond, Duration: 50 * time.Millisecond, Frame: 10}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	noReader := func(string, int) (func() error, error) { return func() error { return nil }, nil }
	if _, err := Floor(ctx, cfg, noReader); err == nil {
		t.Fatal("Floor without a reader succeeded")
	}
	if err := FloorReader(context.Background(), "127.0.0.1:1", 1); err == nil || !strings.Contains(err.Error(), "floor reader") {
		t.Fatalf("FloorReader with nothing listening: %v", err)
	}
}
