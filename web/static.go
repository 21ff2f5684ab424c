package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// staticFS holds the page and the browser client, compiled into the binary.
//
//go:embed static
var staticFS embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	name    string
	content []byte
	etag    string
	ctype   string
}

// assets serves the embedded files by name, with ETags so browsers
// revalidate cheaply, and never from the working directory.
type assets map[string]*asset

// loadStatic reads every embedded file once.
func loadStatic(fsys fs.FS) (assets, error) {
	a := assets{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := contentTypes[path.Ext(p)]
		if ctype == "" {
			ctype = http.DetectContentType(b)
		}
		a[p] = &asset{
			name:    p,
			content: b,
			etag:    `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			ctype:   ctype,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load embedded files: %w", err)
	}
	return a, nil
}

// contentTypes are the types of the embedded files by extension, as the
// mime package's own table has them. mime.TypeByExtension would also read
// the system's MIME databases, which cost the server half a megabyte of
// heap for its whole life to look up four extensions (and could name
// them differently from one machine to the next).
var contentTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".html":  "text/html; charset=utf-8",
	".ico":   "image/vnd.microsoft.icon",
	".js":    "text/javascript; charset=utf-8",
	".json":  "application/json",
	".png":   "image/png",
	".svg":   "image/svg+xml",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
}

// mustStatic returns the embedded assets; they are part of the binary, so
// failing to read them is a build defect.
func mustStatic() assets {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	a, err := loadStatic(sub)
	if err != nil {
		panic(err)
	}
	return a
}

// ServeHTTP serves the file named by the request path.
func (a assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	f, ok := a[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	f.serve(w, r)
}

// file returns a handler that always serves the named file.
func (a assets) file(name string) http.Handler {
	f, ok := a[name]
	if !ok {
		panic("web: no embedded file " + name)
	}
	return http.HandlerFunc(f.serve)
}

func (f *asset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	// Revalidate every time: after an upgrade of the binary the browser
	// must not keep an old page or client, and a 304 costs nothing.
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.content))
}
