package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"go.etcd.io/bbolt"

	"chatserver/storage"
)

// Bucket and key names of the layout described in doc.go.
var (
	bucketMeta  = []byte("meta")
	bucketBans  = []byte("bans")
	bucketRooms = []byte("rooms")
	// bucketMessages and bucketChatters are nested in each room's bucket;
	// in a schema-1 file they are top-level.
	bucketMessages = []byte("messages")
	bucketChatters = []byte("chatters")

	keySchema = []byte("schema")
	keyApp    = []byte("app")

	keyTopic   = []byte("topic")
	keyCreated = []byte("created")
)

// topLevel are the top-level buckets of a chatserver file, by schema
// version; a file with any other is not chatserver's.
var topLevel = map[int][]string{
	1: {"meta", "messages", "chatters", "bans"},
	2: {"meta", "bans", "rooms"},
}

// fileState is what checkLayout learned about a file.
type fileState struct {
	fresh        bool // a bbolt file without any bucket: initialise it
	schema       int  // meta/schema; 0 when fresh
	incomplete   bool // the chatserver marker is there, some bucket of the layout is not
	messages     int  // the most messages one room keeps
	staleBanKeys bool // a ban is stored under another key than its nick.Key
}

// needsPrepare reports whether a read-write Open has to write to a file
// in this state before use, keeping history messages per room.
func (st fileState) needsPrepare(history int) bool {
	return st.fresh || st.schema < SchemaVersion || st.incomplete || st.messages > history || st.staleBanKeys
}

// checkLayout reads every bucket of a chatserver file (so that damaged pages
// surface here, under guard, rather than later), checks that the file has
// the layout of its schema version and nothing else, and reports its
// state. size is the file's size in bytes.
func checkLayout(tx *bbolt.Tx, size int64) (fileState, error) {
	if tx.Size() > size {
		return fileState{}, fmt.Errorf("file is %d bytes but its pages need %d: %w", size, tx.Size(), storage.ErrNotChatserver)
	}
	var names []string
	if err := tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
		names = append(names, string(name))
		return nil
	}); err != nil {
		return fileState{}, err
	}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if len(names) == 0 {
			return fileState{fresh: true}, nil
		}
		return fileState{}, fmt.Errorf("bbolt file without chatserver marker (buckets %q): %w", names, storage.ErrNotChatserver)
	}
	if app := meta.Get(keyApp); !bytes.Equal(app, []byte(appName)) {
		return fileState{}, fmt.Errorf("meta/app is %q, want %q: %w", app, appName, storage.ErrNotChatserver)
	}
	v, err := schemaVersion(meta)
	if err != nil {
		return fileState{}, err
	}
	for _, name := range names {
		if !slices.Contains(topLevel[v], name) {
			return fileState{}, fmt.Errorf("bucket %q is not part of schema %d: %w", name, v, storage.ErrNotChatserver)
		}
	}
	st := fileState{schema: v}
	if err := checkBans(tx.Bucket(bucketBans), &st); err != nil {
		return fileState{}, err
	}
	if v == 1 {
		if err := checkRoom(nil, tx.Bucket(bucketMessages), tx.Bucket(bucketChatters), "", &st); err != nil {
			return fileState{}, err
		}
		return st, nil
	}
	rooms := tx.Bucket(bucketRooms)
	if rooms == nil {
		st.incomplete = true
		return st, nil
	}
	if rooms.Bucket([]byte(storage.DefaultRoom)) == nil {
		st.incomplete = true
	}
	err = rooms.ForEach(func(k, v []byte) error {
		switch {
		case v != nil:
			return fmt.Errorf("rooms/%q is a value, not a room's bucket: %w", k, storage.ErrNotChatserver)
		case storage.CheckRoomName(string(k)) != nil:
			return fmt.Errorf("rooms/%q: %v: %w", k, storage.CheckRoomName(string(k)), storage.ErrNotChatserver)
		}
		b := rooms.Bucket(k)
		return checkRoom(b, b.Bucket(bucketMessages), b.Bucket(bucketChatters), "rooms/"+string(k)+"/", &st)
	})
	if err != nil {
		return fileState{}, err
	}
	return st, nil
}

// checkRoom checks one room: its bucket b (nil for the default room of a
// schema-1 file, whose buckets are top-level) holds only its topic, its
// creation time and its messages and chatters buckets. path prefixes
// bucket names in errors.
func checkRoom(b, messages, chatters *bbolt.Bucket, path string, st *fileState) error {
	if b != nil {
		err := b.ForEach(func(k, v []byte) error {
			isBucket := v == nil
			switch {
			case bytes.Equal(k, keyTopic) && !isBucket:
			case bytes.Equal(k, keyCreated) && !isBucket:
				if _, err := decodeCreated(v); err != nil {
					return fmt.Errorf("%s%s: %v: %w", path, k, err, storage.ErrNotChatserver)
				}
			case bytes.Equal(k, bucketMessages) && isBucket, bytes.Equal(k, bucketChatters) && isBucket:
			default:
				return fmt.Errorf("%s%q does not belong to a room: %w", path, k, storage.ErrNotChatserver)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if messages == nil || chatters == nil {
		st.incomplete = true
	}
	if messages != nil {
		n, err := checkMessages(messages, path+"messages")
		if err != nil {
			return err
		}
		st.messages = max(st.messages, n)
	}
	if chatters != nil {
		return noNested(chatters, path+"chatters")
	}
	return nil
}

// checkMessages checks that every key of a messages bucket is an ID of 8
// bytes given out by the bucket's sequence, and counts the messages.
func checkMessages(b *bbolt.Bucket, path string) (int, error) {
	n := 0
	err := b.ForEach(func(k, v []byte) error {
		switch {
		case v == nil:
			return fmt.Errorf("%s holds a bucket %q: %w", path, k, storage.ErrNotChatserver)
		case len(k) != 8:
			return fmt.Errorf("%s: message key %x is not 8 bytes: %w", path, k, storage.ErrNotChatserver)
		case binary.BigEndian.Uint64(k) > b.Sequence():
			return fmt.Errorf("%s: message ID %d is past the sequence %d: %w", path, binary.BigEndian.Uint64(k), b.Sequence(), storage.ErrNotChatserver)
		}
		n++
		return nil
	})
	return n, err
}

// checkBans checks the bans bucket (nil: missing) and notes stale keys.
func checkBans(b *bbolt.Bucket, st *fileState) error {
	if b == nil {
		st.incomplete = true
		return nil
	}
	if err := noNested(b, "bans"); err != nil {
		return err
	}
	return b.ForEach(func(k, _ []byte) error {
		if staleBanKey(k) {
			st.staleBanKeys = true
		}
		return nil
	})
}

// noNested checks that b holds values only.
func noNested(b *bbolt.Bucket, path string) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return fmt.Errorf("%s holds a bucket %q: %w", path, k, storage.ErrNotChatserver)
		}
		return nil
	})
}

// schemaVersion parses meta/schema, refusing versions this binary does not
// know.
func schemaVersion(meta *bbolt.Bucket) (int, error) {
	raw := meta.Get(keySchema)
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("meta/schema is %q: %w", raw, storage.ErrNotChatserver)
	}
	if v > SchemaVersion {
		return 0, fmt.Errorf("schema version %d, this chatserver understands up to %d: %w", v, SchemaVersion, storage.ErrNewerSchema)
	}
	return v, nil
}

// consistencyCheck runs bbolt's own page-level check (double-freed,
// unreachable or out-of-range pages) on a read-only handle.
func consistencyCheck(db *bbolt.DB) error {
	return db.View(func(tx *bbolt.Tx) error {
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return fmt.Errorf("consistency check: %v: %w", first, storage.ErrNotChatserver)
		}
		return nil
	})
}

// prepare gives a read-write file the current layout, in one transaction:
// the marker and every bucket of the layout (the default room's too), a
// schema-1 file migrated (migrate), bans under their current keys
// (rekeyBans), and the history of every room trimmed to s.history. It
// checks the file again under the write lock first, so a file that
// changed since it was inspected (gained foreign buckets, say) is refused
// without writing. If anything fails, nothing is written.
func (s *Store) prepare() error {
	return guard(func() error {
		return s.db.Update(func(tx *bbolt.Tx) error {
			st, err := checkLayout(tx, math.MaxInt64)
			if err != nil {
				return err
			}
			meta := tx.Bucket(bucketMeta)
			if st.fresh {
				if meta, err = tx.CreateBucket(bucketMeta); err != nil {
					return err
				}
				if err := meta.Put(keyApp, []byte(appName)); err != nil {
					return err
				}
				if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
					return err
				}
			}
			if st.schema == 1 {
				if err := migrate(tx, meta); err != nil {
					return fmt.Errorf("migrate from schema 1: %w", err)
				}
			}
			bans, err := tx.CreateBucketIfNotExists(bucketBans)
			if err != nil {
				return fmt.Errorf("create bucket %s: %w", bucketBans, err)
			}
			if err := rekeyBans(bans); err != nil {
				return err
			}
			rooms, err := tx.CreateBucketIfNotExists(bucketRooms)
			if err != nil {
				return fmt.Errorf("create bucket %s: %w", bucketRooms, err)
			}
			if rooms.Bucket([]byte(storage.DefaultRoom)) == nil {
				if _, err := createRoom(rooms, storage.DefaultRoom, "", time.Now()); err != nil {
					return err
				}
			}
			names, err := roomNames(rooms)
			if err != nil {
				return err
			}
			for _, name := range names {
				b := rooms.Bucket([]byte(name))
				for _, nested := range [][]byte{bucketMessages, bucketChatters} {
					if _, err := b.CreateBucketIfNotExists(nested); err != nil {
						return fmt.Errorf("create bucket rooms/%s/%s: %w", name, nested, err)
					}
				}
				if err := trim(b.Bucket(bucketMessages), s.history); err != nil {
					return fmt.Errorf("room %s: %w", name, err)
				}
			}
			return nil
		})
	})
}

// migrate turns a schema-1 file into a schema-2 one within tx: the
// top-level messages (same keys, same values, and the bucket's sequence,
// so that IDs continue and are never given out again) and chatters become
// the default room's, created at the zero time, and meta/schema becomes 2.
func migrate(tx *bbolt.Tx, meta *bbolt.Bucket) error {
	rooms, err := tx.CreateBucket(bucketRooms)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketRooms, err)
	}
	room, err := createRoom(rooms, storage.DefaultRoom, "", time.Time{})
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketMessages, bucketChatters} {
		old := tx.Bucket(name)
		if old == nil {
			continue
		}
		var pairs [][2][]byte
		if err := old.ForEach(func(k, v []byte) error {
			pairs = append(pairs, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
			return nil
		}); err != nil {
			return err
		}
		dst := room.Bucket(name)
		for _, p := range pairs {
			if err := dst.Put(p[0], p[1]); err != nil {
				return fmt.Errorf("copy %s/%x: %w", name, p[0], err)
			}
		}
		if err := dst.SetSequence(old.Sequence()); err != nil {
			return fmt.Errorf("copy the sequence of %s: %w", name, err)
		}
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("delete bucket %s: %w", name, err)
		}
	}
	return meta.Put(keySchema, []byte("2"))
}

// createRoom creates the bucket of room name in rooms, with its topic,
// its creation time (stored in UTC) and empty messages and chatters
// buckets, and returns it.
func createRoom(rooms *bbolt.Bucket, name, topic string, created time.Time) (*bbolt.Bucket, error) {
	b, err := rooms.CreateBucket([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("create bucket rooms/%s: %w", name, err)
	}
	if err := b.Put(keyTopic, []byte(topic)); err != nil {
		return nil, fmt.Errorf("put rooms/%s/%s: %w", name, keyTopic, err)
	}
	if err := b.Put(keyCreated, []byte(created.UTC().Format(time.RFC3339Nano))); err != nil {
		return nil, fmt.Errorf("put rooms/%s/%s: %w", name, keyCreated, err)
	}
	for _, nested := range [][]byte{bucketMessages, bucketChatters} {
		if _, err := b.CreateBucket(nested); err != nil {
			return nil, fmt.Errorf("create bucket rooms/%s/%s: %w", name, nested, err)
		}
	}
	return b, nil
}

// decodeCreated parses a room's stored creation time.
func decodeCreated(v []byte) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}, fmt.Errorf("bad creation time %q", v)
	}
	return t, nil
}
