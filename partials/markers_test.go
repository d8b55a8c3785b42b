package partials

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoMergeConflictMarkers: no template, stylesheet, script or catalogue carries a line a git
// merge left behind ("<<<<<<< ", "=======", ">>>>>>> "): the compiler catches them in Go files,
// nothing caught them in partials/ and static/ (an admin menu once showed them as text).
func TestNoMergeConflictMarkers(t *testing.T) {
	checked := 0
	for _, root := range []string{".", "../static"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch filepath.Ext(path) {
			case ".html", ".txt", ".css", ".js", ".toml", ".svg":
			default:
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			checked++
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
			for n := 1; sc.Scan(); n++ {
				line := sc.Text()
				if strings.HasPrefix(line, "<<<<<<< ") || strings.HasPrefix(line, ">>>>>>> ") || line == "=======" {
					t.Errorf("%s:%d: merge conflict marker %q", path, n, line)
				}
			}
			return sc.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d files checked: the walk missed the templates", checked)
	}
}
