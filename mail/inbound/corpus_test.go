package inbound

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusCase is one real-world-shaped mail of testdata/mail and what Portico must make of it.
type corpusCase struct {
	file string
	// from is the sender's address; err the refusal code ("" = parsed).
	from, err string
	// trimmed is the exact text that becomes the message ("" = not checked).
	trimmed string
	// contains/absent are checks on the trimmed text.
	contains, absent []string
	subject          string
	auto             string
	bounce           []string
	files            []string
	htmlAbsent       []string
	refs             []string
}

var corpus = []corpusCase{
	{file: "gmail_reply.eml", from: "anna.customer@example.com", trimmed: "Thanks, unplugging it worked.", subject: "Re: Printer on fire",
		refs: []string{"portico-aaaa1111@portico.test"}},
	{file: "outlook_desktop_reply.eml", from: "jan.bakker@example.nl",
		trimmed: "Hallo,\n\nHet probleem is opgelost na de update. Bedankt voor de snelle hulp!\n\nMet vriendelijke groet,\nJan",
		absent:  []string{"Kunt u"}},
	{file: "outlook_web_reply_de.eml", from: "lena.schmidt@example.de", contains: []string{"Vielen Dank, die Rechnung ist angekommen. Schönen Tag noch!"},
		absent: []string{"Wir haben", "Gesendet"}, htmlAbsent: []string{"<script", "alert(1)"}},
	{file: "apple_mail_reply_fr.eml", from: "francoise@example.fr", subject: "Re : Accès au portail",
		trimmed: "Merci beaucoup, ça fonctionne maintenant. Je peux me connecter sans problème."},
	{file: "thunderbird_bottom_post.eml", from: "piet@example.org", trimmed: "Versie 4.2 op Windows 11."},
	{file: "k9_reply_es.eml", from: "carlos@example.es", trimmed: "Gracias, el pedido llegó esta mañana."},
	{file: "ios_reply.eml", from: "mike@example.com", trimmed: "Got it, thanks!"},
	{file: "html_only.eml", from: "html.only@example.com", contains: []string{"Hello,", "Where is my order 1234?", "https://shop.example.com/orders/1234"},
		absent: []string{"color:red", "<p>"}, htmlAbsent: []string{"onerror", "<style"}},
	{file: "forwarded.eml", from: "anna.customer@example.com", contains: []string{"Please see the error below.", "Export 77 failed: disk full."}},
	{file: "iso2022jp.eml", from: "taro@example.jp", trimmed: "こんにちは。注文について質問があります。", subject: "お問い合わせ"},
	{file: "windows1252.eml", from: "owen@example.ie", trimmed: "It costs € 20 – “not” more.", subject: "Quote “smart”"},
	{file: "attachments_inline.eml", from: "anna.customer@example.com", trimmed: "The screenshot shows the error. The log is attached.",
		files: []string{"shot.png", "résumé.pdf", "setup.exe"}},
	{file: "out_of_office.eml", from: "anna.customer@example.com", auto: "auto-submitted"},
	{file: "ooo_subject_only.eml", from: "lena.schmidt@example.de", auto: "out-of-office"},
	{file: "dsn_bounce.eml", from: "MAILER-DAEMON@mx.portico.test", auto: "auto-submitted", bounce: []string{"gone@example.com"}},
	{file: "mailing_list.eml", from: "member@example.net", auto: "precedence"},
	{file: "malformed_mime.eml", from: "broken@example.com", contains: []string{"My text survives even though the MIME is broken."}},
	{file: "no_from.eml", err: "no_from"},
	{file: "invalid_utf8_headers.eml", from: "bad.bytes@example.com", contains: []string{"Body with a bad byte"}},
}

func TestCorpus(t *testing.T) {
	for _, c := range corpus {
		t.Run(c.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "mail", c.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(raw, Limits{})
			if c.err != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Code != c.err {
					t.Fatalf("Parse error = %v, want code %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !strings.EqualFold(m.From.Addr, c.from) {
				t.Errorf("From = %q, want %q", m.From.Addr, c.from)
			}
			if m.Auto != c.auto {
				t.Errorf("Auto = %q, want %q", m.Auto, c.auto)
			}
			if c.subject != "" && m.Subject != c.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, c.subject)
			}
			got := Trim(m.Text)
			if c.trimmed != "" && got != c.trimmed {
				t.Errorf("trimmed text =\n%q\nwant\n%q\n(full text %q)", got, c.trimmed, m.Text)
			}
			for _, s := range c.contains {
				if !strings.Contains(got, s) {
					t.Errorf("trimmed text lacks %q:\n%s", s, got)
				}
			}
			for _, s := range c.absent {
				if strings.Contains(got, s) {
					t.Errorf("trimmed text keeps %q:\n%s", s, got)
				}
			}
			for _, s := range c.htmlAbsent {
				if strings.Contains(m.HTML, s) {
					t.Errorf("sanitised HTML keeps %q: %s", s, m.HTML)
				}
			}
			if c.bounce != nil {
				if m.Bounce == nil || strings.Join(m.Bounce.Recipients, ",") != strings.Join(c.bounce, ",") || !m.Bounce.Hard {
					t.Errorf("Bounce = %+v, want hard bounce of %v", m.Bounce, c.bounce)
				}
			} else if m.Bounce != nil {
				t.Errorf("unexpected bounce %+v", m.Bounce)
			}
			var names []string
			for _, f := range m.Files {
				names = append(names, f.Name)
			}
			if strings.Join(names, ",") != strings.Join(c.files, ",") {
				t.Errorf("files = %v, want %v", names, c.files)
			}
			if c.refs != nil && strings.Join(m.InReplyTo, ",") != strings.Join(c.refs, ",") {
				t.Errorf("In-Reply-To = %v, want %v", m.InReplyTo, c.refs)
			}
			for _, s := range []string{m.Subject, m.From.Name, m.Text} {
				if !utf8Valid(s) {
					t.Errorf("invalid UTF-8 kept: %q", s)
				}
			}
		})
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// TestTrimReplyParserSuite runs the plain-text fixtures of GitHub's email_reply_parser test
// suite (MIT, testdata/trim) through Trim.
func TestTrimReplyParserSuite(t *testing.T) {
	cases := map[string]struct{ want, absent string }{
		"email_1_2.txt":           {want: "Hi,\n\nYou can list the keys for the bucket", absent: "What is the best way"},
		"email_1_3.txt":           {want: "Oh thanks.\n\nHaving the function would be great.\n\n-Abhishek Kona", absent: "Russell Brown"},
		"email_1_6.txt":           {want: "I get proper rendering as well.\n\nSent from a magnificent torch of pixels", absent: "caching related"},
		"email_2_2.txt":           {want: "Outlook with a reply directly above line", absent: "CRM Comments"},
		"greedy_on.txt":           {want: "On your remote host you can run:", absent: "George Plymale"},
		"email_one_is_not_on.txt": {want: "Locally (on development), when I run...", absent: "Dave Tapley"},
		"email_iPhone.txt":        {want: "Here is another email", absent: "iPhone"},
		"email_sig_delimiter_in_middle_of_line.txt": {want: "And here is a fix -- this is not a signature.\n\nkthxbai"},
	}
	for file, c := range cases {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "trim", file))
			if err != nil {
				t.Fatal(err)
			}
			got := Trim(string(raw))
			if !strings.Contains(got, c.want) {
				t.Errorf("Trim lacks %q:\n%s", c.want, got)
			}
			if c.absent != "" && strings.Contains(got, c.absent) {
				t.Errorf("Trim keeps %q:\n%s", c.absent, got)
			}
		})
	}
}

// TestTrimLanguages covers "On … wrote:" in the five portal languages and Outlook's block.
func TestTrimLanguages(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Yes.\n\nOn Mon, 30 Nov 2026 at 10:00, Support <s@x.test> wrote:\n> old", "Yes."},
		{"Ja.\n\nOp ma 30 nov. 2026 om 10:00 schreef Support <s@x.test>:\n> oud", "Ja."},
		{"Ja.\n\nAm Mo., 30. Nov. 2026 um 10:00 Uhr schrieb Support <s@x.test>:\n> alt", "Ja."},
		{"Oui.\n\nLe lun. 30 nov. 2026 à 10:00, Support <s@x.test> a écrit :\n> ancien", "Oui."},
		{"Sí.\n\nEl lun, 30 nov 2026 a las 10:00, Support (<s@x.test>) escribió:\n> viejo", "Sí."},
		{"Yes.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nold", "Yes."},
		{"Ja.\n\nVon: Support <s@x.test>\nGesendet: Montag, 30. November 2026 10:00\nAn: Kunde\nBetreff: Frage\n\nalt", "Ja."},
		{"Oui.\n\nDe : Support <s@x.test>\nEnvoyé : lundi 30 novembre 2026 10:00\nÀ : Client\nObjet : Question\n\nancien", "Oui."},
		{"> quoted only\n> more", "> quoted only\n> more"}, // nothing new: keep all, lose nothing
		{"He wrote: nothing special.\nBye", "He wrote: nothing special.\nBye"},
	} {
		if got := Trim(c.in); got != c.want {
			t.Errorf("Trim(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
