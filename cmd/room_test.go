package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/internal/siotest"
	"chatserver/storage"
	"chatserver/storage/bolt"
)

// seedRoom adds the room called room with topic to the database at path
// (unless it is there) and stores one message per text in it, sent by
// name.
func seedRoom(t testing.TB, path, room, topic, name string, texts ...string) {
	t.Helper()
	withStore(t, path, func(st *bolt.Store) {
		ctx := context.Background()
		rooms, err := st.Rooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		exists := false
		for _, r := range rooms {
			exists = exists || r.Name == room
		}
		if !exists {
			if err := st.AddRoom(ctx, storage.Room{Name: room, Topic: topic}); err != nil {
				t.Fatalf("add room %s: %v", room, err)
			}
		}
		msgs := make([]storage.Message, len(texts))
		for i, text := range texts {
			msgs[i] = storage.Message{Name: name, Text: text, Time: time.Date(2026, 11, 29, 13, 0, i, 0, time.UTC)}
		}
		if len(msgs) > 0 {
			if _, err := st.AppendMessages(ctx, room, msgs); err != nil {
				t.Fatalf("append to %s: %v", room, err)
			}
		}
	})
}

// refused checks that r failed as a plain refusal: exit status 1, the one
// line "chatserver: want", nothing on standard output.
func refused(t testing.TB, r result, want string) {
	t.Helper()
	if r.code != exitError || r.report != "chatserver: "+want+"\n" || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, report %q; want exit 1 and the one line %q", r.code, r.stdout, r.report, "chatserver: "+want)
	}
}

// roomsJSON runs `room list --json` and decodes what it printed.
func roomsJSON(t testing.TB, db string) []chat.RoomInfo {
	t.Helper()
	r := run(t, "room", "list", "--json", "--db", db)
	if r.err != nil {
		t.Fatalf("room list --json: %v", r.err)
	}
	var rooms []chat.RoomInfo
	if err := json.Unmarshal([]byte(r.stdout), &rooms); err != nil {
		t.Fatalf("room list --json printed %q: %v", r.stdout, err)
	}
	return rooms
}

// roomSummary is "name|topic|messages|chatter,chatter" for each room.
func roomSummary(rooms []chat.RoomInfo) string {
	var parts []string
	for _, r := range rooms {
		parts = append(parts, strings.Join([]string{r.Name, r.Topic, strconv.Itoa(r.Messages), strings.Join(r.Chatters, ",")}, "|"))
	}
	return strings.Join(parts, " ")
}

func TestRoomWithoutServerEditsTheFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	seed(t, db, 10, "alice", "one", "two", "three")

	r := run(t, "room", "list", "--db", db)
	if want := "ROOM     TOPIC  MESSAGES  CHATTERS\ngeneral  -      3         -\n"; r.err != nil || r.stdout != want {
		t.Fatalf("room list of a new file: %q, %v; want\n%s", r.stdout, r.err, want)
	}

	r = run(t, "room", "add", "games", "--topic", "  board games on Friday ", "--db", db)
	if want := "added the room games to " + db + " (no server is running; the room opens when one starts)\n"; r.err != nil || r.stdout != want {
		t.Fatalf("room add: %q, %v; want %q", r.stdout, r.err, want)
	}
	if got, want := roomSummary(roomsJSON(t, db)), "general||3| games|board games on Friday|0|"; got != want {
		t.Errorf("rooms after add: %s, want %s", got, want)
	}

	t.Run("refusals change nothing", func(t *testing.T) {
		before, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"a room that exists", []string{"room", "add", "games"}, `there is already a room called "games" in ` + db},
			{"the default room", []string{"room", "add", "general"}, `there is already a room called "general" in ` + db},
			{"a name in capitals", []string{"room", "add", "Games"},
				`the room name "Games" may hold only a-z, 0-9, - and _, and must start with a letter or digit`},
			{"a name too long", []string{"room", "add", strings.Repeat("g", 33)},
				`the room name "` + strings.Repeat("g", 33) + `" is longer than 32 characters`},
			{"a topic of two lines", []string{"room", "add", "chess", "--topic", "two\nlines"},
				"--topic: the topic must be one line without control characters (U+000A)"},
			{"a topic too long", []string{"room", "add", "chess", "--topic", strings.Repeat("t", chat.MaxTopicLen+1)},
				"--topic: the topic is longer than 200 characters"},
			{"removing a room that does not exist", []string{"room", "remove", "chess"}, `there is no room called "chess" in ` + db},
			{"removing the default room", []string{"room", "remove", "general"}, `the default room "general" cannot be removed`},
			{"removing a bad name", []string{"room", "remove", "x/y"},
				`the room name "x/y" may hold only a-z, 0-9, - and _, and must start with a letter or digit`},
			{"history of a room that does not exist", []string{"history", "--room", "chess"}, `there is no room called "chess" in ` + db},
			{"kick in a room that does not exist", []string{"kick", "alice", "--room", "chess"}, `there is no room called "chess" in ` + db},
		} {
			t.Run(tc.name, func(t *testing.T) {
				refused(t, run(t, append(tc.args, "--db", db)...), tc.want)
				if after, _ := os.ReadFile(db); !bytes.Equal(after, before) {
					t.Error("the database file changed")
				}
			})
		}
	})

	t.Run("list shows the stored chatters, with CHATSERVER_DB", func(t *testing.T) {
		withStore(t, db, func(st *bolt.Store) {
			if err := st.SetChatters(context.Background(), "games", []string{"bob", "carol"}); err != nil {
				t.Fatal(err)
			}
		})
		t.Setenv("CHATSERVER_DB", db)
		r := run(t, "room", "list")
		want := "ROOM     TOPIC                  MESSAGES  CHATTERS\n" +
			"general  -                      3         -\n" +
			"games    board games on Friday  0         bob, carol\n"
		if r.err != nil || r.stdout != want {
			t.Errorf("room list: %v\n%s\nwant\n%s", r.err, r.stdout, want)
		}
		r = run(t, "room", "list", "--json")
		if !strings.Contains(r.stdout, `"chatters": [
      "bob",
      "carol"
    ]`) || !strings.Contains(r.stdout, `"chatters": []`) {
			t.Errorf("room list --json: every room's chatters, an empty array for none:\n%s", r.stdout)
		}
	})

	r = run(t, "room", "remove", "games", "--db", db)
	if want := "removed the room games from " + db + " (no server is running)\n"; r.err != nil || r.stdout != want {
		t.Fatalf("room remove: %q, %v; want %q", r.stdout, r.err, want)
	}
	if got, want := roomSummary(roomsJSON(t, db)), "general||3|"; got != want {
		t.Errorf("rooms after remove: %s, want %s", got, want)
	}
	// The default room's history is untouched.
	if r := run(t, "history", "--db", db, "-n", "1"); !strings.HasSuffix(r.stdout, "alice: three\n") {
		t.Errorf("history after remove: %q, %v", r.stdout, r.err)
	}
}

func TestRoomWithoutAFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "missing.db")
	for _, args := range [][]string{{"room", "list"}, {"room", "add", "games"}, {"room", "remove", "games"}} {
		r := run(t, append(args, "--db", db)...)
		refused(t, r, "no database at "+db+" (no chatserver has run with it yet; pass --db or set CHATSERVER_DB)")
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Error("a room command created the file")
	}
}

func TestRoomCommandLineMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"room", "add"}, exitUsage, "chatserver room add takes exactly one room name, got 0 arguments"},
		{[]string{"room", "remove", "a", "b"}, exitUsage, "chatserver room remove takes exactly one room name, got 2 arguments"},
		{[]string{"room", "list", "games"}, exitUsage, `chatserver room list takes no arguments, got "games"`},
		{[]string{"room", "rename"}, exitUsage, `unknown command "rename"`},
		{[]string{"room", "list", "--db", ""}, exitError, "--db must name a file"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.report, tc.want) || r.stdout != "" {
				t.Fatalf("exit %d, %q; want exit %d and %q", r.code, r.report, tc.code, tc.want)
			}
		})
	}
}

// TestHistoryAndKickInARoomWithoutServer: --room picks one room; kick
// without it removes the nickname from every room.
func TestHistoryAndKickInARoomWithoutServer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	seed(t, db, 10, "alice", "in general")
	seedRoom(t, db, "games", "", "bob", "in games", "again")
	seedRoom(t, db, "chess", "", "bob")
	withStore(t, db, func(st *bolt.Store) {
		for _, room := range []string{storage.DefaultRoom, "games", "chess"} {
			if err := st.SetChatters(context.Background(), room, []string{"alice", "bob"}); err != nil {
				t.Fatal(err)
			}
		}
	})

	if r := run(t, "history", "--room", "games", "--db", db); r.err != nil ||
		r.stdout != "2026-11-29 13:00:00 bob: in games\n2026-11-29 13:00:01 bob: again\n" {
		t.Errorf("history --room games: %q, %v", r.stdout, r.err)
	}
	if r := run(t, "history", "--db", db); r.err != nil || !strings.HasSuffix(r.stdout, "alice: in general\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("history of the default room: %q, %v", r.stdout, r.err)
	}

	r := run(t, "kick", "BOB", "--room", "games", "--db", db)
	if want := "removed BOB from the stored chatters of the room games (no server is running)\n"; r.err != nil || r.stdout != want {
		t.Errorf("kick --room games: %q, %v; want %q", r.stdout, r.err, want)
	}
	refused(t, run(t, "kick", "bob", "--room", "games", "--db", db), `no chatter called "bob" is in `+db+" (no server is running)")
	r = run(t, "kick", "bob", "--db", db)
	if want := "removed bob from the stored chatters of the rooms general and chess (no server is running)\n"; r.err != nil || r.stdout != want {
		t.Errorf("kick everywhere: %q, %v; want %q", r.stdout, r.err, want)
	}
	if got, want := roomSummary(roomsJSON(t, db)), "general||1|alice chess||0|alice games||2|alice"; got != want {
		t.Errorf("rooms: %s, want %s", got, want)
	}
}

// chatIn connects a wire-level client to the room's namespace nsp of the
// server at url and joins it as name.
func chatIn(t *testing.T, url, nsp, name string) *siotest.Client {
	t.Helper()
	c := siotest.Dial(t, url, siotest.Options{})
	c.Connect(nsp, "")
	c.SendText(`42` + nsp + `,["join",` + quote(name) + `]`)
	c.WaitEvent(name+" present in "+nsp, func(ev siotest.Event) bool {
		return ev.Namespace == nsp && ev.Name == chat.EventAddChatter && ev.Args.String(0) == name
	})
	return c
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestRoomWhileServing(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	seed(t, db, 10, "alice", "before the start")
	url := serveInProcess(t, db)

	r := run(t, "room", "add", "games", "--topic", "board games", "--db", db)
	if want := "added the room games; clients reach it at the namespace /games\n"; r.err != nil || r.stdout != want {
		t.Fatalf("room add: %q, %v; want %q", r.stdout, r.err, want)
	}
	refused(t, run(t, "room", "add", "games", "--db", db), `there is already a room called "games"`)
	refused(t, run(t, "room", "add", "general", "--db", db), `there is already a room called "general"`)
	refused(t, run(t, "room", "remove", "chess", "--db", db), `there is no room called "chess"`)
	refused(t, run(t, "room", "remove", "general", "--db", db), `the default room "general" cannot be removed`)

	// The room is open at once.
	bob := chatIn(t, url, "/games", "bob")
	bob.SendText(`42/games,["messages","a move"]`)
	bob.WaitEvent("bob's message in /games", func(ev siotest.Event) bool {
		return ev.Namespace == "/games" && ev.Name == chat.EventMessages && ev.Args.String(0) == "bob: a move"
	})
	carol := chatIn(t, url, "/games", "carol")
	if got, want := roomSummary(roomsJSON(t, db)), "general||1| games|board games|1|bob,carol"; got != want {
		t.Errorf("rooms while serving: %s, want %s", got, want)
	}
	r = run(t, "room", "list", "--db", db)
	want := "ROOM     TOPIC        MESSAGES  CHATTERS\n" +
		"general  -            1         -\n" +
		"games    board games  1         bob, carol\n"
	if r.err != nil || r.stdout != want {
		t.Errorf("room list while serving: %v\n%s\nwant\n%s", r.err, r.stdout, want)
	}

	if r := run(t, "history", "--room", "games", "--db", db); r.err != nil || !strings.HasSuffix(r.stdout, " bob: a move\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("history --room games while serving: %q, %v", r.stdout, r.err)
	}
	if r := run(t, "history", "--db", db); r.err != nil || !strings.HasSuffix(r.stdout, " alice: before the start\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("history of the default room while serving: %q, %v", r.stdout, r.err)
	}
	refused(t, run(t, "history", "--room", "chess", "--db", db), `there is no room called "chess"`)
	refused(t, run(t, "kick", "bob", "--room", "general", "--db", db), `no chatter called "bob" is present in the room "general"`)
	refused(t, run(t, "kick", "bob", "--room", "chess", "--db", db), `there is no room called "chess"`)

	r = run(t, "kick", "BOB", "--room", "games", "--reason", "one move at a time", "--db", db)
	if want := "kicked BOB from the room games (1 connection closed)\n"; r.err != nil || r.stdout != want {
		t.Errorf("kick --room games: %q, %v; want %q", r.stdout, r.err, want)
	}
	kicked := bob.WaitEvent("bob kicked", func(ev siotest.Event) bool { return ev.Namespace == "/games" && ev.Name == chat.EventKicked })
	if reason := kicked.Args.Object(0)["reason"]; reason != "one move at a time" {
		t.Errorf("kicked %s, want the reason", kicked.Args)
	}
	bob.WaitClosed()
	carol.WaitEvent("bob gone", func(ev siotest.Event) bool {
		return ev.Namespace == "/games" && ev.Name == chat.EventRemoveChatter && ev.Args.String(0) == "bob"
	})

	r = run(t, "room", "remove", "games", "--db", db)
	if want := "removed the room games (1 connection closed)\n"; r.err != nil || r.stdout != want {
		t.Errorf("room remove: %q, %v; want %q", r.stdout, r.err, want)
	}
	kicked = carol.WaitEvent("carol kicked", func(ev siotest.Event) bool { return ev.Namespace == "/games" && ev.Name == chat.EventKicked })
	if reason := kicked.Args.Object(0)["reason"]; reason != `the room "games" was removed` {
		t.Errorf("kicked %s, want the room's removal as the reason", kicked.Args)
	}
	carol.WaitClosed()
	// Its namespace is refused from then on.
	late := siotest.Dial(t, url, siotest.Options{})
	late.SendText("40/games,")
	late.Expect(`44/games,{"message":"Invalid namespace"}`)
	refused(t, run(t, "history", "--room", "games", "--db", db), `there is no room called "games"`)
	if got, want := roomSummary(roomsJSON(t, db)), "general||1|"; got != want {
		t.Errorf("rooms after remove: %s, want %s", got, want)
	}
}

func TestRoomNamesAreCompleted(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	seed(t, db, 10, "alice")
	seedRoom(t, db, "games", "board games", "bob")
	seedRoom(t, db, "gardening", "", "bob")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "room", "remove", "--db", db, ""}, "games\tboard games\ngardening\n:4\n"},
		{[]string{"__complete", "room", "remove", "--db", db, "gar"}, "gardening\n:4\n"},
		{[]string{"__complete", "history", "--db", db, "--room", ""}, "general\ngames\tboard games\ngardening\n:4\n"},
		{[]string{"__complete", "kick", "--db", db, "--room", "ge"}, "general\n:4\n"},
		{[]string{"__complete", "room", "remove", "--db", filepath.Join(t.TempDir(), "none.db"), ""}, ":4\n"},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			r := run(t, tc.args...)
			if r.err != nil || r.stdout != tc.want {
				t.Errorf("completions %q, %v; want %q", r.stdout, r.err, tc.want)
			}
		})
	}
}

func TestEveryRoomCommandHasHelpWithExample(t *testing.T) {
	for _, name := range []string{"add", "list", "remove"} {
		r := run(t, "room", name, "--help")
		if r.err != nil || !strings.Contains(r.stdout, "Examples:\n  chatserver room "+name) {
			t.Errorf("room %s --help has no example of the command: %v\n%s", name, r.err, r.stdout)
		}
	}
}
