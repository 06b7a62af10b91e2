package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed library/*.yaml
var library embed.FS

// Library returns the built-in scenario library (library/*.yaml), so the
// binary can run it without the source tree.
func Library() fs.FS {
	sub, err := fs.Sub(library, "library")
	if err != nil {
		// fs.Sub fails only for an invalid path, and "library" is valid.
		panic(fmt.Sprintf("scenarios: library: %v", err))
	}
	return sub
}

// Files lists the *.yaml files directly in dir of fsys, sorted, so every
// machine sees the same order (Shard depends on it).
func Files(fsys fs.FS, dir string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("list scenarios in %s: %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			files = append(files, path.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	return files, nil
}

// LoadAll parses every *.yaml in dir of fsys. It returns the scenarios that
// parsed together with the joined errors of those that did not, so one bad
// file does not hide the others.
func LoadAll(fsys fs.FS, dir string) ([]*Scenario, error) {
	files, err := Files(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	var errs []error
	names := map[string]string{}
	for _, f := range files {
		sc, err := LoadFS(fsys, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := names[sc.Name]; dup {
			errs = append(errs, &Error{File: f, Line: 1, Field: "name", Msg: fmt.Sprintf("%q is also the name of %s", sc.Name, first)})
			continue
		}
		names[sc.Name] = f
		out = append(out, sc)
	}
	return out, errors.Join(errs...)
}
