package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// The configuration file of serve is TOML whose keys are the names of
// serve's flags: addr = ":8080", max-message = 2000, lists as arrays of
// strings, durations as strings such as "25s", switches as true or false.
// Every flag that has an environment variable (withEnv) is a key, except
// --config itself; nothing here names a setting, so a new flag is a key as
// soon as it exists. A flag on the command line wins over its environment
// variable, which wins over the file, which wins over the default.

// Names of the two serve flags that are not settings.
const (
	configFlag = "config"
	checkFlag  = "check"
)

// configOptions are the flags of serve that say where its settings come
// from and what to do with them: they are not settings themselves.
type configOptions struct {
	file  string // --config: the TOML file of settings; "" for none
	check bool   // --check: check everything, print the settings, exit
}

// addFlags defines --config (with its environment variable) and --check on
// fs. --check has no variable: one left in a service's environment would
// keep the server from ever starting.
func (c *configOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.file, configFlag, "",
		"TOML file of settings, the keys named as these flags (max-message = 2000); a flag or environment variable wins over the file")
	withEnv(fs, configFlag)
	fs.BoolVar(&c.check, checkFlag, false,
		"check the settings, the database and the address, print the effective settings with where each came from, and exit")
}

// isSetting reports whether f is a key of the configuration file: a flag
// with an environment variable, other than --config.
func isSetting(f *pflag.Flag) bool {
	return f.Annotations[envAnnotation] != nil && f.Name != configFlag
}

// settingNames returns the keys of the configuration file for fs, in flag
// order.
func settingNames(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if isSetting(f) {
			names = append(names, f.Name)
		}
	})
	return names
}

// originKind says which of the four levels gave a setting its value.
type originKind int

const (
	fromDefault originKind = iota
	fromFile
	fromEnv
	fromFlag
)

// origin is where a setting's value came from.
type origin struct {
	kind originKind
	env  string      // fromEnv: the variable
	file fileSetting // fromFile: the key as the file has it
}

// String is the origin as --check prints it: flag, env CHATSERVER_X,
// file PATH, line N, or default.
func (o origin) String() string {
	switch o.kind {
	case fromFlag:
		return "flag"
	case fromEnv:
		return "env " + o.env
	case fromFile:
		return "file " + o.file.where()
	default:
		return "default"
	}
}

// setting is one setting of serve as it takes effect: its key, its value
// written as TOML, and where it came from.
type setting struct {
	key, value string
	origin     origin
}

// resolved is what resolve found: the configuration file read (if any) and
// every setting, in key order.
type resolved struct {
	file       string // the configuration file read; "" for none
	fileOrigin origin // where --config came from
	settings   []setting
}

// resolve completes the flags of fs once the command line is parsed: the
// environment variables first (applyEnv), then the configuration file
// named by --config or CHATSERVER_CONFIG for the settings neither gave,
// then validate. define defines serve's flags on an empty flag set: the
// keys that a flag or a variable overrides are applied to such a spare
// set, so that a mistake in them is found now rather than on the day the
// override goes.
//
// A mistake in the file, or a value from the file that validate refuses,
// is a *configError naming the key, the file and the line.
func (c *configOptions) resolve(fs *pflag.FlagSet, define func(*pflag.FlagSet), validate func() error) (*resolved, error) {
	origins := make(map[string]origin)
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			origins[f.Name] = origin{kind: fromFlag}
		}
	})
	if err := applyEnv(fs); err != nil {
		return nil, err
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if _, seen := origins[f.Name]; f.Changed && !seen {
			origins[f.Name] = origin{kind: fromEnv, env: envName(f.Name)}
		}
	})

	r := &resolved{file: c.file, fileOrigin: origins[configFlag]}
	if c.file != "" {
		keys, err := readConfig(c.file, r.fileOrigin, fs)
		if err != nil {
			return nil, err
		}
		spare := pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
		define(spare)
		for _, key := range keys {
			if !fs.Lookup(key.key).Changed {
				if err := key.apply(fs); err != nil {
					return nil, err
				}
				origins[key.key] = origin{kind: fromFile, file: key}
			} else if spare.Lookup(key.key) != nil {
				if err := key.apply(spare); err != nil {
					return nil, err
				}
			}
		}
	}

	// The values as given, before validate fills in what is derived
	// from them (an automatic --send-queue, say).
	fs.VisitAll(func(f *pflag.Flag) {
		if isSetting(f) {
			r.settings = append(r.settings, setting{key: f.Name, value: flagTOML(f), origin: origins[f.Name]})
		}
	})
	if err := validate(); err != nil {
		return nil, explain(err, fs, origins)
	}
	return r, nil
}

// configError is a mistake in the configuration file. It ends the command
// with exit status 2, as a mistake on the command line does.
type configError struct {
	msg string
	err error
}

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return e.err }

// flagMention finds the flags a validation message names.
var flagMention = regexp.MustCompile(`--([a-z0-9][a-z0-9-]*)`)

// explain adds to err, a refusal of validate, where each flag it names got
// its value when that was not the command line: a variable, or a key of
// the file (the error is then a *configError).
func explain(err error, fs *pflag.FlagSet, origins map[string]origin) error {
	var notes []string
	inFile := false
	seen := make(map[string]bool)
	for _, m := range flagMention.FindAllStringSubmatch(err.Error(), -1) {
		name := m[1]
		if seen[name] || fs.Lookup(name) == nil {
			continue
		}
		seen[name] = true
		switch o := origins[name]; o.kind {
		case fromEnv:
			notes = append(notes, fmt.Sprintf("%s from %s", name, o.env))
		case fromFile:
			notes = append(notes, fmt.Sprintf("%s = %s in config file %s", name, o.file.text, o.file.where()))
			inFile = true
		}
	}
	if len(notes) == 0 {
		return err
	}
	msg := fmt.Sprintf("%v (%s)", err, strings.Join(notes, "; "))
	if inFile {
		return &configError{msg: msg, err: err}
	}
	return plainf(err, "%s", msg)
}

// fileSetting is one key of a configuration file, converted for the flag
// it names.
type fileSetting struct {
	path string
	key  string
	line int
	text string   // the value as the file writes it, for messages
	args []string // Value.Set's argument, or a list flag's entries
	list bool     // args are the entries of a list flag (pflag.SliceValue)
}

// where is the file and line of the key.
func (s fileSetting) where() string {
	if s.line > 0 {
		return fmt.Sprintf("%s, line %d", s.path, s.line)
	}
	return s.path
}

// apply gives the flag of fs that s names its value.
func (s fileSetting) apply(fs *pflag.FlagSet) error {
	f := fs.Lookup(s.key)
	var err error
	if sv, ok := f.Value.(pflag.SliceValue); ok && s.list {
		if err = sv.Replace(s.args); err == nil {
			f.Changed = true
		}
	} else {
		err = fs.Set(s.key, s.args[0])
	}
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), strconv.ErrRange.Error()):
		// pflag formats the strconv error into its own, unwrapped.
		return &configError{
			msg: fmt.Sprintf("config file %s: %s = %s is out of range for %s", s.where(), s.key, s.text, s.key),
			err: err,
		}
	default:
		return &configError{
			msg: fmt.Sprintf("config file %s: %s = %s is not valid: %s takes %s", s.where(), s.key, s.text, s.key, wantTOML(f)),
			err: err,
		}
	}
}

// readConfig reads the configuration file at path (from says who named
// it) and converts each key for the flag of fs it names, in the file's
// order. Every mistake is a *configError naming the file, and the key and
// its line when there is one.
func readConfig(path string, from origin, fs *pflag.FlagSet) ([]fileSetting, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, readError(path, from, err)
	}
	var table map[string]toml.Primitive
	md, err := toml.Decode(string(data), &table)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &configError{msg: fmt.Sprintf("config file %s, line %d: %s", path, pe.Position.Line, pe.Message), err: err}
		}
		return nil, &configError{msg: fmt.Sprintf("config file %s: %v", path, err), err: err}
	}
	var keys []fileSetting
	for _, k := range md.Keys() {
		if len(k) != 1 {
			continue // inside a table, whose own key is refused below
		}
		s := fileSetting{path: path, key: k[0]}
		var probe keyProbe
		var pe toml.ParseError
		if errors.As(md.PrimitiveDecode(table[s.key], &probe), &pe) {
			s.line = pe.Position.Line
		}
		s.text = formatTOML(probe.value)
		if err := s.convert(fs, probe.value); err != nil {
			return nil, err
		}
		keys = append(keys, s)
	}
	return keys, nil
}

// keyProbe receives one top-level value of the file. It always fails:
// the TOML library then reports the key's line with the failure, and the
// position of a key is not exported otherwise.
type keyProbe struct{ value any }

// errProbed is what keyProbe fails with.
var errProbed = errors.New("value read")

// UnmarshalTOML keeps v.
func (p *keyProbe) UnmarshalTOML(v any) error {
	p.value = v
	return errProbed
}

// readError explains why the configuration file at path cannot be read.
func readError(path string, from origin, err error) error {
	by := "--" + configFlag
	if from.kind == fromEnv {
		by = from.env
	}
	var msg string
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg = fmt.Sprintf("config file %s does not exist (given by %s)", path, by)
	case errors.Is(err, fs.ErrPermission):
		msg = fmt.Sprintf("config file %s cannot be read: permission denied", path)
	case isDir(path):
		msg = fmt.Sprintf("config file %s is a directory, not a file", path)
	case errors.As(err, &pathErr):
		msg = fmt.Sprintf("config file %s cannot be read: %v", path, pathErr.Err)
	default:
		msg = fmt.Sprintf("config file %s cannot be read: %v", path, err)
	}
	return &configError{msg: msg, err: err}
}

// isDir reports whether path is a directory.
func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// convert checks v, the value of s's key, against the flag it names and
// keeps it in s as that flag's arguments.
func (s *fileSetting) convert(fs *pflag.FlagSet, v any) error {
	fail := func(format string, args ...any) error {
		return &configError{msg: fmt.Sprintf("config file %s: ", s.where()) + fmt.Sprintf(format, args...)}
	}
	f := fs.Lookup(s.key)
	switch {
	case f == nil:
		hint := ""
		if near := nearestKey(s.key, settingNames(fs)); near != "" {
			hint = fmt.Sprintf("; did you mean %s?", near)
		}
		return fail("unknown key %q: the keys are the flags of chatserver serve, at the top level of the file%s", s.key, hint)
	case f.Name == configFlag:
		return fail("%s cannot be set in a config file; give the file with --%s or %s", s.key, configFlag, envName(configFlag))
	case !isSetting(f):
		return fail("%s is not a setting: it exists only as the command-line flag --%s", s.key, s.key)
	}
	if _, ok := f.Value.(pflag.SliceValue); ok {
		items, ok := v.([]any)
		if !ok {
			return fail("%s must be %s, such as %s = %s; got %s", s.key, wantTOML(f), s.key, exampleTOML(f), describeTOML(v))
		}
		kind := elemKind(f)
		var args []string
		for i, item := range items {
			arg, ok := scalarArg(kind, item)
			if !ok {
				return fail("%s must be %s, such as %s = %s; entry %d is %s", s.key, wantTOML(f), s.key, exampleTOML(f), i+1, describeTOML(item))
			}
			if n, isInt := item.(int64); isInt && elemType(f) == "int" && !fitsInt(n, strconv.IntSize) {
				return fail("%s: entry %d, %d, is out of range for %s (%d-bit integers here)", s.key, i+1, n, s.key, strconv.IntSize)
			}
			args = append(args, arg)
		}
		s.args, s.list = args, true
		return nil
	}
	arg, ok := scalarArg(kindOf(f.Value.Type()), v)
	if !ok {
		return fail("%s must be %s, such as %s = %s; got %s", s.key, wantTOML(f), s.key, exampleTOML(f), describeTOML(v))
	}
	// pflag reads an int flag's argument as 64 bits and truncates it to
	// int: on a 32-bit system a large value would wrap around unseen.
	if n, isInt := v.(int64); isInt && f.Value.Type() == "int" && !fitsInt(n, strconv.IntSize) {
		return fail("%s = %d is out of range for %s (%d-bit integers here)", s.key, n, s.key, strconv.IntSize)
	}
	s.args = []string{arg}
	return nil
}

// fitsInt tells whether n fits a signed integer of bits bits.
func fitsInt(n int64, bits int) bool {
	if bits >= 64 {
		return true
	}
	limit := int64(1) << (bits - 1)
	return n >= -limit && n < limit
}

// valueKind is how a flag's value is written in TOML.
type valueKind int

const (
	kindString   valueKind = iota // a string; also every type not known here
	kindDuration                  // a string that time.ParseDuration reads
	kindInt                       // an integer
	kindFloat                     // a float, or an integer
	kindBool                      // true or false
)

// kindOf is the kind of the pflag type typ.
func kindOf(typ string) valueKind {
	switch typ {
	case "bool":
		return kindBool
	case "duration":
		return kindDuration
	case "float32", "float64":
		return kindFloat
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "count":
		return kindInt
	default:
		return kindString
	}
}

// elemKind is the kind of the entries of the list flag f (elemType).
func elemKind(f *pflag.Flag) valueKind { return kindOf(elemType(f)) }

// elemType is the pflag type of the entries of the list flag f: its type
// less the Slice or Array suffix (stringSlice, durationSlice, intSlice).
func elemType(f *pflag.Flag) string {
	return strings.TrimSuffix(strings.TrimSuffix(f.Value.Type(), "Slice"), "Array")
}

// scalarArg converts the TOML value v into the argument of Value.Set for
// a flag of kind k; false if v is not of that kind.
func scalarArg(k valueKind, v any) (string, bool) {
	switch k {
	case kindBool:
		b, ok := v.(bool)
		return strconv.FormatBool(b), ok
	case kindInt:
		i, ok := v.(int64)
		return strconv.FormatInt(i, 10), ok
	case kindFloat:
		switch n := v.(type) {
		case float64:
			return strconv.FormatFloat(n, 'g', -1, 64), true
		case int64:
			return strconv.FormatInt(n, 10), true
		}
		return "", false
	default:
		s, ok := v.(string)
		return s, ok
	}
}

// wantTOML says in words what the file must give the flag f.
func wantTOML(f *pflag.Flag) string {
	if _, ok := f.Value.(pflag.SliceValue); ok {
		switch elemKind(f) {
		case kindInt:
			return "an array of integers"
		case kindFloat:
			return "an array of numbers"
		case kindBool:
			return "an array of true or false"
		case kindDuration:
			return `an array of durations in quotes ("25s", "10m")`
		default:
			return "an array of strings"
		}
	}
	switch kindOf(f.Value.Type()) {
	case kindInt:
		return "an integer"
	case kindFloat:
		return "a number"
	case kindBool:
		return "true or false"
	case kindDuration:
		return `a duration in quotes ("25s", "10m", "1h30m")`
	default:
		return "a string in quotes"
	}
}

// exampleTOML is a value of the right type for the flag f, written as
// TOML: its default where that says something.
func exampleTOML(f *pflag.Flag) string {
	if _, ok := f.Value.(pflag.SliceValue); ok {
		switch elemKind(f) {
		case kindInt, kindFloat:
			return "[1, 2]"
		case kindBool:
			return "[true, false]"
		case kindDuration:
			return `["10s", "1m"]`
		default:
			return `["…", "…"]`
		}
	}
	k := kindOf(f.Value.Type())
	if k == kindString && f.DefValue == "" {
		return `"…"`
	}
	return scalarTOML(k, f.DefValue)
}

// describeTOML names the type of a decoded TOML value, with the value
// when it is short, for a message.
func describeTOML(v any) string {
	switch v := v.(type) {
	case string:
		return "the string " + tomlString(v)
	case int64:
		return fmt.Sprintf("the integer %d", v)
	case float64:
		return "the number " + formatTOML(v)
	case bool:
		return fmt.Sprintf("%v", v)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case time.Time:
		return "a date"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// flagTOML writes the value of the flag f as TOML.
func flagTOML(f *pflag.Flag) string {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		kind := elemKind(f)
		items := sv.GetSlice()
		out := make([]string, len(items))
		for i, item := range items {
			out[i] = scalarTOML(kind, item)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	return scalarTOML(kindOf(f.Value.Type()), f.Value.String())
}

// scalarTOML writes s, a value as pflag writes one of kind k, as TOML.
func scalarTOML(k valueKind, s string) string {
	switch k {
	case kindInt, kindBool:
		return s
	case kindFloat:
		switch s {
		case "NaN":
			return "nan"
		case "+Inf":
			return "inf"
		case "-Inf":
			return "-inf"
		}
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s
	default:
		return tomlString(s)
	}
}

// formatTOML writes a decoded TOML value as TOML, for messages.
func formatTOML(v any) string {
	switch v := v.(type) {
	case string:
		return tomlString(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return scalarTOML(kindFloat, strconv.FormatFloat(v, 'g', -1, 64))
	case bool:
		return strconv.FormatBool(v)
	case []any:
		out := make([]string, len(v))
		for i, item := range v {
			out[i] = formatTOML(item)
		}
		return "[" + strings.Join(out, ", ") + "]"
	case time.Time:
		return v.Format(time.RFC3339)
	default:
		return "{…}"
	}
}

// tomlString writes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// nearestKey returns the key of keys that key was probably meant to be:
// the same once written as a flag name (MAX_MESSAGE, --max-message,
// CHATSERVER_MAX_MESSAGE), or a few edits away (one for every three
// characters, two at most); "" if none.
func nearestKey(key string, keys []string) string {
	norm := strings.ToLower(strings.TrimLeft(key, "-"))
	norm = strings.TrimPrefix(strings.ReplaceAll(norm, "_", "-"), "chatserver-")
	best, bestDist := "", min(2, len(norm)/3)+1
	for _, k := range keys {
		if k == norm {
			return k
		}
		if d := editDistance(norm, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
