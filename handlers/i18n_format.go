package handlers

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"portico/sql/store"
)

// LanguageOption is one entry of the language switcher: the code and the language's own name.
type LanguageOption struct {
	Code, Name string
	Current    bool
}

// languageNames are the endonyms shown by the switcher (never translated).
var languageNames = map[string]string{"en": "English", "nl": "Nederlands", "de": "Deutsch", "fr": "Français", "es": "Español"}

// monthNames are the abbreviated month names per language (CLDR "abbreviated" format, without
// the trailing dot where CLDR has one); dateLayouts say where day, month, year and time go.
var (
	monthNames = map[string][12]string{
		"en": {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
		"nl": {"jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"},
		"de": {"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
		"fr": {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
		"es": {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"},
	}
	// dateLayouts: %d day, %m month name, %y year, %t time (24 h).
	dateLayouts = map[string]string{"en": "%m %d, %y, %t", "nl": "%d %m %y %t", "de": "%d. %m %y, %t", "fr": "%d %m %y à %t", "es": "%d %m %y, %t"}
)

// ZoneCookie carries the browser's IANA time-zone name, set by static/js/portico.js.
const ZoneCookie = "portico_tz"

// ZoneFromCookie returns the time zone a ZoneCookie names, or nil (UTC) when it is missing or
// not a known IANA zone name. Only names of the tz database are loaded, never paths.
func ZoneFromCookie(v string) *time.Location {
	if v == "" || len(v) > 64 || strings.Contains(v, "..") || strings.HasPrefix(v, "/") {
		return nil
	}
	for _, r := range v {
		if !(r == '/' || r == '_' || r == '-' || r == '+' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return nil
		}
	}
	loc, err := time.LoadLocation(v)
	if err != nil {
		return nil
	}
	return loc
}

// DateTime formats t in the viewer's time zone (UTC until the browser told it) the way the locale writes
// dates: "Mar 5, 2026, 14:07", "5 mrt 2026 14:07", "5. März 2026, 14:07", "5 mars 2026 à 14:07".
func (l *Locale) DateTime(t time.Time) string {
	t = t.UTC()
	if l != nil && l.Zone != nil {
		t = t.In(l.Zone)
	}
	lang := "en"
	if l != nil {
		if _, ok := dateLayouts[l.Lang]; ok {
			lang = l.Lang
		}
	}
	// One pass over the layout into one buffer: this runs twice per listing row.
	layout := dateLayouts[lang]
	b := make([]byte, 0, len(layout)+16)
	for i := 0; i < len(layout); i++ {
		if layout[i] != '%' || i+1 == len(layout) {
			b = append(b, layout[i])
			continue
		}
		i++
		switch layout[i] {
		case 'd':
			b = strconv.AppendInt(b, int64(t.Day()), 10)
		case 'm':
			b = append(b, monthNames[lang][t.Month()-1]...)
		case 'y':
			b = strconv.AppendInt(b, int64(t.Year()), 10)
		case 't':
			b = t.AppendFormat(b, "15:04")
		default:
			b = append(b, '%', layout[i])
		}
	}
	return string(b)
}

// Times returns t formatted for people (DateTime) and for machines (RFC 3339, for <time datetime>).
func (l *Locale) Times(t time.Time) (string, string) {
	return l.DateTime(t), t.UTC().Format(time.RFC3339)
}

// Number formats n with the locale's digit grouping ("1,234", "1.234", "1 234").
func (l *Locale) Number(n int64) string {
	tag := language.English
	if l != nil && l.tag != language.Und {
		tag = l.tag
	}
	return message.NewPrinter(tag).Sprintf("%d", n)
}

// Decimal formats f with prec decimals and the locale's decimal separator ("1.5", "1,5").
func (l *Locale) Decimal(f float64, prec int) string {
	tag := language.English
	if l != nil && l.tag != language.Und {
		tag = l.tag
	}
	return message.NewPrinter(tag).Sprint(number.Decimal(f, number.Scale(prec)))
}

// Size formats a byte count in SI units with the locale's decimal separator and unit symbol
// ("1.5 MB", "1,5 MB", "1,5 Mo"): the unit comes from the catalogue (SizeBytes, SizeKB, SizeMB).
func (l *Locale) Size(n int64) string {
	id, num := "SizeMB", ""
	switch {
	case n < 1000:
		id, num = "SizeBytes", l.Number(n)
	case n < store.MB:
		id, num = "SizeKB", l.Decimal(float64(n)/1000, 0)
	default:
		num = l.Decimal(float64(n)/store.MB, 1)
	}
	if l == nil || l.loc == nil {
		return num + map[string]string{"SizeBytes": " B", "SizeKB": " kB", "SizeMB": " MB"}[id]
	}
	return l.T(id, "N", num)
}
