package handlers

import (
	"testing"

	"portico/sql/store"
)

// TestSettingsLabelled fails when a registered setting that the admin console shows (every
// definition but hidden ones) lacks its English label or help, an enum option lacks its label,
// or a section lacks its name: the generated pages would show the raw key.
func TestSettingsLabelled(t *testing.T) {
	en := catalogueKeys(t)["en"]
	sections := map[string]bool{}
	for _, d := range store.SettingDefs() {
		if d.Kind == store.SettingHidden {
			continue
		}
		sections[d.Section] = true
		for _, id := range []string{"Setting_" + d.Key, "SettingHelp_" + d.Key} {
			if !en[id] {
				t.Errorf("setting %s: no %s in the English catalogue", d.Key, id)
			}
		}
		for _, o := range d.Options {
			if id := "SettingOption_" + d.Key + "_" + o; !en[id] {
				t.Errorf("setting %s: no %s in the English catalogue", d.Key, id)
			}
		}
	}
	if len(sections) == 0 {
		t.Fatal("no settings registered")
	}
	for s := range sections {
		if !en["SettingSection_"+s] {
			t.Errorf("section %s: no SettingSection_%s in the English catalogue", s, s)
		}
	}
}
