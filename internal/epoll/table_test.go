package epoll

import "testing"

func TestTableNeverReusesALiveToken(t *testing.T) {
	var tab Table[string]
	a, b := tab.Add("a"), tab.Add("b")
	if a == b || a <= 0 || b <= 0 || tab.Get(a) != "a" || tab.Get(b) != "b" {
		t.Fatalf("tokens %d, %d for a, b: want two positive ones, each finding its own", a, b)
	}
	if tab.Remove(a, "b") || tab.Get(a) != "a" {
		t.Fatal("Remove took a token that stands for something else")
	}
	if !tab.Remove(a, "a") || tab.Get(a) != "" || tab.Len() != 1 {
		t.Fatal("Remove kept a token it was given with its own value")
	}

	// At the end of the range the tokens start again from 1, past the
	// ones still held.
	tab.last = 1<<31 - 2
	hi := tab.Add("hi")
	if hi != 1<<31-1 {
		t.Fatalf("token %d, want the last one", hi)
	}
	if x, y := tab.Add("x"), tab.Add("y"); x != 1 || y != 3 {
		t.Fatalf("tokens %d, %d after the wrap: want 1 (free again) and 3 (2 is still b's)", x, y)
	}
	for _, tok := range []int32{0, WakeToken} {
		if tab.Get(tok) != "" {
			t.Fatalf("token %d was handed out", tok)
		}
	}
	if got := len(tab.Values()); got != tab.Len() {
		t.Fatalf("Values has %d, Len says %d", got, tab.Len())
	}
}
