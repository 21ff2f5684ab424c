package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Rooms: the operator adds and removes them with `chatserver room`, and
// classic Socket.IO clients reach each at its namespace, /NAME, the
// default room "general" at "/".

// roomEntry is one room of the rooms event, and of its ack.
type roomEntry struct {
	Name      string `json:"name"`
	Topic     string `json:"topic"`
	Namespace string `json:"namespace"`
}

// entries writes a room list as "name namespace topic" lines joined by
// " | ", for comparisons.
func entries(list []roomEntry) string {
	var parts []string
	for _, r := range list {
		parts = append(parts, strings.TrimSpace(r.Name+" "+r.Namespace+" "+r.Topic))
	}
	return strings.Join(parts, " | ")
}

// roomsEvent waits for the next rooms event at client and returns its list.
func (d *driver) roomsEvent(client string) string {
	d.t.Helper()
	var list []roomEntry
	d.event(client, "rooms").obj(d.t, 0, &list)
	return entries(list)
}

// roomsAsked asks for the room list with an ack and returns it.
func (d *driver) roomsAsked(client string) string {
	d.t.Helper()
	ack := d.call(client, "rooms")
	b, _ := json.Marshal(ack["rooms"])
	var list []roomEntry
	if ack["ok"] != true || json.Unmarshal(b, &list) != nil {
		d.t.Fatalf("rooms ack %v, want {ok: true, rooms: [...]}", ack)
	}
	return entries(list)
}

// roomInfo is one room of `chatserver room list --json`.
type roomInfo struct {
	Name     string   `json:"name"`
	Topic    string   `json:"topic"`
	Messages int      `json:"messages"`
	Chatters []string `json:"chatters"`
}

// roomList runs `chatserver room list --json` on db and returns each room
// as "name|topic|messages|chatter,chatter", joined by spaces.
func roomList(t testing.TB, db string) string {
	t.Helper()
	r := runCLI(t, "room", "list", "--json", "--db", db)
	if r.code != 0 {
		t.Fatalf("room list --json: exit %d, %s", r.code, r.stderr)
	}
	var rooms []roomInfo
	if err := json.Unmarshal([]byte(r.stdout), &rooms); err != nil {
		t.Fatalf("room list --json printed %q: %v", r.stdout, err)
	}
	var parts []string
	for _, room := range rooms {
		if room.Chatters == nil {
			t.Errorf("room list --json: %s has chatters null, want an array", room.Name)
		}
		parts = append(parts, strings.Join([]string{room.Name, room.Topic, strconv.Itoa(room.Messages), strings.Join(room.Chatters, ",")}, "|"))
	}
	return strings.Join(parts, " ")
}

// roomHistory runs `chatserver history --room room --json` on db and
// returns the messages as "name: text" joined by " | ".
func roomHistory(t testing.TB, db, room string) string {
	t.Helper()
	r := runCLI(t, "history", "--room", room, "--json", "--db", db)
	if r.code != 0 {
		t.Fatalf("history --room %s: exit %d, %s", room, r.code, r.stderr)
	}
	var msgs []wireMessage
	if err := json.Unmarshal([]byte(r.stdout), &msgs); err != nil {
		t.Fatalf("history --room %s --json printed %q: %v", room, r.stdout, err)
	}
	var parts []string
	for _, m := range msgs {
		parts = append(parts, m.Name+": "+m.Text)
	}
	return strings.Join(parts, " | ")
}

// addRoom runs `chatserver room add` on db with a server running on it.
func addRoom(t testing.TB, db, name string, args ...string) {
	t.Helper()
	r := runCLI(t, append([]string{"room", "add", name, "--db", db}, args...)...)
	if want := "added the room " + name + "; clients reach it at the namespace /" + name + "\n"; r.code != 0 || r.stdout != want {
		t.Fatalf("room add %s: exit %d, %q %q; want %q", name, r.code, r.stdout, r.stderr, want)
	}
}

// say sends text from client with an ack and checks its echo.
func (d *driver) say(client, name, text string) {
	d.t.Helper()
	ackOK(d.t, client, d.call(client, "messages", text))
	checkMessage(d.t, d.event(client, "messages"), name, text)
}

// TestARoomAddedWhileServingChatsApart: `room add` opens a room at once;
// the page's sockets hear of it; a classic client reaches it by URL and
// chats there, with its own history (trimmed to --history apart from the
// default room's), its own presence, and its own nicknames.
func TestARoomAddedWhileServingChatsApart(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db, "--history", "3")
	d := startDriver(t)
	d.join("lobby", srv.url, "watcher")
	d.eventWith("lobby", "add chatter", "watcher")
	if got := d.roomsAsked("lobby"); got != "general /" {
		t.Errorf("rooms before the add: %s", got)
	}

	addRoom(t, db, "games", "--topic", "board games on Friday")
	const both = "general / | games /games board games on Friday"
	if got := d.roomsEvent("lobby"); got != both {
		t.Errorf("rooms event after the add: %s, want %s", got, both)
	}
	if got := d.roomsAsked("lobby"); got != both {
		t.Errorf("rooms asked after the add: %s, want %s", got, both)
	}

	games := srv.url + "/games"
	d.join("alice-games", games, "alice")
	d.eventWith("alice-games", "add chatter", "alice")
	for _, text := range []string{"m1", "m2", "m3", "m4", "m5"} {
		d.say("alice-games", "alice", text)
	}
	d.say("lobby", "watcher", "in general")

	// A joiner of games gets the newest three of games, then its chatters.
	d.join("bob-games", games, "bob")
	for _, text := range []string{"m3", "m4", "m5"} {
		checkMessage(t, d.event("bob-games", "messages"), "alice", text)
	}
	d.eventWith("bob-games", "add chatter", "alice")
	d.eventWith("bob-games", "add chatter", "bob")
	d.eventWith("alice-games", "add chatter", "bob")

	// The same nickname in the default room: its own history and chatters.
	d.join("alice-general", srv.url, "alice")
	checkMessage(t, d.event("alice-general", "messages"), "watcher", "in general")
	d.eventWith("alice-general", "add chatter", "alice")
	d.eventWith("alice-general", "add chatter", "watcher")
	d.eventWith("lobby", "add chatter", "alice")

	// A nickname is taken within its room.
	d.connect("carol-games", games, "websocket")
	if ack := d.call("carol-games", "join", "ALICE"); ack["error"] != "name_taken" {
		t.Errorf("joining games as ALICE: %v, want name_taken", ack)
	}
	if ack := d.call("carol-games", "join", "watcher"); ack["ok"] != true {
		t.Errorf("joining games as watcher, who chats in general only: %v, want ok", ack)
	}
	for _, text := range []string{"m3", "m4", "m5"} {
		checkMessage(t, d.event("carol-games", "messages"), "alice", text)
	}
	for _, name := range []string{"alice", "bob", "watcher"} {
		d.eventWith("carol-games", "add chatter", name)
	}
	d.eventWith("alice-games", "add chatter", "watcher")
	d.eventWith("bob-games", "add chatter", "watcher")

	// Leaving is told in the room left only.
	d.send(map[string]any{"op": "disconnect", "client": "bob-games"})
	d.eventWith("alice-games", "remove chatter", "bob")
	d.eventWith("carol-games", "remove chatter", "bob")
	d.nothingUnread(t, "lobby", "alice-general", "alice-games", "bob-games", "carol-games")

	if got, want := roomHistory(t, db, "games"), "alice: m3 | alice: m4 | alice: m5"; got != want {
		t.Errorf("history --room games: %s, want %s", got, want)
	}
	if got, want := roomHistory(t, db, "general"), "watcher: in general"; got != want {
		t.Errorf("history --room general: %s, want %s", got, want)
	}
	if got, want := roomList(t, db), "general||1|alice,watcher games|board games on Friday|3|alice,watcher"; got != want {
		t.Errorf("room list while serving: %s, want %s", got, want)
	}
}

// TestNamespaceSocketsShareOneConnection: a v4 client's io(url) and
// io(url + "/games") share one Manager, so one Engine.IO connection; it
// chats in both rooms, and removing a room ends that namespace socket
// only.
func TestNamespaceSocketsShareOneConnection(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	addRoom(t, db, "games")
	d := startDriver(t)
	shared := map[string]any{"forceNew": false, "transports": []string{"websocket"}}
	d.connectWith("ann", srv.url, shared)
	d.connectWith("ann-games", srv.url+"/games", shared)
	for _, c := range []string{"ann", "ann-games"} {
		if ack := d.call(c, "join", "ann"); ack["ok"] != true {
			t.Fatalf("%s: join %v", c, ack)
		}
		d.eventWith(c, "add chatter", "ann")
	}
	inGeneral := srv.waitRecord(t, "chatter joined", "nick", "ann", "room", "general").attrs["sid"]
	inGames := srv.waitRecord(t, "chatter joined", "nick", "ann", "room", "games").attrs["sid"]
	if inGeneral == "" || inGeneral != inGames {
		t.Fatalf("ann joined general on Engine.IO session %q and games on %q, want one session", inGeneral, inGames)
	}
	if n := len(srv.logged(t, "connection opened")); n != 1 {
		t.Errorf("%d Engine.IO connections opened, want 1", n)
	}
	d.say("ann-games", "ann", "a move")
	d.say("ann", "ann", "hello general")
	d.nothingUnread(t, "ann", "ann-games")

	r := runCLI(t, "room", "remove", "games", "--db", db)
	if want := "removed the room games (1 connection closed)\n"; r.code != 0 || r.stdout != want {
		t.Fatalf("room remove: exit %d, %q %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	var kicked struct{ Reason string }
	d.event("ann-games", "kicked").obj(t, 0, &kicked)
	if kicked.Reason != `the room "games" was removed` {
		t.Errorf("kicked reason %q", kicked.Reason)
	}
	if reason := d.disconnected("ann-games"); reason != "io server disconnect" {
		t.Errorf("ann-games disconnected for %q, want io server disconnect", reason)
	}
	if got := d.roomsEvent("ann"); got != "general /" {
		t.Errorf("rooms event after the removal: %s", got)
	}
	// The connection and its socket of the default room go on.
	d.say("ann", "ann", "still here")
	d.nothingUnread(t, "ann", "ann-games")
	if got := d.connectError("late", srv.url+"/games", "websocket"); got != "Invalid namespace" {
		t.Errorf("connecting to the removed room: connect_error %q, want Invalid namespace", got)
	}
}

// TestEveryClientReachesARoom: the Python client (namespaces=[...]) and a
// Socket.IO v2 client (io(url + "/games")) chat in a room with a v4
// client; the default room hears nothing of it.
func TestEveryClientReachesARoom(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	addRoom(t, db, "games")
	d4 := startDriver(t)
	dp := startPythonDriver(t)
	d2 := startDriver2(t)
	d4.join("general", srv.url, "gus")
	d4.eventWith("general", "add chatter", "gus")

	d4.join("ann", srv.url+"/games", "ann")
	d4.eventWith("ann", "add chatter", "ann")
	dp.connectWith("pia", srv.url, map[string]any{"namespace": "/games", "transports": []string{"websocket"}})
	if ack := dp.call("pia", "join", "pia"); ack["ok"] != true {
		t.Fatalf("pia's join: %v", ack)
	}
	dp.eventWith("pia", "add chatter", "ann")
	dp.eventWith("pia", "add chatter", "pia")
	d4.eventWith("ann", "add chatter", "pia")
	d2.connect("vic", srv.url+"/games", "websocket")
	if ack := d2.call("vic", "join", "vic"); ack["ok"] != true {
		t.Fatalf("vic's join: %v", ack)
	}
	for _, name := range []string{"ann", "pia", "vic"} {
		d2.eventWith("vic", "add chatter", name)
	}
	d4.eventWith("ann", "add chatter", "vic")
	dp.eventWith("pia", "add chatter", "vic")

	for _, s := range []struct {
		d          *driver
		from, name string
	}{{dp, "pia", "pia"}, {d2, "vic", "vic"}, {d4, "ann", "ann"}} {
		text := "from " + s.name + ", Ça va? 😀"
		id := ackOK(t, s.from, s.d.call(s.from, "messages", text))
		for _, r := range []struct {
			d      *driver
			client string
		}{{d4, "ann"}, {dp, "pia"}, {d2, "vic"}} {
			if got := checkMessage(t, r.d.event(r.client, "messages"), s.name, text); got.ID != id {
				t.Errorf("%s got id %v, the ack said %v", r.client, got.ID, id)
			}
		}
	}
	d4.nothingUnread(t, "general", "ann")
	dp.nothingUnread(t, "pia")
	d2.nothingUnread(t, "vic")
	if got, want := roomList(t, db), "general||0|gus games||3|ann,pia,vic"; got != want {
		t.Errorf("room list: %s, want %s", got, want)
	}
}

// TestANamespaceThatIsNoRoomIsRefused: "/nope" names no room, the default
// room has no second name "/general", and room names are lower case.
func TestANamespaceThatIsNoRoomIsRefused(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	addRoom(t, db, "games")
	d4 := startDriver(t)
	d2 := startDriver2(t)
	dp := startPythonDriver(t)
	for _, nsp := range []string{"/nope", "/general", "/Games", "/games/x"} {
		if got := d4.connectError("v4"+nsp, srv.url+nsp, "websocket"); got != "Invalid namespace" {
			t.Errorf("v4 client of %s: connect_error %q, want Invalid namespace", nsp, got)
		}
		d2.send(map[string]any{"op": "connect", "client": "v2" + nsp, "url": srv.url + nsp, "opts": map[string]any{"transports": []string{"websocket"}}})
		if got := d2.errorPacket("v2" + nsp); got != "Invalid namespace" {
			t.Errorf("v2 client of %s: refused with %q, want Invalid namespace", nsp, got)
		}
	}
	dp.send(dp.connectCommand("py", srv.url, map[string]any{"namespace": "/nope", "transports": []string{"websocket"}}))
	if got := dp.wait("py connect_error", func(m msg) bool { return m.Client == "py" && m.Type == "connect_error" }).Message; got != "Invalid namespace" {
		t.Errorf("Python client of /nope: connect_error %q, want Invalid namespace", got)
	}
	// The rooms are unharmed.
	d4.join("ann", srv.url+"/games", "ann")
	d2.join("vic", srv.url, "vic")
}

// TestRemovingARoomWhileServing: `room remove` kicks the room's chatters
// with a reason, disconnects every connection in it, deletes its history,
// and refuses its namespace from then on; the other rooms go on.
func TestRemovingARoomWhileServing(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	addRoom(t, db, "games")
	d := startDriver(t)
	d.join("lobby", srv.url, "gus")
	d.eventWith("lobby", "add chatter", "gus")
	d.say("lobby", "gus", "in general")
	d.join("ann", srv.url+"/games", "ann")
	d.eventWith("ann", "add chatter", "ann")
	d.say("ann", "ann", "in games")
	d.connect("lurker", srv.url+"/games", "polling") // connected, never joined

	r := runCLI(t, "room", "remove", "games", "--db", db)
	if want := "removed the room games (2 connections closed)\n"; r.code != 0 || r.stdout != want {
		t.Fatalf("room remove: exit %d, %q %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	var kicked struct{ Reason string }
	d.event("ann", "kicked").obj(t, 0, &kicked)
	if kicked.Reason != `the room "games" was removed` {
		t.Errorf("kicked reason %q", kicked.Reason)
	}
	d.disconnected("ann")
	d.disconnected("lurker")
	if got := d.roomsEvent("lobby"); got != "general /" {
		t.Errorf("rooms event after the removal: %s", got)
	}
	d.say("lobby", "gus", "still here")
	d.nothingUnread(t, "lobby", "ann", "lurker")

	if got := d.connectError("again", srv.url+"/games", "websocket"); got != "Invalid namespace" {
		t.Errorf("reconnecting to the removed room: %q, want Invalid namespace", got)
	}
	plainFailure(t, runCLI(t, "history", "--room", "games", "--db", db), `there is no room called "games"`)
	plainFailure(t, runCLI(t, "room", "remove", "games", "--db", db), `there is no room called "games"`)
	if got, want := roomList(t, db), "general||2|gus"; got != want {
		t.Errorf("room list: %s, want %s", got, want)
	}

	// A room added again under the name is new and empty.
	addRoom(t, db, "games")
	d.join("ann-again", srv.url+"/games", "ann")
	d.eventWith("ann-again", "add chatter", "ann")
	d.nothingUnread(t, "ann-again")
}

// TestKickInOneRoomOrEvery: kick --room games kicks there only, kick
// without --room everywhere, and a ban holds in every room.
func TestKickInOneRoomOrEvery(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	addRoom(t, db, "games")
	d := startDriver(t)
	games := srv.url + "/games"
	d.join("alice-general", srv.url, "alice")
	d.join("alice-games", games, "alice")
	d.join("bob-games", games, "bob")
	d.join("bob-general", srv.url, "bob")

	r := runCLI(t, "kick", "ALICE", "--room", "games", "--reason", "one room at a time", "--db", db)
	if want := "kicked ALICE from the room games (1 connection closed)\n"; r.code != 0 || r.stdout != want {
		t.Fatalf("kick --room games: exit %d, %q %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	var kicked struct{ Reason string }
	d.event("alice-games", "kicked").obj(t, 0, &kicked)
	if kicked.Reason != "one room at a time" {
		t.Errorf("kicked reason %q", kicked.Reason)
	}
	d.disconnected("alice-games")
	d.eventWith("bob-games", "remove chatter", "alice")
	d.say("alice-general", "alice", "still in general")
	checkMessage(t, d.event("bob-general", "messages"), "alice", "still in general")
	plainFailure(t, runCLI(t, "kick", "alice", "--room", "games", "--db", db), `no chatter called "alice" is present in the room "games"`)

	r = runCLI(t, "kick", "bob", "--ban", "1h", "--db", db)
	if want := "kicked bob from the rooms general and games (2 connections closed)\nbanned bob for 1h0m0s\n"; r.code != 0 || r.stdout != want {
		t.Fatalf("kick --ban: exit %d, %q %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	for _, c := range []string{"bob-games", "bob-general"} {
		d.event(c, "kicked")
		d.disconnected(c)
	}
	d.eventWith("alice-general", "remove chatter", "bob")
	for _, url := range []string{srv.url, games} {
		c := "bob-again" + strings.TrimPrefix(url, srv.url)
		d.connect(c, url, "websocket")
		if ack := d.call(c, "join", "Bob"); ack["error"] != "banned" {
			t.Errorf("joining %s as Bob after the ban: %v, want banned", url, ack)
		}
	}
	plainFailure(t, runCLI(t, "kick", "alice", "--room", "chess", "--db", db), `there is no room called "chess"`)
}

// TestRoomsSurviveARestart: the rooms, their topics and histories are in
// the file: history --room and room list read them while no server runs,
// a room added then opens at the next start, and clients find each
// room's history there.
func TestRoomsSurviveARestart(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	addRoom(t, db, "games", "--topic", "board games")
	d := startDriver(t)
	d.join("ann", srv.url+"/games", "ann")
	d.say("ann", "ann", "a move")
	d.join("gus", srv.url, "gus")
	d.say("gus", "gus", "hello")
	if got, want := roomHistory(t, db, "games"), "ann: a move"; got != want {
		t.Errorf("history --room games while serving: %s, want %s", got, want)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	d.disconnected("ann")
	d.disconnected("gus")

	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := roomHistory(t, db, "games"), "ann: a move"; got != want {
		t.Errorf("history --room games with no server: %s, want %s", got, want)
	}
	r := runCLI(t, "history", "--room", "games", "--db", db)
	if r.code != 0 || !strings.HasSuffix(r.stdout, " ann: a move\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("history --room games as text: exit %d, %q", r.code, r.stdout)
	}
	if got, want := roomList(t, db), "general||1| games|board games|1|"; got != want {
		t.Errorf("room list with no server: %s, want %s", got, want)
	}
	plainFailure(t, runCLI(t, "room", "add", "games", "--db", db), `there is already a room called "games" in `+db)
	plainFailure(t, runCLI(t, "room", "remove", "chess", "--db", db), `there is no room called "chess" in `+db)
	if after, _ := os.ReadFile(db); string(after) != string(before) {
		t.Error("reading and refusals changed the file")
	}
	r = runCLI(t, "room", "add", "chess", "--topic", "one move a day", "--db", db)
	if want := "added the room chess to " + db + " (no server is running; the room opens when one starts)\n"; r.code != 0 || r.stdout != want {
		t.Fatalf("room add with no server: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	srv = startServer(t, db)
	d.connect("lobby", srv.url, "websocket")
	if got, want := d.roomsAsked("lobby"), "general / | chess /chess one move a day | games /games board games"; got != want {
		t.Errorf("rooms after the restart: %s, want %s", got, want)
	}
	d.join("bob", srv.url+"/games", "bob")
	checkMessage(t, d.event("bob", "messages"), "ann", "a move")
	d.join("carol", srv.url+"/chess", "carol")
	d.say("carol", "carol", "e4")
	d.join("gus-again", srv.url, "gus")
	checkMessage(t, d.event("gus-again", "messages"), "gus", "hello")
	if got, want := roomList(t, db), "general||1|gus chess|one move a day|1|carol games|board games|1|bob"; got != want {
		t.Errorf("room list after the restart: %s, want %s", got, want)
	}
}

// TestADatabaseFromBeforeRoomsIsServed: a file written by the schema
// before rooms (storage/bolt/testdata/v1.db) is served as the default
// room: its history replayed, the newest --history of it, its bans
// holding, its IDs going on; history reads it while serving and after.
func TestADatabaseFromBeforeRoomsIsServed(t *testing.T) {
	t.Parallel()
	old, err := os.ReadFile(filepath.Join("..", "storage", "bolt", "testdata", "v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "chat.db")
	if err := os.WriteFile(db, old, 0o600); err != nil {
		t.Fatal(err)
	}
	// Read while no server has run on it yet: served as it is, unchanged.
	if got, want := roomHistory(t, db, "general"), "ann: bye for now"; !strings.HasSuffix(got, want) || strings.Count(got, " | ") != 11 {
		t.Errorf("history of the old file: %s, want twelve messages ending with %s", got, want)
	}
	if got, want := roomList(t, db), "general||12|Zoë,bob"; got != want {
		t.Errorf("room list of the old file: %s, want %s", got, want)
	}
	if after, _ := os.ReadFile(db); string(after) != string(old) {
		t.Error("reading the old file changed it")
	}

	srv := startServer(t, db, "--history", "4")
	d := startDriver(t)
	d.join("new", srv.url, "newcomer")
	var last wireMessage
	for _, m := range []struct{ name, text string }{
		{"Мария", "спасибо!"}, {"李雷", "好的"}, {"Zoë", "à tout à l'heure"}, {"ann", "bye for now"},
	} {
		last = checkMessage(t, d.event("new", "messages"), m.name, m.text)
	}
	if last.ID != 14 {
		t.Errorf("the newest message has id %v, want 14", last.ID)
	}
	d.eventWith("new", "add chatter", "newcomer")
	d.nothingUnread(t, "new") // the chatters the file was left with are gone
	if id := ackOK(t, "newcomer", d.call("new", "messages", "hello, old friends")); id != 15 {
		t.Errorf("a new message has id %v, want 15: the IDs go on", id)
	}
	checkMessage(t, d.event("new", "messages"), "newcomer", "hello, old friends")
	for _, name := range []string{"mallory", "ΑΣ"} {
		d.connect("banned-"+name, srv.url, "websocket")
		if ack := d.call("banned-"+name, "join", name); ack["error"] != "banned" {
			t.Errorf("joining as %s: %v, want banned", name, ack)
		}
	}
	const kept = "李雷: 好的 | Zoë: à tout à l'heure | ann: bye for now | newcomer: hello, old friends"
	if got := roomHistory(t, db, "general"); got != kept {
		t.Errorf("history while serving: %s, want %s", got, kept)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if got := roomHistory(t, db, "general"); got != kept {
		t.Errorf("history after the stop: %s, want %s", got, kept)
	}
	if r := runCLI(t, "history", "--db", db, "-n", "1"); r.code != 0 || !strings.HasSuffix(r.stdout, " newcomer: hello, old friends\n") {
		t.Errorf("history -n 1 after the stop: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if got, want := roomList(t, db), "general||4|"; got != want {
		t.Errorf("room list after the stop: %s, want %s", got, want)
	}
}
