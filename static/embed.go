// Package static embeds Portico's CSS, images and vendored scripts, and names each file by a
// checksummed URL so browsers may cache it forever.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

// FS holds the static files (css/, img/, js/, vendor/).
//
//go:embed css img js vendor
var FS embed.FS

// Versions maps each file's path to the first 12 hex characters of its sha256.
func Versions() (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(FS, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:])[:12]
		return nil
	})
	return out, err
}
