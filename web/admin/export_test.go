package admin

import (
	"context"
	"net/http"
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
