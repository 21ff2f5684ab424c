//go:build ignore

// Command gen writes ../skeleton_table.go (run by `go generate` in package
// nick): the confusable mappings of Unicode Technical Standard #39 that
// nick.Key applies, reduced to those that matter for nicknames.
//
// Its source is Unicode's confusables.txt, as the Go module
// github.com/mtibben/confusables holds it: a Go map in that module's
// tables.go. The go command downloads the module (checked against the
// checksum database) and gen reads tables.go as Go source. It never
// imports the module, so the module is no dependency of chatserver: it is
// in no build, in go.mod or in go.sum, and this file is kept out of the
// package tree by its build constraint.
//
// A mapping is kept when its source character can occur in a nickname
// after the steps Key takes before the skeleton (NFKC, case folding, NFD)
// and its target, carried through those steps and the mapping itself until
// nothing changes, is printable ASCII: Latin letters, digits and ASCII
// punctuation, possibly followed by combining marks ("ø" is "o" with a
// combining solidus). Look-alikes of other scripts' letters are left out:
// nicknames are mostly Latin, and the table stays small.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
)

// The source of the data.
const (
	module  = "github.com/mtibben/confusables"
	version = "v0.0.0-20210201002637-9d1b0723b659"
	file    = "tables.go"
	mapName = "confusablesMap"
)

// maxTarget bounds the length, in bytes, of a kept target.
const maxTarget = 8

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	out := flag.String("o", "skeleton_table.go", "file to write")
	dir := flag.String("dir", "", "directory of the module "+module+"@"+version+" (default: ask the go command)")
	flag.Parse()

	if *dir == "" {
		var err error
		if *dir, err = download(module + "@" + version); err != nil {
			log.Fatal(err)
		}
	}
	src, err := readSource(filepath.Join(*dir, file))
	if err != nil {
		log.Fatal(err)
	}
	entries, err := reduce(src.mappings)
	if err != nil {
		log.Fatal(err)
	}
	code, err := render(src, entries)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d of %d mappings of confusables.txt %s written to %s", len(entries), len(src.mappings), src.unicodeVersion, *out)
}

// download has the go command fetch path@version into the module cache
// and returns its directory.
func download(pathVersion string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", pathVersion)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(raw, &info); jerr != nil && err == nil {
		err = jerr
	}
	switch {
	case info.Error != "":
		return "", fmt.Errorf("go mod download %s: %s", pathVersion, info.Error)
	case err != nil:
		return "", fmt.Errorf("go mod download %s: %v\n%s", pathVersion, err, stderr.Bytes())
	case info.Dir == "":
		return "", fmt.Errorf("go mod download %s: no directory reported", pathVersion)
	}
	return info.Dir, nil
}

// source is what tables.go holds.
type source struct {
	unicodeVersion string          // of confusables.txt, e.g. "13.0.0"
	date           string          // of confusables.txt, as its header gives it
	mappings       map[rune]string // source character → prototype
}

var (
	versionLine = regexp.MustCompile(`^Version: (\S+)$`)
	dateLine    = regexp.MustCompile(`^Date: (.+)$`)
)

// readSource parses the module's tables.go: the header of confusables.txt,
// kept there as comments, and the map literal of its mappings.
func readSource(path string) (source, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		return source{}, err
	}
	var src source
	for _, group := range f.Comments {
		for _, line := range strings.Split(group.Text(), "\n") {
			line = strings.TrimSpace(line)
			if m := versionLine.FindStringSubmatch(line); m != nil && src.unicodeVersion == "" {
				src.unicodeVersion = m[1]
			}
			if m := dateLine.FindStringSubmatch(line); m != nil && src.date == "" {
				src.date = m[1]
			}
		}
	}
	if src.unicodeVersion == "" || src.date == "" {
		return source{}, fmt.Errorf("%s: no Version and Date lines in the header of confusables.txt", path)
	}
	lit := findMap(f)
	if lit == nil {
		return source{}, fmt.Errorf("%s: no map literal %s", path, mapName)
	}
	src.mappings = make(map[rune]string, len(lit.Elts))
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			return source{}, fmt.Errorf("%s: element that is not key: value", fset.Position(e.Pos()))
		}
		k, kok := kv.Key.(*ast.BasicLit)
		v, vok := kv.Value.(*ast.BasicLit)
		if !kok || !vok || k.Kind != token.INT || v.Kind != token.STRING {
			return source{}, fmt.Errorf("%s: element that is not rune: string", fset.Position(e.Pos()))
		}
		r, err := strconv.ParseInt(k.Value, 0, 32)
		if err != nil || !utf8.ValidRune(rune(r)) {
			return source{}, fmt.Errorf("%s: bad character %s", fset.Position(k.Pos()), k.Value)
		}
		s, err := strconv.Unquote(v.Value)
		if err != nil || !utf8.ValidString(s) || s == "" {
			return source{}, fmt.Errorf("%s: bad target %s", fset.Position(v.Pos()), v.Value)
		}
		src.mappings[rune(r)] = s
	}
	return src, nil
}

// findMap returns the composite literal assigned to mapName, or nil.
func findMap(f *ast.File) *ast.CompositeLit {
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if name.Name != mapName || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.CompositeLit); ok {
					return lit
				}
			}
		}
	}
	return nil
}

// fold is nick.Key's case folding of one character (a test of package nick
// checks that the table agrees with Key).
func fold(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }

// foldedNFD is nick.Key up to the skeleton.
func foldedNFD(s string) string {
	s = norm.NFD.String(strings.Map(fold, norm.NFKC.String(s)))
	return norm.NFD.String(strings.Map(fold, s))
}

// step is nick.Key with the mappings m.
func step(s string, m map[rune]string) string {
	s = foldedNFD(s)
	var b strings.Builder
	for _, r := range s {
		if t, ok := m[r]; ok {
			b.WriteString(t)
		} else {
			b.WriteRune(r)
		}
	}
	return norm.NFD.String(b.String())
}

// settle applies step to s until nothing changes.
func settle(s string, m map[rune]string) (string, error) {
	for range 16 {
		next := step(s, m)
		if next == s {
			return s, nil
		}
		s = next
	}
	return "", fmt.Errorf("%+q does not settle under the mappings", s)
}

// entry is one kept mapping.
type entry struct {
	from rune
	to   string
}

// reduce keeps the mappings that matter for nicknames (see the package
// doc), their targets settled, and checks that Key with only these is
// idempotent on every target.
func reduce(all map[rune]string) ([]entry, error) {
	// Which characters can reach the mapping step at all.
	reachable := make(map[rune]bool)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		for _, c := range foldedNFD(string(r)) {
			reachable[c] = true
		}
	}
	var kept []entry
	for from, to := range all {
		if !reachable[from] {
			continue
		}
		to, err := settle(to, all)
		if err != nil {
			return nil, err
		}
		if to != string(from) && keepTarget(to) {
			kept = append(kept, entry{from, to})
		}
	}
	slices.SortFunc(kept, func(a, b entry) int { return int(a.from - b.from) })

	m := make(map[rune]string, len(kept))
	for _, e := range kept {
		m[e.from] = e.to
	}
	for _, e := range kept {
		if got := step(e.to, m); got != e.to {
			return nil, fmt.Errorf("%U → %+q is not settled by the kept mappings: %+q", e.from, e.to, got)
		}
	}
	return kept, nil
}

// keepTarget reports whether a settled target is printable ASCII, possibly
// with combining marks after its first character, and short.
func keepTarget(to string) bool {
	if len(to) > maxTarget || to[0] < ' ' || to[0] > '~' {
		return false
	}
	for _, r := range to {
		if (r < ' ' || r > '~') && !unicode.Is(unicode.Mn, r) {
			return false
		}
	}
	return true
}

// render writes the Go source of the table.
func render(src source, entries []entry) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `// Code generated by "go run internal/gen/main.go"; DO NOT EDIT.

// Source: Unicode confusables.txt (Unicode Technical Standard #39, Unicode
// Security Mechanisms), version %s, dated %s, as held in
// the file %s of the Go module %s %s.
// Kept: %d of its %d mappings, those that matter for nicknames (see
// internal/gen/main.go). © Unicode, Inc.; see https://www.unicode.org/terms_of_use.html.

package nick

// skeletonTable maps characters, in increasing order, to their
// confusable prototype as nick.Key compares it.
var skeletonTable = [...]struct {
	from rune
	to   string
}{
`, src.unicodeVersion, src.date, file, module, version, len(entries), len(src.mappings))
	for _, e := range entries {
		name := runenames.Name(e.from)
		if name == "" {
			name = "unnamed"
		}
		fmt.Fprintf(&b, "\t{0x%04X, %+q}, // %s\n", e.from, e.to, name)
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
