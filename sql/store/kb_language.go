package store

import (
	"context"
	"fmt"
)

// ContactSetLanguage stores the language contact id chose with the portal's language switcher
// ("" = follow the browser). Errors: *ValidationError (language) when lang is not one of
// PortalLanguages, ErrNotFound.
func (s *Store) ContactSetLanguage(ctx context.Context, id int64, lang string) error {
	ok := lang == ""
	for _, l := range PortalLanguages {
		ok = ok || l == lang
	}
	if !ok {
		return Invalid("language", "KBLangInvalid")
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE contacts SET language = $2 WHERE id = $1`, id, lang)
	if err != nil {
		return fmt.Errorf("contact %d language: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("contact %d: %w", id, ErrNotFound)
	}
	return nil
}
