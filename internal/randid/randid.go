// Package randid makes the random identifiers of chatserver: Engine.IO
// session ids, Socket.IO socket ids, resume tokens and load-test run ids.
//
// Error policy: there is no error to handle. The bytes come from
// crypto/rand.Read, which never returns an error (if the system cannot
// supply randomness it crashes the program itself); should it ever return
// one, these functions panic rather than hand out an identifier that is
// not random.
package randid

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// URLSafe returns n random bytes as unpadded URL-safe base64 (A–Z, a–z,
// 0–9, - and _): 4 characters for every 3 bytes.
func URLSafe(n int) string {
	return base64.RawURLEncoding.EncodeToString(random(n))
}

// Hex returns n random bytes as lower-case hexadecimal, 2 characters a
// byte.
func Hex(n int) string {
	return hex.EncodeToString(random(n))
}

// random returns n bytes from crypto/rand.
func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("randid: crypto/rand failed: %v", err))
	}
	return b
}
