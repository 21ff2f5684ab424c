package bolt

import (
	"fmt"

	"go.etcd.io/bbolt"

	"chatserver/nick"
)

// RemoveChatter removes every present name that is the same nickname as
// name (nick.Key) and reports whether there was one. When there was none
// it writes nothing.
func (s *Store) RemoveChatter(name string) (bool, error) {
	var found bool
	err := s.update("remove chatter", func(tx *bbolt.Tx) error {
		found = false
		b, err := bucket(tx, bucketChatters)
		if err != nil {
			return err
		}
		key := nick.Key(name)
		var match [][]byte
		if err := b.ForEach(func(k, _ []byte) error {
			if nick.Key(string(k)) == key {
				match = append(match, []byte(string(k)))
			}
			return nil
		}); err != nil {
			return err
		}
		if len(match) == 0 {
			return errNoChange
		}
		for _, k := range match {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("delete %q: %w", k, err)
			}
		}
		found = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return found, nil
}

// Chatters returns the present names in byte order (sort.Strings order).
// The slice is the caller's.
func (s *Store) Chatters() ([]string, error) {
	var names []string
	err := s.view("chatters", func(tx *bbolt.Tx) error {
		names = nil
		b, err := bucket(tx, bucketChatters)
		if b == nil {
			return err
		}
		return b.ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}

// SetChatters replaces the presence set with names (each exactly as given)
// in one transaction.
func (s *Store) SetChatters(names []string) error {
	return s.update("set chatters", func(tx *bbolt.Tx) error {
		if err := recreate(tx, bucketChatters); err != nil {
			return err
		}
		b := tx.Bucket(bucketChatters)
		for _, name := range names {
			if err := b.Put([]byte(name), []byte{}); err != nil {
				return fmt.Errorf("put %q: %w", name, err)
			}
		}
		return nil
	})
}

// recreate replaces bucket name with an empty one.
func recreate(tx *bbolt.Tx, name []byte) error {
	if err := tx.DeleteBucket(name); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if _, err := tx.CreateBucket(name); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}
