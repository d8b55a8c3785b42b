package seed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"

	"portico/sql/store"
)

// The demo's showcase (issue 14): what a newcomer should see in the first minute beyond the
// imported tickets: a help center with articles in English and German (and Dutch for one),
// a support form connected to the portal, a logo, and an agent reply with an attachment.

// demoArticle is one knowledge-base article of the showcase: per language a title and body.
type demoArticle struct {
	slug, category, visibility string
	tr                         map[string][2]string
}

var demoCategories = []struct {
	slug  string
	names map[string]string
}{
	{"getting-started", map[string]string{"en": "Getting started", "de": "Erste Schritte", "nl": "Aan de slag", "fr": "Premiers pas", "es": "Primeros pasos"}},
	{"billing", map[string]string{"en": "Billing and invoices", "de": "Abrechnung und Rechnungen", "nl": "Facturen en betalen", "fr": "Facturation", "es": "Facturación"}},
	{"account", map[string]string{"en": "Your account", "de": "Ihr Konto", "nl": "Uw account", "fr": "Votre compte", "es": "Su cuenta"}},
}

var demoArticles = []demoArticle{
	{"submit-a-ticket", "getting-started", store.KBPublic, map[string][2]string{
		"en": {"How to submit a support ticket", "## Before you write\n\nSearch the help center first: most questions are answered here.\n\n## Writing the ticket\n\n1. Sign in to the portal.\n2. Choose **Submit a support ticket**.\n3. Describe what you expected and what happened instead.\n\n### Attachments\n\nAdd screenshots or log files (up to 25 MB each).\n\n## After you send it\n\nYou get an email for every reply, and you can answer from the portal or by email."},
		"de": {"So reichen Sie ein Support-Ticket ein", "## Bevor Sie schreiben\n\nDurchsuchen Sie zuerst das Hilfe-Center: Die meisten Fragen sind hier beantwortet.\n\n## Das Ticket schreiben\n\n1. Melden Sie sich im Portal an.\n2. Wählen Sie **Support-Ticket einreichen**.\n3. Beschreiben Sie, was Sie erwartet haben und was stattdessen passiert ist.\n\n### Anhänge\n\nFügen Sie Bildschirmfotos oder Protokolldateien hinzu (je bis zu 25 MB).\n\n## Nach dem Absenden\n\nSie erhalten für jede Antwort eine E-Mail und können im Portal oder per E-Mail antworten."},
		"nl": {"Zo dient u een supportticket in", "## Voordat u schrijft\n\nZoek eerst in het helpcentrum: de meeste vragen worden hier beantwoord.\n\n## Het ticket schrijven\n\n1. Log in op het portaal.\n2. Kies **Een supportticket indienen**.\n3. Beschrijf wat u verwachtte en wat er gebeurde.\n\n## Na het versturen\n\nU krijgt een e-mail bij elk antwoord."},
	}},
	{"response-times", "getting-started", store.KBPublic, map[string][2]string{
		"en": {"Our response times", "## Business hours\n\nWe answer within **4 business hours**, Monday to Friday.\n\n## Urgent problems\n\nMark the ticket as *High* priority when your work is blocked."},
		"de": {"Unsere Antwortzeiten", "## Geschäftszeiten\n\nWir antworten innerhalb von **4 Geschäftsstunden**, montags bis freitags.\n\n## Dringende Probleme\n\nSetzen Sie die Priorität auf *Hoch*, wenn Ihre Arbeit blockiert ist."},
	}},
	{"understanding-your-invoice", "billing", store.KBPublic, map[string][2]string{
		"en": {"Understanding your invoice", "## What each line means\n\n| Line | Meaning |\n|---|---|\n| Subscription | Your plan for the month |\n| Usage | Extra seats or storage |\n\n## Payment terms\n\nInvoices are due within 30 days."},
		"de": {"Ihre Rechnung verstehen", "## Was jede Zeile bedeutet\n\n| Zeile | Bedeutung |\n|---|---|\n| Abonnement | Ihr Tarif für den Monat |\n| Nutzung | Zusätzliche Plätze oder Speicher |\n\n## Zahlungsbedingungen\n\nRechnungen sind innerhalb von 30 Tagen fällig."},
	}},
	{"change-payment-method", "billing", store.KBPortal, map[string][2]string{
		"en": {"Change your payment method", "Open **Account**, then *Billing*, and choose *Replace card*. The change applies from the next invoice."},
		"de": {"Zahlungsmethode ändern", "Öffnen Sie **Konto**, dann *Abrechnung*, und wählen Sie *Karte ersetzen*. Die Änderung gilt ab der nächsten Rechnung."},
	}},
	{"reset-your-password", "account", store.KBPublic, map[string][2]string{
		"en": {"Reset your password", "## Forgot your password\n\nChoose *Forgot your password?* on the sign-in page and follow the link we email you.\n\n## The link expired\n\nLinks last one hour: ask for a new one."},
		"de": {"Passwort zurücksetzen", "## Passwort vergessen\n\nWählen Sie auf der Anmeldeseite *Passwort vergessen?* und folgen Sie dem Link aus unserer E-Mail.\n\n## Der Link ist abgelaufen\n\nLinks gelten eine Stunde: Fordern Sie einen neuen an."},
		"fr": {"Réinitialiser votre mot de passe", "## Mot de passe oublié\n\nChoisissez *Mot de passe oublié ?* sur la page de connexion et suivez le lien envoyé par e-mail.\n\n## Le lien a expiré\n\nLes liens sont valables une heure : demandez-en un nouveau."},
	}},
}

// DemoShowcase adds the showcase to a seeded demo: the help center (three categories, five
// articles in English and German, some also in Dutch or French, one for signed-in customers
// only), a support form with a priority field connected to the portal, a generated logo and,
// when st has a blob store, a reply of the demo agent with an attachment on the first demo
// customer's newest ticket. Each part is skipped when already there (safe to run again).
// Errors: a database or blob store error.
func DemoShowcase(ctx context.Context, st *store.Store) error {
	if err := demoHelpCenter(ctx, st); err != nil {
		return fmt.Errorf("demo help center: %w", err)
	}
	set, err := st.SettingsGet(ctx)
	if err != nil {
		return err
	}
	if set.SupportFormID == 0 {
		var inbox, pipeline int64
		if err := st.Pool.QueryRow(ctx, `SELECT (SELECT id FROM inboxes WHERE is_default), (SELECT id FROM pipelines ORDER BY position, id LIMIT 1)`).Scan(&inbox, &pipeline); err != nil {
			return fmt.Errorf("demo support form: %w", err)
		}
		id, err := st.SupportFormCreate(ctx, 0, "Support", inbox, pipeline)
		if err != nil {
			return fmt.Errorf("demo support form: %w", err)
		}
		if err := st.SupportFormFieldAdd(ctx, 0, id, store.FormField{Property: store.FormPriority}); err != nil {
			return fmt.Errorf("demo support form: %w", err)
		}
		if err := st.SettingSet(ctx, "support_form_id", strconv.FormatInt(id, 10)); err != nil {
			return fmt.Errorf("demo support form: %w", err)
		}
	}
	if set.BrandLogo == "" {
		if _, err := st.LogoSet(ctx, 0, "image/png", demoLogo()); err != nil {
			return fmt.Errorf("demo logo: %w", err)
		}
	}
	if st.Blobs != nil {
		if err := demoReplyWithAttachment(ctx, st, set); err != nil {
			return fmt.Errorf("demo reply: %w", err)
		}
	}
	return nil
}

func demoHelpCenter(ctx context.Context, st *store.Store) error {
	cats, err := st.KBCategoryList(ctx)
	if err != nil {
		return err
	}
	ids := map[string]int64{}
	for _, c := range cats {
		ids[c.Slug] = c.ID
	}
	for i, c := range demoCategories {
		if _, ok := ids[c.slug]; ok {
			continue
		}
		cat, err := st.KBCategoryCreate(ctx, 0, c.slug, "en", c.names["en"], i)
		if err != nil {
			return err
		}
		ids[c.slug] = cat.ID
		for lang, name := range c.names {
			if lang != "en" {
				if err := st.KBCategoryRename(ctx, 0, cat.ID, lang, name); err != nil {
					return err
				}
			}
		}
	}
	var existing int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM kb_articles`).Scan(&existing); err != nil {
		return err
	}
	if existing > 0 {
		return nil
	}
	for _, a := range demoArticles {
		var id int64
		for _, lang := range []string{"en", "de", "nl", "fr", "es"} {
			tb, ok := a.tr[lang]
			if !ok {
				continue
			}
			id, err = st.KBArticleSave(ctx, 0, id, store.KBArticleInput{Slug: a.slug, CategoryID: ids[a.category], Visibility: a.visibility, Lang: lang, Title: tb[0], BodyMD: tb[1]})
			if err != nil {
				return fmt.Errorf("%s/%s: %w", a.slug, lang, err)
			}
			if err := st.KBTranslationPublish(ctx, 0, id, lang, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// demoReplyWithAttachment has the demo agent answer the first demo customer's newest open
// ticket with a checklist attached, unless an agent's reply with a file is there already.
func demoReplyWithAttachment(ctx context.Context, st *store.Store, set store.Settings) error {
	var done bool
	if err := st.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.author_staff_id IS NOT NULL)`).Scan(&done); err != nil || done {
		return err
	}
	agent, _, err := st.StaffByEmail(ctx, DemoAgentEmail)
	if err != nil {
		return err
	}
	var ticket int64
	err = st.Pool.QueryRow(ctx, `SELECT t.id FROM tickets t JOIN contacts c ON c.id = t.requester_id
		WHERE lower(c.email) = $1 AND NOT t.is_closed ORDER BY t.last_activity_at DESC, t.id DESC LIMIT 1`, DemoContactAt(0).Email).Scan(&ticket)
	if err != nil {
		return nil // no open ticket for the first demo customer: nothing to answer
	}
	batch, err := st.NewUploadBatch(store.LimitsFrom(set))
	if err != nil {
		return err
	}
	checklist := "Troubleshooting checklist\n\n1. Restart the application.\n2. Sign out and in again.\n3. Send us the log file from Help > Diagnostics.\n"
	if err := batch.Add(ctx, "troubleshooting-checklist.txt", bytes.NewReader([]byte(checklist))); err != nil {
		batch.Discard(ctx)
		return err
	}
	if _, err := st.InboxMessageCreate(ctx, agent.ID, ticket, "Thanks for the details! I attached our troubleshooting checklist: could you go through it and tell us which step fails?", false, batch); err != nil {
		batch.Discard(ctx)
		return err
	}
	return nil
}

// demoLogo draws a 240×60 wordmark-like logo: a rounded square mark and three bars.
func demoLogo() []byte {
	const w, h = 240, 60
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	mark := color.RGBA{0x1d, 0x4e, 0xd8, 0xff}
	ink := color.RGBA{0x11, 0x18, 0x27, 0xff}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			switch {
			case x >= 6 && x < 54 && y >= 6 && y < 54 && !((x < 12 || x >= 48) && (y < 12 || y >= 48)):
				img.Set(x, y, mark)
				if x >= 20 && x < 40 && y >= 20 && y < 40 {
					img.Set(x, y, color.White)
				}
			case x >= 66 && x < 226 && y >= 16 && y < 28:
				img.Set(x, y, ink)
			case x >= 66 && x < 180 && y >= 36 && y < 44:
				img.Set(x, y, mark)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(errors.New("demo logo: " + err.Error())) // in-memory PNG encoding cannot fail
	}
	return buf.Bytes()
}
