package logtest

import (
	"log/slog"
	"testing"
)

func TestRecordsFlattenGroupsAndMatchByAttributes(t *testing.T) {
	logger, rec := New(t)
	logger.With("sid", "s1").WithGroup("conn").Info("opened", "addr", "192.0.2.7", slog.Group("tls", "version", "1.3"))
	logger.Warn("refused", "addr", "192.0.2.8")

	got := rec.Records()
	if len(got) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(got), rec)
	}
	if want := "INFO opened sid=s1 conn.addr=192.0.2.7 conn.tls.version=1.3"; got[0].String() != want {
		t.Errorf("first record %q, want %q", got[0], want)
	}
	if m := rec.Matching("opened", "conn.addr", "192.0.2.7", "sid", "s1"); len(m) != 1 {
		t.Errorf("Matching by two attributes: %v", m)
	}
	if m := rec.Matching("opened", "conn.addr", "192.0.2.8"); len(m) != 0 {
		t.Errorf("Matching a wrong value: %v", m)
	}
	if r := rec.Wait(t, "refused", "addr", "192.0.2.8"); r.Level != slog.LevelWarn {
		t.Errorf("Wait returned %v", r)
	}
}

func TestWaitReturnsARecordLoggedLater(t *testing.T) {
	logger, rec := New(t)
	go logger.Info("later", "n", 2)
	if r := rec.Wait(t, "later", "n", "2"); r.Msg != "later" {
		t.Errorf("Wait returned %v", r)
	}
}
