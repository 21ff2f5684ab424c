package admin

import (
	"context"
	"net/http"
	"time"
)

// Chatters asks GET /chatters for the nicknames present, sorted. The
// commands have no use for the route; the tests read presence through it.
func (c *Client) Chatters(ctx context.Context) ([]string, error) {
	var names []string
	if err := c.do(ctx, http.MethodGet, "/chatters", nil, &names); err != nil {
		return nil, err
	}
	return names, nil
}

// SetBackupIdle makes Client.Backup give up after d without a byte, until
// the returned restore is called.
func SetBackupIdle(d time.Duration) (restore func()) {
	old := backupIdle
	backupIdle = d
	return func() { backupIdle = old }
}
