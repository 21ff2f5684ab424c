package e2e

import (
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestLookAlikeNicknamesAreRefused: while alice is present, each nickname
// that could pass for hers is refused, as taken when it compares equal to
// it (a look-alike letter, full-width letters, letter case) or as invalid
// when it hides an invisible character; names made of invisible
// characters alone are invalid. A full-width nickname is held and shown in
// its NFKC form.
func TestLookAlikeNicknamesAreRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	alice := joinWS(t, srv.url, "alice")

	for _, tc := range []struct {
		what, name, code string
	}{
		{"combining grapheme joiner after", "alice\u034F", "invalid_name"},
		{"variation selector after", "alice\uFE00", "invalid_name"},
		{"Khmer inherent vowel after", "alice\u17B4", "invalid_name"},
		{"Hangul filler after", "alice\u3164", "invalid_name"},
		{"Braille blank after", "alice\u2800", "invalid_name"},
		{"Cyrillic a", "\u0430lice", "name_taken"},
		{"full-width letters", "ａｌｉｃｅ", "name_taken"},
		{"capitals", "ALICE", "name_taken"},
		{"only combining grapheme joiners", "\u034F\u034F", "invalid_name"},
		{"only a variation selector", "\uFE0F", "invalid_name"},
		{"only Hangul fillers", "\u3164\u3164", "invalid_name"},
		{"only a Hangul choseong filler", "\u115F", "invalid_name"},
	} {
		if code := joinRefused(t, srv.url, tc.name); code != tc.code {
			t.Errorf("join as %+q (%s) while alice is present: %q, want %q", tc.name, tc.what, code, tc.code)
		}
	}

	bob := connectWS(t, srv.url, wire)
	if reply := call(t, bob, "join", "ｂｏｂ"); reply["ok"] != true || reply["name"] != "bob" {
		t.Fatalf("join as ｂｏｂ: %v, want ok as bob", reply)
	}
	alice.WaitEvent("bob joining", named("add chatter", "bob"))
	checkStillServing(t, srv, alice)
}

// TestBanCoversLookAlikeNicknames: `kick spammer --ban 1h` refuses the
// nickname's look-alikes too, while the server runs and after a restart
// (the ban is stored under the nickname's key); the nickname followed by
// an invisible character is refused outright.
func TestBanCoversLookAlikeNicknames(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	spammer := joinWS(t, srv.url, "spammer")
	cliOK(t, "kicked spammer from the room general (1 connection closed)\nbanned spammer for 1h0m0s", "kick", "spammer", "--ban", "1h", "--db", db)
	spammer.WaitClosed()

	check := func(when string) {
		t.Helper()
		for _, tc := range []struct {
			what, name, code string
		}{
			{"the nickname", "spammer", "banned"},
			{"Cyrillic dze and er", "\u0455\u0440ammer", "banned"},
			{"full-width capitals", "ＳＰＡＭＭＥＲ", "banned"},
			{"combining grapheme joiner after", "spammer\u034F", "invalid_name"},
		} {
			if code := joinRefused(t, srv.url, tc.name); code != tc.code {
				t.Errorf("%s: join as %+q (%s): %q, want %q", when, tc.name, tc.what, code, tc.code)
			}
		}
	}
	check("while serving")
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	srv = startServer(t, db)
	check("after a restart")
	joinWS(t, srv.url, "spammer2").Close()
}

// TestInvisibleCharactersLeaveMessages: a message arrives, and is stored,
// without zero-width spaces, byte order marks, soft hyphens and tag
// characters, but with what emoji need (zero-width joiners, variation
// selectors, a subdivision flag's tags); a message of invisible
// characters alone is refused as empty and reaches nobody.
func TestInvisibleCharactersLeaveMessages(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	watcher := joinWS(t, srv.url, "watcher")
	sender := joinWS(t, srv.url, "sender")

	const (
		family  = "👨\u200D👩\u200D👧"                                                        // joined by zero-width joiners
		heart   = "❤\uFE0F"                                                                // variation selector 16
		england = "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F" // black flag, "gbeng", cancel tag
	)
	for _, tc := range []struct{ sent, want string }{
		{"zero\u200Bwidth", "zerowidth"},
		{"\uFEFFbom first", "bom first"},
		{"soft\u00ADhyphen", "softhyphen"},
		{"hi\U000E0068\U000E0069\U000E0064\U000E0065", "hi"},
		{family + " " + heart + " " + england, family + " " + heart + " " + england},
	} {
		say(t, sender, tc.sent)
		watcher.WaitEvent(tc.want, messageLine("sender", tc.want))
	}
	for _, text := range []string{"\u200B", "\uFEFF \u00AD", "\u3164"} {
		if reply := call(t, sender, "messages", text); reply["error"] != "invalid_message" {
			t.Errorf("message %+q: %v, want invalid_message", text, reply)
		}
	}
	say(t, sender, "the end")
	watcher.WaitEvent("the last message", messageLine("sender", "the end"))

	want := []string{"zerowidth", "bom first", "softhyphen", "hi", family + " " + heart + " " + england, "the end"}
	var got []string
	for _, ev := range watcher.Events("messages") {
		got = append(got, ev.Args.String(0))
	}
	for i := range want {
		want[i] = "sender: " + want[i]
	}
	if !slices.Equal(got, want) {
		t.Errorf("the watcher received %+q, want %+q", got, want)
	}
	var stored []string
	for _, m := range historyJSON(t, db) {
		stored = append(stored, "sender: "+m.Text)
	}
	if !slices.Equal(stored, want) {
		t.Errorf("history holds %+q, want %+q", stored, want)
	}
}
