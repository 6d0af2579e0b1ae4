package web

import (
	"fmt"
	"html/template"
	"sync"
)

// pageSet parses a page's template on its first render and keeps it.
// A phone that nobody browses never parses any: the fourteen pages
// parsed at start were about half of an idle phone's live heap (530 kB
// of about 1.1 MB, `go tool pprof -sample_index=inuse_space`,
// docs/performance.md). TestTemplatesParse parses every page, so a
// broken template still fails the build's tests rather than a browser.
type pageSet struct {
	mu    sync.Mutex // guards following
	pages map[string]*template.Template
}

// get returns the parsed template of page (one of pageNames).
func (s *pageSet) get(page string) (*template.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.pages[page]; t != nil {
		return t, nil
	}
	t, err := parsePage(page)
	if err != nil {
		return nil, err
	}
	if s.pages == nil {
		s.pages = map[string]*template.Template{}
	}
	s.pages[page] = t
	return t, nil
}

// parsePage parses base.html with page's own template.
func parsePage(page string) (*template.Template, error) {
	t, err := template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/"+page+".html")
	if err != nil {
		return nil, fmt.Errorf("web: template %s: %w", page, err)
	}
	return t, nil
}
